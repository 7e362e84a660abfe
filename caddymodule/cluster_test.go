package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/pgtest"
)

// clusterNode is one Gatehouse node: a Caddy in a child process (the test
// binary running TestCrashDurabilityChild) with a portal and a guarded app,
// on the shared PostgreSQL database.
type clusterNode struct {
	t                  *testing.T
	name, dir, cfg     string
	storage, dataHome  string
	portal, app, admin int
	cmd                *exec.Cmd
	exited             chan error
}

// newClusterNode writes the node's config. Every node shares the storage
// and the Caddy data directory dataHome, where the server key is
// (secret.key: the first node makes it, the others read it).
func newClusterNode(t *testing.T, name, storage, dataHome, upstream string) *clusterNode {
	t.Helper()
	return newClusterNodeWith(t, name, storage, dataHome, upstream, clusterOpts{})
}

// clusterOpts changes a node's config: portalURL, when set, is the portal
// URL all nodes share behind a load balancer (else the node's own), and
// global is added to the gatehouse block (apps, say).
type clusterOpts struct{ portalURL, global string }

// newClusterNodeWith is newClusterNode with options.
func newClusterNodeWith(t *testing.T, name, storage, dataHome, upstream string, o clusterOpts) *clusterNode {
	t.Helper()
	n := &clusterNode{t: t, name: name, dir: t.TempDir(), storage: storage, dataHome: dataHome}
	ports := freePorts(t, 3)
	n.portal, n.app, n.admin = ports[0], ports[1], ports[2]
	if o.portalURL == "" {
		o.portalURL = fmt.Sprintf("http://127.0.0.1:%d", n.portal)
	}
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
		portal_url %[7]s
		%[8]s
	}
}

http://127.0.0.1:%[3]d {
	gatehouse_portal
}

