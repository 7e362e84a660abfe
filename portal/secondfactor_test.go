package portal

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// client is a tiny cookie-keeping client over svc.ServeHTTP.
type client struct {
	t       *testing.T
	svc     *Service
	cookies map[string]*http.Cookie
}

func newClient(t *testing.T, svc *Service) *client {
	return &client{t: t, svc: svc, cookies: map[string]*http.Cookie{}}
}

func (c *client) call(method, path, body string) (int, string) {
	c.t.Helper()
	req := httptest.NewRequest(method, "https://auth.example.com"+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.svc.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return rec.Code, rec.Body.String()
}

func (c *client) session() *http.Cookie { return c.cookies[DefaultCookieName] }

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPFlow: enrollment, a login that needs the second step, replay
// refused, backup codes once each, and a half-finished login grants nothing.
func TestTOTPFlow(t *testing.T) {
	svc, _, clk := newTestService(t)
	mustUser(t, svc, "alice", policies.RoleUser)
	app, _ := svc.core.Access.RegisterApp(AppConfig{Name: "wiki"})

	alice := newClient(t, svc)
	if got, _ := alice.call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`); got != 200 {
		t.Fatal(got)
	}
	got, body := alice.call("POST", "/api/v1/me/totp", "")
	if got != 200 {
		t.Fatalf("begin: %d %s", got, body)
	}
	e := decodeBody[TOTPEnrollment](t, body)
	if !strings.HasPrefix(e.URI, "otpauth://totp/") || !strings.HasPrefix(e.QR, "data:image/png;base64,") {
		t.Fatalf("enrollment = %+v", e)
	}
	if got, _ := alice.call("POST", "/api/v1/me/totp/confirm", `{"code":"000000"}`); got != 400 {
		t.Errorf("wrong confirm code: %d", got)
	}
	got, body = alice.call("POST", "/api/v1/me/totp/confirm", `{"code":"`+code(t, e.Secret, clk.Now())+`"}`)
	if got != 200 {
		t.Fatalf("confirm: %d %s", got, body)
	}
	backup := decodeBody[backupCodesResponse](t, body).BackupCodes
	if len(backup) != 10 {
		t.Fatalf("backup codes = %v", backup)
	}

	// A new login stops after the password.
	clk.Advance(time.Minute)
	b := newClient(t, svc)
	got, body = b.call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`)
	if got != 200 || !strings.Contains(body, `"second_factor_required":true`) || !strings.Contains(body, `"totp"`) {
		t.Fatalf("login: %d %s", got, body)
	}
	if b.session() != nil {
		t.Fatal("a session cookie before the second step")
	}
	// The half-finished login opens nothing.
	req := httptest.NewRequest("GET", "https://app.example.com/", nil)
	for _, ck := range b.cookies {
		req.AddCookie(ck)
	}
	if v := svc.Check(req, app); v.Outcome != SignIn {
		t.Fatalf("guard with a pending login: %v", v.Outcome)
	}
	if got, _ := b.call("GET", "/api/v1/me", ""); got != 401 {
		t.Fatalf("API with a pending login: %d", got)
	}
	now := code(t, e.Secret, clk.Now())
	if got, body := b.call("POST", "/api/v1/login/totp", `{"code":"`+now+`"}`); got != 200 {
		t.Fatalf("second step: %d %s", got, body)
	}
	if b.session() == nil {
		t.Fatal("no session after the second step")
	}
	_, body = b.call("GET", "/api/v1/me", "")
	if !strings.Contains(body, `"methods":["password","totp"],"second_factor":true`) {
		t.Fatalf("me after two steps: %s", body)
	}

	// The same code again, in a new login: a replay.
	c := newClient(t, svc)
	c.call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`)
	if got, _ := c.call("POST", "/api/v1/login/totp", `{"code":"`+now+`"}`); got != 401 {
		t.Fatalf("replayed code: %d", got)
	}
	// Each backup code works once.
	if got, _ := c.call("POST", "/api/v1/login/backup-code", `{"code":"`+backup[0]+`"}`); got != 200 {
		t.Fatalf("backup code: %d", got)
	}
	d := newClient(t, svc)
	d.call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`)
	if got, _ := d.call("POST", "/api/v1/login/backup-code", `{"code":"`+backup[0]+`"}`); got != 401 {
		t.Fatalf("backup code reused: %d", got)
	}
	_, body = d.call("POST", "/api/v1/login/backup-code", `{"code":"`+strings.ToUpper(strings.ReplaceAll(backup[1], "-", ""))+`"}`)
	if d.session() == nil {
		t.Fatalf("backup code typed without dash in capitals refused: %s", body)
	}
	_, body = d.call("GET", "/api/v1/me/2fa", "")
	if !strings.Contains(body, `"backup_codes_left":8`) {
		t.Errorf("factors: %s", body)
	}
}

