package caddymodule

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	secURLAttrRE = regexp.MustCompile(`\b(href|src|action)="([^"]*)"`)
	secInputRE   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// secPageURLs returns every href, src and action of an HTML page, and
// fails the test for one that is not an absolute URL on the portal (a
// fragment of the page itself, such as the skip link, is fine).
func secPageURLs(t *testing.T, h *harness, page []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range secURLAttrRE.FindAllSubmatch(page, -1) {
		attr, v := string(m[1]), html.UnescapeString(string(m[2]))
		if strings.HasPrefix(v, "#") && attr == "href" {
			continue
		}
		if attr == "action" {
			t.Errorf("the page has a form posting to %q: a POST from the app's origin is refused", v)
		}
		if !secSameHost(v, h.portalURL("/")) {
			t.Errorf("%s=%q is not an absolute URL on the portal %s", attr, v, h.portalURL(""))
		}
		out[v] = attr
	}
	return out
}

// secCSPAllowsOnly checks that a guard page's CSP allows stylesheets and
// images from the portal only, and forms nowhere.
func secCSPAllowsOnly(t *testing.T, h *harness, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	origin := h.portalURL("")
	for _, want := range []string{"default-src 'none'", "style-src " + origin, "img-src " + origin, "form-action 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "'self'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q allows more than the page needs", csp)
	}
}

