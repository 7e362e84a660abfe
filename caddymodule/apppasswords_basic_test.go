package caddymodule

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/webdav"

	"github.com/gatehouse-auth/gatehouse/core"
)

// requireTools skips without the named programs, except in CI (.ci/run
// installs them), where a missing one fails the test instead of hiding it.
func requireTools(t *testing.T, pkg string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not on PATH (apt-get install %s)", tool, pkg)
			}
			t.Skipf("%s is not on PATH (apt-get install %s)", tool, pkg)
		}
	}
}

// nativeUpstream is the app behind the guard: a real WebDAV server
// (golang.org/x/net/webdav) under /dav/ and git's own smart-HTTP server
// (git http-backend, as CGI) under /git/. It records the headers of every
// request that reaches it.
type nativeUpstream struct {
	srv  *httptest.Server
	repo string // the bare repository's directory
	mu   sync.Mutex
	seen []http.Header
}

func newNativeUpstream(t *testing.T) *nativeUpstream {
	t.Helper()
	u := &nativeUpstream{}
	root := t.TempDir()
	u.repo = filepath.Join(root, "notes.git")
	for _, args := range [][]string{{"init", "-q", "--bare", u.repo}, {"-C", u.repo, "config", "http.receivepack", "true"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/dav/", &webdav.Handler{Prefix: "/dav", FileSystem: webdav.NewMemFS(), LockSystem: webdav.NewMemLS()})
	mux.Handle("/git/", &cgi.Handler{Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"), Root: "/git",
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Header.Clone())
		u.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// since returns the headers of the requests that reached the upstream
// after the first n.
func (u *nativeUpstream) since(n int) []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.seen[n:]...)
}

func (u *nativeUpstream) hits() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// TestAppPasswordsBasicNativeClients: through a real Caddy, an app whose
// guard says app_passwords takes app passwords over HTTP Basic from real
// native clients — curl, Debian's cadaver (WebDAV) and git (smart HTTP,
// clone and push) — which prompt on its Basic challenge; the app sees the
// user, never the Authorization header. Refused, and audited with the real
// user (via guard): the account password, a password limited to another
// app, a revoked one, a disabled or locked user; repeated failures from
// one address reach the throttle (429). A browser without a session is
// still sent to the portal, without a Basic challenge.
func TestAppPasswordsBasicNativeClients(t *testing.T) {
	requireTools(t, "curl", "curl")
	requireTools(t, "git", "git")
	requireTools(t, "cadaver", "cadaver")
	h := newHarness(t)
	up := newNativeUpstream(t)
	ports := freePorts(t, 2)
	files, notes := ports[0], ports[1]
	filesURL := func(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", files, path) }
	// files: the guard's own app_passwords; notes: a bare guard for an app
	// of the global block, which switches them on.
	h.start(h.caddyfile(`app notes {
			title "Notes"
			app_passwords
		}`, fmt.Sprintf(`
http://127.0.0.1:%[1]d {
	gatehouse files {
		title "Family Files"
		allow_groups staff
		app_passwords
	}
	reverse_proxy %[3]s
}

http://127.0.0.1:%[2]d {
	gatehouse notes
	reverse_proxy %[3]s
}
`, files, notes, strings.TrimPrefix(up.srv.URL, "http://"))))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user", "staff")
	h.addUser("bob", bobPW, "user", "staff")
	h.addUser("carol", alicePW, "user", "staff")
	h.addUser("dave", alicePW, "user") // not in staff
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)

	newAppPassword := func(user, pw, body string) string {
		t.Helper()
		c := h.client()
		h.apiLogin(c, user, pw)
		resp, b := do(t, c, "POST", h.portalURL("/api/v1/me/app-passwords"), strings.NewReader(body), jsonAPI)
		var v struct{ ID, Password string }
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &v) != nil {
			t.Fatalf("create app password for %s: %d %s", user, resp.StatusCode, b)
		}
		return v.Password
	}
	alicePWApp := newAppPassword("alice", alicePW, `{"name":"Laptop","app":"files"}`)
	aliceOther := newAppPassword("alice", alicePW, `{"name":"Who","app":"whoami"}`)
	bobApp := newAppPassword("bob", bobPW, `{"name":"Phone"}`)
	carolApp := newAppPassword("carol", alicePW, `{"name":"Tablet"}`)
	daveApp := newAppPassword("dave", alicePW, `{"name":"Desktop"}`)

	// curl runs curl with a client address of its own (X-Forwarded-For,
	// which Caddy believes from loopback) and returns the status, the
	// response headers and the body.
	curl := func(ip string, args ...string) (int, http.Header, string) {
		t.Helper()
		dir := t.TempDir()
		hdrFile, bodyFile := filepath.Join(dir, "h"), filepath.Join(dir, "b")
		all := append([]string{"-sS", "-o", bodyFile, "-D", hdrFile, "-w", "%{http_code}", "-H", "X-Forwarded-For: " + ip}, args...)
		out, err := exec.Command("curl", all...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v %s", args, err, out)
		}
		var code int
		fmt.Sscan(string(out), &code)
		raw, _ := os.ReadFile(hdrFile)
		hdr := http.Header{}
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
				hdr.Add(k, strings.TrimSpace(v))
			}
		}
		body, _ := os.ReadFile(bodyFile)
		return code, hdr, string(body)
	}
	propfind := []string{"-X", "PROPFIND", "-H", "Depth: 1", filesURL("/dav/")}

	t.Run("curl with an app password", func(t *testing.T) {
		n := up.hits()
		code, _, body := curl("10.20.0.1", append([]string{"-u", "alice:" + alicePWApp}, propfind...)...)
		if code != http.StatusMultiStatus || !strings.Contains(body, "multistatus") {
			t.Fatalf("PROPFIND with alice's app password: %d %s", code, body)
		}
		// Typed as shown, case and dashes aside.
		code, _, _ = curl("10.20.0.1", append([]string{"-u", "ALICE:" + strings.ToUpper(strings.ReplaceAll(alicePWApp, "-", ""))}, propfind...)...)
		if code != http.StatusMultiStatus {
			t.Errorf("upper case, no dashes: %d", code)
		}
		seen := up.since(n)
		if len(seen) != 2 {
			t.Fatalf("upstream saw %d requests, want 2", len(seen))
		}
		for _, s := range seen {
			if s.Get("Remote-User") != "alice" || s.Get("Remote-Groups") != "staff" || s.Get("Authorization") != "" {
				t.Errorf("upstream saw %v", s)
			}
		}
	})

	t.Run("a session with a Basic header", func(t *testing.T) {
		// Signed in with a cookie, the request is let in on the session;
		// Basic credentials on an app that takes app passwords are ours
		// and still never reach it.
		c := h.client()
		h.apiLogin(c, "alice", alicePW)
		n := up.hits()
		resp, _ := do(t, c, "PROPFIND", filesURL("/dav/"), nil, map[string]string{"Depth": "0", "Accept": "*/*",
			"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+alicePWApp))})
		seen := up.since(n)
		if resp.StatusCode != http.StatusMultiStatus || len(seen) != 1 || seen[0].Get("Authorization") != "" || seen[0].Get("Remote-User") != "alice" {
			t.Errorf("%d %v", resp.StatusCode, seen)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		code, hdr, _ := curl("10.20.0.2", propfind...)
		if code != http.StatusUnauthorized || !strings.Contains(strings.Join(hdr.Values("Www-Authenticate"), "|"), `Basic realm="Family Files"`) {
			t.Errorf("anonymous PROPFIND: %d %v", code, hdr)
		}
		// A browser is sent to the portal and never gets a Basic
		// challenge (it would pop up a password dialog).
		code, hdr, _ = curl("10.20.0.2", "-H", "Accept: text/html", filesURL("/dav/"))
		if code != http.StatusFound || !strings.HasPrefix(hdr.Get("Location"), h.portalURL("/login?rd=")) ||
			strings.Contains(strings.Join(hdr.Values("Www-Authenticate"), "|"), "Basic") {
			t.Errorf("browser navigation: %d %v", code, hdr)
		}
		// A browser's fetch (Sec-Fetch-Mode, no text/html) gets no Basic
		// challenge either, and its Basic credentials are not taken: a
		// browser would send cached ones from any page.
		code, hdr, _ = curl("10.20.0.2", "-H", "Sec-Fetch-Mode: cors", "-u", "alice:"+alicePWApp, filesURL("/dav/"))
		if code != http.StatusUnauthorized || strings.Contains(strings.Join(hdr.Values("Www-Authenticate"), "|"), "Basic") {
			t.Errorf("browser fetch with Basic credentials: %d %v", code, hdr)
		}
		// An app without app_passwords takes none and challenges nobody.
		code, hdr, _ = curl("10.20.0.2", "-u", "alice:"+aliceOther, h.appURL("/"))
		if code != http.StatusUnauthorized || strings.Contains(strings.Join(hdr.Values("Www-Authenticate"), "|"), "Basic") {
			t.Errorf("whoami without app_passwords: %d %v", code, hdr)
		}
	})

	t.Run("cadaver", func(t *testing.T) {
		home := t.TempDir()
		if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine 127.0.0.1\nlogin alice\npassword "+alicePWApp+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		local := filepath.Join(home, "shopping.txt")
		if err := os.WriteFile(local, []byte("milk, eggs\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		n := up.hits()
		cmd := exec.Command("cadaver", filesURL("/dav/"))
		cmd.Dir, cmd.Env = home, append(os.Environ(), "HOME="+home)
		cmd.Stdin = strings.NewReader("put shopping.txt\nls\nquit\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "shopping.txt") || strings.Contains(string(out), "failed") {
			t.Fatalf("cadaver: %v\n%s", err, out)
		}
		code, _, body := curl("10.20.0.3", "-u", "alice:"+alicePWApp, filesURL("/dav/shopping.txt"))
		if code != 200 || body != "milk, eggs\n" {
			t.Errorf("the file cadaver put: %d %q", code, body)
		}
		for _, s := range up.since(n) {
			if s.Get("Authorization") != "" || s.Get("Remote-User") != "alice" {
				t.Errorf("upstream saw %v", s)
			}
		}
	})

	t.Run("git clone and push", func(t *testing.T) {
		home := t.TempDir()
		git := func(dir string, args ...string) string {
			t.Helper()
			cmd := exec.Command("git", append([]string{"-c", "http.extraHeader=X-Forwarded-For: 10.20.0.4", "-c", "user.name=Alice",
				"-c", "user.email=alice@example.com", "-c", "credential.helper=", "-c", "init.defaultBranch=main"}, args...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "HOME="+home, "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		n := up.hits()
		// Credentials in the URL: git asks without them first and sends
		// them on the Basic challenge.
		remote := strings.Replace(filesURL("/git/notes.git"), "http://", "http://alice:"+alicePWApp+"@", 1)
		git(home, "clone", "-q", remote, "notes")
		work := filepath.Join(home, "notes")
		if err := os.WriteFile(filepath.Join(work, "README"), []byte("family notes\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		git(work, "add", "README")
		git(work, "commit", "-q", "-m", "first")
		git(work, "push", "-q", "origin", "HEAD:main")
		if log, err := exec.Command("git", "-C", up.repo, "log", "--format=%an %s", "main").Output(); err != nil || strings.TrimSpace(string(log)) != "Alice first" {
			t.Errorf("the pushed repository: %v %q", err, log)
		}
		seen := up.since(n)
		if len(seen) < 4 {
			t.Fatalf("upstream saw %d requests", len(seen))
		}
		for _, s := range seen {
			if s.Get("Authorization") != "" || s.Get("Remote-User") != "alice" {
				t.Errorf("upstream saw %v", s)
			}
		}
		// A wrong password: git gives up with the server's refusal.
		bad := strings.Replace(filesURL("/git/notes.git"), "http://", "http://alice:"+alicePW+"@", 1)
		cmd := exec.Command("git", "-c", "http.extraHeader=X-Forwarded-For: 10.20.0.5", "ls-remote", bad)
		cmd.Env = append(os.Environ(), "HOME="+home, "GIT_TERMINAL_PROMPT=0")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Authentication failed") {
			t.Errorf("git with the account password: %v %s", err, out)
		}
	})

	// Revoke one of bob's after a first use; disable carol; lock dave out
	// (not in staff: his password is right but the app keeps him out, and
	// then the lockout refuses the password itself).
	func() {
		if code, _, _ := curl("10.20.0.6", append([]string{"-u", "bob:" + bobApp}, propfind...)...); code != http.StatusMultiStatus {
			t.Fatalf("bob before revoking: %d", code)
		}
		c := h.client()
		h.apiLogin(c, "bob", bobPW)
		resp, b := do(t, c, "GET", h.portalURL("/api/v1/me/app-passwords"), nil, jsonAPI)
		var list struct{ Items []struct{ ID string } }
		if resp.StatusCode != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 1 {
			t.Fatalf("list: %d %s", resp.StatusCode, b)
		}
		if resp, b := do(t, c, "DELETE", h.portalURL("/api/v1/me/app-passwords/"+list.Items[0].ID), nil, jsonAPI); resp.StatusCode != 204 {
			t.Fatalf("revoke: %d %s", resp.StatusCode, b)
		}
		if resp, b := do(t, owner, "PATCH", h.portalURL("/api/v1/users/carol"), strings.NewReader(`{"active":false}`), jsonAPI); resp.StatusCode != 200 {
			t.Fatalf("disable carol: %d %s", resp.StatusCode, b)
		}
	}()
	if code, _, _ := curl("10.20.0.7", "-u", "dave:"+daveApp, filesURL("/dav/")); code != http.StatusForbidden {
		t.Errorf("dave, not in staff: %d, want 403", code)
	}
	for i := range core.DefaultLockoutThreshold {
		resp, _ := do(t, h.client(), "POST", h.portalURL("/api/v1/login"), strings.NewReader(`{"username":"dave","password":"wrong-`+fmt.Sprint(i)+`"}`), jsonAPI)
		if resp.StatusCode != 401 {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
	}

	n := up.hits()
	for i, tc := range []struct{ name, login, secret string }{
		{"the account password", "alice", alicePW},
		{"an app password limited to another app", "alice", aliceOther},
		{"a revoked app password", "bob", bobApp},
		{"a disabled user", "carol", carolApp},
		{"a locked user", "dave", daveApp},
		{"another user's app password", "bob", alicePWApp},
	} {
		code, hdr, _ := curl(fmt.Sprintf("10.20.1.%d", i+1), append([]string{"-u", tc.login + ":" + tc.secret}, propfind...)...)
		if code != http.StatusUnauthorized || !strings.Contains(hdr.Get("Www-Authenticate"), "Basic") {
			t.Errorf("%s: %d %v, want 401 with a Basic challenge", tc.name, code, hdr)
		}
	}
	if up.hits() != n {
		t.Errorf("a refused request reached the app")
	}

	t.Run("throttle", func(t *testing.T) {
		n := up.hits()
		var codes []int
		for range 12 {
			code, hdr, _ := curl("10.20.2.1", "-u", "alice:"+alicePW, filesURL("/dav/"))
			codes = append(codes, code)
			if code == http.StatusTooManyRequests && hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
		if codes[0] != 401 || codes[9] != 401 || codes[10] != http.StatusTooManyRequests {
			t.Errorf("statuses of 12 failures from one address: %v", codes)
		}
		// Even a right password waits now; another address does not.
		if code, _, _ := curl("10.20.2.1", "-u", "alice:"+alicePWApp, filesURL("/dav/")); code != http.StatusTooManyRequests {
			t.Errorf("right password from the throttled address: %d", code)
		}
		if code, _, _ := curl("10.20.2.2", append([]string{"-u", "alice:" + alicePWApp}, propfind...)...); code != http.StatusMultiStatus {
			t.Errorf("right password from another address: %d", code)
		}
		if up.hits() != n+1 {
			t.Errorf("upstream hits %d, want %d", up.hits(), n+1)
		}
	})

	t.Run("global app block and the portal's switch", func(t *testing.T) {
		code, hdr, _ := curl("10.20.3.1", "-u", "bob:"+alicePWApp, fmt.Sprintf("http://127.0.0.1:%d/dav/", notes))
		if code != 401 || !strings.Contains(hdr.Get("Www-Authenticate"), `Basic realm="Notes"`) {
			t.Errorf("notes, wrong password: %d %v", code, hdr)
		}
		aliceAll := newAppPassword("alice", alicePW, `{"name":"Everywhere"}`)
		if code, _, _ := curl("10.20.3.1", append([]string{"-u", "alice:" + aliceAll}, "-X", "PROPFIND", fmt.Sprintf("http://127.0.0.1:%d/dav/", notes))...); code != http.StatusMultiStatus {
			t.Errorf("notes with an app password for every app: %d", code)
		}
		// whoami (the harness's portal-managed app) takes none until an
		// administrator switches them on; then an app that requires a
		// second factor refuses them (403: an app password is not one).
		patch := func(body string, want int) string {
			t.Helper()
			resp, b := do(t, owner, "PATCH", h.portalURL("/api/v1/apps/whoami"), strings.NewReader(body), jsonAPI)
			if resp.StatusCode != want {
				t.Fatalf("PATCH %s: %d %s", body, resp.StatusCode, b)
			}
			return string(b)
		}
		if code, _, _ := curl("10.20.3.2", "-u", "alice:"+aliceOther, h.appURL("/")); code != 401 {
			t.Errorf("whoami before the switch: %d", code)
		}
		if b := patch(`{"app_passwords":true}`, 200); !strings.Contains(b, `"app_passwords":true`) {
			t.Errorf("the app's view: %s", b)
		}
		code, _, body := curl("10.20.3.2", "-u", "alice:"+aliceOther, h.appURL("/"))
		if code != 200 || !strings.Contains(body, `"Remote-User":["alice"]`) || strings.Contains(body, "Authorization") {
			t.Errorf("whoami after the switch: %d %s", code, body)
		}
		patch(`{"require_2fa":true}`, 200)
		if code, _, body := curl("10.20.3.2", "-u", "alice:"+aliceOther, h.appURL("/")); code != http.StatusForbidden || !strings.Contains(body, "second factor") {
			t.Errorf("whoami requiring a second factor: %d %s", code, body)
		}
		patch(`{"require_2fa":false,"app_passwords":false}`, 200)
		if code, _, _ := curl("10.20.3.2", "-u", "alice:"+aliceOther, h.appURL("/")); code != 401 {
			t.Errorf("whoami after switching off: %d", code)
		}
	})

	t.Run("forward-auth", func(t *testing.T) {
		// nginx's auth_request and Traefik's forwardAuth get the same
		// decision: the identity on 200, a Basic challenge on 401.
		for _, ep := range []string{"/api/authz/auth-request?app=files", "/api/authz/forward-auth?app=files"} {
			fw := []string{"-H", "X-Forwarded-Method: PROPFIND", "-H", "X-Forwarded-Proto: http", "-H", "X-Forwarded-Host: files.example.com",
				"-H", "X-Forwarded-Uri: /dav/", h.portalURL(ep)}
			code, hdr, body := curl("10.20.4.1", append([]string{"-u", "alice:" + alicePWApp}, fw...)...)
			if code != 200 || hdr.Get("Remote-User") != "alice" {
				t.Errorf("%s with alice's app password: %d %v %s", ep, code, hdr, body)
			}
			code, hdr, _ = curl("10.20.4.1", fw...)
			if code != 401 || !strings.Contains(strings.Join(hdr.Values("Www-Authenticate"), "|"), `Basic realm="Family Files"`) {
				t.Errorf("%s without credentials: %d %v", ep, code, hdr)
			}
		}
	})

	t.Run("audit", func(t *testing.T) {
		resp, b := do(t, owner, "GET", h.portalURL("/api/v1/audit?limit=500"), nil, jsonAPI)
		var events struct {
			Items []struct{ Actor, Action, Outcome, Reason, Via, IP string }
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &events) != nil {
			t.Fatalf("audit: %d %s", resp.StatusCode, b)
		}
		for _, w := range []struct{ reason, actor string }{
			{"not an app password: HTTP Basic takes app passwords only", "alice"}, // the account password
			{"limited to the app whoami (app files)", "alice"},
			{"wrong app password (app files)", "bob"},   // revoked
			{"wrong app password (app files)", "carol"}, // disabling deleted it
			{"account locked (app files)", "dave"},
			{"not allowed into app files", "dave"},
			{"app whoami requires a second factor, which an app password is not", "alice"},
		} {
			found := false
			for _, e := range events.Items {
				if e.Action == core.ActionAppPasswordUse && e.Outcome == "failure" && strings.Contains(e.Reason, w.reason) && e.Actor == w.actor {
					found = true
					if e.Via != "guard" || !strings.HasPrefix(e.IP, "10.20.") {
						t.Errorf("%s %q: via %q ip %q", w.actor, w.reason, e.Via, e.IP)
					}
				}
			}
			if !found {
				t.Errorf("no audit event for %s %q in %s", w.actor, w.reason, b)
			}
		}
		if strings.Contains(string(b), alicePW) || strings.Contains(string(b), alicePWApp) {
			t.Error("a secret is in the audit log")
		}
	})
}