// TestRequire2FA: an app with require_2fa refuses a password-only session;
// mandatory 2FA ends sessions without a second factor and forces
// enrollment at the next login.
func TestRequire2FA(t *testing.T) {
	svc, _, clk := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "bob", policies.RoleUser)
	strict, _ := svc.core.Access.RegisterApp(AppConfig{Name: "vault", Require2FA: true})
	bob := newClient(t, svc)
	bob.call("POST", "/api/v1/login", `{"username":"bob","password":"`+testPW+`"}`)
	if v := check(svc, strict, bob.session()); v.Outcome != StepUp {
		t.Fatalf("password-only session on a require_2fa app: %v", v.Outcome)
	}

	// olga, the owner, sets up TOTP before making 2FA mandatory.
	olga := newClient(t, svc)
	olga.call("POST", "/api/v1/login", `{"username":"olga","password":"`+testPW+`"}`)
	_, body := olga.call("POST", "/api/v1/me/totp", "")
	olgaSecret := decodeBody[TOTPEnrollment](t, body).Secret
	if got, body := olga.call("POST", "/api/v1/me/totp/confirm", `{"code":"`+code(t, olgaSecret, clk.Now())+`"}`); got != 200 {
		t.Fatalf("olga enroll: %d %s", got, body)
	}
	// Her session is password-only: turning 2FA on would end it, so she
	// is asked to sign in with her second factor first, and stays signed
	// in.
	if got, body := olga.call("PATCH", "/api/v1/settings", `{"require_2fa":true}`); got != 409 || !strings.Contains(body, "sign in again with your second factor first") {
		t.Fatalf("settings from a password-only session: %d %s", got, body)
	}
	if got, _ := olga.call("GET", "/api/v1/me", ""); got != 200 {
		t.Fatalf("olga was signed out: %d", got)
	}
	clk.Advance(30 * time.Second)
	olga = newClient(t, svc)
	olga.call("POST", "/api/v1/login", `{"username":"olga","password":"`+testPW+`"}`)
	if got, body := olga.call("POST", "/api/v1/login/totp", `{"code":"`+code(t, olgaSecret, clk.Now())+`"}`); got != 200 {
		t.Fatalf("olga's second step: %d %s", got, body)
	}
	if got, body := olga.call("PATCH", "/api/v1/settings", `{"require_2fa":true}`); got != 200 {
		t.Fatalf("settings: %d %s", got, body)
	}
	if got, _ := olga.call("GET", "/api/v1/me", ""); got != 200 {
		t.Fatalf("olga's two-factor session ended: %d", got)
	}
	if got, _ := bob.call("GET", "/api/v1/me", ""); got != 401 {
		t.Fatalf("bob's session survived mandatory 2FA: %d", got)
	}
	bob = newClient(t, svc)
	got, body := bob.call("POST", "/api/v1/login", `{"username":"bob","password":"`+testPW+`"}`)
	if got != 200 || !strings.Contains(body, `"enrollment_required":true`) || bob.session() != nil {
		t.Fatalf("login under mandatory 2FA: %d %s", got, body)
	}
	if got, _ := bob.call("POST", "/api/v1/login/totp", `{"code":"123456"}`); got != 403 {
		t.Errorf("second step before enrollment: %d", got)
	}
	// The enrollment page shows the QR code inline (html/template must not
	// have defused the data: URL).
	if got, page := bob.call("GET", "/login/enroll", ""); got != 200 || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Errorf("enroll page: %d, QR code missing", got)
	}
	got, body = bob.call("POST", "/api/v1/login/enroll/totp", "")
	if got != 200 {
		t.Fatalf("enroll: %d %s", got, body)
	}
	e := decodeBody[TOTPEnrollment](t, body)
	got, body = bob.call("POST", "/api/v1/login/enroll/totp/confirm", `{"code":"`+code(t, e.Secret, clk.Now())+`"}`)
	if got != 200 || !strings.Contains(body, "backup_codes") || bob.session() == nil {
		t.Fatalf("enroll confirm: %d %s", got, body)
	}
	if v := check(svc, strict, bob.session()); v.Outcome != Allow {
		t.Fatalf("2FA session on a require_2fa app: %v", v.Outcome)
	}

	// An admin removes bob's factors: his next login must enroll again.
	clk.Advance(time.Minute)
	olga = newClient(t, svc)
	olga.call("POST", "/api/v1/login", `{"username":"olga","password":"`+testPW+`"}`)
	if got, body := olga.call("POST", "/api/v1/login/totp", `{"code":"`+code(t, olgaSecret, clk.Now())+`"}`); got != 200 {
		t.Fatalf("olga second step: %d %s", got, body)
	}
	if got, body := olga.call("DELETE", "/api/v1/users/bob/2fa", ""); got != 204 {
		t.Fatalf("reset bob's factors: %d %s", got, body)
	}
	bob = newClient(t, svc)
	if _, body := bob.call("POST", "/api/v1/login", `{"username":"bob","password":"`+testPW+`"}`); !strings.Contains(body, `"enrollment_required":true`) {
		t.Fatalf("bob after reset: %s", body)
	}
}
