package caddymodule

// Principles 1 and 2 of the README's security section (issue 14), driven
// through a real Caddy: only a person, freshly proven, changes how an
// account proves itself; admin credential actions are for other people.
// The route table's side — every route declared, every declared route
// refusing keys and impersonation — is TestRoutePolicies in
// portal/routes_test.go.

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// secKey makes an API key of the given scope for the signed-in client c.
func secKey(t *testing.T, h *harness, c *http.Client, scope string) string {
	t.Helper()
	got, b := secAPI(t, h, c, "POST", "/api/v1/keys", `{"label":"script","scope":"`+scope+`"}`)
	var v struct{ Key string }
	if got != 201 || json.Unmarshal(b, &v) != nil || v.Key == "" {
		t.Fatalf("make key: %d %s", got, b)
	}
	return v.Key
}

// secKeyAPI sends an API call with the bearer key k and no cookie.
func secKeyAPI(t *testing.T, h *harness, k, method, path, body string) (int, []byte) {
	t.Helper()
	hdr := map[string]string{"Accept": "application/json", "Content-Type": "application/json", "Authorization": "Bearer " + k}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp, b := do(t, h.client(), method, h.portalURL(path), rd, hdr)
	return resp.StatusCode, b
}

// secForm posts a portal form as the signed-in browser c, with the CSRF
// token of the page from.
func secForm(t *testing.T, h *harness, c *http.Client, from, path string, kv ...string) (int, string) {
	t.Helper()
	_, page := do(t, c, "GET", h.portalURL(from), nil, browser)
	m := csrfInPage.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token on %s", from)
	}
	body, hdr := formBody(append(kv, "csrf", string(m[1]))...)
	resp, b := do(t, c, "POST", h.portalURL(path), body, hdr)
	return resp.StatusCode, string(b)
}

// TestSecurityPrinciplesKeyCannotChangeFactors: a default-scope API key
// could enrol a passkey (then sign in passwordless with second_factor true,
// open require_2fa apps and make new keys), enrol or remove TOTP and
// regenerate the backup codes. Now every own-credential call refuses a key
// with 403, and nothing changed.
func TestSecurityPrinciplesKeyCannotChangeFactors(t *testing.T) {
	h, olga, alice := secOwnerAndAlice(t)
	// alice has TOTP, so that removal and backup codes have something to
	// act on.
	got, b := secAPI(t, h, alice, "POST", "/api/v1/me/totp", "")
	var e struct{ Secret string }
	if got != 200 || json.Unmarshal(b, &e) != nil {
		t.Fatalf("begin totp: %d %s", got, b)
	}
	if got, b := secAPI(t, h, alice, "POST", "/api/v1/me/totp/confirm", `{"code":"`+totpCode(t, e.Secret, time.Now())+`"}`); got != 200 {
		t.Fatalf("confirm totp: %d %s", got, b)
	}
	key := secKey(t, h, alice, "inherit")
	cases := []struct{ method, path, body string }{
		{"POST", "/api/v1/me/webauthn/register/begin", `{"name":"attacker","passkey":true}`},
		{"POST", "/api/v1/me/webauthn/register/finish", `{}`},
		{"PATCH", "/api/v1/me/webauthn/AAAA", `{"name":"x"}`},
		{"DELETE", "/api/v1/me/webauthn/AAAA", ""},
		{"POST", "/api/v1/me/totp", ""},
		{"POST", "/api/v1/me/totp/confirm", `{"code":"123456"}`},
		{"DELETE", "/api/v1/me/totp", ""},
		{"POST", "/api/v1/me/backup-codes", ""},
		{"POST", "/api/v1/me/password", `{"current_password":"` + alicePW + `","password":"An0ther-passphrase"}`},
		{"DELETE", "/api/v1/me/identities/google", ""},
		{"POST", "/api/v1/keys", `{"label":"more"}`},
		{"POST", "/api/v1/me/app-passwords", `{"name":"backdoor"}`},
		{"DELETE", "/api/v1/me/app-passwords/AAAA", ""},
	}
	for _, tc := range cases {
		got, b := secKeyAPI(t, h, key, tc.method, tc.path, tc.body)
		if got != http.StatusForbidden || !strings.Contains(string(b), "API key") {
			t.Errorf("%s %s with an API key: %d %s, want 403 naming the key", tc.method, tc.path, got, b)
		}
	}
	// Nothing changed: TOTP still on, the key still reads.
	got, b = secKeyAPI(t, h, key, "GET", "/api/v1/me/2fa", "")
	if got != 200 || !strings.Contains(string(b), `"totp":true`) || !strings.Contains(string(b), `"webauthn":[]`) {
		t.Fatalf("factors after the key's attempts: %d %s", got, b)
	}
	// The refusals are audited, naming the key's user.
	if evs := secAudit(t, h, olga, "action=credential.refused"); len(evs) < len(cases) {
		t.Errorf("audited refusals: %d, want %d", len(evs), len(cases))
	}
}

