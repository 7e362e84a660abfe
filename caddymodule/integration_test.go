package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

const (
	ownerPW = "Owner-Passw0rd"
	alicePW = "Wonder-land7"
	bobPW   = "Builder-42x"
)

// TestEndToEnd drives the whole flow through a real Caddy: first-owner
// setup from the logged link, the guard's redirect, 401 and 403, identity
// headers upstream with spoofed ones stripped, API and form login, and
// logout taking effect on the next request.
func TestEndToEnd(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))

	// First start: the setup link creates the owner and signs them in.
	link := h.setupLink()
	lu, err := url.Parse(link)
	if err != nil || lu.Host != "127.0.0.1:"+strconv.Itoa(h.portal) || lu.Path != "/setup" {
		t.Fatalf("setup link %q does not point at the portal", link)
	}
	owner := h.client()
	if resp, _ := do(t, owner, "GET", h.portalURL("/setup?token=forged"), nil, browser); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET setup with a forged token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := do(t, owner, "GET", link, nil, browser); resp.StatusCode != 200 {
		t.Fatalf("GET setup page: %d", resp.StatusCode)
	}
	token := lu.Query().Get("token")
	body, hdr := formBody("token", token, "username", "Olivia", "email", "olivia@example.com", "full_name", "Olivia Owner",
		"password", ownerPW, "password2", ownerPW)
	resp, b := do(t, owner, "POST", h.portalURL("/setup"), body, hdr)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST setup: %d %s", resp.StatusCode, b)
	}
	// The link works once.
	body, hdr = formBody("token", token, "username", "eve", "password", ownerPW, "password2", ownerPW)
	if resp, _ := do(t, h.client(), "POST", h.portalURL("/setup"), body, hdr); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("setup link worked twice")
	}
	if resp, _ := do(t, owner, "GET", link, nil, browser); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET setup once an owner exists: %d, want 404", resp.StatusCode)
	}
	var me struct {
		User struct {
			Username string   `json:"username"`
			Role     string   `json:"role"`
			Groups   []string `json:"groups"`
		} `json:"user"`
	}
	resp, b = do(t, owner, "GET", h.portalURL("/api/v1/me"), nil, jsonAPI)
	if resp.StatusCode != 200 || json.Unmarshal(b, &me) != nil || me.User.Username != "olivia" || me.User.Role != "owner" {
		t.Fatalf("me after setup: %d %s", resp.StatusCode, b)
	}

	h.addUser("alice", alicePW, "user", "staff")
	h.addUser("bob", bobPW, "user", "admins")

	t.Run("anonymous browser is sent to login with rd", func(t *testing.T) {
		resp, _ := do(t, h.client(), "GET", h.appURL("/some/page?x=1"), nil, browser)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d, want 302", resp.StatusCode)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if got := loc.Scheme + "://" + loc.Host + loc.Path; got != h.portalURL("/login") {
			t.Fatalf("Location %s, want the portal's login page", loc)
		}
		if rd := loc.Query().Get("rd"); rd != h.appURL("/some/page?x=1") {
			t.Fatalf("rd = %q, want the original URL", rd)
		}
	})

	t.Run("anonymous API client gets 401 JSON and nothing reaches the app", func(t *testing.T) {
		before := h.upstreamHits()
		for _, method := range []string{"GET", "POST", "DELETE"} {
			resp, b := do(t, h.client(), method, h.appURL("/api/thing"), nil, map[string]string{"Accept": "application/json", "Remote-User": "olivia"})
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `"error"`) {
				t.Fatalf("%s: %d %s, want 401 JSON", method, resp.StatusCode, b)
			}
		}
		// A browser POST is not a navigation: 401, not a redirect.
		resp, _ := do(t, h.client(), "POST", h.appURL("/form"), nil, browser)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("browser POST: %d, want 401", resp.StatusCode)
		}
		if h.upstreamHits() != before {
			t.Fatal("an anonymous request reached the upstream")
		}
	})

	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)

	t.Run("identity headers upstream, spoofed ones stripped", func(t *testing.T) {
		spoof := map[string]string{
			"Accept": "application/json", "Remote-User": "olivia", "Remote-Groups": "admins",
			"Remote-Email": "x@evil.com", "Remote-Name": "Mallory",
		}
		resp, b := do(t, alice, "GET", h.appURL("/"), nil, spoof)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d %s", resp.StatusCode, b)
		}
		got, _ := h.lastSeen()
		want := map[string]string{"Remote-User": "alice", "Remote-Email": "alice@example.com", "Remote-Name": "Alice", "Remote-Groups": "staff"}
		for k, v := range want {
			if vals := got.Values(k); len(vals) != 1 || vals[0] != v {
				t.Errorf("%s = %q, want exactly %q", k, vals, v)
			}
		}
		if got.Get("Cookie") == "" {
			t.Log("note: the session cookie is forwarded to the app")
		}
	})

	t.Run("spelling variants of identity headers are stripped", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.appURL("/"), nil)
		req.Header["Remote_User"] = []string{"olivia"}
		req.Header["Remote.Groups"] = []string{"admins"}
		req.Header["REMOTE-EMAIL"] = []string{"x@evil.com"}
		resp, err := alice.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got, _ := h.lastSeen()
		for k := range got {
			switch strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k)) {
			case "remote-user", "remote-groups", "remote-email", "remote-name":
				if v := got[k]; k != http.CanonicalHeaderKey(k) || len(v) != 1 || strings.Contains(v[0], "evil") || v[0] == "olivia" || v[0] == "admins" {
					t.Errorf("upstream saw %s: %q", k, v)
				}
			}
		}
	})

	t.Run("signed in but not in the allowed group is 403", func(t *testing.T) {
		before := h.upstreamHits()
		if resp, _ := do(t, alice, "GET", h.adminsURL("/"), nil, jsonAPI); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("API: %d, want 403", resp.StatusCode)
		}
		resp, b := do(t, alice, "GET", h.adminsURL("/"), nil, browser)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "<html") {
			t.Fatalf("browser: %d, want a 403 page", resp.StatusCode)
		}
		if h.upstreamHits() != before {
			t.Fatal("a denied request reached the upstream")
		}
	})

	t.Run("group member and owner reach the restricted app", func(t *testing.T) {
		bob := h.client()
		h.apiLogin(bob, "bob", bobPW)
		if resp, b := do(t, bob, "GET", h.adminsURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
			t.Fatalf("bob: %d %s", resp.StatusCode, b)
		}
		if got, _ := h.lastSeen(); got.Get("Remote-Groups") != "admins" {
			t.Fatalf("bob's groups upstream: %q", got.Get("Remote-Groups"))
		}
		if resp, b := do(t, owner, "GET", h.adminsURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
			t.Fatalf("owner: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("wrong password and unknown user get the same answer", func(t *testing.T) {
		var answers []string
		for _, creds := range [][2]string{{"alice", "wrong-Passw0rd"}, {"nobody", "wrong-Passw0rd"}, {"", ""}} {
			body, _ := json.Marshal(map[string]string{"username": creds[0], "password": creds[1]})
			resp, b := do(t, h.client(), "POST", h.portalURL("/api/v1/login"), bytes.NewReader(body), jsonAPI)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%q: %d, want 401", creds[0], resp.StatusCode)
			}
			answers = append(answers, string(b))
		}
		if answers[0] != answers[1] || answers[1] != answers[2] {
			t.Fatalf("answers differ: %q", answers)
		}
	})

	t.Run("bad API bodies are 400 with the reason", func(t *testing.T) {
		for name, tc := range map[string]struct{ body, ctype, want string }{
			"not json":      {`username=alice`, "application/x-www-form-urlencoded", "must be JSON"},
			"malformed":     {`{"username": `, "application/json", "JSON"},
			"unknown field": {`{"user": "alice"}`, "application/json", "unknown field"},
			"wrong type":    {`{"username": 5}`, "application/json", "username"},
		} {
			resp, b := do(t, h.client(), "POST", h.portalURL("/api/v1/login"), strings.NewReader(tc.body), map[string]string{"Content-Type": tc.ctype})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), tc.want) {
				t.Errorf("%s: %d %s, want 400 mentioning %q", name, resp.StatusCode, b, tc.want)
			}
		}
	})

	t.Run("login form returns to rd and sets a hardened cookie", func(t *testing.T) {
		c := h.client()
		rd := h.appURL("/deep/link?q=1")
		body, hdr := formBody("username", "alice", "password", alicePW, "rd", rd)
		resp, b := do(t, c, "POST", h.portalURL("/login"), body, hdr)
		if got := formTarget(resp, b); got != rd {
			t.Fatalf("form login: %d to %q, want %q", resp.StatusCode, got, rd)
		}
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "gatehouse_session" {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" || len(ck.Value) != 43 {
			t.Fatalf("session cookie %+v", ck)
		}
		if resp, _ := do(t, c, "GET", rd, nil, browser); resp.StatusCode != 200 {
			t.Fatalf("after form login the app answers %d", resp.StatusCode)
		}
	})

	t.Run("a new token at every login", func(t *testing.T) {
		c := h.client()
		first := sessionCookie(h.apiLogin(c, "alice", alicePW))
		second := sessionCookie(h.apiLogin(c, "alice", alicePW))
		if first == "" || first == second {
			t.Fatalf("tokens %q then %q", first, second)
		}
		// The first token died with the second login.
		stale := h.client()
		u, _ := url.Parse(h.portalURL("/"))
		stale.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_session", Value: first}})
		if resp, _ := do(t, stale, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("old token still works: %d", resp.StatusCode)
		}
	})

	t.Run("logout takes effect on the next request", func(t *testing.T) {
		c := h.client()
		h.apiLogin(c, "alice", alicePW)
		if resp, _ := do(t, c, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
			t.Fatalf("before logout: %d", resp.StatusCode)
		}
		// Keep a copy of the cookie, as a thief would.
		u, _ := url.Parse(h.portalURL("/"))
		stolen := c.Jar.Cookies(u)
		if resp, _ := do(t, c, "POST", h.portalURL("/api/v1/logout"), nil, jsonAPI); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		thief := h.client()
		thief.Jar.SetCookies(u, stolen)
		if resp, _ := do(t, thief, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("after logout: %d, want 401", resp.StatusCode)
		}
	})

	t.Run("form logout", func(t *testing.T) {
		c := h.client()
		h.apiLogin(c, "alice", alicePW)
		body, hdr := formBody()
		if resp, _ := do(t, c, "POST", h.portalURL("/logout"), body, hdr); resp.StatusCode != 200 {
			t.Fatalf("logout form: %d", resp.StatusCode)
		}
		if resp, _ := do(t, c, "GET", h.appURL("/"), nil, browser); resp.StatusCode != http.StatusFound {
			t.Fatalf("after logout: %d, want 302", resp.StatusCode)
		}
	})

	t.Run("cross-site form posts are refused", func(t *testing.T) {
		body, hdr := formBody("username", "alice", "password", alicePW)
		hdr["Sec-Fetch-Site"] = "cross-site"
		if resp, _ := do(t, h.client(), "POST", h.portalURL("/login"), body, hdr); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site login: %d, want 403", resp.StatusCode)
		}
		body, hdr = formBody()
		hdr["Sec-Fetch-Site"] = "same-site"
		if resp, _ := do(t, alice, "POST", h.portalURL("/logout"), body, hdr); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("same-site logout: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("portal pages carry security headers", func(t *testing.T) {
		resp, _ := do(t, h.client(), "GET", h.portalURL("/login"), nil, browser)
		for k, want := range map[string]string{
			"Content-Security-Policy": "frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-store",
		} {
			if !strings.Contains(resp.Header.Get(k), want) {
				t.Errorf("%s = %q, want it to contain %q", k, resp.Header.Get(k), want)
			}
		}
	})
}

func sessionCookie(resp *http.Response) string {
	for _, c := range resp.Cookies() {
		if c.Name == "gatehouse_session" {
			return c.Value
		}
	}
	return ""
}
