package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Principle 4 (DESIGN §6): the per-address sign-in throttle counts
// failures only. An office behind one NAT address signs in as often as it
// likes; a wrong password, code or link spends the address's budget of 10.

// secClientAt is a fresh browser (empty cookie jar) that comes from ip,
// like every person behind one NAT address.
func secClientAt(t *testing.T, ip string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     forwardedFor{ip: ip, next: noKeepAlive},
	}
}

// TestSecurityThrottleCountsFailuresOnly: through the API and the form, 30
// right sign-ins from one address within a minute all succeed; wrong ones
// mixed in are the only ones counted, and the 11th wrong one (or anything
// after it) gets the held 429 with Retry-After.
func TestSecurityThrottleCountsFailuresOnly(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("alice", alicePW, "user")

	type signIn func(c *http.Client, pw string) *http.Response
	api := func(c *http.Client, pw string) *http.Response {
		resp, _ := do(t, c, "POST", h.portalURL("/api/v1/login"),
			strings.NewReader(`{"username":"alice","password":"`+pw+`"}`), jsonAPI)
		return resp
	}
	form := func(c *http.Client, pw string) *http.Response {
		body, hdr := formBody("username", "alice", "password", pw)
		resp, _ := do(t, c, "POST", h.portalURL("/login"), body, hdr)
		return resp
	}
	// Wrong attempts name nobody, so alice's account lockout stays out of
	// the way: only the address's budget is under test.
	wrongAPI := func(c *http.Client) int {
		resp, _ := do(t, c, "POST", h.portalURL("/api/v1/login"), strings.NewReader(`{"username":"nobody","password":"Wrong-passw0rd"}`), jsonAPI)
		return resp.StatusCode
	}
	wrongForm := func(c *http.Client) int {
		body, hdr := formBody("username", "nobody", "password", "Wrong-passw0rd")
		resp, _ := do(t, c, "POST", h.portalURL("/login"), body, hdr)
		return resp.StatusCode
	}
	tests := []struct {
		name   string
		ip     string
		signIn signIn
		ok     int
		wrong  func(*http.Client) int
	}{
		{"API", "198.51.100.31", api, http.StatusOK, wrongAPI},
		{"form", "198.51.100.32", form, http.StatusSeeOther, wrongForm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 30 {
				if resp := tc.signIn(secClientAt(t, tc.ip), alicePW); resp.StatusCode != tc.ok {
					t.Fatalf("right sign-in %d from one address: %d, want %d", i+1, resp.StatusCode, tc.ok)
				}
			}
			// Mixed: ten wrong, a right one after each of the first nine.
			for i := range 10 {
				if got := tc.wrong(secClientAt(t, tc.ip)); got != http.StatusUnauthorized {
					t.Fatalf("wrong attempt %d: %d, want 401", i+1, got)
				}
				if i == 9 {
					break
				}
				if resp := tc.signIn(secClientAt(t, tc.ip), alicePW); resp.StatusCode != tc.ok {
					t.Fatalf("right sign-in after %d wrong: %d, want %d", i+1, resp.StatusCode, tc.ok)
				}
			}
			start := time.Now()
			resp := tc.signIn(secClientAt(t, tc.ip), alicePW)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("after 10 wrong attempts: %d, want 429", resp.StatusCode)
			}
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if took := time.Since(start); took < 900*time.Millisecond {
				t.Errorf("429 answered after %v, want it held about a second", took)
			}
			// Another address is not affected.
			if resp := tc.signIn(secClientAt(t, tc.ip+"0"), alicePW); resp.StatusCode != tc.ok {
				t.Errorf("another address: %d", resp.StatusCode)
			}
		})
	}
}

// TestSecurityThrottleSecondStep: right second-step codes are not counted
// either; wrong ones are.
func TestSecurityThrottleSecondStep(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("alice", alicePW, "user")
	const ip = "198.51.100.33"
	codes := secEnrollTOTP(t, h, h.client(), "alice", alicePW).BackupCodes

	// Six complete sign-ins (password, then a backup code): 12 throttled
	// requests, all right, none counted.
	for i := range 6 {
		c := secClientAt(t, ip)
		if got, b := secAPI(t, h, c, "POST", "/api/v1/login", `{"username":"alice","password":"`+alicePW+`"}`); got != 200 {
			t.Fatalf("password %d: %d %s", i+1, got, b)
		}
		if got, b := secAPI(t, h, c, "POST", "/api/v1/login/backup-code", `{"code":"`+codes[i]+`"}`); got != 200 {
			t.Fatalf("backup code %d: %d %s", i+1, got, b)
		}
	}
	// Wrong codes are counted: the password right, then a wrong code,
	// five times (the account's own lockout then refuses the codes, which
	// still count), and five wrong passwords make ten failures.
	c := secClientAt(t, ip)
	if got, b := secAPI(t, h, c, "POST", "/api/v1/login", `{"username":"alice","password":"`+alicePW+`"}`); got != 200 {
		t.Fatalf("password: %d %s", got, b)
	}
	for i := range 5 {
		if got, b := secAPI(t, h, c, "POST", "/api/v1/login/totp", `{"code":"000000"}`); got != 401 {
			t.Fatalf("wrong code %d: %d %s", i+1, got, b)
		}
	}
	for i := range 5 {
		if got, b := secAPI(t, h, secClientAt(t, ip), "POST", "/api/v1/login", `{"username":"nobody","password":"x"}`); got != 401 {
			t.Fatalf("wrong password %d: %d %s", i+1, got, b)
		}
	}
	if got, _ := secAPI(t, h, c, "POST", "/api/v1/login/backup-code", `{"code":"`+codes[6]+`"}`); got != http.StatusTooManyRequests {
		t.Fatalf("after 10 failures: %d, want 429", got)
	}
}

// totpEnrollment is what enrolling TOTP through the API gives back.
type totpEnrollment struct {
	Secret      string
	BackupCodes []string `json:"backup_codes"`
}

// secEnrollTOTP signs c in as user and enrolls TOTP, returning the secret
// and the backup codes.
func secEnrollTOTP(t *testing.T, h *harness, c *http.Client, user, pw string) totpEnrollment {
	t.Helper()
	h.apiLogin(c, user, pw)
	var e totpEnrollment
	got, b := secAPI(t, h, c, "POST", "/api/v1/me/totp", "")
	if got != 200 || json.Unmarshal(b, &e) != nil || e.Secret == "" {
		t.Fatalf("begin TOTP: %d %s", got, b)
	}
	// Later steps of the same code are used by the tests' sign-ins.
	got, b = secAPI(t, h, c, "POST", "/api/v1/me/totp/confirm", `{"code":"`+totpCode(t, e.Secret, time.Now().Add(-30*time.Second))+`"}`)
	if got != 200 || json.Unmarshal(b, &e) != nil || len(e.BackupCodes) < 8 {
		t.Fatalf("confirm TOTP: %d %s", got, b)
	}
	return e
}
