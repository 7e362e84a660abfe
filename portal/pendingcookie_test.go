package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// TestSecurityKeySecondStepClearsPendingCookie: a second step with a
// security key (WebAuthn) deletes the pending sign-in cookie, as the TOTP
// and backup-code steps do (TestSecuritySecondStepClearsPendingCookie in
// caddymodule).
func TestSecurityKeySecondStepClearsPendingCookie(t *testing.T) {
	svc, _, clk := newTestService(t)
	mustUser(t, svc, "alice", policies.RoleUser)
	key := newSoftKey(t, "https://auth.example.com", "auth.example.com")
	c := newClient(t, svc)
	login := `{"username":"alice","password":"` + testPW + `"}`
	if got, body := c.call("POST", "/api/v1/login", login); got != 200 {
		t.Fatalf("login: %d %s", got, body)
	}
	key.register(c, "YubiKey", false)
	c.call("POST", "/api/v1/logout", "")

	clk.Advance(time.Minute)
	if got, body := c.call("POST", "/api/v1/login", login); got != 200 || !strings.Contains(body, `"second_factor_required":true`) {
		t.Fatalf("password step: %d %s", got, body)
	}
	pending := svc.secondStepUI().pendingCookieName()
	if c.cookies[pending] == nil {
		t.Fatalf("no %s cookie after the password step", pending)
	}
	got, body := c.call("POST", "/api/v1/login/webauthn/begin", "")
	if got != 200 {
		t.Fatalf("begin: %d %s", got, body)
	}
	key.counter = 1
	if got, body := c.call("POST", "/api/v1/login/webauthn/finish", key.get(body, flagUP)); got != 200 {
		t.Fatalf("finish: %d %s", got, body)
	}
	if c.cookies[pending] != nil {
		t.Errorf("the completed second step left the %s cookie in the browser", pending)
	}
}
