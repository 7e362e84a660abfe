package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Principle 4 (DESIGN §6): a lockout must not let a stranger keep someone
// out for good. Wrong passwords and wrong second steps from untrusted
// clients lock the account; a browser that completed a sign-in holds a
// signed device cookie and is judged only by its own failures
// (portal/devicecookies.go).

const deviceCookie = "gatehouse_session_device"

// secDeviceValue is the device cookie c sends to the API login ("" when
// none).
func secDeviceValue(h *harness, c *http.Client) string {
	u, _ := url.Parse(h.portalURL("/api/v1/login"))
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == deviceCookie {
			return ck.Value
		}
	}
	return ""
}

// secWithDevice is a fresh browser holding value as its device cookie.
func secWithDevice(h *harness, value string) *http.Client {
	c := h.client()
	for _, p := range []string{"/login", "/api/v1/login"} {
		u, _ := url.Parse(h.portalURL(p))
		c.Jar.SetCookies(u, []*http.Cookie{{Name: deviceCookie, Value: value, Path: p}})
	}
	return c
}

// secLogin is one API sign-in attempt; it returns the status.
func secLogin(t *testing.T, h *harness, c *http.Client, user, pw string) int {
	t.Helper()
	got, _ := secAPI(t, h, c, "POST", "/api/v1/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw))
	return got
}

// secHasEvent reports whether the audit has an event of action for user
// whose reason contains reason.
func secHasEvent(t *testing.T, h *harness, owner *http.Client, action, user, reason string) bool {
	t.Helper()
	for _, ev := range secAudit(t, h, owner, "action="+action) {
		r, _ := ev["reason"].(string)
		if ev["action"] == action && ev["resource"] == "user:"+user && strings.Contains(r, reason) {
			return true
		}
	}
	return false
}

// TestSecuritySecondStepFailuresLock: "right password, wrong code" over
// and over locks the account like wrong passwords do (the right password
// used to clear the count each round), and is audited; the device cookie
// comes only with a completed sign-in, and a trusted device still signs
// in.
func TestSecuritySecondStepFailuresLock(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	home := h.client()
	e := secSignInAndEnrollTOTP(t, h, home, "alice", alicePW)

	for i := range 5 {
		c := h.client()
		resp, b := do(t, c, "POST", h.portalURL("/api/v1/login"), strings.NewReader(`{"username":"alice","password":"`+alicePW+`"}`), jsonAPI)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"second_factor_required":true`) {
			t.Fatalf("round %d, password: %d %s", i+1, resp.StatusCode, b)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == deviceCookie {
				t.Fatalf("round %d: a device cookie after the password alone", i+1)
			}
		}
		if got, b := secAPI(t, h, c, "POST", "/api/v1/login/totp", `{"code":"000000"}`); got != 401 {
			t.Fatalf("round %d, wrong code: %d %s", i+1, got, b)
		}
	}
	if got := secLogin(t, h, h.client(), "alice", alicePW); got != 401 {
		t.Fatalf("after 5 rounds of right password and wrong code: %d, want 401 (locked)", got)
	}
	if !secHasEvent(t, h, olga, "user.lock", "alice", "5 failed sign-ins") {
		t.Errorf("no user.lock event for alice: %v", secAudit(t, h, olga, "action=user.lock"))
	}
	// alice's own browser is a trusted device: password and code still work.
	if got := secLogin(t, h, home, "alice", alicePW); got != 200 {
		t.Fatalf("alice's trusted browser, password: %d", got)
	}
	if got, b := secAPI(t, h, home, "POST", "/api/v1/login/totp", `{"code":"`+totpCode(t, e.Secret, time.Now())+`"}`); got != 200 {
		t.Fatalf("alice's trusted browser, code: %d %s", got, b)
	}
}

// TestSecurityDeviceCookieLockout: an attacker without a device cookie
// locks the owner's account, yet the owner signs in from her browser (API
// and form); a device cookie of another user, re-labelled or with a bad
// signature does not help; a device that fails 5 times is locked itself;
// an unknown device stays locked out until owner-login or an admin
// unlock; the cookie never reaches an app.
func TestSecurityDeviceCookieLockout(t *testing.T) {
	h, olga, alice := secOwnerAndAlice(t)

	// The cookie: HttpOnly, SameSite=Lax, long-lived, host-only, on the
	// sign-in paths only.
	resp := h.apiLogin(h.client(), "olga", ownerPW)
	paths := map[string]bool{}
	for _, ck := range resp.Cookies() {
		if ck.Name != deviceCookie {
			continue
		}
		paths[ck.Path] = true
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge < 30*24*3600 || ck.Domain != "" || !strings.HasPrefix(ck.Value, "olga:") {
			t.Errorf("device cookie %+v", ck)
		}
	}
	if len(paths) != 2 || !paths["/login"] || !paths["/api/v1/login"] {
		t.Errorf("device cookie paths %v, want /login and /api/v1/login", paths)
	}

	// The attacker locks olga's account for untrusted clients.
	for range 5 {
		secLogin(t, h, h.client(), "olga", "Wrong-passw0rd")
	}
	if got := secLogin(t, h, h.client(), "olga", ownerPW); got != 401 {
		t.Fatalf("a new device after 5 wrong passwords: %d, want 401 (locked)", got)
	}
	// Her browser is not locked out, through the API or the form.
	if got := secLogin(t, h, olga, "olga", ownerPW); got != 200 {
		t.Fatalf("olga's browser, API: %d", got)
	}
	body, hdr := formBody("username", "olga", "password", ownerPW)
	if resp, page := do(t, olga, "POST", h.portalURL("/login"), body, hdr); resp.StatusCode != 303 {
		t.Fatalf("olga's browser, form: %d %s", resp.StatusCode, secPageError(page))
	}

	// Someone else's cookie, re-labelled or tampered with, is no device of
	// olga's.
	aliceDev, olgaDev := secDeviceValue(h, alice), secDeviceValue(h, olga)
	if aliceDev == "" || olgaDev == "" {
		t.Fatalf("device cookies: alice %q, olga %q", aliceDev, olgaDev)
	}
	flip := func(s string) string {
		last := s[len(s)-2]
		repl := byte('A')
		if last == 'A' {
			repl = 'B'
		}
		return s[:len(s)-2] + string(repl) + s[len(s)-1:]
	}
	forged := []struct{ name, value string }{
		{"alice's cookie", aliceDev},
		{"alice's cookie re-labelled olga", "olga" + strings.TrimPrefix(aliceDev, "alice")},
		{"olga's cookie with a bad signature", flip(olgaDev)},
		{"olga's nonce without a signature", strings.Join(strings.Split(olgaDev, ":")[:2], ":") + ":"},
	}
	for _, f := range forged {
		if got := secLogin(t, h, secWithDevice(h, f.value), "olga", ownerPW); got != 401 {
			t.Errorf("%s: %d, want 401 (the account lock applies)", f.name, got)
		}
	}

	// A thief with olga's real cookie gets that device's five failures,
	// then the device is locked (her browser too), and audited.
	thief := secWithDevice(h, olgaDev)
	for range 5 {
		if got := secLogin(t, h, thief, "olga", "Wrong-passw0rd"); got != 401 {
			t.Fatalf("thief's guess: %d", got)
		}
	}
	if got := secLogin(t, h, thief, "olga", ownerPW); got != 401 {
		t.Fatalf("a locked device with the right password: %d, want 401", got)
	}
	if got := secLogin(t, h, olga, "olga", ownerPW); got != 401 {
		t.Fatalf("olga's browser after its device was locked: %d, want 401", got)
	}
	if !secHasEvent(t, h, olga, "user.device_lock", "olga", "device is locked") {
		t.Errorf("no user.device_lock event for olga: %v", secAudit(t, h, olga, "action=user.device_lock"))
	}
	// alice's device is another device.
	if got := secLogin(t, h, alice, "alice", alicePW); got != 200 {
		t.Errorf("alice's browser: %d", got)
	}

	// owner-login still works, and an admin unlock frees new devices.
	out, err := runCommand(t, ownerLoginCommand(), "", "--address", fmt.Sprintf("127.0.0.1:%d", h.admin))
	link := ownerLinkRE.FindString(out)
	if err != nil || link == "" {
		t.Fatalf("owner-login: %v\n%s", err, out)
	}
	rescued := h.client()
	body, hdr = formBody()
	if resp, page := do(t, rescued, "POST", link, body, hdr); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner-login link: %d %s", resp.StatusCode, secPageError(page))
	}
	if got, b := secAPI(t, h, rescued, "POST", "/api/v1/users/olga/unlock", "{}"); got != http.StatusNoContent {
		t.Fatalf("unlock: %d %s", got, b)
	}
	if got := secLogin(t, h, h.client(), "olga", ownerPW); got != 200 {
		t.Fatalf("a new device after the unlock: %d", got)
	}

	// The device cookie never reaches an app, even on a /login path.
	before := h.upstreamHits()
	if resp, _ := do(t, alice, "GET", h.appURL("/login/x"), nil, jsonAPI); resp.StatusCode != 200 || h.upstreamHits() == before {
		t.Fatalf("alice on the app: %d", resp.StatusCode)
	}
	if seen, _ := h.lastSeen(); strings.Contains(seen.Get("Cookie"), deviceCookie) {
		t.Errorf("the app saw the device cookie: %q", seen.Get("Cookie"))
	}
}

// TestSecurityReservedCLI: "cli" is the command-line tool's name in the
// audit log, so no account may take it, in any case and by any way in.
func TestSecurityReservedCLI(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	tests := []struct {
		name, path, ctype, body string
	}{
		{"create", "/api/v1/users", "application/json", `{"username":"cli","password":"` + bobPW + `"}`},
		{"create, upper case", "/api/v1/users", "application/json", `{"username":"CLI","password":"` + bobPW + `"}`},
		{"import", "/api/v1/users/import", "application/json", `[{"username":"Cli","email":"cli@example.com"}]`},
		{"import CSV", "/api/v1/users/import", "text/csv", "username,email\ncli,cli@example.com\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := do(t, olga, "POST", h.portalURL(tc.path), strings.NewReader(tc.body),
				map[string]string{"Accept": "application/json", "Content-Type": tc.ctype})
			if resp.StatusCode != 400 || !strings.Contains(string(b), "reserved") {
				t.Fatalf("%d %s, want 400 saying the name is reserved", resp.StatusCode, b)
			}
		})
	}
	t.Run("invitation", func(t *testing.T) {
		got, b := secAPI(t, h, olga, "POST", "/api/v1/invitations", `{"email":"new@example.com"}`)
		var inv struct{ Link string }
		_ = json.Unmarshal(b, &inv)
		link := inv.Link
		if got != 201 || link == "" {
			t.Fatalf("invite: %d %s", got, b)
		}
		body, hdr := formBody("username", "cli", "full_name", "C", "password", bobPW, "password2", bobPW)
		resp, page := do(t, h.client(), "POST", link, body, hdr)
		if resp.StatusCode != 400 || !strings.Contains(secPageError(page), "reserved") {
			t.Fatalf("accepting as cli: %d %s", resp.StatusCode, secPageError(page))
		}
	})
	t.Run("CLI", func(t *testing.T) {
		req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/gatehouse/users", h.admin),
			strings.NewReader(`{"username":"cli","password":"`+bobPW+`","role":"user"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("caddy gatehouse user add --username cli: %d, want 400", resp.StatusCode)
		}
	})
	if got, b := secAPI(t, h, olga, "GET", "/api/v1/users/cli", ""); got != 404 {
		t.Errorf("a user cli exists: %d %s", got, b)
	}
}
