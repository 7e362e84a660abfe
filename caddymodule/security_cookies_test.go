package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/portal/oidctest"
)

// secEnrollTOTP enrolls TOTP for the signed-in client c and returns the
// secret and the backup codes.
func secEnrollTOTP(t *testing.T, h *harness, c *http.Client) (secret string, backup []string) {
	t.Helper()
	got, b := secAPI(t, h, c, "POST", "/api/v1/me/totp", "")
	var enr struct{ Secret string }
	if got != 200 || json.Unmarshal(b, &enr) != nil || enr.Secret == "" {
		t.Fatalf("begin TOTP: %d %s", got, b)
	}
	// The confirmation spends the previous step's code, so that the tests'
	// sign-ins may use the current one (a step is accepted once).
	got, b = secAPI(t, h, c, "POST", "/api/v1/me/totp/confirm", `{"code":"`+totpCode(t, enr.Secret, time.Now().Add(-30*time.Second))+`"}`)
	var bc struct {
		BackupCodes []string `json:"backup_codes"`
	}
	if got != 200 || json.Unmarshal(b, &bc) != nil || len(bc.BackupCodes) == 0 {
		t.Fatalf("confirm TOTP: %d %s", got, b)
	}
	return enr.Secret, bc.BackupCodes
}

// secJarHas reports whether c's jar sends a cookie named name to u.
func secJarHas(c *http.Client, u, name string) bool {
	pu, _ := url.Parse(u)
	for _, ck := range c.Jar.Cookies(pu) {
		if ck.Name == name {
			return true
		}
	}
	return false
}

// secClearsCookie reports whether resp deletes the cookie name.
func secClearsCookie(resp *http.Response, name string) bool {
	for _, ck := range resp.Cookies() {
		if ck.Name == name && ck.MaxAge < 0 {
			return true
		}
	}
	return false
}

