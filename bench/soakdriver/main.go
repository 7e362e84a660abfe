// Command soakdriver is the load of bench/soak: for -duration it sends a
// steady, moderate mix of requests to a running Gatehouse (not its maximum
// throughput), samples the Caddy process's memory, and at the end checks
// that no acknowledged write was lost.
//
// The mix, each kind at its own rate (requests are started on a fixed
// schedule counted from the start; a tick finding every worker of its kind
// busy, with -workers ticks already waiting, is counted as "late" and
// skipped, so the rate never exceeds the one asked for):
//
//   - login: a user the driver created signs in with the right password
//     (POST /api/v1/login, from its own X-Forwarded-For address, so the
//     per-IP throttle is not what is measured), opens the gated route with
//     the new session (200), signs out (POST /api/v1/logout, 204) and opens
//     the gated route with the dead session (401);
//   - cookie: GET on the gated route with the session cookie of -cookie (200);
//   - apikey: GET on the gated route with the API key of -apikey (200);
//   - admin: user administration through the JSON API as an admin,
//     alternately with the session -admin-cookie and the API key -admin-key:
//     create a user (with password, role and groups), change their name and
//     e-mail, change their role, change their groups (PATCH or PUT
//     /groups/{g}/members/{u}), delete them. The population stays near
//     -population users.
//
// Every answer is checked against the one expected; a 5xx, an unexpected
// status or a transport error is counted. The driver keeps its own model
// of every user it made (the last acknowledged state, deleted ones
// included); at the end it reads each back (GET /api/v1/users/{u}) and
// lists every user whose name starts with the run's prefix: a user whose
// state differs, a deleted user still there, or a user that exists without
// an acknowledged create is a lost write. Users whose last write got no
// clear answer (timeout, 5xx) are left out of the check and counted.
//
// Memory: every -rss-every it reads VmRSS of -pid from /proc. Of the
// samples taken after -warmup, the baseline is the mean of the first n and
// the end value the mean of the last n (n = a tenth of them, at least 3,
// at most half), which smooths the garbage collector's saw-tooth; growth =
// end / baseline - 1. The least-squares slope of those samples (MB/min) is
// printed too: it tells a steady rise from a saw-tooth. Each sample also
// splits RSS into process memory and mapped files (RssAnon, RssFile) and,
// with -vars, records the Go heap goal, so the report says where growth
// is: Badger's memtable (an 8 MiB arena and its log file, both filled as
// writes come and dropped when it is written out as a table) or the heap.
//
// It prints progress lines to stderr and a report to stdout, writes
// rss.csv and model.json into -out (when set), and exits 1 when a target is
// missed: any 5xx, any lost write, any unexpected answer or transport error,
// or RSS growth >= -max-growth percent. Loopback only, standard library only.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	portal, gated                string
	cookie, apikey               string
	adminCookie, adminKey        string
	duration, warmup, rssEvery   time.Duration
	vars                         string
	progress, timeout            time.Duration
	pid                          int
	cookieRate, keyRate          float64
	loginRate, adminRate         float64
	workers, population, initial int
	maxGrowth                    float64
	prefix, out                  string
}

