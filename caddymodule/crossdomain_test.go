package caddymodule

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// xdEnv is a real Caddy serving two root domains over https on loopback:
// the portal on auth.example.com (cookie_domain example.com) with the wiki
// beside it, and apps on example.test and example.net, outside the cookie
// domain. Clients resolve every name to 127.0.0.1 in their own dialer and
// trust Caddy's internal CA.
type xdEnv struct {
	h     *harness
	port  int
	roots *x509.CertPool
	// Base URLs: portal, wiki (under the cookie domain), photos (the app
	// on example.test), photos2 (a second host of the same guard, not the
	// app's URL), files (another app on example.net), vault (an app on
	// example.net that requires a second factor).
	portal, wiki, photos, photos2, files, vault string

	mu   sync.Mutex
	seen []xdSeen // requests that reached the upstream
}

// xdSeen is a request as the upstream received it.
type xdSeen struct {
	Host, URI, Cookie, User string
}

func startCrossDomain(t *testing.T) *xdEnv {
	t.Helper()
	h := newHarness(t)
	e := &xdEnv{h: h, port: freePort(t)}
	base := func(host string) string { return fmt.Sprintf("https://%s:%d", host, e.port) }
	e.portal, e.wiki, e.photos, e.photos2, e.files = base("auth.example.com"), base("wiki.example.com"),
		base("photos.example.test"), base("photos2.example.test"), base("files.example.net")
	e.vault = base("vault.example.net")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.seen = append(e.seen, xdSeen{Host: r.Host, URI: r.RequestURI, Cookie: strings.Join(r.Header.Values("Cookie"), "; "), User: r.Header.Get("Remote-User")})
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(up.Close)
	upstream := strings.TrimPrefix(up.URL, "http://")
	cfg := fmt.Sprintf(`{
	admin 127.0.0.1:%[1]d
	storage file_system %[2]s/caddy
	auto_https disable_redirects
	skip_install_trust
	pki {
		ca local {
			name "Gatehouse test CA"
		}
	}
	https_port %[4]d
	servers {
		trusted_proxies static 127.0.0.1/32
	}
	log {
		output file %[2]s/caddy.log
		format json
		level INFO
	}
	gatehouse {
		storage %[3]s
		portal_url %[5]s
		cookie_domain example.com
	}
}

%[5]s {
	tls internal
	log
	gatehouse_portal
}

%[6]s {
	tls internal
	log
	gatehouse wiki {
		url %[6]s
	}
	reverse_proxy %[9]s
}

%[7]s, %[10]s {
	tls internal
	log
	gatehouse photos {
		title Photos
		url %[7]s
	}
	reverse_proxy %[9]s
}

%[8]s {
	tls internal
	log
	gatehouse files {
		title Files
		url %[8]s
		allow_groups family
	}
	reverse_proxy %[9]s
}

%[11]s {
	tls internal
	gatehouse vault {
		url %[11]s
		require_2fa
	}
	reverse_proxy %[9]s
}
`, h.admin, h.dir, h.storage, e.port, e.portal, e.wiki, e.photos, e.files, upstream, e.photos2, e.vault)
	if err := caddy.Load(adapt(t, cfg), true); err != nil {
		t.Fatalf("load config: %v", err)
	}
	pem, err := os.ReadFile(filepath.Join(h.dir, "caddy", "pki", "authorities", "local", "root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	e.roots = x509.NewCertPool()
	e.roots.AppendCertsFromPEM(pem)
	c := e.client()
	var lastErr error
	for range 100 {
		var resp *http.Response
		if resp, lastErr = c.Get(e.portal + "/login"); lastErr == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("the portal does not answer over https: %v", lastErr)
	}
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user", "family")
	h.addUser("mallory", alicePW, "user", "family")
	return e
}

// client is a browser on its own address: a cookie jar, every name
// resolved to 127.0.0.1, Caddy's CA trusted, redirects not followed.
func (e *xdEnv) client() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.h.t.Fatal(err)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", port))
		},
		TLSClientConfig:   &tls.Config{RootCAs: e.roots},
		DisableKeepAlives: true,
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     forwardedFor{ip: fmt.Sprintf("10.%d.%d.%d", b[0], b[1], b[2]), next: tr},
	}
}

