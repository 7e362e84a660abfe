package caddymodule

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/store"
)

// durabilityChildEnv names the Caddy JSON config TestCrashDurabilityChild
// runs; TestCrashDurability sets it when it re-executes the test binary.
const durabilityChildEnv = "GATEHOUSE_DURABILITY_CHILD"

// durabilityStorageEnv tells TestCrashDurabilityChild the storage.
const durabilityStorageEnv = "GATEHOUSE_DURABILITY_STORAGE"

// durabilitySeedEnv, when set, fixes the seed of TestCrashDurability so a
// failure can be replayed.
const durabilitySeedEnv = "GATEHOUSE_DURABILITY_SEED"

// durabilityRounds is how often TestCrashDurability kills Gatehouse at
// least; it goes on, up to durabilityMaxRounds, until every kind of write
// has been acknowledged at least once and an account got locked.
const (
	durabilityRounds    = 24
	durabilityMaxRounds = 60
)

// TestCrashDurabilityChild is the process TestCrashDurability kills: it
// runs the Caddy config named by GATEHOUSE_DURABILITY_CHILD and blocks
// until it is killed (or its parent is gone). Without the variable it is
// skipped.
func TestCrashDurabilityChild(t *testing.T) {
	path := os.Getenv(durabilityChildEnv)
	if path == "" {
		t.Skip("only runs as the child process of TestCrashDurability")
	}
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Open the store before Caddy does, with last-activity times written
	// every 50 ms instead of every 10 s, so the batched writes run between
	// (and race with) the revocations the parent makes; the gatehouse app
	// shares this handle (see openStore).
	dir := filepath.Join(filepath.Dir(path), "gatehouse")
	if db := os.Getenv(durabilityStorageEnv); db != "" {
		dir = db // a PostgreSQL database (storageEnv)
	}
	_, _, err = stores.LoadOrNew(dir, func() (caddy.Destructor, error) {
		st, err := store.Open(dir, store.Options{FlushInterval: 50 * time.Millisecond,
			Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil))})
		if err != nil {
			return nil, err
		}
		return storeHandle{st}, nil
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("load config: %v", err)
	}
	// Never outlive the parent: a killed or crashed test must not leave a
	// Caddy holding ports and the storage directory.
	ppid := os.Getppid()
	for {
		time.Sleep(200 * time.Millisecond)
		if os.Getppid() != ppid {
			os.Exit(3)
		}
	}
}

// TestCrashDurability runs Gatehouse in a child process, drives writes
// against it and kills it with SIGKILL at a random moment, durabilityRounds
// times, restarting it on the same storage directory each time. After each
// restart it checks, cumulatively over all rounds, that every acknowledged
// write (a 2xx answer the client read in full before the kill) is there;
// that nothing revoked or consumed (sessions, API keys, reset links) came
// back and no lockout was lifted; that the one write in flight at the kill
// either happened completely or not at all (a user is listed exactly when
// it is found by username); and that the store opened every time.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts Caddy many times")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(durabilitySeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", durabilitySeedEnv, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, durabilitySeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	rig := newCrashRig(t)
	rig.start()
	m := rig.setup()
	began := time.Now()
	for round := 1; round <= durabilityRounds || (!m.covered() && round <= durabilityMaxRounds); round++ {
		w := &durWriter{rig: rig, m: m, rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))}
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.run()
		}()
		// Kill 0–300 ms into the writes; in the extra rounds, up to 1 s,
		// so slow writes complete even on a loaded machine.
		maxDelay := 300
		if round > durabilityRounds {
			maxDelay = 1000
		}
		delay := time.Duration(rng.IntN(maxDelay)) * time.Millisecond
		time.Sleep(delay)
		rig.kill()
		<-done
		if w.err != nil {
			t.Fatalf("round %d: %v", round, w.err)
		}
		rig.start()
		rig.verify(m)
		t.Logf("round %d: killed after %v, %d writes acknowledged, in flight: %s", round, delay, w.acked, m.pendingName())
		m.pending = nil
	}
	if !m.covered() {
		t.Errorf("after %d rounds some kind of write was never acknowledged: %v by kind, %d locked accounts", durabilityMaxRounds, m.acks,
			durCount(m.locks, func(l *durLock) bool { return l.locked }))
	}
	t.Logf("acknowledged writes by kind (create, update, role, login, logout, key, revoke key, reset link, reset, lock): %v", m.acks)
	t.Logf("%d rounds in %v: %d users, %d sessions (%d revoked), %d keys (%d revoked), %d reset links (%d used), %d locked accounts",
		rig.starts-1, time.Since(began).Round(time.Millisecond), len(m.users),
		len(m.sessions), durCount(m.sessions, func(s *durSession) bool { return s.revoked }),
		len(m.keys), durCount(m.keys, func(k *durKey) bool { return k.revoked }),
		len(m.links), durCount(m.links, func(l *durLink) bool { return l.used }),
		durCount(m.locks, func(l *durLock) bool { return l.locked }))
}

