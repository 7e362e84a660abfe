package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTwoFactorThroughCaddy drives the second factor through a real Caddy:
// enrollment, a login that stops after the password (and whose half-done
// cookie opens nothing), replay refusal, backup codes, a require_2fa app
// with step-up in the browser flow, and mandatory 2FA.
func TestTwoFactorThroughCaddy(t *testing.T) {
	h := newHarness(t)
	vault := freePort(t)
	vaultSite := "http://127.0.0.1:" + itoa(vault) + " {\n\tgatehouse vault {\n\t\trequire_2fa\n\t}\n\treverse_proxy " +
		strings.TrimPrefix(h.upstream.URL, "http://") + "\n}\n"
	h.start(h.caddyfile("", vaultSite))
	vaultURL := "http://127.0.0.1:" + itoa(vault) + "/secret"
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")

	api := func(c *http.Client, method, path, body string) (int, []byte) {
		t.Helper()
		resp, b := do(t, c, method, h.portalURL(path), strings.NewReader(body), jsonAPI)
		return resp.StatusCode, b
	}
	status := func(c *http.Client, u string, hdr map[string]string) (int, string) {
		resp, _ := do(t, c, "GET", u, nil, hdr)
		return resp.StatusCode, resp.Header.Get("Location")
	}

	// alice enrolls TOTP.
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	if got, _ := status(alice, vaultURL, jsonAPI); got != 403 {
		t.Fatalf("password-only session on a require_2fa app: %d, want 403", got)
	}
	_, b := api(alice, "POST", "/api/v1/me/totp", "")
	var enr struct{ Secret string }
	_ = json.Unmarshal(b, &enr)
	got, b := api(alice, "POST", "/api/v1/me/totp/confirm", `{"code":"`+totpCode(t, enr.Secret, time.Now())+`"}`)
	if got != 200 {
		t.Fatalf("confirm: %d %s", got, b)
	}
	var bc struct {
		BackupCodes []string `json:"backup_codes"`
	}
	_ = json.Unmarshal(b, &bc)

	// A browser: the login form stops at the second step; its pending
	// cookie opens neither the app nor the API.
	br := h.client()
	body, hdr := formBody("username", "alice", "password", alicePW, "rd", vaultURL)
	resp, _ := do(t, br, "POST", h.portalURL("/login"), body, hdr)
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/login/2fa?rd=") {
		t.Fatalf("form login with 2FA: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got, _ := status(br, h.appURL("/"), jsonAPI); got != 401 {
		t.Fatalf("app with a half-finished login: %d, want 401", got)
	}
	if got, _ := api(br, "GET", "/api/v1/me", ""); got != 401 {
		t.Fatalf("API with a half-finished login: %d, want 401", got)
	}
	resp, page := do(t, br, "GET", h.portalURL(resp.Header.Get("Location")), nil, browser)
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="code"`) {
		t.Fatalf("second step page: %d", resp.StatusCode)
	}
	// The current code may have been used by the enrollment: wait for the
	// next step rather than replay it.
	code := totpCode(t, enr.Secret, time.Now().Add(30*time.Second))
	body, hdr = formBody("method", "totp", "code", code, "rd", vaultURL)
	resp, page = do(t, br, "POST", h.portalURL("/login/2fa"), body, hdr)
	if formTarget(resp, page) != vaultURL {
		t.Fatalf("second step: %d to %q", resp.StatusCode, formTarget(resp, page))
	}
	if got, _ := status(br, vaultURL, browser); got != 200 {
		t.Fatalf("require_2fa app after the second step: %d", got)
	}

	// Replay: the same code in another login is refused.
	other := h.client()
	h.apiLogin(other, "alice", alicePW)
	if got, _ := api(other, "POST", "/api/v1/login/totp", `{"code":"`+code+`"}`); got != 401 {
		t.Fatalf("replayed code: %d, want 401", got)
	}
	// Backup codes work once each.
	if got, b := api(other, "POST", "/api/v1/login/backup-code", `{"code":"`+bc.BackupCodes[0]+`"}`); got != 200 {
		t.Fatalf("backup code: %d %s", got, b)
	}
	again := h.client()
	h.apiLogin(again, "alice", alicePW)
	if got, _ := api(again, "POST", "/api/v1/login/backup-code", `{"code":"`+bc.BackupCodes[0]+`"}`); got != 401 {
		t.Fatalf("reused backup code: %d, want 401", got)
	}

	// A password-only owner session is sent to step up by the browser flow
	// of a require_2fa app; without a second factor she is told to set one
	// up.
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)
	got, loc := status(owner, vaultURL, browser)
	if got != 302 || !strings.Contains(loc, "/login/2fa?rd="+url.QueryEscape(vaultURL)) {
		t.Fatalf("step-up redirect: %d %s", got, loc)
	}

	// Mandatory 2FA: alice's sessions with a second factor live on, the
	// owner's password-only session ends.
	if got, b := api(owner, "PATCH", "/api/v1/settings", `{"require_2fa":true}`); got != 200 {
		t.Fatalf("require_2fa: %d %s", got, b)
	}
	if got, _ := api(owner, "GET", "/api/v1/me", ""); got != 401 {
		t.Fatalf("password-only session after require_2fa: %d", got)
	}
	if got, _ := status(br, vaultURL, browser); got != 200 {
		t.Fatalf("2FA session after require_2fa: %d", got)
	}
	owner = h.client()
	got, b = api(owner, "POST", "/api/v1/login", `{"username":"olga","password":"`+ownerPW+`"}`)
	if got != 200 || !strings.Contains(string(b), `"enrollment_required":true`) {
		t.Fatalf("login under mandatory 2FA: %d %s", got, b)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