// TestSecurityPrinciplesAdminCredentialsAreForOthers: anyone with
// users.write could, with a key or a session, set their own password
// without the current one, make a temporary password or reset link for
// themselves, or strip their own 2FA.
func TestSecurityPrinciplesAdminCredentialsAreForOthers(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	h.addUser("uma", ownerPW, "user_manager")
	uma := h.client()
	h.apiLogin(uma, "uma", ownerPW)
	umaKey := secKey(t, h, uma, "inherit")

	self := []struct{ method, path, body, want string }{
		{"POST", "/api/v1/users/uma/password", `{"password":"Self-chosen-9"}`, "POST /api/v1/me/password"},
		{"POST", "/api/v1/users/uma/temp-password", "", "POST /api/v1/me/password"},
		{"POST", "/api/v1/users/uma/reset-link", "", "POST /api/v1/me/password"},
		{"DELETE", "/api/v1/users/uma/2fa", "", "/api/v1/me/totp"},
		{"DELETE", "/api/v1/users/uma/app-passwords/AAAA", "", "DELETE /api/v1/me/app-passwords"},
	}
	for _, tc := range self {
		got, b := secAPI(t, h, uma, tc.method, tc.path, tc.body)
		if got != http.StatusForbidden || !strings.Contains(string(b), "your own account") || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %s on oneself: %d %s, want 403 pointing to %s", tc.method, tc.path, got, b, tc.want)
		}
		// By id as well as by name.
		got, _ = secKeyAPI(t, h, umaKey, tc.method, tc.path, tc.body)
		if got != http.StatusForbidden {
			t.Errorf("%s %s with a key: %d, want 403", tc.method, tc.path, got)
		}
		// A key is refused on other people too.
		other := strings.Replace(tc.path, "/uma/", "/alice/", 1)
		if got, b := secKeyAPI(t, h, umaKey, tc.method, other, tc.body); got != http.StatusForbidden || !strings.Contains(string(b), "API key") {
			t.Errorf("%s %s with a key: %d %s, want 403", tc.method, other, got, b)
		}
	}
	// The owner, too, on herself (pages as well as the API).
	if got, b := secAPI(t, h, olga, "POST", "/api/v1/users/olga/password", `{"password":"Self-chosen-9"}`); got != http.StatusForbidden {
		t.Errorf("owner sets her own password as an admin: %d %s", got, b)
	}
	for _, p := range []string{"/admin/users/uma/password", "/admin/users/uma/temp-password", "/admin/users/uma/reset-link", "/admin/users/uma/2fa/reset"} {
		got, page := secForm(t, h, uma, "/admin/users/uma", p, "password", "Self-chosen-9", "password2", "Self-chosen-9")
		if got != http.StatusForbidden || !strings.Contains(page, "your own account") {
			t.Errorf("page %s on oneself: %d %s", p, got, secPageError([]byte(page)))
		}
	}
	// Still works on someone else, from a session.
	if got, b := secAPI(t, h, uma, "POST", "/api/v1/users/alice/reset-link", ""); got != http.StatusCreated {
		t.Errorf("reset link for alice: %d %s", got, b)
	}
	if got, b := secAPI(t, h, uma, "POST", "/api/v1/users/alice/password", `{"password":"Admin-chosen-9"}`); got != http.StatusNoContent {
		t.Errorf("password for alice: %d %s", got, b)
	}
	// uma's password is unchanged.
	h.apiLogin(h.client(), "uma", ownerPW)
}

