package caddymodule

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/nginxtest"
)

// cacheLogFormat logs each auth subrequest (log_subrequest) with its cache
// status into {dir}/cache.log, so the test sees what nginx's cache did. It
// is the test's own addition to the example, in the http context.
const cacheLogFormat = `log_format gatehouse_cache '$uri $upstream_cache_status $status';
log_subrequest on;
access_log {dir}/cache.log gatehouse_cache;
`

// TestForwardAuthNginxCache runs examples/nginx/app-cached.conf (the
// nginx example with a one-second cache of Gatehouse's answers, Debian's
// nginx) and holds it to what the README promises:
//
//   - an answer is reused only for the same cookies, Authorization header
//     and kind of client: alice's cached 200 never lets bob, a stranger,
//     a browser without a session or a session-less API client in;
//   - only 200s are kept: a 403 or a 401 is asked again every time, so a
//     user given access gets in at once;
//   - a sign-out holds on this nginx within a second (the next second's
//     requests are asked again), and at once for a request that is not a
//     GET or a HEAD;
//   - the cache files, whose keys hold the session cookie, are readable by
//     nginx's user only.
func TestForwardAuthNginxCache(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("app wiki {\n\t\t\ttitle Wiki\n\t\t\tallow_groups staff\n\t\t\tapp_passwords\n\t\t}", ""))
	h.addUser("alice", alicePW, "user", "staff")
	h.addUser("bob", bobPW, "user", "staff")
	h.addUser("carol", alicePW, "user")
	h.addUser("olga", ownerPW, "owner")
	conf := nginxExampleFile(t, "app-cached.conf", h.portalURL(""), "wiki", h.upstream.URL)
	// AccessLog: nginxtest would otherwise turn access logs off in the
	// http context, this one too.
	ngx := nginxtest.Start(t, nginxtest.Options{AccessLog: true, Config: cacheLogFormat + conf})
	target := ngx.URL + "/wiki/page"
	nu, _ := url.Parse(ngx.URL)

	// cookieOf is the Cookie header c's browser sends to nginx.
	cookieOf := func(c *http.Client) string {
		var parts []string
		for _, ck := range c.Jar.Cookies(nu) {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
		return strings.Join(parts, "; ")
	}
	// get sends method to nginx with the Cookie header cookie and hdr,
	// and returns the status and who the app saw ("" when the request did
	// not reach it).
	plain := &http.Client{Transport: noKeepAlive, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, cookie string, hdr map[string]string) (int, string) {
		t.Helper()
		m := map[string]string{}
		for k, v := range hdr {
			m[k] = v
		}
		if cookie != "" {
			m["Cookie"] = cookie
		}
		before := h.upstreamHits()
		resp, b := do(t, plain, method, target, nil, m)
		seen, n := h.lastSeen()
		if n == before {
			return resp.StatusCode, ""
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s, but the app saw the request", method, resp.StatusCode, b)
		}
		return resp.StatusCode, seen.Get("Remote-User")
	}
	// statusesSince is the cache statuses of the auth subrequests logged
	// after the first mark lines, as "STATUS CODE" ("MISS 200", "HIT
	// 200", …), once n of them are there (or after 2 s: nginx writes a
	// subrequest's line when its request ends, which may be just after
	// the client has its answer).
	cacheLog := filepath.Join(ngx.Dir, "cache.log")
	logLines := func() []string {
		b, _ := os.ReadFile(cacheLog)
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "/.gatehouse/auth" {
				out = append(out, f[1]+" "+f[2])
			}
		}
		return out
	}
	statusesSince := func(mark, n int) []string {
		deadline := time.Now().Add(2 * time.Second)
		for {
			l := logLines()
			if len(l) >= mark+n || time.Now().After(deadline) {
				if len(l) < mark {
					return nil
				}
				return l[mark:]
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// inOneSecond runs steps within one second of the clock (nginx's key
	// holds the second), starting just after a second begins; it tries
	// again when a slow machine let the second end first.
	inOneSecond := func(name string, steps func()) {
		t.Helper()
		for try := 0; ; try++ {
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
			start := time.Now().Unix()
			steps()
			if time.Now().Unix() == start {
				return
			}
			if try == 2 {
				t.Fatalf("%s: could not run within one second", name)
			}
		}
	}

	alice, bob, carol, olga := h.client(), h.client(), h.client(), h.client()
	h.apiLogin(alice, "alice", alicePW)
	h.apiLogin(bob, "bob", bobPW)
	h.apiLogin(carol, "carol", alicePW)
	h.apiLogin(olga, "olga", ownerPW)
	aliceCk, bobCk, carolCk := cookieOf(alice), cookieOf(bob), cookieOf(carol)
	// alice's app password for a DAV client: HTTP Basic, which Gatehouse
	// takes from clients that are not browsers only.
	resp, b := do(t, alice, "POST", h.portalURL("/api/v1/me/app-passwords"), strings.NewReader(`{"name":"dav","app":"wiki"}`), jsonAPI)
	var created struct{ Password string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &created) != nil {
		t.Fatalf("app password: %d %s", resp.StatusCode, b)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+created.Password))
	dav := map[string]string{"Authorization": basic, "Accept": "*/*", "User-Agent": "davfs2/1.7.0"}

	// The cache serves alice, and nobody else.
	inOneSecond("alice and the others", func() {
		mark := len(logLines())
		for i := range 3 {
			if st, who := get("GET", aliceCk, browser); st != 200 || who != "alice" {
				t.Fatalf("alice, request %d: %d as %q, want 200 as alice", i+1, st, who)
			}
		}
		if got := statusesSince(mark, 3); strings.Join(got, ",") != "MISS 200,HIT 200,HIT 200" {
			t.Fatalf("alice's three requests: cache %q, want a miss then two hits (the cache does not cache)", got)
		}
		for i := range 2 {
			if st, who := get("GET", "", dav); st != 200 || who != "alice" {
				t.Fatalf("alice's DAV client, request %d: %d as %q, want 200 as alice", i+1, st, who)
			}
		}
		for _, c := range []struct {
			name   string
			cookie string
			hdr    map[string]string
			status int
			who    string
		}{
			{"bob, with his own cookie", bobCk, browser, 200, "bob"},
			{"a browser without a session", "", browser, 302, ""},
			{"an API client without a session", "", jsonAPI, 401, ""},
			{"alice's cookie as an API client", aliceCk, jsonAPI, 200, "alice"},
			{"carol, not in staff", carolCk, browser, 403, ""},
			{"bob's cookie with alice's after it", bobCk + "; " + aliceCk, browser, 200, "bob"},
			{"alice's session cookie in another cookie's value", "x=" + strings.ReplaceAll(aliceCk, "; ", "&"), browser, 302, ""},
			{"alice's cookie, a forged identity", aliceCk, map[string]string{"Accept": browser["Accept"], "Remote-User": "mallory"}, 200, "alice"},
			{"a browser with the DAV client's Basic header", "", map[string]string{"Authorization": basic, "Accept": browser["Accept"]}, 302, ""},
			{"a browser's fetch with the DAV client's Basic header", "", map[string]string{"Authorization": basic, "Accept": "*/*", "Sec-Fetch-Mode": "cors"}, 401, ""},
			{"the DAV client's login with another password", "", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+created.Password+"x")), "Accept": "*/*"}, 401, ""},
		} {
			if st, who := get("GET", c.cookie, c.hdr); st != c.status || who != c.who {
				t.Errorf("%s: %d as %q, want %d as %q", c.name, st, who, c.status, c.who)
			}
		}
	})

	// A refusal is never kept: asked twice in one second, both are
	// misses; given access, carol gets in at once.
	inOneSecond("refusals", func() {
		mark := len(logLines())
		for range 2 {
			if st, _ := get("GET", carolCk, jsonAPI); st != 403 {
				t.Fatalf("carol: %d, want 403", st)
			}
			if st, _ := get("GET", "", jsonAPI); st != 401 {
				t.Fatalf("no session: %d, want 401", st)
			}
		}
		if got := statusesSince(mark, 4); strings.Join(got, ",") != "MISS 403,MISS 401,MISS 403,MISS 401" {
			t.Fatalf("refusals: cache %q, want misses only", got)
		}
		resp, b := do(t, olga, "PATCH", h.portalURL("/api/v1/users/carol"), strings.NewReader(`{"groups":["staff"]}`), jsonAPI)
		if resp.StatusCode != 200 {
			t.Fatalf("give carol access: %d %s", resp.StatusCode, b)
		}
		if st, who := get("GET", carolCk, jsonAPI); st != 200 || who != "carol" {
			t.Fatalf("carol given access: %d as %q, want 200 as carol at once", st, who)
		}
	})

	// alice signs out: a write is refused at once, though her answer is
	// in the cache for this second; within a second every request is
	// refused. (Not retried as the others: she is signed out once.)
	var signedOut time.Time
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
	{
		mark := len(logLines())
		if st, who := get("GET", aliceCk, jsonAPI); st != 200 || who != "alice" {
			t.Fatalf("alice before signing out: %d as %q", st, who)
		}
		statusesSince(mark, 1) // its line written
		mark++
		resp, b := do(t, alice, "POST", h.portalURL("/api/v1/logout"), nil, jsonAPI)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("sign out: %d %s", resp.StatusCode, b)
		}
		signedOut = time.Now()
		for _, m := range []string{"POST", "PUT", "DELETE"} {
			if st, who := get(m, aliceCk, jsonAPI); st != 401 || who != "" {
				t.Errorf("%s with the old cookie just after the sign-out: %d as %q, want 401", m, st, who)
			}
		}
		if got := statusesSince(mark, 3); strings.Join(got, ",") != "BYPASS 401,BYPASS 401,BYPASS 401" {
			t.Errorf("writes after the sign-out: cache %q, want the cache bypassed", got)
		}
	}
	time.Sleep(time.Until(signedOut.Add(time.Second)))
	for _, hdr := range []map[string]string{jsonAPI, browser} {
		if st, who := get("GET", aliceCk, hdr); (st != 401 && st != 302) || who != "" {
			t.Errorf("alice's old cookie a second after the sign-out (Accept %s): %d as %q, want refused", hdr["Accept"], st, who)
		}
	}

	// The cache's files hold the session cookie in their keys: nginx's
	// user only.
	var files int
	err := filepath.Walk(filepath.Join(ngx.Dir, "auth-cache"), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, readable by others than nginx's user", p, fi.Mode())
		}
		if !fi.IsDir() {
			files++
			if b, _ := os.ReadFile(p); !bytes.Contains(b, []byte("KEY: wiki|")) {
				t.Errorf("%s: not a cache file of the example's key", p)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Errorf("cache files: %d, %v", files, err)
	}
}

// TestNginxCachedExample: examples/nginx/app-cached.conf is app.conf with
// lines added (every line of app.conf, in order), and the README shows
// each run of added lines as it is.
func TestNginxCachedExample(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join("..", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	base := strings.Split(read("examples/nginx/app.conf"), "\n")
	cached := strings.Split(read("examples/nginx/app-cached.conf"), "\n")
	readme := read("README.md")
	var runs [][]string
	var run []string
	i := 0
	for _, l := range cached {
		if i < len(base) && l == base[i] {
			i++
			if len(run) > 0 {
				runs = append(runs, run)
				run = nil
			}
			continue
		}
		run = append(run, l)
	}
	if i != len(base) {
		t.Fatalf("app-cached.conf lacks app.conf's line %d: %q", i+1, base[i])
	}
	if len(run) > 0 {
		runs = append(runs, run)
	}
	if len(runs) == 0 {
		t.Fatal("app-cached.conf adds nothing to app.conf")
	}
	for _, r := range runs {
		block := strings.TrimRight(strings.Join(r, "\n"), "\n")
		if !strings.Contains(readme, block) {
			t.Errorf("the README does not show these lines of app-cached.conf as they are:\n%s", block)
		}
	}
}