func parseFlags() config {
	var c config
	flag.StringVar(&c.portal, "portal", "", "portal base URL, e.g. http://127.0.0.1:8080 (required)")
	flag.StringVar(&c.gated, "gated", "", "URL of a route behind the guard, open to every signed-in user (required)")
	// The secrets may come from the environment, which other users cannot
	// read the way they can read a command line.
	flag.StringVar(&c.cookie, "cookie", os.Getenv("SOAK_COOKIE"), `session cookie for the "cookie" kind, "name=value" (required; default $SOAK_COOKIE)`)
	flag.StringVar(&c.apikey, "apikey", os.Getenv("SOAK_APIKEY"), `API key for the "apikey" kind, gth_… (required; default $SOAK_APIKEY)`)
	flag.StringVar(&c.adminCookie, "admin-cookie", os.Getenv("SOAK_ADMIN_COOKIE"), `session cookie of an owner or admin, "name=value" (required; default $SOAK_ADMIN_COOKIE)`)
	flag.StringVar(&c.adminKey, "admin-key", os.Getenv("SOAK_ADMIN_KEY"), "API key (scope inherit) of an owner or admin (required; default $SOAK_ADMIN_KEY)")
	flag.DurationVar(&c.duration, "duration", 600*time.Second, "how long the load runs")
	flag.DurationVar(&c.warmup, "warmup", 0, "RSS baseline taken after this long (default: 10% of -duration)")
	flag.DurationVar(&c.rssEvery, "rss-every", 5*time.Second, "RSS sampling interval")
	flag.DurationVar(&c.progress, "progress", 30*time.Second, "interval of the progress lines on stderr")
	flag.DurationVar(&c.timeout, "timeout", 15*time.Second, "timeout of each HTTP request")
	flag.IntVar(&c.pid, "pid", 0, "process id of Caddy, for RSS (0: no RSS check)")
	flag.StringVar(&c.vars, "vars", "", "URL of Caddy's /debug/vars (admin endpoint), to sample the Go heap goal with RSS (optional)")
	flag.Float64Var(&c.cookieRate, "cookie-rate", 100, "gated requests per second with the session cookie")
	flag.Float64Var(&c.keyRate, "apikey-rate", 100, "gated requests per second with the API key")
	flag.Float64Var(&c.loginRate, "login-rate", 2, "sign-in cycles per second (4 requests each)")
	flag.Float64Var(&c.adminRate, "admin-rate", 10, "administration requests per second")
	flag.IntVar(&c.workers, "workers", 8, "concurrent workers per kind")
	flag.IntVar(&c.population, "population", 100, "number of driver-made users to hover around")
	flag.IntVar(&c.initial, "initial", 20, "users created before the clock starts")
	flag.Float64Var(&c.maxGrowth, "max-growth", 10, "fail when RSS grows by this many percent or more")
	flag.StringVar(&c.prefix, "prefix", "", "username prefix of this run (default: soak<random>-)")
	flag.StringVar(&c.out, "out", "", "directory for rss.csv and model.json (optional)")
	flag.Parse()
	for name, v := range map[string]string{"portal": c.portal, "gated": c.gated, "cookie": c.cookie,
		"apikey": c.apikey, "admin-cookie": c.adminCookie, "admin-key": c.adminKey} {
		if v == "" {
			fatalf("-%s is required", name)
		}
	}
	for name, u := range map[string]string{"portal": c.portal, "gated": c.gated} {
		p, err := url.Parse(u)
		if err != nil || p.Hostname() != "127.0.0.1" && p.Hostname() != "localhost" && p.Hostname() != "::1" {
			fatalf("-%s must be a loopback URL, got %q", name, u)
		}
	}
	c.portal = strings.TrimSuffix(c.portal, "/")
	if c.duration <= 0 || c.workers < 1 || c.population < 2 || c.initial < 0 || c.rssEvery <= 0 {
		fatalf("-duration, -rss-every must be > 0, -workers >= 1, -population >= 2, -initial >= 0")
	}
	if c.warmup <= 0 {
		c.warmup = c.duration / 10
	}
	if c.prefix == "" {
		c.prefix = fmt.Sprintf("soak%04x-", rand.IntN(0x10000))
	}
	return c
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "soakdriver: "+format+"\n", a...)
	os.Exit(2)
}

// ---------------------------------------------------------------- counters

// kinds, in report order.
var kinds = []string{"login", "cookie", "apikey", "admin"}

// stats counts what happened, per kind.
type stats struct {
	ops        map[string]*atomic.Int64 // operations completed (all answers as expected)
	requests   map[string]*atomic.Int64 // HTTP requests sent
	server5xx  map[string]*atomic.Int64
	unexpected map[string]*atomic.Int64 // a non-5xx answer other than the expected one
	transport  map[string]*atomic.Int64 // no answer (timeout, reset…)
	late       map[string]*atomic.Int64 // ticks skipped: every worker busy
	adminOps   map[string]*atomic.Int64 // create, profile, role, groups, member, delete

	mu       sync.Mutex
	examples []string // first problems, for the report
}

func newStats() *stats {
	mk := func(keys ...string) map[string]*atomic.Int64 {
		m := make(map[string]*atomic.Int64, len(keys))
		for _, k := range keys {
			m[k] = new(atomic.Int64)
		}
		return m
	}
	return &stats{
		ops: mk(kinds...), requests: mk(kinds...), server5xx: mk(kinds...),
		unexpected: mk(kinds...), transport: mk(kinds...), late: mk(kinds...),
		adminOps: mk("create", "profile", "role", "groups", "member", "delete"),
	}
}

func (s *stats) note(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.examples) < 20 {
		s.examples = append(s.examples, fmt.Sprintf(format, a...))
	}
}