// TestSecurityPrinciplesNoCredentialsWhileImpersonating: an impersonating
// admin could change the target's password, reset link and 2FA through
// the admin routes when the target holds users.write, and the password
// change was logged as the target's own act.
func TestSecurityPrinciplesNoCredentialsWhileImpersonating(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	h.addUser("uma", ownerPW, "user_manager")
	if got, b := secAPI(t, h, olga, "POST", "/api/v1/users/uma/impersonate", ""); got != 200 {
		t.Fatalf("impersonate uma: %d %s", got, b)
	}
	for _, target := range []string{"uma", "alice"} {
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/api/v1/users/" + target + "/password", `{"password":"Imperson-ated-9"}`},
			{"POST", "/api/v1/users/" + target + "/temp-password", ""},
			{"POST", "/api/v1/users/" + target + "/reset-link", ""},
			{"DELETE", "/api/v1/users/" + target + "/2fa", ""},
			{"DELETE", "/api/v1/users/" + target + "/app-passwords/AAAA", ""},
		} {
			got, b := secAPI(t, h, olga, tc.method, tc.path, tc.body)
			if got != http.StatusForbidden || !strings.Contains(string(b), "impersonating") {
				t.Errorf("%s %s while impersonating uma: %d %s, want 403", tc.method, tc.path, got, b)
			}
		}
	}
	if got, page := secForm(t, h, olga, "/admin/users/alice", "/admin/users/alice/password", "password", "Imperson-ated-9", "password2", "Imperson-ated-9"); got != http.StatusForbidden {
		t.Errorf("password page while impersonating: %d %s", got, secPageError([]byte(page)))
	}
	// Nobody's password changed; the refusals name the real actor.
	h.apiLogin(h.client(), "uma", ownerPW)
	h.apiLogin(h.client(), "alice", alicePW)
	if got, _ := secAPI(t, h, olga, "DELETE", "/api/v1/impersonation", ""); got != 200 {
		t.Fatalf("stop: %d", got)
	}
	evs := secAudit(t, h, olga, "action=credential.refused")
	if len(evs) == 0 {
		t.Fatal("no refusal audited")
	}
	for _, e := range evs {
		if e["actor"] != "uma" || e["impersonator"] != "olga" {
			t.Errorf("refusal audited as %v by %v, want uma impersonated by olga", e["actor"], e["impersonator"])
		}
	}
	for _, e := range secAudit(t, h, olga, "action=password.set") {
		t.Errorf("a password was set while impersonating: %v", e)
	}
}

// TestSecurityPrinciplesFreshProof: a factor change takes the current
// password (or a code), and a wrong one is refused and counted.
func TestSecurityPrinciplesFreshProof(t *testing.T) {
	h, olga, alice := secOwnerAndAlice(t)
	got, b := secAPI(t, h, alice, "POST", "/api/v1/me/totp", `{"current_password":"wrong-Passw0rd"}`)
	if got != http.StatusForbidden || !strings.Contains(string(b), "confirm your current password") {
		t.Fatalf("begin totp with a wrong password: %d %s, want 403", got, b)
	}
	got, b = secAPI(t, h, alice, "POST", "/api/v1/me/totp", `{"current_password":"`+alicePW+`"}`)
	if got != 200 {
		t.Fatalf("begin totp with the password: %d %s", got, b)
	}
	got, b = secAPI(t, h, alice, "POST", "/api/v1/keys", `{"label":"k","current_password":"`+alicePW+`"}`)
	if got != 201 {
		t.Fatalf("key with the password: %d %s", got, b)
	}
	// The profile's forms too.
	got, page := secForm(t, h, alice, "/profile", "/profile/keys", "label", "k2", "current_password", "wrong-Passw0rd")
	if got != http.StatusForbidden || !strings.Contains(html.UnescapeString(page), "the password you typed is not correct") {
		t.Fatalf("key form with a wrong password: %d %s", got, secPageError([]byte(page)))
	}
	// Wrong proofs are audited (and counted toward the lockout: TestFreshProof).
	if evs := secAudit(t, h, olga, "action=credential.refused&user=alice"); len(evs) != 2 {
		t.Errorf("refused proofs audited: %d, want 2", len(evs))
	}
}

var secretOnPage = regexp.MustCompile(`id="secret" type="text" value="([A-Z2-7]+)"`)