// browse navigates to u as a browser does and follows the redirects (at
// most 10); it returns every URL visited, the last response and its body.
func (e *xdEnv) browse(t *testing.T, c *http.Client, u string) ([]string, *http.Response, []byte) {
	t.Helper()
	var chain []string
	for range 10 {
		chain = append(chain, u)
		resp, b := do(t, c, "GET", u, nil, browser)
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return chain, resp, b
		}
		next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatalf("%s: Location %q: %v", u, resp.Header.Get("Location"), err)
		}
		u = next.String()
	}
	t.Fatalf("more than 10 redirects: %v", chain)
	return nil, nil, nil
}

// signIn completes the portal's login form shown at the end of chain (the
// login page the guard's redirects led to) and follows on; it returns the
// URLs after the form and the final response.
func (e *xdEnv) signIn(t *testing.T, c *http.Client, loginPage, user, pw string) ([]string, *http.Response, []byte) {
	t.Helper()
	lp, _ := url.Parse(loginPage)
	if lp.Path != "/login" {
		t.Fatalf("not the login page: %s", loginPage)
	}
	body, hdr := formBody("username", user, "password", pw, "rd", lp.Query().Get("rd"))
	resp, b := do(t, c, "POST", e.portal+"/login", body, hdr)
	target := formTarget(resp, b)
	if target == "" {
		t.Fatalf("login form: %d %s", resp.StatusCode, b)
	}
	if strings.Contains(target, "/login/handoff?") && resp.StatusCode != http.StatusOK {
		// A form's redirect chain must not end on another origin (Chrome
		// applies the CSP form-action to it): the continue page, not a 303.
		t.Errorf("login form to the handoff page: %d, want the continue page", resp.StatusCode)
	}
	next, _ := resp.Request.URL.Parse(target)
	return e.browse(t, c, next.String())
}

// seenSince returns the upstream's requests after the first n.
func (e *xdEnv) seenSince(n int) []xdSeen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]xdSeen(nil), e.seen[n:]...)
}

func (e *xdEnv) hits() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.seen)
}

// codeURL runs c's sign-in to the app at appURL up to the portal's
// redirect with the code (c must be signed in at the portal; a host cookie
// it has there is dropped first) and returns that redirect's target,
// unused.
func (e *xdEnv) codeURL(t *testing.T, c *http.Client, appURL string) string {
	t.Helper()
	au, _ := url.Parse(appURL)
	c.Jar.SetCookies(au, []*http.Cookie{{Name: "__Host-gatehouse_session_host", Path: "/", Secure: true, MaxAge: -1}})
	resp, _ := do(t, c, "GET", appURL, nil, browser)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), e.portal+"/login/handoff?") {
		t.Fatalf("%s: %d to %q, want 302 to the portal's handoff page", appURL, resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, b := do(t, c, "GET", resp.Header.Get("Location"), nil, browser)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/.gatehouse/session?code=") {
		t.Fatalf("handoff page: %d to %q, want 302 with a code: %s", resp.StatusCode, loc, b)
	}
	return loc
}

// hostCookie returns the guard's host cookie c holds for base, or "".
func hostCookie(c *http.Client, base string) string {
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "__Host-gatehouse_session_host" {
			return ck.Value
		}
	}
	return ""
}