// TestSecurityNoCookieOfOursReachesApps: whichever way a request passes the
// guard (a session, an impersonation, an API key) and whatever the browser
// is in the middle of (a second step, an OIDC sign-in), the app sees its
// own cookies and none of Gatehouse's: neither the session token, nor the
// impersonator's, nor the pending sign-in, nor the OIDC flow's.
func TestSecurityNoCookieOfOursReachesApps(t *testing.T) {
	h := newHarness(t)
	idp := oidctest.NewProvider(t)
	h.start(h.caddyfile(oidcBlock("idp", idp), ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("adam", ownerPW, "admin", "admins")
	h.addUser("alice", alicePW, "user", "staff")
	portalHost, _ := url.Parse(h.portalURL("/"))

	// withAppCookie gives c a cookie of the app's own.
	withAppCookie := func(c *http.Client) *http.Client {
		u, _ := url.Parse(h.appURL("/"))
		c.Jar.SetCookies(u, []*http.Cookie{{Name: "theme", Value: "dark"}})
		return c
	}
	// upstreamCookies sends GET u and returns the Cookie header the app saw.
	upstreamCookies := func(t *testing.T, c *http.Client, u string, hdr map[string]string) string {
		t.Helper()
		before := h.upstreamHits()
		resp, b := do(t, c, "GET", u, nil, hdr)
		if resp.StatusCode != 200 || h.upstreamHits() == before {
			t.Fatalf("GET %s: %d %s, want it passed to the app", u, resp.StatusCode, b)
		}
		seen, _ := h.lastSeen()
		return strings.Join(seen.Values("Cookie"), "; ")
	}
	check := func(t *testing.T, ck string) {
		t.Helper()
		for _, part := range strings.Split(ck, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.HasPrefix(name, "gatehouse_session") {
				t.Errorf("the app saw our cookie %q (Cookie: %q)", name, ck)
			}
		}
		if !strings.Contains(ck, "theme=dark") {
			t.Errorf("the app's own cookie was lost: Cookie: %q", ck)
		}
	}

	alice := withAppCookie(h.client())
	h.apiLogin(alice, "alice", alicePW)
	aliceKey := func() string {
		got, b := secAPI(t, h, alice, "POST", "/api/v1/keys", `{"label":"script"}`)
		var v struct{ Key string }
		if got != 201 || json.Unmarshal(b, &v) != nil {
			t.Fatalf("create key: %d %s", got, b)
		}
		return v.Key
	}()

	t.Run("session", func(t *testing.T) {
		check(t, upstreamCookies(t, alice, h.appURL("/"), jsonAPI))
	})

	t.Run("every cookie named like ours", func(t *testing.T) {
		c := withAppCookie(h.client())
		h.apiLogin(c, "alice", alicePW)
		var cks []*http.Cookie
		for _, suffix := range []string{"_actor", "_2fa", "_oidc", "_wa", "_flash", "_device", "_anything"} {
			cks = append(cks, &http.Cookie{Name: "gatehouse_session" + suffix, Value: "x"})
		}
		c.Jar.SetCookies(portalHost, cks)
		check(t, upstreamCookies(t, c, h.appURL("/"), jsonAPI))
	})

	// adam impersonates alice: his own token rides along in _actor.
	adam := withAppCookie(h.client())
	h.apiLogin(adam, "adam", ownerPW)
	if got, b := secAPI(t, h, adam, "POST", "/api/v1/users/alice/impersonate", ""); got != 200 {
		t.Fatalf("impersonate: %d %s", got, b)
	}
	if !secJarHas(adam, h.appURL("/"), "gatehouse_session_actor") {
		t.Fatal("no actor cookie during the impersonation")
	}

	t.Run("impersonation", func(t *testing.T) {
		check(t, upstreamCookies(t, adam, h.appURL("/"), jsonAPI))
	})

	t.Run("API key", func(t *testing.T) {
		// A browser whose impersonation session is gone but whose actor
		// cookie (a live admin token) is still there, using a key.
		c := withAppCookie(h.client())
		for _, ck := range adam.Jar.Cookies(portalHost) {
			if ck.Name == "gatehouse_session_actor" {
				c.Jar.SetCookies(portalHost, []*http.Cookie{ck})
			}
		}
		c.Jar.SetCookies(portalHost, []*http.Cookie{{Name: "gatehouse_session", Value: strings.Repeat("A", 43)}})
		ck := upstreamCookies(t, c, h.appURL("/"), map[string]string{"Accept": "application/json", "Authorization": "Bearer " + aliceKey})
		check(t, ck)
		seen, _ := h.lastSeen()
		if seen.Get("Remote-User") != "alice" {
			t.Errorf("the key's request reached the app as %q", seen.Get("Remote-User"))
		}
	})

	t.Run("mid second step", func(t *testing.T) {
		// bob signs in with his password, enrolls TOTP, then is sent to the
		// second step (a step-up): the pending sign-in cookie is set
		// while his session goes on.
		h.addUser("bob", bobPW, "user")
		bob := withAppCookie(h.client())
		h.apiLogin(bob, "bob", bobPW)
		secEnrollTOTP(t, h, bob)
		resp, b := do(t, bob, "GET", h.portalURL("/login/2fa?rd="+url.QueryEscape(h.appURL("/"))), nil, browser)
		if resp.StatusCode != 200 || !secJarHas(bob, h.appURL("/"), "gatehouse_session_2fa") {
			t.Fatalf("step-up page: %d, pending cookie set: %v: %.200s", resp.StatusCode,
				secJarHas(bob, h.appURL("/"), "gatehouse_session_2fa"), b)
		}
		check(t, upstreamCookies(t, bob, h.appURL("/"), jsonAPI))
	})

	t.Run("mid OIDC sign-in", func(t *testing.T) {
		// The OIDC flow cookie is scoped to /login/oidc/: an app path
		// under it gets it from the browser.
		c := withAppCookie(h.client())
		h.apiLogin(c, "alice", alicePW)
		resp, _ := do(t, c, "GET", h.portalURL("/login/oidc/idp"), nil, browser)
		appPath := h.appURL("/login/oidc/idp/callback")
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("OIDC start: %d", resp.StatusCode)
		}
		if !secJarHas(c, appPath, "gatehouse_session_oidc") {
			t.Fatal("no OIDC flow cookie after the start")
		}
		check(t, upstreamCookies(t, c, appPath, jsonAPI))
	})
}

// TestSecuritySecondStepClearsPendingCookie: a completed second step
// deletes the pending sign-in cookie, by form and by API, with a TOTP code
// or a backup code. (A WebAuthn second step ends in the same finishLogin.)
func TestSecuritySecondStepClearsPendingCookie(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	const pending = "gatehouse_session_2fa"
	type user struct {
		name   string
		secret string
		backup []string
	}
	enroll := func(name string) *user {
		h.addUser(name, alicePW, "user")
		c := h.client()
		h.apiLogin(c, name, alicePW)
		s, b := secEnrollTOTP(t, h, c)
		return &user{name, s, b}
	}
	// The enrolment spent the current step: use the next one (within the
	// accepted skew), taken when the code is sent.
	next := func() time.Time { return time.Now().Add(30 * time.Second) }

	cases := []struct {
		name string
		run  func(t *testing.T, u *user) *http.Response
	}{
		{"form TOTP", func(t *testing.T, u *user) *http.Response {
			c := h.client()
			body, hdr := formBody("username", u.name, "password", alicePW)
			if resp, _ := do(t, c, "POST", h.portalURL("/login"), body, hdr); resp.StatusCode != 303 || !secJarHas(c, h.portalURL("/"), pending) {
				t.Fatalf("first step: %d", resp.StatusCode)
			}
			body, hdr = formBody("method", "totp", "code", totpCode(t, u.secret, next()))
			resp, b := do(t, c, "POST", h.portalURL("/login/2fa"), body, hdr)
			if secJarToken(h, c) == "" {
				t.Fatalf("second step did not sign in: %d %s", resp.StatusCode, secPageError(b))
			}
			return resp
		}},
		{"form backup code", func(t *testing.T, u *user) *http.Response {
			c := h.client()
			body, hdr := formBody("username", u.name, "password", alicePW)
			do(t, c, "POST", h.portalURL("/login"), body, hdr)
			body, hdr = formBody("method", "backup_code", "code", u.backup[0])
			resp, b := do(t, c, "POST", h.portalURL("/login/2fa"), body, hdr)
			if secJarToken(h, c) == "" {
				t.Fatalf("second step did not sign in: %d %s", resp.StatusCode, secPageError(b))
			}
			return resp
		}},
		{"API TOTP", func(t *testing.T, u *user) *http.Response {
			c := h.client()
			if got, b := secAPI(t, h, c, "POST", "/api/v1/login", `{"username":"`+u.name+`","password":"`+alicePW+`"}`); !secJarHas(c, h.portalURL("/"), pending) {
				t.Fatalf("first step: %d %s", got, b)
			}
			resp, b := do(t, c, "POST", h.portalURL("/api/v1/login/totp"), strings.NewReader(`{"code":"`+totpCode(t, u.secret, next())+`"}`), jsonAPI)
			if resp.StatusCode != 200 {
				t.Fatalf("second step: %d %s", resp.StatusCode, b)
			}
			return resp
		}},
		{"API backup code", func(t *testing.T, u *user) *http.Response {
			c := h.client()
			secAPI(t, h, c, "POST", "/api/v1/login", `{"username":"`+u.name+`","password":"`+alicePW+`"}`)
			resp, b := do(t, c, "POST", h.portalURL("/api/v1/login/backup-code"), strings.NewReader(`{"code":"`+u.backup[1]+`"}`), jsonAPI)
			if resp.StatusCode != 200 {
				t.Fatalf("second step: %d %s", resp.StatusCode, b)
			}
			return resp
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := enroll("user" + itoa(i))
			resp := tc.run(t, u)
			if !secClearsCookie(resp, pending) {
				t.Errorf("the answer to the completed second step does not delete %s: Set-Cookie %q", pending, resp.Header.Values("Set-Cookie"))
			}
		})
	}
}