// TestSecurityTOTPEnrolmentSurvivesTypo: a mistyped code during TOTP
// enrolment threw the pending secret away, so the entry already in the
// phone app was useless. Now the secret stays until confirmed, cancelled
// or five wrong codes.
func TestSecurityTOTPEnrolmentSurvivesTypo(t *testing.T) {
	h, olga, alice := secOwnerAndAlice(t)

	t.Run("profile page", func(t *testing.T) {
		got, page := secForm(t, h, olga, "/profile", "/profile/totp")
		m := secretOnPage.FindStringSubmatch(page)
		if got != 200 || m == nil {
			t.Fatalf("setup page: %d %s", got, secPageError([]byte(page)))
		}
		got, page = secForm(t, h, olga, "/profile", "/profile/totp/confirm", "code", "000000")
		m2 := secretOnPage.FindStringSubmatch(page)
		if got != 400 || m2 == nil || m2[1] != m[1] {
			t.Fatalf("after a typo: %d, secret %v, want the same %s", got, m2, m[1])
		}
		if !strings.Contains(html.UnescapeString(page), "unchanged") {
			t.Errorf("the page does not say the code is unchanged: %s", secPageError([]byte(page)))
		}
		got, page = secForm(t, h, olga, "/profile", "/profile/totp/confirm", "code", totpCode(t, m[1], time.Now()))
		if got != 200 || !strings.Contains(page, "backup codes") {
			t.Fatalf("confirm with the first secret: %d %s", got, secPageError([]byte(page)))
		}
	})

	t.Run("API, five tries", func(t *testing.T) {
		got, b := secAPI(t, h, alice, "POST", "/api/v1/me/totp", "")
		var e struct{ Secret string }
		if got != 200 || json.Unmarshal(b, &e) != nil {
			t.Fatalf("begin: %d %s", got, b)
		}
		for i := 1; i <= 4; i++ {
			if got, b := secAPI(t, h, alice, "POST", "/api/v1/me/totp/confirm", `{"code":"000000"}`); got != 400 {
				t.Fatalf("wrong code %d: %d %s", i, got, b)
			}
		}
		// A restart (the page reloaded) gives back the same secret.
		got, b = secAPI(t, h, alice, "POST", "/api/v1/me/totp", "")
		var again struct{ Secret string }
		if got != 200 || json.Unmarshal(b, &again) != nil || again.Secret != e.Secret {
			t.Fatalf("begin again: %d, secret %q, want %q", got, again.Secret, e.Secret)
		}
		got, b = secAPI(t, h, alice, "POST", "/api/v1/me/totp/confirm", `{"code":"000000"}`)
		if got != 400 || !strings.Contains(string(b), "cancelled") {
			t.Fatalf("fifth wrong code: %d %s, want the setup cancelled", got, b)
		}
		got, b = secAPI(t, h, alice, "POST", "/api/v1/me/totp/confirm", `{"code":"`+totpCode(t, e.Secret, time.Now())+`"}`)
		if got != 400 {
			t.Fatalf("confirm after the setup was cancelled: %d %s", got, b)
		}
	})
}

// TestSecurityMandatory2FAKeepsEnrolledOwner: turning on mandatory 2FA
// signed out the owner who turned it on when her session was
// password-only although she had since enrolled TOTP. She is refused
// until she signs in with her second factor, and stays signed in.
func TestSecurityMandatory2FAKeepsEnrolledOwner(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	got, b := secAPI(t, h, olga, "POST", "/api/v1/me/totp", "")
	var e struct{ Secret string }
	if got != 200 || json.Unmarshal(b, &e) != nil {
		t.Fatalf("begin: %d %s", got, b)
	}
	if got, b := secAPI(t, h, olga, "POST", "/api/v1/me/totp/confirm", `{"code":"`+totpCode(t, e.Secret, time.Now())+`"}`); got != 200 {
		t.Fatalf("confirm: %d %s", got, b)
	}
	got, b = secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"require_2fa":true}`)
	if got != http.StatusConflict || !strings.Contains(string(b), "sign in again with your second factor first") {
		t.Fatalf("require_2fa from a password-only session: %d %s, want 409", got, b)
	}
	if got, b := secAPI(t, h, olga, "GET", "/api/v1/me", ""); got != 200 {
		t.Fatalf("the owner was signed out: %d %s", got, b)
	}
	// Signed in with her second factor, she turns it on and stays.
	fresh := h.client()
	h.apiLogin(fresh, "olga", ownerPW)
	if got, b := secAPI(t, h, fresh, "POST", "/api/v1/login/totp", `{"code":"`+totpCode(t, e.Secret, time.Now().Add(30*time.Second))+`"}`); got != 200 {
		t.Fatalf("second step: %d %s", got, b)
	}
	if got, b := secAPI(t, h, fresh, "PATCH", "/api/v1/settings", `{"require_2fa":true}`); got != 200 {
		t.Fatalf("require_2fa with a second factor: %d %s", got, b)
	}
	if got, b := secAPI(t, h, fresh, "GET", "/api/v1/me", ""); got != 200 {
		t.Fatalf("signed out after turning it on: %d %s", got, b)
	}
}