// TestCrossDomainSignIn: an app on another root domain gets single
// sign-on. A browser signs in once at the portal (the guard of
// photos.example.test sends it there and gets it back with a one-time
// code), reaches the app as alice, and then reaches files.example.net and
// the wiki under the cookie domain without a second password prompt. The
// host cookie is __Host-, Secure, HttpOnly, SameSite=Lax; the upstream
// never sees the code nor a cookie of ours; the access log never shows the
// code; the audit log names alice.
func TestCrossDomainSignIn(t *testing.T) {
	e := startCrossDomain(t)
	c := e.client()
	before := e.hits()

	chain, resp, _ := e.browse(t, c, e.photos+"/albums?year=2026")
	if resp.StatusCode != 200 || !strings.HasPrefix(chain[len(chain)-1], e.portal+"/login?") {
		t.Fatalf("anonymous: ended at %d %s, want the portal's login page: %v", resp.StatusCode, chain[len(chain)-1], chain)
	}
	if !strings.Contains(chain[1], "/login/handoff?") {
		t.Fatalf("the guard did not send the browser to the handoff page: %v", chain)
	}
	chain, resp, b := e.signIn(t, c, chain[len(chain)-1], "alice", alicePW)
	if resp.StatusCode != 200 || chain[len(chain)-1] != e.photos+"/albums?year=2026" {
		t.Fatalf("after sign-in: %d at %v: %s", resp.StatusCode, chain, b)
	}
	var hdr http.Header
	if json.Unmarshal(b, &hdr) != nil || hdr.Get("Remote-User") != "alice" {
		t.Fatalf("the app did not see alice: %s", b)
	}
	var code string
	for _, u := range chain {
		if pu, _ := url.Parse(u); pu.Path == "/.gatehouse/session" {
			code = pu.Query().Get("code")
			if pu.Host != strings.TrimPrefix(e.photos, "https://") || len(pu.Query()) != 1 {
				t.Errorf("the code went to %s with %v, want the app's host with the code only", pu.Host, pu.Query())
			}
		}
	}
	if len(code) < 22 { // at least 128 bits in base64url
		t.Fatalf("no code of at least 128 bits in the chain: %v", chain)
	}

	t.Run("host cookie", func(t *testing.T) {
		c2 := e.client()
		loginChain, _, _ := e.browse(t, c2, e.photos+"/")
		answered := false
		e.signInRaw(t, c2, loginChain[len(loginChain)-1], func(resp *http.Response) {
			if resp.Request.URL.Path != "/.gatehouse/session" {
				return
			}
			answered = true
			var ck *http.Cookie
			for _, x := range resp.Cookies() {
				if x.Name == "__Host-gatehouse_session_host" {
					ck = x
				}
			}
			if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
				t.Errorf("host cookie %+v, want __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain", ck)
			}
			if rp := resp.Header.Get("Referrer-Policy"); rp != "no-referrer" {
				t.Errorf("Referrer-Policy %q on the code's page", rp)
			}
		})
		if !answered {
			t.Fatal("the sign-in never reached /.gatehouse/session")
		}
	})

	t.Run("no second password prompt", func(t *testing.T) {
		for _, u := range []string{e.files + "/", e.wiki + "/", e.photos + "/again"} {
			chain, resp, b := e.browse(t, c, u)
			var hdr http.Header
			if resp.StatusCode != 200 || json.Unmarshal(b, &hdr) != nil || hdr.Get("Remote-User") != "alice" {
				t.Fatalf("%s: %d after %v: %s", u, resp.StatusCode, chain, b)
			}
			for _, v := range chain {
				if strings.HasPrefix(v, e.portal+"/login?") {
					t.Errorf("%s: asked for the password again: %v", u, chain)
				}
			}
		}
	})

	t.Run("nothing of ours reaches the app", func(t *testing.T) {
		for _, s := range e.seenSince(before) {
			if strings.Contains(s.URI, ".gatehouse") || strings.Contains(s.URI, code) {
				t.Errorf("the upstream saw %s%s", s.Host, s.URI)
			}
			if strings.Contains(s.Cookie, "gatehouse") {
				t.Errorf("the upstream saw cookies %q", s.Cookie)
			}
		}
		if e.hits() == before {
			t.Fatal("nothing reached the upstream")
		}
	})

	t.Run("code not in the logs", func(t *testing.T) {
		log, err := os.ReadFile(filepath.Join(e.h.dir, "caddy.log"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(log), code) {
			t.Error("the code is in Caddy's log")
		}
		if !strings.Contains(string(log), `/.gatehouse/session?code=REDACTED`) {
			t.Error("the portal's access log line of the handoff is missing or not redacted")
		}
		if !strings.Contains(string(log), `"uri":"/albums?year=2026"`) {
			t.Error("the access log of the app's host has no line for the return (is it logging at all?)")
		}
	})

	t.Run("audit names alice", func(t *testing.T) {
		owner := e.client()
		e.apiLogin(t, owner, "olga", ownerPW)
		resp, b := do(t, owner, "GET", e.portal+"/api/v1/audit?action=login.handoff", nil, jsonAPI)
		var events struct {
			Items []struct{ Actor, Action, Outcome, Reason, Via, IP, Resource string }
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &events) != nil {
			t.Fatalf("audit: %d %s", resp.StatusCode, b)
		}
		found := false
		for _, ev := range events.Items {
			if ev.Actor == "alice" && ev.Outcome == "success" && ev.Resource == "app:photos" && ev.Via == "guard" && strings.HasPrefix(ev.IP, "10.") {
				found = true
			}
		}
		if !found {
			t.Errorf("no successful login.handoff of alice to photos through the guard: %s", b)
		}
	})
}

