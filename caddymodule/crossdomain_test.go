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
	// app's URL), files (another app on example.net).
	portal, wiki, photos, photos2, files string

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
`, h.admin, h.dir, h.storage, e.port, e.portal, e.wiki, e.photos, e.files, upstream, e.photos2)
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
// redirect with the code (c must be signed in at the portal) and returns
// that redirect's target, unused.
func (e *xdEnv) codeURL(t *testing.T, c *http.Client, appURL string) string {
	t.Helper()
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