http://127.0.0.1:%[5]d {
	gatehouse whoami
	reverse_proxy %[6]s
}
`, n.admin, n.dir, n.portal, storage, n.app, upstream, o.portalURL, o.global)
	n.cfg = filepath.Join(n.dir, "caddy.json")
	if err := os.WriteFile(n.cfg, adapt(t, caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.cmd != nil {
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	})
	return n
}

// start runs the node and waits until its portal answers.
func (n *clusterNode) start() {
	n.t.Helper()
	out, err := os.OpenFile(filepath.Join(n.dir, "child.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		n.t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurabilityChild$", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), durabilityChildEnv+"="+n.cfg, durabilityStorageEnv+"="+n.storage,
		"XDG_CONFIG_HOME="+filepath.Join(n.dir, "config"), "XDG_DATA_HOME="+n.dataHome)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.cmd, n.exited = cmd, make(chan error, 1)
	go func() { n.exited <- cmd.Wait() }()
	c := &http.Client{Transport: noKeepAlive, Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-n.exited:
			n.cmd = nil
			n.t.Fatalf("node %s exited before answering (%v):\n%s", n.name, err, n.output())
		default:
		}
		resp, err := c.Get(n.portalURL("/api/v1/me"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s: the portal did not answer within 30 s (last: %v):\n%s", n.name, err, n.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startRefused runs the node and returns its output once it exited (it
// must not start).
func (n *clusterNode) startRefused() string {
	n.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurabilityChild$", "-test.timeout=1m")
	cmd.Env = append(os.Environ(), durabilityChildEnv+"="+n.cfg, durabilityStorageEnv+"="+n.storage,
		"XDG_CONFIG_HOME="+filepath.Join(n.dir, "config"), "XDG_DATA_HOME="+n.dataHome)
	done := make(chan []byte, 1)
	go func() { out, _ := cmd.CombinedOutput(); done <- out }()
	select {
	case out := <-done:
		return string(out)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		n.t.Fatalf("node %s started (or hung) with another server key", n.name)
		return ""
	}
}

// kill ends the node with SIGKILL.
func (n *clusterNode) kill() {
	n.t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		n.t.Fatal(err)
	}
	<-n.exited
	n.cmd = nil
}

func (n *clusterNode) output() string {
	var b strings.Builder
	for _, name := range []string{"child.out", "caddy.log"} {
		data, _ := os.ReadFile(filepath.Join(n.dir, name))
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		fmt.Fprintf(&b, "== %s %s ==\n%s\n", n.name, name, data)
	}
	return b.String()
}

func (n *clusterNode) portalURL(p string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", n.portal, p)
}

func (n *clusterNode) appURL(p string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", n.app, p) }

// call sends one request with the session cookie (if any) and returns the
// status (0 when no answer came).
func (n *clusterNode) call(method, url, cookie string, body any) (int, []byte) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	hdr := map[string]string{"Accept": "application/json", "Content-Type": "application/json"}
	if cookie != "" {
		hdr["Cookie"] = durCookie + "=" + cookie
	}
	c := &http.Client{Transport: durRandomIP{noKeepAlive}, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, b, err := durCall(c, method, url, rd, hdr)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, b
}

// login signs user in on the node and returns the session cookie.
func (n *clusterNode) login(user, pw string) string {
	n.t.Helper()
	c := &http.Client{Transport: durRandomIP{noKeepAlive}, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]any{"username": user, "password": pw})
	resp, b, err := durCall(c, "POST", n.portalURL("/api/v1/login"), bytes.NewReader(body), jsonAPI)
	if err != nil || resp.StatusCode != http.StatusOK {
		n.t.Fatalf("login %s on %s: %v %v %s", user, n.name, err, resp, b)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == durCookie && ck.Value != "" {
			return ck.Value
		}
	}
	n.t.Fatalf("login %s on %s: no session cookie", user, n.name)
	return ""
}

// TestClusterTwoNodes: two Caddy processes on one PostgreSQL database. A
// session made on A works on B; a sign-out, a role change and a disable on
// A are refused on B within a second (the figures are logged); B keeps
// serving while A is killed with SIGKILL, and A catches up when it comes
// back; with PostgreSQL stopped both nodes answer 503 (fail closed), and
// when it is back both serve again, with every acknowledged sign-in and
// revocation as it was.
func TestClusterTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and two Caddy processes")
	}
	srv := pgtest.StartT(t)
	dsn := srv.Database(t)
	dataHome := t.TempDir()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello ", r.Header.Get("X-Gatehouse-User"))
	}))
	defer upstream.Close()
	host := strings.TrimPrefix(upstream.URL, "http://")
	a := newClusterNode(t, "A", dsn, dataHome, host)
	b := newClusterNode(t, "B", dsn, dataHome, host)
	a.start()
	for _, u := range []struct{ name, role string }{{"olga", "owner"}, {"adam", "admin"}, {"alice", "user"}, {"carol", "user"}} {
		if st, body := a.call("POST", fmt.Sprintf("http://127.0.0.1:%d/gatehouse/users", a.admin), "",
			map[string]any{"username": u.name, "password": ownerPW, "role": u.role}); st != http.StatusCreated {
			t.Fatalf("add %s: %d %s", u.name, st, body)
		}
	}
	b.start()

	// A node with a server key of its own (another data directory) is
	// refused: its API keys and TOTP secrets would not match.
	c := newClusterNode(t, "C", dsn, t.TempDir(), host)
	if err := c.startRefused(); !strings.Contains(err, "secret.key") {
		t.Errorf("a node with another server key: %q, want a refusal naming secret.key", err)
	}

	// within polls until cond holds, for up to 1 s (the bound),
	// and logs how long it took.
	within := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %v", what, limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
		d := time.Since(start)
		t.Logf("%-52s %v", what, d.Round(100*time.Microsecond))
		return d
	}
	appStatus := func(n *clusterNode, cookie string) int {
		st, _ := n.call("GET", n.appURL("/"), cookie, nil)
		return st
	}

	// Sign in on A, use the session on B.
	alice := a.login("alice", ownerPW)
	alice2 := a.login("alice", ownerPW)
	within("a session made on A accepted on B", time.Second, func() bool { return appStatus(b, alice) == http.StatusOK })

	// Sign-out on A.
	if st, body := a.call("POST", a.portalURL("/api/v1/logout"), alice, map[string]any{}); st/100 != 2 {
		t.Fatalf("logout: %d %s", st, body)
	}
	within("sign-out on A refused on B", time.Second, func() bool { return appStatus(b, alice) != http.StatusOK })

	// Role change on A.
	olga := a.login("olga", ownerPW)
	adam := a.login("adam", ownerPW)
	within("an admin's session on B lists users", time.Second, func() bool {
		st, _ := b.call("GET", b.portalURL("/api/v1/users"), adam, nil)
		return st == http.StatusOK
	})
	if st, body := a.call("PATCH", a.portalURL("/api/v1/users/adam"), olga, map[string]any{"role": "user"}); st != http.StatusOK {
		t.Fatalf("demote adam: %d %s", st, body)
	}
	within("role change on A refused on B", time.Second, func() bool {
		st, _ := b.call("GET", b.portalURL("/api/v1/users"), adam, nil)
		return st == http.StatusForbidden || st == http.StatusUnauthorized
	})

	// Disable on A.
	within("alice's second session accepted on B", time.Second, func() bool { return appStatus(b, alice2) == http.StatusOK })
	if st, body := a.call("PATCH", a.portalURL("/api/v1/users/alice"), olga, map[string]any{"active": false}); st != http.StatusOK {
		t.Fatalf("disable alice: %d %s", st, body)
	}
	within("disable on A refused on B", time.Second, func() bool { return appStatus(b, alice2) != http.StatusOK })

	// SIGKILL A: B keeps serving, sessions made on B included.
	carol := b.login("carol", ownerPW)
	a.kill()
	if st := appStatus(b, carol); st != http.StatusOK {
		t.Fatalf("B after A was killed: %d", st)
	}
	carol2 := b.login("carol", ownerPW)
	if st, body := b.call("POST", b.portalURL("/api/v1/logout"), carol2, map[string]any{}); st/100 != 2 {
		t.Fatalf("logout on B: %d %s", st, body)
	}
	// A comes back and catches up: what B did meanwhile is in force.
	a.start()
	for _, c := range []struct {
		what   string
		cookie string
		want   bool
	}{{"carol's session made on B while A was down", carol, true}, {"carol's session ended on B while A was down", carol2, false},
		{"alice (disabled)", alice2, false}, {"alice's signed-out session", alice, false}} {
		if got := appStatus(a, c.cookie) == http.StatusOK; got != c.want {
			t.Errorf("A after its restart, %s: accepted %v, want %v", c.what, got, c.want)
		}
	}

	// PostgreSQL stops: both nodes fail closed.
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*clusterNode{a, b} {
		within("node "+n.name+" answers 503 with PostgreSQL down", 5*time.Second, func() bool {
			return appStatus(n, carol) == http.StatusServiceUnavailable
		})
	}
	// A sign-in cannot be judged without its lockout: a wrong password is
	// refused as busy (503), never answered as wrong (an uncounted guess).
	for _, n := range []*clusterNode{a, b} {
		if st, body := n.call("POST", n.portalURL("/api/v1/login"), "", map[string]any{"username": "carol", "password": "wrong password 123"}); st != http.StatusServiceUnavailable {
			t.Errorf("node %s, a wrong password with PostgreSQL down: %d %s, want 503", n.name, st, body)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*clusterNode{a, b} {
		within("node "+n.name+" serves again after PostgreSQL's return", 15*time.Second, func() bool {
			return appStatus(n, carol) == http.StatusOK
		})
		for _, c := range []string{alice, alice2, carol2} {
			if st := appStatus(n, c); st == http.StatusOK {
				t.Errorf("node %s after the outage accepts a session ended before it", n.name)
			}
		}
	}
	// Revocations still propagate after the outage.
	if st, body := a.call("POST", a.portalURL("/api/v1/logout"), carol, map[string]any{}); st/100 != 2 {
		t.Fatalf("logout after the outage: %d %s", st, body)
	}
	within("sign-out on A after the outage refused on B", time.Second, func() bool { return appStatus(b, carol) != http.StatusOK })
}