// signInRaw is signIn with fn called on every response of the chain after
// the form.
func (e *xdEnv) signInRaw(t *testing.T, c *http.Client, loginPage string, fn func(*http.Response)) {
	t.Helper()
	lp, _ := url.Parse(loginPage)
	body, hdr := formBody("username", "alice", "password", alicePW, "rd", lp.Query().Get("rd"))
	resp, b := do(t, c, "POST", e.portal+"/login", body, hdr)
	u, _ := resp.Request.URL.Parse(formTarget(resp, b))
	for range 10 {
		resp, _ := do(t, c, "GET", u.String(), nil, browser)
		fn(resp)
		if resp.StatusCode != http.StatusFound {
			return
		}
		u, _ = resp.Request.URL.Parse(resp.Header.Get("Location"))
	}
}

// apiLogin signs c in at the portal through the JSON API.
func (e *xdEnv) apiLogin(t *testing.T, c *http.Client, user, pw string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"username": user, "password": pw})
	resp, b := do(t, c, "POST", e.portal+"/api/v1/login", strings.NewReader(string(body)), jsonAPI)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, resp.StatusCode, b)
	}
}

// ssoAt signs c in at the portal as user and reaches the app at base
// through the single sign-on; it fails the test unless the app sees user.
func (e *xdEnv) ssoAt(t *testing.T, c *http.Client, base, user string) {
	t.Helper()
	chain, resp, b := e.browse(t, c, base+"/")
	if resp.StatusCode == 200 && strings.HasPrefix(chain[len(chain)-1], e.portal+"/login?") {
		chain, resp, b = e.signIn(t, c, chain[len(chain)-1], user, alicePW)
	}
	var hdr http.Header
	if resp.StatusCode != 200 || json.Unmarshal(b, &hdr) != nil || hdr.Get("Remote-User") != user {
		t.Fatalf("%s as %s: %d after %v: %s", base, user, resp.StatusCode, chain, b)
	}
}

// refusedAt checks that c's next request to the app at base does not
// reach the app: the guard sends the browser back to the portal.
func (e *xdEnv) refusedAt(t *testing.T, c *http.Client, base string) {
	t.Helper()
	before := e.hits()
	resp, b := do(t, c, "GET", base+"/private", nil, browser)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), e.portal+"/login/handoff?") {
		t.Errorf("%s: %d %q, want 302 to the portal: %s", base, resp.StatusCode, resp.Header.Get("Location"), b)
	}
	if e.hits() != before {
		t.Errorf("%s: the request reached the app", base)
	}
}