// TestSecurityNoAccessPageOnAppHost: the "No access" page the guard shows
// on an app's own host works there: every link and asset is an absolute
// portal URL, the stylesheet and logo load, "Go to the portal home" opens
// the portal (not the 403 again), and "Sign in as someone else" signs out
// through the portal's confirmation page and offers to sign in again to the
// app.
func TestSecurityNoAccessPageOnAppHost(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	appPage := h.adminsURL("/dashboard?tab=1")

	resp, page := do(t, alice, "GET", appPage, nil, browser)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(page), "No access") {
		t.Fatalf("GET %s: %d %.300s", appPage, resp.StatusCode, page)
	}
	secCSPAllowsOnly(t, h, resp)
	urls := secPageURLs(t, h, page)

	var css, home, switchUser, signOut string
	for u := range urls {
		pu, _ := url.Parse(u)
		switch {
		case pu.Path == "/assets/gatehouse.css":
			css = u
		case pu.Path == "/" && pu.RawQuery == "":
			home = u
		case pu.Path == "/logout" && pu.Query().Get("rd") != "":
			switchUser = u
		case pu.Path == "/logout":
			signOut = u
		}
	}
	if css == "" || home == "" || switchUser == "" || signOut == "" {
		t.Fatalf("the page lacks the stylesheet, home, sign-out or switch-user link: %v", urls)
	}

	t.Run("every link and asset loads", func(t *testing.T) {
		for u, attr := range urls {
			resp, b := do(t, alice, "GET", u, nil, browser)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s=%s: %d %.200s", attr, u, resp.StatusCode, b)
			}
		}
		resp, _ := do(t, alice, "GET", css, nil, map[string]string{"Accept": "text/css"})
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Errorf("stylesheet Content-Type %q", ct)
		}
		resp, b := do(t, alice, "GET", home, nil, browser)
		if resp.StatusCode != http.StatusOK || strings.Contains(string(b), "No access") {
			t.Errorf("portal home: %d, No access again: %v", resp.StatusCode, strings.Contains(string(b), "No access"))
		}
	})

	t.Run("sign in as someone else", func(t *testing.T) {
		if rd, _ := url.Parse(switchUser); rd.Query().Get("rd") != appPage {
			t.Errorf("switch-user link %s does not return to %s", switchUser, appPage)
		}
		resp, confirm := do(t, alice, "GET", switchUser, nil, browser)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(confirm), `action="/logout"`) {
			t.Fatalf("sign-out confirmation: %d %.300s", resp.StatusCode, confirm)
		}
		form := url.Values{}
		for _, m := range secInputRE.FindAllSubmatch(confirm, -1) {
			form.Set(string(m[1]), html.UnescapeString(string(m[2])))
		}
		if form.Get("rd") != appPage {
			t.Errorf("the confirmation form carries rd %q, want %q", form.Get("rd"), appPage)
		}
		resp, done := do(t, alice, "POST", h.portalURL("/logout"), strings.NewReader(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html", "Origin": h.portalURL("")})
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(done), "You are signed out") {
			t.Fatalf("sign out: %d %.300s", resp.StatusCode, done)
		}
		if secJarToken(h, alice) != "" {
			t.Error("the session cookie is still in the browser after signing out")
		}
		again := "/login?rd=" + url.QueryEscape(appPage)
		if !strings.Contains(html.UnescapeString(string(done)), `href="`+again+`"`) &&
			!strings.Contains(strings.ToLower(html.UnescapeString(string(done))), strings.ToLower(`href="`+again+`"`)) {
			t.Errorf("the signed-out page does not offer %s: %.600s", again, done)
		}
		// Signed out: the app sends the browser to sign in.
		resp, _ = do(t, alice, "GET", appPage, nil, browser)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.portalURL("/login?rd=")) {
			t.Errorf("the app after signing out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("the topbar sign-out signs out", func(t *testing.T) {
		bob := h.client()
		h.addUser("bob", bobPW, "user")
		h.apiLogin(bob, "bob", bobPW)
		resp, confirm := do(t, bob, "GET", signOut, nil, browser)
		form := url.Values{}
		for _, m := range secInputRE.FindAllSubmatch(confirm, -1) {
			form.Set(string(m[1]), html.UnescapeString(string(m[2])))
		}
		if resp.StatusCode != http.StatusOK || form.Get("csrf") == "" {
			t.Fatalf("sign-out confirmation: %d %.300s", resp.StatusCode, confirm)
		}
		resp, _ = do(t, bob, "POST", h.portalURL("/logout"), strings.NewReader(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html", "Origin": h.portalURL("")})
		if resp.StatusCode != http.StatusOK || secJarToken(h, bob) != "" {
			t.Errorf("sign out: %d, cookie left: %v", resp.StatusCode, secJarToken(h, bob) != "")
		}
	})
}

// TestSecuritySessionEndedPage: a browser that sends a form (or any other
// non-GET request) to an app after its session ended gets a page (401) that
// says so, with a sign-in link back to the same URL; API clients still get
// JSON 401 with WWW-Authenticate. The step-up and expired-password answers
// to a browser's POST are pages too.
func TestSecuritySessionEndedPage(t *testing.T) {
	h := newHarness(t)
	vault := freePort(t)
	vaultSite := "http://127.0.0.1:" + itoa(vault) + " {\n\tgatehouse vault {\n\t\trequire_2fa\n\t}\n\treverse_proxy " +
		strings.TrimPrefix(h.upstream.URL, "http://") + "\n}\n"
	h.start(h.caddyfile("", vaultSite))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	form := "http://127.0.0.1:" + itoa(h.app) + "/notes/save?id=7"
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range formHdr {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	browsers := []struct {
		name string
		hdr  map[string]string
	}{
		{"Accept text/html", with("Accept", "text/html,application/xhtml+xml")},
		{"Sec-Fetch-Mode navigate", with("Accept", "*/*", "Sec-Fetch-Mode", "navigate")},
	}
	for _, b := range browsers {
		t.Run("browser: "+b.name, func(t *testing.T) {
			for _, method := range []string{"POST", "PUT", "DELETE"} {
				before := h.upstreamHits()
				resp, page := do(t, h.client(), method, form, strings.NewReader("text=hello"), b.hdr)
				if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("%s: %d %s %.200s", method, resp.StatusCode, resp.Header.Get("Content-Type"), page)
				}
				if h.upstreamHits() != before {
					t.Errorf("%s reached the app", method)
				}
				if !strings.Contains(string(page), "Your session has ended") {
					t.Errorf("%s: the page does not say the session ended: %.300s", method, page)
				}
				secCSPAllowsOnly(t, h, resp)
				urls := secPageURLs(t, h, page)
				login := h.portalURL("/login?rd=" + url.QueryEscape(form))
				if _, ok := urls[login]; !ok {
					t.Errorf("%s: no sign-in link %s among %v", method, login, urls)
				}
			}
			// The sign-in link opens the login form, which keeps rd.
			resp, page := do(t, h.client(), "GET", h.portalURL("/login?rd="+url.QueryEscape(form)), nil, browser)
			if resp.StatusCode != http.StatusOK || !strings.Contains(html.UnescapeString(string(page)), form) {
				t.Errorf("login page from the link: %d, keeps rd: %v", resp.StatusCode, strings.Contains(html.UnescapeString(string(page)), form))
			}
		})
	}

	t.Run("API client", func(t *testing.T) {
		for _, hdr := range []map[string]string{with("Accept", "application/json"), with()} {
			resp, b := do(t, h.client(), "POST", form, strings.NewReader("text=hello"), hdr)
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
				!strings.Contains(string(b), `"error"`) || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("Accept %q: %d %s WWW-Authenticate %q %.200s", hdr["Accept"], resp.StatusCode,
					resp.Header.Get("Content-Type"), resp.Header.Get("WWW-Authenticate"), b)
			}
		}
	})

	t.Run("browser POST needing a second factor", func(t *testing.T) {
		alice := h.client()
		h.apiLogin(alice, "alice", alicePW)
		target := "http://127.0.0.1:" + itoa(vault) + "/secret"
		resp, page := do(t, alice, "POST", target, strings.NewReader("x=1"), with("Accept", "text/html"))
		if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("POST: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		urls := secPageURLs(t, h, page)
		if _, ok := urls[h.portalURL("/login/2fa?rd="+url.QueryEscape(target))]; !ok {
			t.Errorf("no second-step link among %v", urls)
		}
		resp, _ = do(t, alice, "POST", target, strings.NewReader("x=1"), with("Accept", "application/json"))
		if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("API POST: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}
