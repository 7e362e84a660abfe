package caddymodule

import (
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
	wrongAPI := func(c *http.Client) *http.Response {
		resp, _ := do(t, c, "POST", h.portalURL("/api/v1/login"), strings.NewReader(`{"username":"nobody","password":"Wrong-passw0rd"}`), jsonAPI)
		return resp
	}
	wrongForm := func(c *http.Client) *http.Response {
		body, hdr := formBody("username", "nobody", "password", "Wrong-passw0rd")
		resp, _ := do(t, c, "POST", h.portalURL("/login"), body, hdr)
		return resp
	}
	tests := []struct {
		name   string
		ip     string
		signIn signIn
		ok     int
		wrong  func(*http.Client) *http.Response
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
			// Mixed until refused: a wrong attempt, then a right one.
			start := time.Now()
			var (
				wrong   int
				refused *http.Response
				held    time.Duration
			)
			for refused == nil && wrong < 40 {
				at := time.Now()
				resp := tc.wrong(secClientAt(t, tc.ip))
				if resp.StatusCode == http.StatusTooManyRequests {
					refused, held = resp, time.Since(at)
					break
				}
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("wrong attempt %d: %d, want 401", wrong+1, resp.StatusCode)
				}
				wrong++
				at = time.Now()
				resp = tc.signIn(secClientAt(t, tc.ip), alicePW)
				switch resp.StatusCode {
				case tc.ok:
				case http.StatusTooManyRequests:
					refused, held = resp, time.Since(at)
				default:
					t.Fatalf("right sign-in after %d wrong: %d, want %d", wrong, resp.StatusCode, tc.ok)
				}
			}
			if refused == nil {
				t.Fatalf("%d wrong attempts and no 429", wrong)
			}
			secCheckBudget(t, wrong, time.Since(start))
			if n, err := strconv.Atoi(refused.Header.Get("Retry-After")); err != nil || n < 1 {
				t.Errorf("Retry-After %q", refused.Header.Get("Retry-After"))
			}
			if held < 900*time.Millisecond {
				t.Errorf("429 answered after %v, want it held about a second", held)
			}
			// Another address is not affected.
			if resp := tc.signIn(secClientAt(t, tc.ip+"0"), alicePW); resp.StatusCode != tc.ok {
				t.Errorf("another address: %d", resp.StatusCode)
			}
		})
	}
}

// secCheckBudget checks that wrong failures went through before the 429,
// the loop having taken took: 10, plus one for every 6 s it took (the
// budget refills meanwhile, which a slow machine shows). Fewer means
// something else was counted; more, that failures were not.
func secCheckBudget(t *testing.T, wrong int, took time.Duration) {
	t.Helper()
	if most := 10 + int(took/(6*time.Second)) + 1; wrong < 10 || wrong > most {
		t.Fatalf("%d failures went through before the 429 (in %v), want 10 to %d", wrong, took.Round(time.Millisecond), most)
	}
}

// TestSecurityThrottleSecondStep: right second-step codes are not counted
// either; wrong ones are.
func TestSecurityThrottleSecondStep(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("alice", alicePW, "user")
	const ip = "198.51.100.33"
	codes := secSignInAndEnrollTOTP(t, h, h.client(), "alice", alicePW).BackupCodes

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
	// Wrong codes are counted: the password right, then a wrong code, five
	// times (the account's own lockout then refuses the codes, which still
	// count), then wrong passwords until the 429.
	c := secClientAt(t, ip)
	if got, b := secAPI(t, h, c, "POST", "/api/v1/login", `{"username":"alice","password":"`+alicePW+`"}`); got != 200 {
		t.Fatalf("password: %d %s", got, b)
	}
	start := time.Now()
	wrong := 0
	for i := range 5 {
		got, b := secAPI(t, h, c, "POST", "/api/v1/login/totp", `{"code":"000000"}`)
		if got != 401 {
			t.Fatalf("wrong code %d: %d %s", i+1, got, b)
		}
		wrong++
	}
	for wrong < 40 {
		got, b := secAPI(t, h, secClientAt(t, ip), "POST", "/api/v1/login", `{"username":"nobody","password":"x"}`)
		if got == http.StatusTooManyRequests {
			break
		}
		if got != 401 {
			t.Fatalf("wrong password: %d %s", got, b)
		}
		wrong++
	}
	secCheckBudget(t, wrong, time.Since(start))
}

// totpEnrollment is what enrolling TOTP through the API gives back.
type totpEnrollment struct {
	Secret      string
	BackupCodes []string `json:"backup_codes"`
}

// secSignInAndEnrollTOTP signs c in as user and enrolls TOTP (see
// secEnrollTOTP).
func secSignInAndEnrollTOTP(t *testing.T, h *harness, c *http.Client, user, pw string) totpEnrollment {
	t.Helper()
	h.apiLogin(c, user, pw)
	secret, codes := secEnrollTOTP(t, h, c)
	return totpEnrollment{Secret: secret, BackupCodes: codes}
}