// TestCrossDomainSessionEnds: the app's host holds no session of its own.
// Signing out at the portal, disabling the user or revoking the session
// ends it on the other domain on the very next request.
func TestCrossDomainSessionEnds(t *testing.T) {
	e := startCrossDomain(t)
	owner := e.client()
	e.apiLogin(t, owner, "olga", ownerPW)
	tests := []struct {
		name, user string
		end        func(t *testing.T, c *http.Client)
	}{
		{"sign out at the portal", "bob", func(t *testing.T, c *http.Client) {
			if resp, b := do(t, c, "POST", e.portal+"/api/v1/logout", nil, jsonAPI); resp.StatusCode/100 != 2 {
				t.Fatalf("logout: %d %s", resp.StatusCode, b)
			}
		}},
		{"disable the user", "carol", func(t *testing.T, c *http.Client) {
			if resp, b := do(t, owner, "PATCH", e.portal+"/api/v1/users/carol", strings.NewReader(`{"active":false}`), jsonAPI); resp.StatusCode != 200 {
				t.Fatalf("disable: %d %s", resp.StatusCode, b)
			}
		}},
		{"revoke the session", "dave", func(t *testing.T, c *http.Client) {
			resp, b := do(t, owner, "GET", e.portal+"/api/v1/users/dave/sessions", nil, jsonAPI)
			var list struct{ Items []struct{ ID string } }
			if resp.StatusCode != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 1 {
				t.Fatalf("sessions: %d %s", resp.StatusCode, b)
			}
			if resp, b := do(t, owner, "DELETE", e.portal+"/api/v1/sessions/"+list.Items[0].ID, nil, jsonAPI); resp.StatusCode/100 != 2 {
				t.Fatalf("revoke: %d %s", resp.StatusCode, b)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.h.addUser(tc.user, alicePW, "user", "family")
			c := e.client()
			e.ssoAt(t, c, e.photos, tc.user)
			e.ssoAt(t, c, e.files, tc.user)
			if hostCookie(c, e.photos) == "" {
				t.Fatal("no host cookie on the app's host")
			}
			tc.end(t, c)
			e.refusedAt(t, c, e.photos)
			e.refusedAt(t, c, e.files)
			// And the way back leads to the password, not to a new code.
			chain, _, _ := e.browse(t, c, e.photos+"/")
			if !strings.HasPrefix(chain[len(chain)-1], e.portal+"/login?") {
				t.Errorf("after the end the browser got to %v", chain)
			}
		})
	}
}

// TestCrossDomainCodeRefusals: a code works once, on its host, for its
// app, in the browser that began the sign-in. Every refusal is a page
// saying so, with no cookie set, and the code is burnt.
func TestCrossDomainCodeRefusals(t *testing.T) {
	e := startCrossDomain(t)
	alice := e.client()
	e.ssoAt(t, alice, e.wiki, "alice") // signed in at the portal (the wiki shares its cookie)
	mallory := e.client()
	e.ssoAt(t, mallory, e.wiki, "mallory")
	photos, _ := url.Parse(e.photos)

	// present sends the code URL u (re-aimed at base when not "") from c
	// and checks the refusal.
	present := func(t *testing.T, c *http.Client, u, base string) {
		t.Helper()
		if base != "" {
			pu, _ := url.Parse(u)
			u = base + pu.RequestURI()
		}
		before := e.hits()
		resp, b := do(t, c, "GET", u, nil, browser)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "This sign-in link does not work") {
			t.Errorf("%s: %d, want 400 and a page saying why: %s", u, resp.StatusCode, b)
		}
		for _, ck := range resp.Cookies() {
			if strings.HasSuffix(ck.Name, "_host") {
				t.Errorf("a refused code set %s", ck.Name)
			}
		}
		if e.hits() != before {
			t.Error("the request reached the app")
		}
	}
	// copyState gives c's state cookie of the photos host to base's host
	// too, so that only the host differs.
	copyState := func(c *http.Client, base string) {
		bu, _ := url.Parse(base)
		for _, ck := range c.Jar.Cookies(photos) {
			if strings.HasSuffix(ck.Name, "_state") {
				c.Jar.SetCookies(bu, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/", Secure: true}})
			}
		}
	}

	t.Run("used twice", func(t *testing.T) {
		u := e.codeURL(t, alice, e.photos+"/one")
		resp, _ := do(t, alice, "GET", u, nil, browser)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != e.photos+"/one" {
			t.Fatalf("first use: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		present(t, alice, u, "")
		// A stolen link replayed from another browser after its use.
		thief := e.client()
		present(t, thief, u, "")
		e.refusedAt(t, thief, e.photos)
	})
	t.Run("another host of the same app", func(t *testing.T) {
		u := e.codeURL(t, alice, e.photos+"/")
		copyState(alice, e.photos2)
		present(t, alice, u, e.photos2)
		present(t, alice, u, "") // burnt
	})
	t.Run("another app", func(t *testing.T) {
		u := e.codeURL(t, alice, e.photos+"/")
		copyState(alice, e.files)
		present(t, alice, u, e.files)
		present(t, alice, u, "")
	})
	t.Run("another browser (login CSRF)", func(t *testing.T) {
		// Mallory's own code, sent to alice as a link: alice's browser
		// does not hold mallory's state, with or without a state of its
		// own.
		for _, ownState := range []bool{false, true} {
			victim := e.client()
			if ownState {
				do(t, victim, "GET", e.photos+"/", nil, browser)
			}
			u := e.codeURL(t, mallory, e.photos+"/")
			present(t, victim, u, "")
			if hostCookie(victim, e.photos) != "" {
				t.Error("the victim got a host cookie")
			}
			e.refusedAt(t, victim, e.photos)
		}
	})
	t.Run("unknown or malformed", func(t *testing.T) {
		for _, code := range []string{"", "x", strings.Repeat("A", 43), "../../etc", strings.Repeat("A", 4000)} {
			present(t, alice, e.photos+"/.gatehouse/session?code="+url.QueryEscape(code), "")
		}
	})
	t.Run("host cookie moved", func(t *testing.T) {
		e.ssoAt(t, alice, e.photos, "alice")
		v := hostCookie(alice, e.photos)
		for _, base := range []string{e.files, e.photos2, e.wiki} {
			c := e.client()
			resp, _ := do(t, c, "GET", base+"/", nil, map[string]string{"Accept": "application/json", "Cookie": "__Host-gatehouse_session_host=" + v})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("photos' host cookie at %s: %d, want 401", base, resp.StatusCode)
			}
		}
		c := e.client()
		resp, _ := do(t, c, "GET", e.portal+"/api/v1/me", nil, map[string]string{"Accept": "application/json", "Cookie": "__Host-gatehouse_session_host=" + v})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("photos' host cookie at the portal: %d, want 401", resp.StatusCode)
		}
		// Without the __Host- prefix over https (a cookie a sibling host
		// could have planted): not taken either.
		resp, _ = do(t, c, "GET", e.photos+"/", nil, map[string]string{"Accept": "application/json", "Cookie": "gatehouse_session_host=" + v})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the host cookie without __Host-: %d, want 401", resp.StatusCode)
		}
		resp, _ = do(t, c, "GET", e.photos+"/", nil, map[string]string{"Accept": "application/json", "Cookie": "__Host-gatehouse_session_host=" + v})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the host cookie on its own host: %d, want 200 (the refusals above prove nothing)", resp.StatusCode)
		}
	})
}