// durCount is how many elements of s satisfy f.
func durCount[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

// crashRig starts and kills the child process running Gatehouse.
type crashRig struct {
	t       *testing.T
	dir     string
	storage string // dir/gatehouse, or a PostgreSQL database (storageEnv)
	cfg     string // path of the Caddy JSON config
	portal  int
	admin   int

	cmd    *exec.Cmd
	exited chan error // receives the child's exit once
	starts int
}

func newCrashRig(t *testing.T) *crashRig {
	t.Helper()
	r := &crashRig{t: t, dir: t.TempDir()}
	r.storage = filepath.Join(r.dir, "gatehouse")
	if os.Getenv(storageEnv) == "postgres" {
		r.storage = harnessDatabase(t)
	}
	ports := freePorts(t, 2)
	r.portal, r.admin = ports[0], ports[1]
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[1]d
	persist_config off
	storage file_system %[2]s/caddy
	auto_https off
	servers {
		trusted_proxies static 127.0.0.1/32
	}
	log {
		output file %[2]s/caddy.log
		format json
		level WARN
	}
	gatehouse {
		storage %[4]s
		portal_url http://127.0.0.1:%[3]d
	}
}

http://127.0.0.1:%[3]d {
	gatehouse_portal
}
`, r.admin, r.dir, r.portal, r.storage)
	r.cfg = filepath.Join(r.dir, "caddy.json")
	if err := os.WriteFile(r.cfg, adapt(t, caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd != nil {
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	})
	return r
}

// start runs the child and waits (at most 20 s) until the portal answers.
// A child that exits first failed to start: most likely the store did not
// open.
func (r *crashRig) start() {
	r.t.Helper()
	r.starts++
	out, err := os.OpenFile(filepath.Join(r.dir, "child.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	fmt.Fprintf(out, "--- start %d\n", r.starts)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurabilityChild$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), durabilityChildEnv+"="+r.cfg, durabilityStorageEnv+"="+r.storage,
		"XDG_CONFIG_HOME="+filepath.Join(r.dir, "config"), "XDG_DATA_HOME="+filepath.Join(r.dir, "data"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		r.t.Fatal(err)
	}
	out.Close()
	r.cmd = cmd
	r.exited = make(chan error, 1)
	go func() { r.exited <- cmd.Wait() }()

	c := &http.Client{Transport: noKeepAlive, Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-r.exited:
			r.cmd = nil
			r.t.Fatalf("start %d: Gatehouse exited before answering (%v):\n%s", r.starts, err, r.childOutput())
		default:
		}
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/me", r.portal))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("start %d: the portal did not answer within 20 s (last: %v):\n%s", r.starts, err, r.childOutput())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL to the child and waits until it is gone.
func (r *crashRig) kill() {
	r.t.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		r.t.Fatalf("kill: %v", err)
	}
	<-r.exited
	r.cmd = nil
}

// childOutput is the end of the child's output and of Caddy's log.
func (r *crashRig) childOutput() string {
	var b strings.Builder
	for _, name := range []string{"child.out", "caddy.log"} {
		data, _ := os.ReadFile(filepath.Join(r.dir, name))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "== %s ==\n%s\n", name, data)
	}
	return b.String()
}

// portalURL is the address of path on the portal.
func (r *crashRig) portalURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", r.portal, path)
}

// durRandomIP sends every request as if from a new client address, so the
// per-address throttle of sign-ins and links never answers 429.
type durRandomIP struct{ next http.RoundTripper }

func (f durRandomIP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), 1+rand.IntN(254)))
	return f.next.RoundTrip(r)
}

// durCall sends one request; err is set only when no complete answer arrived
// (the connection failed, typically because the server was killed).
func durCall(c *http.Client, method, u string, body io.Reader, hdr map[string]string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, b, nil
}

// Passwords of the accounts the writer makes or uses.
const (
	durAlicePW = "Rabbit-hole-9"
	durLockPW  = "Shut-durable-7"
	durResetPW = "Reset-durable-5"
)

// durUser is a user the owner created, with its acknowledged fields.
type durUser struct {
	id, name, fullName, role string
	groups                   []string
	linked                   bool // an admin reset link was asked for
}

// durSession is a session of alice; revoked once its sign-out was
// acknowledged.
type durSession struct {
	cookie  string
	revoked bool
}

// durKey is an API key of alice; revoked once its deletion was
// acknowledged.
type durKey struct {
	id, secret string
	revoked    bool
}

// durLink is an admin reset link; used once the reset was acknowledged.
type durLink struct {
	user, token string
	used        bool
	// checked: the new password was tried after a restart (or there is
	// nothing to try: the reset was in flight at the kill, and the link
	// may be spent without the password set).
	checked bool
}

// durLock is an account with a password that collects wrong sign-ins;
// locked once an answer after a wrong password showed it locked.
type durLock struct {
	name    string
	wrong   int
	locked  bool
	checked bool // its right password was refused after a restart
}

// durPending is the one write in flight when the server was killed: it may
// have happened or not, but not in part.
type durPending struct {
	op       string
	user     string   // create, update, role
	fullName string   // create, update
	groups   []string // create, update
	role     string   // role
	idx      int      // index into the sessions, keys, links or locks
}

// durModel is everything acknowledged so far. The writer goroutine owns
// it while it runs; the test reads it only after the writer returned.
type durModel struct {
	ownerCookie string
	aliceCookie string
	users       map[string]*durUser
	order       []string // user names in creation order
	sessions    []*durSession
	keys        []*durKey
	links       []*durLink
	locks       []*durLock
	pending     *durPending
	seq         int
	acks        [numKinds]int // acknowledged writes by kind
}

// covered reports whether every kind of write was acknowledged, and at
// least one account got locked.
func (m *durModel) covered() bool {
	return !slices.Contains(m.acks[:], 0) && durCount(m.locks, func(l *durLock) bool { return l.locked }) > 0
}

// pendingName names the write in flight, for messages.
func (m *durModel) pendingName() string {
	if m.pending == nil {
		return "nothing"
	}
	return m.pending.op
}

// The groups and roles the writer gives users.
var (
	durGroups = []string{"ops", "dev", "sales", "admins-x"}
	durRoles  = []string{"user", "operator", "auditor", "user_manager"}
)

// durCookie is the session cookie's name (the default).
const durCookie = "gatehouse_session"

// setup creates the owner (through Caddy's admin API, as the CLI does) and
// alice, signs both in and sets the lockout threshold to 2. Nothing is
// killed during setup.
func (r *crashRig) setup() *durModel {
	r.t.Helper()
	m := &durModel{users: map[string]*durUser{}}
	c := &http.Client{Transport: durRandomIP{noKeepAlive}, Timeout: 30 * time.Second}
	for _, u := range []struct{ name, pw, role string }{{"olga", ownerPW, "owner"}, {"alice", durAlicePW, "user"}} {
		body, _ := json.Marshal(map[string]any{"username": u.name, "password": u.pw, "role": u.role})
		resp, b, err := durCall(c, "POST", fmt.Sprintf("http://127.0.0.1:%d/gatehouse/users", r.admin), bytes.NewReader(body), jsonAPI)
		if err != nil || resp.StatusCode != http.StatusCreated {
			r.t.Fatalf("add %s: %v %v %s", u.name, err, resp, b)
		}
	}
	var err error
	if m.ownerCookie, err = durLogin(c, r, "olga", ownerPW); err != nil {
		r.t.Fatal(err)
	}
	if m.aliceCookie, err = durLogin(c, r, "alice", durAlicePW); err != nil {
		r.t.Fatal(err)
	}
	// Lock after 2 wrong passwords instead of 5: each costs a hash, and a
	// lockout should be reached within the short rounds.
	resp, b, err := durCall(c, "PATCH", r.portalURL("/api/v1/settings"), strings.NewReader(`{"lockout_threshold":2}`), durWithCookie(m.ownerCookie))
	if err != nil || resp.StatusCode != http.StatusOK {
		r.t.Fatalf("settings: %v %v %s", err, resp, b)
	}
	return m
}

// durLogin signs user in and returns the session cookie's value.
func durLogin(c *http.Client, r *crashRig, user, pw string) (string, error) {
	body, _ := json.Marshal(map[string]any{"username": user, "password": pw})
	resp, b, err := durCall(c, "POST", r.portalURL("/api/v1/login"), bytes.NewReader(body), jsonAPI)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login %s: %d %s", user, resp.StatusCode, b)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == durCookie && ck.Value != "" {
			return ck.Value, nil
		}
	}
	return "", fmt.Errorf("login %s: no session cookie", user)
}

// durWithCookie is jsonAPI plus a session cookie.
func durWithCookie(cookie string) map[string]string {
	return map[string]string{"Accept": "application/json", "Content-Type": "application/json", "Cookie": durCookie + "=" + cookie}
}

// durWriter performs random writes, one at a time, until the server is
// killed. The model changes only when an answer was read; the write whose
// answer never came is left in m.pending.
type durWriter struct {
	rig   *crashRig
	m     *durModel
	rng   *rand.Rand
	c     *http.Client
	acked int
	err   error // an unexpected answer (not a dropped connection)
	kind  int   // the kind of write step is doing
}

// The kinds of write the writer does.
const (
	kindCreate    = iota // create a user
	kindUpdate           // change a user's full name and groups
	kindRole             // change a user's role
	kindLogin            // sign alice in
	kindLogout           // sign one of alice's sessions out
	kindKey              // make an API key
	kindRevokeKey        // revoke one
	kindLink             // make a reset link
	kindReset            // use one
	kindLock             // a wrong password (or a new account to lock)
	numKinds
)

// choose picks the next kind of write: half the time at random, otherwise
// the kind acknowledged least often so far, so every kind gets written
// (and interrupted) even though the slow ones (a password hash and several
// fsyncs) are often cut short by the kill.
func (w *durWriter) choose() int {
	if w.rng.IntN(2) == 0 {
		return w.rng.IntN(numKinds)
	}
	least := 0
	for k := range numKinds {
		if w.m.acks[k] < w.m.acks[least] {
			least = k
		}
	}
	return least
}

// errDurKilled marks a request that got no answer.
var errDurKilled = errors.New("no answer")

// run writes until a request gets no answer (the kill) or an unexpected
// one (w.err).
func (w *durWriter) run() {
	w.c = &http.Client{Transport: durRandomIP{noKeepAlive}, Timeout: 30 * time.Second}
	for {
		err := w.step()
		if errors.Is(err, errDurKilled) {
			return
		}
		if err != nil {
			w.err = err
			return
		}
		w.m.pending = nil
		w.m.acks[w.kind]++
		w.acked++
	}
}

// send is durCall that maps a failed connection to errDurKilled and any status
// other than want to an error.
func (w *durWriter) send(method, path string, body io.Reader, hdr map[string]string, want int) (*http.Response, []byte, error) {
	resp, b, err := durCall(w.c, method, w.rig.portalURL(path), body, hdr)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s %s: %v", errDurKilled, method, path, err)
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	return resp, b, nil
}

// setPending records the write about to be sent.
func (w *durWriter) setPending(p *durPending) { w.m.pending = p }

// step performs one write chosen at random among those possible.
func (w *durWriter) step() error {
	m := w.m
	owner := durWithCookie(m.ownerCookie)
	w.kind = w.choose()
	// A write that needs something first does that instead.
	switch {
	case w.kind == kindLogout && !slices.ContainsFunc(m.sessions, func(s *durSession) bool { return !s.revoked }):
		w.kind = kindLogin
	case w.kind == kindRevokeKey && !slices.ContainsFunc(m.keys, func(k *durKey) bool { return !k.revoked }):
		w.kind = kindKey
	case w.kind == kindReset && !slices.ContainsFunc(m.links, func(l *durLink) bool { return !l.used }):
		w.kind = kindLink
	}
	switch w.kind {
	case kindUpdate: // update a user's full name and groups
		if len(m.order) == 0 {
			break
		}
		u := m.users[m.order[w.rng.IntN(len(m.order))]]
		m.seq++
		p := &durPending{op: "update " + u.name, user: u.name, fullName: fmt.Sprintf("Name %d", m.seq), groups: w.someGroups()}
		w.setPending(p)
		body, _ := json.Marshal(map[string]any{"full_name": p.fullName, "groups": p.groups})
		if _, _, err := w.send("PATCH", "/api/v1/users/"+u.name, bytes.NewReader(body), owner, http.StatusOK); err != nil {
			return err
		}
		u.fullName, u.groups = p.fullName, p.groups
		return nil
	case kindRole: // change a user's role
		if len(m.order) == 0 {
			break
		}
		u := m.users[m.order[w.rng.IntN(len(m.order))]]
		p := &durPending{op: "role " + u.name, user: u.name, role: durRoles[w.rng.IntN(len(durRoles))]}
		w.setPending(p)
		body, _ := json.Marshal(map[string]any{"role": p.role})
		if _, _, err := w.send("PATCH", "/api/v1/users/"+u.name, bytes.NewReader(body), owner, http.StatusOK); err != nil {
			return err
		}
		u.role = p.role
		return nil
	case kindLogin: // alice signs in
		w.setPending(&durPending{op: "login"})
		body, _ := json.Marshal(map[string]any{"username": "alice", "password": durAlicePW})
		resp, b, err := w.send("POST", "/api/v1/login", bytes.NewReader(body), jsonAPI, http.StatusOK)
		if err != nil {
			return err
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == durCookie && ck.Value != "" {
				m.sessions = append(m.sessions, &durSession{cookie: ck.Value})
				return nil
			}
		}
		return fmt.Errorf("login: no session cookie in %v %s", resp.Header, b)
	case kindLogout: // one of those sessions signs out
		i, ok := durPick(w.rng, m.sessions, func(s *durSession) bool { return !s.revoked })
		if !ok {
			break
		}
		w.setPending(&durPending{op: "logout", idx: i})
		// Use it first, so its last activity is pending a batched write.
		if _, _, err := w.send("GET", "/api/v1/me", nil, durWithCookie(m.sessions[i].cookie), http.StatusOK); err != nil {
			return err
		}
		if _, _, err := w.send("POST", "/api/v1/logout", strings.NewReader("{}"), durWithCookie(m.sessions[i].cookie), http.StatusNoContent); err != nil {
			return err
		}
		m.sessions[i].revoked = true
		return nil
	case kindKey: // alice makes an API key
		w.setPending(&durPending{op: "key"})
		_, b, err := w.send("POST", "/api/v1/keys", strings.NewReader(`{"label":"durable"}`), durWithCookie(m.aliceCookie), http.StatusCreated)
		if err != nil {
			return err
		}
		var v struct{ ID, Key string }
		if err := json.Unmarshal(b, &v); err != nil || v.ID == "" || v.Key == "" {
			return fmt.Errorf("create key: %s", b)
		}
		m.keys = append(m.keys, &durKey{id: v.ID, secret: v.Key})
		return nil
	case kindRevokeKey: // alice revokes one
		i, ok := durPick(w.rng, m.keys, func(k *durKey) bool { return !k.revoked })
		if !ok {
			break
		}
		w.setPending(&durPending{op: "revoke key", idx: i})
		if _, _, err := w.send("GET", "/api/v1/me", nil, map[string]string{"Authorization": "Bearer " + m.keys[i].secret}, http.StatusOK); err != nil {
			return err
		}
		if _, _, err := w.send("DELETE", "/api/v1/keys/"+m.keys[i].id, nil, durWithCookie(m.aliceCookie), http.StatusNoContent); err != nil {
			return err
		}
		m.keys[i].revoked = true
		return nil
	case kindLink: // the owner makes a reset link for a user who never had one
		var free []string
		for _, n := range m.order {
			if !m.users[n].linked {
				free = append(free, n)
			}
		}
		if len(free) == 0 {
			break
		}
		u := m.users[free[w.rng.IntN(len(free))]]
		u.linked = true // a link in flight may exist: never make a second one
		w.setPending(&durPending{op: "reset link " + u.name})
		_, b, err := w.send("POST", "/api/v1/users/"+u.name+"/reset-link", nil, owner, http.StatusCreated)
		if err != nil {
			return err
		}
		var v struct{ Link string }
		_ = json.Unmarshal(b, &v)
		_, tok, ok := strings.Cut(v.Link, "/reset/")
		if !ok || tok == "" {
			return fmt.Errorf("reset link: %s", b)
		}
		m.links = append(m.links, &durLink{user: u.name, token: tok})
		return nil
	case kindReset: // a reset link is used
		i, ok := durPick(w.rng, m.links, func(l *durLink) bool { return !l.used })
		if !ok {
			break
		}
		w.setPending(&durPending{op: "reset", idx: i})
		form := url.Values{"password": {durResetPW}, "password2": {durResetPW}}.Encode()
		if _, _, err := w.send("POST", "/reset/"+m.links[i].token, strings.NewReader(form),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}, http.StatusOK); err != nil {
			return err
		}
		m.links[i].used = true
		return nil
	case kindLock: // a wrong password for an account that is not locked yet
		i, ok := durPick(w.rng, m.locks, func(l *durLock) bool { return !l.locked })
		if !ok {
			// Make a new account to lock (its password costs a hash).
			m.seq++
			name := fmt.Sprintf("lk%d", m.seq)
			w.setPending(&durPending{op: "create " + name})
			body, _ := json.Marshal(map[string]any{"username": name, "password": durLockPW, "role": "user"})
			if _, _, err := w.send("POST", "/api/v1/users", bytes.NewReader(body), owner, http.StatusCreated); err != nil {
				return err
			}
			m.locks = append(m.locks, &durLock{name: name})
			return nil
		}
		l := m.locks[i]
		w.setPending(&durPending{op: "wrong password " + l.name, idx: i})
		body, _ := json.Marshal(map[string]any{"username": l.name, "password": "Wrong-passw0rd"})
		if _, _, err := w.send("POST", "/api/v1/login", bytes.NewReader(body), jsonAPI, http.StatusUnauthorized); err != nil {
			return err
		}
		l.wrong++
		_, b, err := w.send("GET", "/api/v1/users/"+l.name, nil, owner, http.StatusOK)
		if err != nil {
			return err
		}
		var d struct{ Locked bool }
		if err := json.Unmarshal(b, &d); err != nil {
			return fmt.Errorf("user %s: %s", l.name, b)
		}
		l.locked = d.Locked
		return nil
	}
	// Create a user (also the fallback when the chosen write is not
	// possible yet). Without a password: no hash, and a welcome link.
	w.kind = kindCreate
	m.seq++
	p := &durPending{op: "create", user: fmt.Sprintf("u%d", m.seq), fullName: fmt.Sprintf("Name %d", m.seq), groups: w.someGroups()}
	p.op += " " + p.user
	w.setPending(p)
	body, _ := json.Marshal(map[string]any{"username": p.user, "email": p.user + "@example.com", "full_name": p.fullName, "groups": p.groups, "role": "user"})
	_, b, err := w.send("POST", "/api/v1/users", bytes.NewReader(body), owner, http.StatusCreated)
	if err != nil {
		return err
	}
	var v struct{ ID string }
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		return fmt.Errorf("create %s: %s", p.user, b)
	}
	m.users[p.user] = &durUser{id: v.ID, name: p.user, fullName: p.fullName, role: "user", groups: p.groups}
	m.order = append(m.order, p.user)
	return nil
}

// someGroups is a random sorted subset of durGroups (possibly empty).
func (w *durWriter) someGroups() []string {
	out := []string{}
	for _, g := range durGroups {
		if w.rng.IntN(2) == 0 {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// durPick returns the index of a random element of s for which ok holds.
func durPick[T any](rng *rand.Rand, s []T, ok func(T) bool) (int, bool) {
	var idx []int
	for i, v := range s {
		if ok(v) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return 0, false
	}
	return idx[rng.IntN(len(idx))], true
}

// durView is the part of a user the test compares.
type durView struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	FullName string   `json:"full_name"`
	Role     string   `json:"role"`
	Groups   []string `json:"groups"`
	Locked   bool     `json:"locked"`
}

// groups is v's groups sorted, never nil.
func (v durView) groups() []string {
	g := slices.Clone(v.Groups)
	if g == nil {
		g = []string{}
	}
	slices.Sort(g)
	return g
}

// verify checks the restarted server against the model and settles the
// write that was in flight.
func (r *crashRig) verify(m *durModel) {
	t := r.t
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	// Every request from a new address, so no per-address throttle (of
	// refused keys or sessions, say) ever answers 429.
	c := &http.Client{Transport: durRandomIP{tr}, Timeout: 30 * time.Second}
	get := func(u string, hdr map[string]string) (int, []byte) {
		t.Helper()
		resp, b, err := durCall(c, "GET", u, nil, hdr)
		if err != nil {
			t.Fatalf("after restart %d: GET %s: %v", r.starts, u, err)
		}
		return resp.StatusCode, b
	}
	owner := durWithCookie(m.ownerCookie)
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("after restart %d (in flight at the kill: %s): %s", r.starts, m.pendingName(), fmt.Sprintf(format, a...))
	}

	// The owner's own session is an acknowledged write too.
	if code, b := get(r.portalURL("/api/v1/me"), owner); code != http.StatusOK {
		fail("owner session: %d %s", code, b)
	}

	// The setting made at setup.
	if code, b := get(r.portalURL("/api/v1/settings"), owner); code != http.StatusOK || !bytes.Contains(b, []byte(`"lockout_threshold":2`)) {
		fail("settings: %d %s", code, b)
	}

	// Every user record, through the admin API (a scan of the records).
	listed := map[string]durView{}
	after := ""
	for {
		code, b := get(fmt.Sprintf("http://127.0.0.1:%d/gatehouse/users?limit=500&after=%s", r.admin, url.QueryEscape(after)), nil)
		if code != http.StatusOK {
			fail("list users: %d %s", code, b)
		}
		var page struct {
			Items []durView
			Next  string
		}
		if err := json.Unmarshal(b, &page); err != nil {
			fail("list users: %v", err)
		}
		for _, v := range page.Items {
			listed[v.Username] = v
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	// Every listed user is found by its username (the index), as the same
	// record; every group it is in exists.
	code, b := get(r.portalURL("/api/v1/groups"), owner)
	if code != http.StatusOK {
		fail("groups: %d %s", code, b)
	}
	var groups struct{ Items []struct{ Name string } }
	_ = json.Unmarshal(b, &groups)
	haveGroup := map[string]bool{}
	for _, g := range groups.Items {
		haveGroup[g.Name] = true
	}
	details := map[string]durView{}
	for name, v := range listed {
		code, b := get(r.portalURL("/api/v1/users/"+name), owner)
		var d durView
		if code != http.StatusOK || json.Unmarshal(b, &d) != nil || d.ID != v.ID {
			fail("user %s (id %s) is listed but by username: %d %s", name, v.ID, code, b)
		}
		for _, g := range d.Groups {
			if !haveGroup[g] {
				fail("user %s is in group %q, which does not exist", name, g)
			}
		}
		details[name] = d
	}

	// The write in flight: all or nothing, then it is part of the model.
	if p := m.pending; p != nil {
		switch {
		case strings.HasPrefix(p.op, "create u"):
			if v, ok := listed[p.user]; ok {
				if v.FullName != p.fullName || !slices.Equal(v.groups(), p.groups) {
					fail("half-created user %s: %+v", p.user, v)
				}
				m.users[p.user] = &durUser{id: v.ID, name: p.user, fullName: v.FullName, role: v.Role, groups: v.groups()}
				m.order = append(m.order, p.user)
			} else if code, b := get(r.portalURL("/api/v1/users/"+p.user), owner); code != http.StatusNotFound {
				fail("user %s not listed but found by username: %d %s", p.user, code, b)
			}
		case strings.HasPrefix(p.op, "create lk"):
			name := strings.TrimPrefix(p.op, "create ")
			if _, ok := listed[name]; ok {
				m.locks = append(m.locks, &durLock{name: name})
			} else if code, b := get(r.portalURL("/api/v1/users/"+name), owner); code != http.StatusNotFound {
				fail("user %s not listed but found by username: %d %s", name, code, b)
			}
		case strings.HasPrefix(p.op, "update "):
			u, v := m.users[p.user], listed[p.user]
			old := v.FullName == u.fullName && slices.Equal(v.groups(), u.groups)
			neu := v.FullName == p.fullName && slices.Equal(v.groups(), p.groups)
			if !old && !neu {
				fail("user %s after an interrupted update: %q %v; want %q %v or %q %v", p.user, v.FullName, v.groups(), u.fullName, u.groups, p.fullName, p.groups)
			}
			u.fullName, u.groups = v.FullName, v.groups()
		case strings.HasPrefix(p.op, "role "):
			u, v := m.users[p.user], listed[p.user]
			if v.Role != u.role && v.Role != p.role {
				fail("user %s after an interrupted role change: %q, want %q or %q", p.user, v.Role, u.role, p.role)
			}
			u.role = v.Role
		case p.op == "logout":
			s := m.sessions[p.idx]
			code, _ := get(r.portalURL("/api/v1/me"), durWithCookie(s.cookie))
			s.revoked = code == http.StatusUnauthorized
		case p.op == "revoke key":
			k := m.keys[p.idx]
			code, _ := get(r.portalURL("/api/v1/me"), map[string]string{"Authorization": "Bearer " + k.secret})
			k.revoked = code == http.StatusUnauthorized
		case p.op == "reset":
			l := m.links[p.idx]
			code, _ := get(r.portalURL("/reset/"+l.token), map[string]string{"Accept": "text/html"})
			l.used = code == http.StatusNotFound
			l.checked = true
		case strings.HasPrefix(p.op, "wrong password "):
			l := m.locks[p.idx]
			l.locked = details[l.name].Locked
		}
	}

	// Every acknowledged user with its acknowledged fields.
	for _, name := range m.order {
		u := m.users[name]
		v, ok := listed[name]
		switch {
		case !ok:
			fail("acknowledged user %s is gone", name)
		case v.ID != u.id:
			fail("user %s has id %s, want %s", name, v.ID, u.id)
		case v.FullName != u.fullName || !slices.Equal(v.groups(), u.groups):
			fail("user %s: full name %q groups %v, acknowledged %q %v", name, v.FullName, v.groups(), u.fullName, u.groups)
		case v.Role != u.role:
			fail("user %s: role %q, acknowledged %q", name, v.Role, u.role)
		}
	}
	// Sessions: acknowledged sign-ins work, acknowledged sign-outs stay
	// refused (alice's own session too).
	if code, b := get(r.portalURL("/api/v1/me"), durWithCookie(m.aliceCookie)); code != http.StatusOK {
		fail("alice's session: %d %s", code, b)
	}
	for i, s := range m.sessions {
		code, b := get(r.portalURL("/api/v1/me"), durWithCookie(s.cookie))
		if s.revoked && code != http.StatusUnauthorized {
			fail("session %d was revoked but answers %d %s", i, code, b)
		}
		if !s.revoked && code != http.StatusOK {
			fail("session %d was acknowledged but answers %d %s", i, code, b)
		}
	}
	// API keys: the same.
	for i, k := range m.keys {
		code, b := get(r.portalURL("/api/v1/me"), map[string]string{"Authorization": "Bearer " + k.secret})
		if k.revoked && code != http.StatusUnauthorized {
			fail("API key %d was revoked but answers %d %s", i, code, b)
		}
		if !k.revoked && code != http.StatusOK {
			fail("API key %d was acknowledged but answers %d %s", i, code, b)
		}
	}
	// Reset links: used ones stay used, unused ones still work.
	for _, l := range m.links {
		code, _ := get(r.portalURL("/reset/"+l.token), map[string]string{"Accept": "text/html"})
		if l.used && code != http.StatusNotFound {
			fail("the used reset link of %s answers %d", l.user, code)
		}
		if !l.used && code != http.StatusOK {
			fail("the acknowledged reset link of %s answers %d", l.user, code)
		}
		if l.used && !l.checked {
			// The password the acknowledged reset set works.
			body, _ := json.Marshal(map[string]any{"username": l.user, "password": durResetPW})
			if resp, b, err := durCall(c, "POST", r.portalURL("/api/v1/login"), bytes.NewReader(body), jsonAPI); err != nil || resp.StatusCode != http.StatusOK {
				fail("%s cannot sign in with the password of an acknowledged reset: %v %v %s", l.user, err, resp, b)
			}
			l.checked = true
		}
	}
	// Lockouts: acknowledged locks hold. The first time after a restart,
	// the right password is refused too (one hash per locked account).
	for _, l := range m.locks {
		if _, ok := listed[l.name]; !ok {
			fail("acknowledged user %s is gone", l.name)
		}
		if !l.locked {
			continue
		}
		if !details[l.name].Locked {
			fail("the lockout of %s was lifted by the crash", l.name)
		}
		if !l.checked {
			body, _ := json.Marshal(map[string]any{"username": l.name, "password": durLockPW})
			resp, b, err := durCall(c, "POST", r.portalURL("/api/v1/login"), bytes.NewReader(body), jsonAPI)
			if err != nil || resp.StatusCode != http.StatusUnauthorized {
				fail("locked %s signs in with the right password: %v %v %s", l.name, err, resp, b)
			}
			l.checked = true
		}
	}
	// The store's own log: no Badger error at open.
	r.checkLog()
}

// checkLog fails on an error-level line that mentions the store or
// Badger, in Caddy's log or in the child's output (where the store opened
// by TestCrashDurabilityChild logs).
func (r *crashRig) checkLog() {
	r.t.Helper()
	for _, name := range []string{"caddy.log", "child.out"} {
		f, err := os.Open(filepath.Join(r.dir, name))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct{ Level string }
			if json.Unmarshal(sc.Bytes(), &line) != nil || !strings.EqualFold(line.Level, "error") {
				continue
			}
			if s := strings.ToLower(sc.Text()); strings.Contains(s, "badger") || strings.Contains(s, "store") {
				f.Close()
				r.t.Fatalf("after restart %d: a store error was logged (%s): %s", r.starts, name, sc.Text())
			}
		}
		f.Close()
	}
}