func sum(m map[string]*atomic.Int64) int64 {
	var n int64
	for _, v := range m {
		n += v.Load()
	}
	return n
}

// ---------------------------------------------------------------- HTTP

type driver struct {
	cfg    config
	client *http.Client
	st     *stats
	model  *model
	seq    atomic.Int64 // for X-Forwarded-For addresses and admin auth alternation
}

// result of one request: status 0 means no answer.
type result struct {
	status int
	body   []byte
	header http.Header
	err    error
}

func (d *driver) do(ctx context.Context, kind, method, u string, body any, hdr ...string) result {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	d.st.requests[kind].Add(1)
	resp, err := d.client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return result{err: err}
	}
	return result{status: resp.StatusCode, body: b, header: resp.Header}
}

// check records r against the expected status; it reports whether r is
// as expected. what describes the request for the problem examples.
func (d *driver) check(kind, what string, r result, want ...int) bool {
	switch {
	case r.status == 0:
		d.st.transport[kind].Add(1)
		d.st.note("%s: %s: no answer: %v", kind, what, r.err)
	case r.status >= 500:
		d.st.server5xx[kind].Add(1)
		d.st.note("%s: %s: %d %s", kind, what, r.status, snippet(r.body))
	case !slices.Contains(want, r.status):
		d.st.unexpected[kind].Add(1)
		d.st.note("%s: %s: %d (want %v) %s", kind, what, r.status, want, snippet(r.body))
	default:
		return true
	}
	return false
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// ---------------------------------------------------------------- model

// user is the driver's belief about one user it made: the last state the
// server acknowledged.
type user struct {
	Username  string   `json:"username"`
	Password  string   `json:"-"`
	Email     string   `json:"email"`
	FullName  string   `json:"full_name"`
	Role      string   `json:"role"`
	Groups    []string `json:"groups"`
	Exists    bool     `json:"exists"`
	Uncertain bool     `json:"uncertain"` // last write got no clear answer
	Version   int      `json:"version"`
	busy      bool     // an operation on it is in flight
}

type model struct {
	mu    sync.Mutex
	users map[string]*user
	names []string // every username ever made, in creation order
	next  int
}

// pick marks and returns a random existing, certain, idle user, or nil.
func (m *model) pick(rng *rand.Rand) *user {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cands []*user
	for _, n := range m.names {
		if u := m.users[n]; u.Exists && !u.Uncertain && !u.busy {
			cands = append(cands, u)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	u := cands[rng.IntN(len(cands))]
	u.busy = true
	return u
}

func (m *model) release(u *user) {
	m.mu.Lock()
	u.busy = false
	m.mu.Unlock()
}

func (m *model) live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, u := range m.users {
		if u.Exists || u.Uncertain {
			n++
		}
	}
	return n
}

var (
	roles  = []string{"user", "auditor", "operator", "user_manager"}
	groups = []string{"soak-a", "soak-b", "soak-c", "soak-d"}
)

func randomGroups(rng *rand.Rand) []string {
	var g []string
	for _, x := range groups {
		if rng.IntN(3) == 0 {
			g = append(g, x)
		}
	}
	return g
}

// ---------------------------------------------------------------- operations

// adminAuth alternates between the admin session and the admin API key.
func (d *driver) adminAuth() []string {
	if d.seq.Add(1)%2 == 0 {
		return []string{"Cookie", d.cfg.adminCookie}
	}
	return []string{"Authorization", "Bearer " + d.cfg.adminKey}
}

func (d *driver) api(p string) string { return d.cfg.portal + "/api/v1" + p }

func (d *driver) opCookie(ctx context.Context, _ *rand.Rand) bool {
	return d.check("cookie", "GET gated", d.do(ctx, "cookie", "GET", d.cfg.gated, nil, "Cookie", d.cfg.cookie), 200)
}

func (d *driver) opAPIKey(ctx context.Context, _ *rand.Rand) bool {
	return d.check("apikey", "GET gated", d.do(ctx, "apikey", "GET", d.cfg.gated, nil,
		"Authorization", "Bearer "+d.cfg.apikey), 200)
}

func (d *driver) opLogin(ctx context.Context, rng *rand.Rand) bool {
	u := d.model.pick(rng)
	if u == nil {
		d.st.late["login"].Add(1)
		return false
	}
	defer d.model.release(u)
	n := d.seq.Add(1)
	xff := fmt.Sprintf("10.%d.%d.%d", (n>>16)&0xff, (n>>8)&0xff, n&0xff|1)
	r := d.do(ctx, "login", "POST", d.api("/login"), map[string]any{"username": u.Username, "password": u.Password},
		"X-Forwarded-For", xff)
	if !d.check("login", "POST /login as "+u.Username, r, 200) {
		return false
	}
	var cookie string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "gatehouse_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		d.st.unexpected["login"].Add(1)
		d.st.note("login: POST /login as %s: 200 without a session cookie: %s", u.Username, snippet(r.body))
		return false
	}
	if !d.check("login", "GET gated with the new session", d.do(ctx, "login", "GET", d.cfg.gated, nil, "Cookie", cookie), 200) {
		return false
	}
	if !d.check("login", "POST /logout", d.do(ctx, "login", "POST", d.api("/logout"), nil, "Cookie", cookie), 204) {
		return false
	}
	return d.check("login", "GET gated after logout", d.do(ctx, "login", "GET", d.cfg.gated, nil, "Cookie", cookie), 401)
}

func (d *driver) opAdmin(ctx context.Context, rng *rand.Rand) bool {
	live, target := d.model.live(), d.cfg.population
	switch x := rng.IntN(100); {
	case x < 20 && live < target+target/5, x < 35 && live <= target/2:
		return d.adminCreate(ctx, rng)
	case x < 35:
		return d.adminUpdate(ctx, rng, "delete")
	case x < 60:
		return d.adminUpdate(ctx, rng, "profile")
	case x < 80:
		return d.adminUpdate(ctx, rng, "role")
	case x < 90:
		return d.adminUpdate(ctx, rng, "groups")
	default:
		return d.adminUpdate(ctx, rng, "member")
	}
}

// create makes one user; ctx may be nil-free background for the initial set.
func (d *driver) adminCreate(ctx context.Context, rng *rand.Rand) bool {
	d.model.mu.Lock()
	d.model.next++
	name := fmt.Sprintf("%s%05d", d.cfg.prefix, d.model.next)
	u := &user{Username: name, Password: fmt.Sprintf("Soak-Pw-7%08x", rng.Uint32()), // the 7: hex alone may hold no digit
		Email: name + ".v0@soak.example", FullName: "Soak User " + name, Role: "user",
		Groups: randomGroups(rng), busy: true}
	d.model.users[name] = u
	d.model.names = append(d.model.names, name)
	d.model.mu.Unlock()
	defer d.model.release(u)
	d.st.adminOps["create"].Add(1)
	r := d.do(ctx, "admin", "POST", d.api("/users"), map[string]any{
		"username": u.Username, "email": u.Email, "full_name": u.FullName, "role": u.Role,
		"groups": nonNil(u.Groups), "password": u.Password,
	}, d.adminAuth()...)
	ok := d.check("admin", "POST /users "+name, r, 201)
	d.model.mu.Lock()
	defer d.model.mu.Unlock()
	switch {
	case ok:
		u.Exists = true
	case r.status == 0 || r.status >= 500:
		u.Uncertain = true
	}
	return ok
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (d *driver) adminUpdate(ctx context.Context, rng *rand.Rand, op string) bool {
	u := d.model.pick(rng)
	if u == nil {
		return d.adminCreate(ctx, rng)
	}
	defer d.model.release(u)
	d.st.adminOps[op].Add(1)
	d.model.mu.Lock()
	next := *u // the state if the server acknowledges
	d.model.mu.Unlock()
	next.Groups = slices.Clone(u.Groups)
	p := d.api("/users/" + u.Username)
	var r result
	var ok bool
	switch op {
	case "delete":
		r = d.do(ctx, "admin", "DELETE", p, nil, d.adminAuth()...)
		ok = d.check("admin", "DELETE /users/"+u.Username, r, 204)
		next.Exists = false
	case "profile":
		next.Version++
		next.FullName = fmt.Sprintf("Soak User %s v%d", u.Username, next.Version)
		next.Email = fmt.Sprintf("%s.v%d@soak.example", u.Username, next.Version)
		r = d.do(ctx, "admin", "PATCH", p, map[string]any{"full_name": next.FullName, "email": next.Email}, d.adminAuth()...)
		ok = d.check("admin", "PATCH /users/"+u.Username+" profile", r, 200)
	case "role":
		next.Role = roles[rng.IntN(len(roles))]
		r = d.do(ctx, "admin", "PATCH", p, map[string]any{"role": next.Role}, d.adminAuth()...)
		ok = d.check("admin", "PATCH /users/"+u.Username+" role", r, 200)
	case "groups":
		next.Groups = randomGroups(rng)
		r = d.do(ctx, "admin", "PATCH", p, map[string]any{"groups": nonNil(next.Groups)}, d.adminAuth()...)
		ok = d.check("admin", "PATCH /users/"+u.Username+" groups", r, 200)
	case "member":
		g := groups[rng.IntN(len(groups))]
		if !slices.Contains(next.Groups, g) {
			next.Groups = append(next.Groups, g)
		}
		r = d.do(ctx, "admin", "PUT", d.api("/groups/"+g+"/members/"+u.Username), nil, d.adminAuth()...)
		ok = d.check("admin", "PUT /groups/"+g+"/members/"+u.Username, r, 200, 204)
	}
	d.model.mu.Lock()
	defer d.model.mu.Unlock()
	switch {
	case ok:
		next.busy = u.busy
		*u = next
	case r.status == 0 || r.status >= 500:
		u.Uncertain = true
	}
	return ok
}

// ---------------------------------------------------------------- load

// run drives one kind at rate per second with cfg.workers workers until ctx
// ends. A tick that finds every worker busy and -workers ticks already
// waiting is counted late and skipped.
func (d *driver) run(ctx context.Context, wg *sync.WaitGroup, kind string, rate float64,
	op func(context.Context, *rand.Rand) bool) {
	if rate <= 0 {
		return
	}
	ticks := make(chan struct{}, d.cfg.workers) // absorbs jitter, not a backlog
	for i := 0; i < d.cfg.workers; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
			for range ticks {
				// Requests already started finish even after ctx ends; the
				// check at the end must see settled state.
				if op(context.WithoutCancel(ctx), rng) {
					d.st.ops[kind].Add(1)
				}
			}
		}(uint64(i) + 1)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ticks)
		// The schedule is counted from start, so a late wake-up of this
		// goroutine (a busy machine) catches up instead of losing ticks.
		start := time.Now()
		var sent int64
		t := time.NewTicker(max(time.Duration(float64(time.Second)/rate), time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for due := int64(time.Since(start).Seconds() * rate); sent < due; sent++ {
					select {
					case ticks <- struct{}{}:
					default:
						d.st.late[kind].Add(1)
					}
				}
			}
		}
	}()
}