// TestCrossDomainReturnURL: the portal makes a code only for an app that
// signs in across domains and a return URL on that app's own origin; any
// other target is a 400 page, for a signed-in browser too.
func TestCrossDomainReturnURL(t *testing.T) {
	e := startCrossDomain(t)
	c := e.client()
	e.ssoAt(t, c, e.wiki, "alice")
	state := strings.Repeat("a", 43)
	photosPort := strings.TrimPrefix(e.photos, "https://photos.example.test")
	tests := []struct {
		name, app, rd, state string
		ok                   bool
	}{
		{"the app's own URL", "photos", e.photos + "/albums?x=1", state, true},
		{"another domain", "photos", "https://evil.example.org/", state, false},
		{"the wiki (an allowed return host, not the app's)", "photos", e.wiki + "/", state, false},
		{"another app's host", "photos", e.files + "/", state, false},
		{"another host of the same guard", "photos", e.photos2 + "/", state, false},
		{"another port", "photos", "https://photos.example.test:1/", state, false},
		{"plain http", "photos", "http://photos.example.test" + photosPort + "/", state, false},
		{"scheme-relative", "photos", "//evil.example.org/", state, false},
		{"user info", "photos", "https://photos.example.test" + photosPort + "@evil.example.org/", state, false},
		{"an app under the cookie domain", "wiki", e.wiki + "/", state, false},
		{"no such app", "nosuch", e.photos + "/", state, false},
		{"no state", "photos", e.photos + "/", "", false},
		{"malformed state", "photos", e.photos + "/", "short", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"app": {tc.app}, "rd": {tc.rd}, "state": {tc.state}}
			resp, b := do(t, c, "GET", e.portal+"/login/handoff?"+q.Encode(), nil, browser)
			loc := resp.Header.Get("Location")
			if tc.ok {
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.photos+"/.gatehouse/session?code=") {
					t.Errorf("%d %q, want 302 to the app's host with a code", resp.StatusCode, loc)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest || loc != "" {
				t.Errorf("%d %q, want 400 and no redirect: %s", resp.StatusCode, loc, b)
			}
		})
	}
}

// TestCrossDomainImpersonation: an administrator impersonating alice
// reaches the app on the other domain as alice, with Remote-Impersonator,
// and the audit log names both; when the impersonation ends, the app's
// host no longer lets the browser in as alice.
func TestCrossDomainImpersonation(t *testing.T) {
	e := startCrossDomain(t)
	olga := e.client()
	e.apiLogin(t, olga, "olga", ownerPW)
	if resp, b := do(t, olga, "POST", e.portal+"/api/v1/users/alice/impersonate", nil, jsonAPI); resp.StatusCode != 200 {
		t.Fatalf("impersonate: %d %s", resp.StatusCode, b)
	}
	chain, resp, b := e.browse(t, olga, e.photos+"/")
	var hdr http.Header
	if resp.StatusCode != 200 || json.Unmarshal(b, &hdr) != nil || hdr.Get("Remote-User") != "alice" || hdr.Get("Remote-Impersonator") != "olga" {
		t.Fatalf("the app did not see alice impersonated by olga: %d after %v: %s", resp.StatusCode, chain, b)
	}
	if resp, b := do(t, olga, "DELETE", e.portal+"/api/v1/impersonation", nil, jsonAPI); resp.StatusCode/100 != 2 {
		t.Fatalf("end impersonation: %d %s", resp.StatusCode, b)
	}
	e.refusedAt(t, olga, e.photos)
	chain, resp, b = e.browse(t, olga, e.photos+"/")
	hdr = nil
	if resp.StatusCode != 200 || json.Unmarshal(b, &hdr) != nil || hdr.Get("Remote-User") != "olga" || hdr.Get("Remote-Impersonator") != "" {
		t.Fatalf("after the impersonation: %d after %v: %s", resp.StatusCode, chain, b)
	}

	resp, b = do(t, olga, "GET", e.portal+"/api/v1/audit?action=login.handoff", nil, jsonAPI)
	var events struct {
		Items []struct{ Actor, Impersonator, Outcome, Resource string }
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &events) != nil {
		t.Fatalf("audit: %d %s", resp.StatusCode, b)
	}
	found := false
	for _, ev := range events.Items {
		found = found || (ev.Actor == "alice" && ev.Impersonator == "olga" && ev.Outcome == "success" && ev.Resource == "app:photos")
	}
	if !found {
		t.Errorf("no login.handoff of alice by olga: %s", b)
	}
}