// ---------------------------------------------------------------- RSS

type sample struct {
	at time.Duration
	kb int64
	// anon and file split kb into the process's own memory (RssAnon) and
	// pages of memory-mapped files (RssFile: the binary, Badger's tables
	// and memtable logs), which the kernel can take back.
	anon, file int64
	// goal is the Go heap goal (memstats.NextGC) in kB, 0 when not
	// sampled: under GOGC=100 about twice the live heap, so a leak in Go
	// memory shows as a rising goal.
	goal int64
}

// heapGoal reads memstats.NextGC from Caddy's /debug/vars, in kB.
func heapGoal(client *http.Client, url string) (int64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Memstats struct {
			NextGC int64 `json:"NextGC"`
		} `json:"memstats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("%s: %w", url, err)
	}
	return v.Memstats.NextGC / 1024, nil
}

// readRSS reads VmRSS, RssAnon and RssFile of pid from /proc, in kB.
func readRSS(pid int) (s sample, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		var dst *int64
		switch f[0] {
		case "VmRSS:":
			dst, found = &s.kb, true
		case "RssAnon:":
			dst = &s.anon
		case "RssFile:":
			dst = &s.file
		default:
			continue
		}
		if *dst, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return s, fmt.Errorf("%s: %w", f[0], err)
		}
	}
	if !found {
		return s, errors.New("no VmRSS line")
	}
	return s, nil
}

func mean(s []sample) float64 {
	var t float64
	for _, x := range s {
		t += float64(x.kb)
	}
	return t / float64(len(s))
}

// ---------------------------------------------------------------- verify

type verdict struct {
	checked, uncertain, lost, phantom int
	problems                          []string
}

func (v *verdict) bad(format string, a ...any) {
	if len(v.problems) < 20 {
		v.problems = append(v.problems, fmt.Sprintf(format, a...))
	}
}

func (d *driver) verify(ctx context.Context) verdict {
	var v verdict
	d.model.mu.Lock()
	names := slices.Clone(d.model.names)
	d.model.mu.Unlock()
	auth := []string{"Authorization", "Bearer " + d.cfg.adminKey}
	for _, n := range names {
		u := d.model.users[n]
		if u.Uncertain {
			v.uncertain++
			continue
		}
		v.checked++
		r := d.do(ctx, "admin", "GET", d.api("/users/"+url.PathEscape(n)), nil, auth...)
		if !u.Exists {
			if r.status != 404 {
				v.lost++
				v.bad("%s was deleted (acknowledged) but GET answers %d %s", n, r.status, snippet(r.body))
			}
			continue
		}
		if r.status != 200 {
			v.lost++
			v.bad("%s should exist but GET answers %d %s", n, r.status, snippet(r.body))
			continue
		}
		var got struct {
			Username, Email, Role string
			FullName              string `json:"full_name"`
			Groups                []string
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			v.lost++
			v.bad("%s: unreadable answer: %v", n, err)
			continue
		}
		want, have := slices.Clone(u.Groups), slices.Clone(got.Groups)
		sort.Strings(want)
		sort.Strings(have)
		if got.Username != u.Username || got.Email != u.Email || got.FullName != u.FullName ||
			got.Role != u.Role || !slices.Equal(want, have) {
			v.lost++
			v.bad("%s: want email=%s name=%q role=%s groups=%v, have email=%s name=%q role=%s groups=%v",
				n, u.Email, u.FullName, u.Role, want, got.Email, got.FullName, got.Role, have)
		}
	}
	// Every user of this run that the server lists must be known to exist.
	after := ""
	for {
		q := url.Values{"q": {d.cfg.prefix}, "limit": {"500"}}
		if after != "" {
			q.Set("after", after)
		}
		r := d.do(ctx, "admin", "GET", d.api("/users?"+q.Encode()), nil, auth...)
		if r.status != 200 {
			v.lost++
			v.bad("GET /users answered %d %s", r.status, snippet(r.body))
			break
		}
		var page struct {
			Items []struct{ Username string }
			Next  string
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			v.lost++
			v.bad("GET /users: unreadable answer: %v", err)
			break
		}
		for _, it := range page.Items {
			if !strings.HasPrefix(it.Username, d.cfg.prefix) {
				continue
			}
			u := d.model.users[it.Username]
			if u == nil || !u.Exists && !u.Uncertain {
				v.phantom++
				v.bad("%s is listed but was never acknowledged as created, or was deleted", it.Username)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	return v
}

// ---------------------------------------------------------------- main

func main() {
	cfg := parseFlags()
	d := &driver{
		cfg: cfg,
		client: &http.Client{
			Timeout: cfg.timeout,
			Transport: &http.Transport{
				MaxIdleConns: 4 * cfg.workers * len(kinds), MaxIdleConnsPerHost: 4 * cfg.workers * len(kinds),
				IdleConnTimeout: 90 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		st:    newStats(),
		model: &model{users: make(map[string]*user)},
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "==> soak "+format+"\n", a...)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Initial population, before the clock starts.
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for _, g := range groups {
		r := d.do(ctx, "admin", "POST", d.api("/groups"), map[string]any{"name": g}, d.adminAuth()...)
		if r.status != 201 && r.status != 409 {
			fatalf("POST /groups %s answered %d %s", g, r.status, snippet(r.body))
		}
	}
	logf("creating %d users (prefix %q)", cfg.initial, cfg.prefix)
	for i := 0; i < cfg.initial && ctx.Err() == nil; i++ {
		d.adminCreate(ctx, rng)
	}
	d.st.adminOps["create"].Store(0)
	initialProblems := sum(d.st.server5xx) + sum(d.st.unexpected) + sum(d.st.transport)
	if initialProblems > 0 {
		fmt.Fprintln(os.Stderr, strings.Join(d.st.examples, "\n"))
		fatalf("the initial users could not be created")
	}
	for _, k := range kinds {
		d.st.requests[k].Store(0)
	}

	start := time.Now()
	loadCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	d.run(loadCtx, &wg, "cookie", cfg.cookieRate, d.opCookie)
	d.run(loadCtx, &wg, "apikey", cfg.keyRate, d.opAPIKey)
	d.run(loadCtx, &wg, "login", cfg.loginRate, d.opLogin)
	d.run(loadCtx, &wg, "admin", cfg.adminRate, d.opAdmin)
	logf("load: cookie %.0f/s, apikey %.0f/s, login %.1f cycles/s, admin %.1f/s, %d workers per kind, for %s; RSS every %s, baseline after %s",
		cfg.cookieRate, cfg.keyRate, cfg.loginRate, cfg.adminRate, cfg.workers, cfg.duration, cfg.rssEvery, cfg.warmup)

	// RSS sampling and progress, until the load ends.
	var samples []sample
	var rssErr error
	varsClient := &http.Client{Timeout: 5 * time.Second}
	takeRSS := func() {
		if cfg.pid == 0 || rssErr != nil {
			return
		}
		smp, err := readRSS(cfg.pid)
		if err != nil {
			rssErr = err
			logf("RSS: %v", err)
			return
		}
		smp.at = time.Since(start)
		if cfg.vars != "" {
			if smp.goal, err = heapGoal(varsClient, cfg.vars); err != nil {
				logf("heap goal: %v", err)
			}
		}
		samples = append(samples, smp)
	}
	takeRSS()
	rssT := time.NewTicker(cfg.rssEvery)
	progT := time.NewTicker(cfg.progress)
	for done := false; !done; {
		select {
		case <-loadCtx.Done():
			done = true
		case <-rssT.C:
			takeRSS()
		case <-progT.C:
			rss := "-"
			if len(samples) > 0 {
				rss = fmt.Sprintf("%.1f MB", float64(samples[len(samples)-1].kb)/1024)
			}
			logf("%4.0fs: ops login %d cookie %d apikey %d admin %d; 5xx %d; unexpected %d; no answer %d; users %d; RSS %s",
				time.Since(start).Seconds(), d.st.ops["login"].Load(), d.st.ops["cookie"].Load(), d.st.ops["apikey"].Load(),
				d.st.ops["admin"].Load(), sum(d.st.server5xx), sum(d.st.unexpected), sum(d.st.transport), d.model.live(), rss)
		}
	}
	rssT.Stop()
	progT.Stop()
	takeRSS()
	elapsed := time.Since(start)
	wg.Wait()
	if ctx.Err() != nil {
		fatalf("interrupted")
	}
	logf("load done after %.0f s; checking every user against the last acknowledged state", elapsed.Seconds())
	requests := make(map[string]int64, len(kinds))
	for _, k := range kinds {
		requests[k] = d.st.requests[k].Load()
	}
	v := d.verify(context.Background())

	// ------------------------------------------------------------ report
	var fails []string
	fmt.Printf("\nGatehouse soak — %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Printf("load: %.0f s; cookie %.0f/s, apikey %.0f/s, login %.1f cycles/s (4 requests each), admin %.1f/s; %d workers per kind\n\n",
		elapsed.Seconds(), cfg.cookieRate, cfg.keyRate, cfg.loginRate, cfg.adminRate, cfg.workers)
	fmt.Printf("| %-8s | %9s | %9s | %7s | %5s | %10s | %9s | %6s |\n", "kind", "ops", "requests", "req/s", "5xx", "unexpected", "no answer", "late")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", "----------", "----------:", "----------:", "--------:", "------:", "-----------:", "----------:", "-------:")
	var total int64
	for _, k := range kinds {
		total += requests[k]
		fmt.Printf("| %-8s | %9d | %9d | %7.1f | %5d | %10d | %9d | %6d |\n", k, d.st.ops[k].Load(), requests[k],
			float64(requests[k])/elapsed.Seconds(), d.st.server5xx[k].Load(), d.st.unexpected[k].Load(),
			d.st.transport[k].Load(), d.st.late[k].Load())
	}
	fmt.Printf("| %-8s | %9d | %9d | %7.1f | %5d | %10d | %9d | %6d |\n", "total", sum(d.st.ops), total,
		float64(total)/elapsed.Seconds(), sum(d.st.server5xx), sum(d.st.unexpected), sum(d.st.transport), sum(d.st.late))
	fmt.Println("(5xx, unexpected and no answer include the final read-back, counted under admin)")
	fmt.Printf("\nadmin operations: create %d, profile %d, role %d, groups %d, member %d, delete %d (plus %d initial users)\n",
		d.st.adminOps["create"].Load(), d.st.adminOps["profile"].Load(), d.st.adminOps["role"].Load(),
		d.st.adminOps["groups"].Load(), d.st.adminOps["member"].Load(), d.st.adminOps["delete"].Load(), cfg.initial)
	live := 0
	for _, u := range d.model.users {
		if u.Exists {
			live++
		}
	}
	fmt.Printf("users: %d made, %d alive at the end; read back %d (%d left out: last write unanswered); lost writes %d; unexpected users %d\n",
		len(d.model.names), live, v.checked, v.uncertain, v.lost, v.phantom)
	if n := sum(d.st.server5xx); n > 0 {
		fails = append(fails, fmt.Sprintf("%d answers were 5xx (target 0)", n))
	}
	if n := sum(d.st.unexpected) + sum(d.st.transport); n > 0 {
		fails = append(fails, fmt.Sprintf("%d answers were unexpected or missing", n))
	}
	if v.lost+v.phantom > 0 {
		fails = append(fails, fmt.Sprintf("%d lost writes and %d unexpected users (target 0)", v.lost, v.phantom))
	}

	// RSS.
	if cfg.pid != 0 {
		var after []sample
		var peak int64
		for _, s := range samples {
			if s.at >= cfg.warmup {
				after = append(after, s)
			}
			peak = max(peak, s.kb)
		}
		if len(after) < 2 {
			fails = append(fails, fmt.Sprintf("too few RSS samples after the warm-up (%d); run longer or sample more often", len(after)))
		} else {
			// Least-squares slope of every sample after the warm-up: a
			// saw-tooth around a flat line gives ~0, a leak a steady rise.
			var sx, sy, sxx, sxy float64
			for _, s := range after {
				x, y := s.at.Minutes(), float64(s.kb)/1024
				sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
			}
			k := float64(len(after))
			slope := (k*sxy - sx*sy) / (k*sxx - sx*sx)
			n := min(max(3, len(after)/10), len(after)/2)
			base, end := mean(after[:n]), mean(after[len(after)-n:])
			growth := (end/base - 1) * 100
			fmt.Printf("RSS of caddy (pid %d): start %.1f MB; after warm-up (%.0f s; mean of the next %d samples) %.1f MB; end (mean of the last %d) %.1f MB; peak %.1f MB; growth %+.1f %%\n",
				cfg.pid, float64(samples[0].kb)/1024, cfg.warmup.Seconds(), n, base/1024, n, end/1024, float64(peak)/1024, growth)
			fmt.Printf("RSS trend after the warm-up: %+.2f MB/min (least-squares slope of %d samples)\n", slope, len(after))
			split := func(ss []sample) (anon, file, goal float64) {
				for _, s := range ss {
					anon, file, goal = anon+float64(s.anon), file+float64(s.file), goal+float64(s.goal)
				}
				k := float64(len(ss)) * 1024
				return anon / k, file / k, goal / k
			}
			ba, bf, bg := split(after[:n])
			ea, ef, eg := split(after[len(after)-n:])
			fmt.Printf("of which process memory (RssAnon) %.1f -> %.1f MB, mapped files (RssFile) %.1f -> %.1f MB\n", ba, ea, bf, ef)
			if cfg.vars != "" {
				fmt.Printf("Go heap goal (memstats.NextGC, about twice the live heap) %.1f -> %.1f MB\n", bg, eg)
			}
			if growth >= cfg.maxGrowth {
				fails = append(fails, fmt.Sprintf("RSS grew %.1f %% after the warm-up (target < %.0f %%)", growth, cfg.maxGrowth))
			}
		}
	}
	if cfg.out != "" {
		writeOut(cfg.out, samples, d.model)
	}
	if len(d.st.examples) > 0 || len(v.problems) > 0 {
		fmt.Println("\nfirst problems:")
		for _, e := range append(d.st.examples, v.problems...) {
			fmt.Println("  " + e)
		}
	}
	fmt.Printf("\ntargets: 0 5xx, 0 lost writes, RSS growth after warm-up < %.0f %%\n", cfg.maxGrowth)
	if len(fails) > 0 {
		for _, f := range fails {
			fmt.Println("FAIL: " + f)
		}
		os.Exit(1)
	}
	fmt.Println("PASS")
}

func writeOut(dir string, samples []sample, m *model) {
	var b strings.Builder
	b.WriteString("seconds,rss_kb,anon_kb,file_kb,heap_goal_kb\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%.1f,%d,%d,%d,%d\n", s.at.Seconds(), s.kb, s.anon, s.file, s.goal)
	}
	if err := os.WriteFile(filepath.Join(dir, "rss.csv"), []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "soakdriver:", err)
	}
	us := make([]*user, 0, len(m.names))
	for _, n := range m.names {
		us = append(us, m.users[n])
	}
	j, _ := json.MarshalIndent(us, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "model.json"), j, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "soakdriver:", err)
	}
}