// TestCrossDomainSecondFactor: a user with TOTP signs in on the way to the
// app on the other domain; the return address rides through the second
// step, whose form hands over to the continue page, and ends on the app.
func TestCrossDomainSecondFactor(t *testing.T) {
	e := startCrossDomain(t)
	e.h.addUser("tina", alicePW, "user", "family")
	c := e.client()
	e.apiLogin(t, c, "tina", alicePW)
	resp, b := do(t, c, "POST", e.portal+"/api/v1/me/totp", nil, jsonAPI)
	var enr struct{ Secret string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &enr) != nil {
		t.Fatalf("begin TOTP: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, c, "POST", e.portal+"/api/v1/me/totp/confirm",
		strings.NewReader(`{"code":"`+totpCode(t, enr.Secret, time.Now().Add(-30*time.Second))+`"}`), jsonAPI)
	if resp.StatusCode != 200 {
		t.Fatalf("confirm TOTP: %d %s", resp.StatusCode, b)
	}
	c = e.client() // a fresh browser

	chain, _, _ := e.browse(t, c, e.photos+"/albums")
	lp, _ := url.Parse(chain[len(chain)-1])
	body, hdr := formBody("username", "tina", "password", alicePW, "rd", lp.Query().Get("rd"))
	resp, _ = do(t, c, "POST", e.portal+"/login", body, hdr)
	step, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || step.Path != "/login/2fa" {
		t.Fatalf("login form: %d to %q, want the second step", resp.StatusCode, resp.Header.Get("Location"))
	}
	body, hdr = formBody("method", "totp", "code", totpCode(t, enr.Secret, time.Now().Add(30*time.Second)), "rd", step.Query().Get("rd"))
	resp, b = do(t, c, "POST", e.portal+"/login/2fa", body, hdr)
	target := formTarget(resp, b)
	if resp.StatusCode != http.StatusOK || !strings.Contains(target, "/login/handoff?") {
		t.Fatalf("second step: %d to %q, want the continue page to the handoff", resp.StatusCode, target)
	}
	next, _ := resp.Request.URL.Parse(target)
	chain, resp, b = e.browse(t, c, next.String())
	var seen http.Header
	if resp.StatusCode != 200 || chain[len(chain)-1] != e.photos+"/albums" || json.Unmarshal(b, &seen) != nil || seen.Get("Remote-User") != "tina" {
		t.Fatalf("after the second step: %d at %v: %s", resp.StatusCode, chain, b)
	}
}

// TestCrossDomainStepUp: an app on another domain that requires a second
// factor sends a one-factor session to step up at the portal; after it the
// browser comes back through a new code for the new session, without a
// loop and without a password.
func TestCrossDomainStepUp(t *testing.T) {
	e := startCrossDomain(t)
	e.h.addUser("ursula", alicePW, "user", "family")
	c := e.client()
	e.ssoAt(t, c, e.photos, "ursula") // a password-only session
	resp, b := do(t, c, "POST", e.portal+"/api/v1/me/totp", nil, jsonAPI)
	var enr struct{ Secret string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &enr) != nil {
		t.Fatalf("begin TOTP: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, c, "POST", e.portal+"/api/v1/me/totp/confirm",
		strings.NewReader(`{"code":"`+totpCode(t, enr.Secret, time.Now().Add(-30*time.Second))+`"}`), jsonAPI)
	if resp.StatusCode != 200 {
		t.Fatalf("confirm TOTP: %d %s", resp.StatusCode, b)
	}

	chain, resp, _ := e.browse(t, c, e.vault+"/keys")
	last, _ := url.Parse(chain[len(chain)-1])
	if resp.StatusCode != 200 || last.Path != "/login/2fa" {
		t.Fatalf("a one-factor session at the vault ended at %d %v, want the second step", resp.StatusCode, chain)
	}
	body, hdr := formBody("method", "totp", "code", totpCode(t, enr.Secret, time.Now().Add(30*time.Second)), "rd", last.Query().Get("rd"))
	resp, b = do(t, c, "POST", e.portal+"/login/2fa", body, hdr)
	target := formTarget(resp, b)
	if target == "" {
		t.Fatalf("second step: %d %s", resp.StatusCode, b)
	}
	next, _ := resp.Request.URL.Parse(target)
	chain, resp, b = e.browse(t, c, next.String())
	var seen http.Header
	if resp.StatusCode != 200 || chain[len(chain)-1] != e.vault+"/keys" || json.Unmarshal(b, &seen) != nil || seen.Get("Remote-User") != "ursula" {
		t.Fatalf("after the step-up: %d at %v: %s", resp.StatusCode, chain, b)
	}
	// The app on the first domain follows the new session too.
	e.ssoAt(t, c, e.photos, "ursula")
}
