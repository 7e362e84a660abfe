package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// The portal's tests do not wait for held refusals; TestThrottleHoldsRefusals
// sets its own delay.
func init() { throttleDelay = 0 }

// fromIP sends one request from ip through svc.ServeHTTP: a JSON body for
// /api/ paths, a URL-encoded form otherwise.
func fromIP(t *testing.T, svc *Service, ip, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "https://auth.example.com"+path, strings.NewReader(body))
	req.RemoteAddr = netJoin(ip, "40000")
	if method == http.MethodPost {
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "text/html")
		}
	}
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, req)
	return rec
}

func netJoin(ip, port string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + port
	}
	return ip + ":" + port
}

// retryAfter returns the Retry-After seconds of a 429, failing the test
// when it is missing or below 1.
func retryAfter(t *testing.T, rec *httptest.ResponseRecorder) int {
	t.Helper()
	n, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds ≥ 1", rec.Header().Get("Retry-After"))
	}
	return n
}

// TestThrottleLogin: after 10 quick failures from one IP the next login is
// refused with 429, Retry-After and the JSON error (even with the right
// password); another IP is unaffected; the HTML form gets the 429 page;
// attempts come back with the service's clock.
func TestThrottleLogin(t *testing.T) {
	svc, _, clk := newTestService(t)
	mustUser(t, svc, "alice", policies.RoleUser)
	const ipA, ipB = "198.51.100.7", "203.0.113.9"
	good := `{"username":"alice","password":"` + testPW + `"}`
	bad := `{"username":"nobody","password":"nope"}` // unknown user: no lockout of alice
	form := url.Values{"username": {"alice"}, "password": {testPW}}.Encode()

	// The burst: 10 failures go through to the handler; a success on the
	// way costs nothing.
	for i := range throttleBurst + 1 {
		body, want := bad, http.StatusUnauthorized
		if i == 0 {
			body, want = good, http.StatusOK
		}
		if rec := fromIP(t, svc, ipA, "POST", "/api/v1/login", body); rec.Code != want {
			t.Fatalf("attempt %d: %d %s, want %d", i+1, rec.Code, rec.Body, want)
		}
	}

	steps := []struct {
		name    string
		advance time.Duration
		ip      string
		html    bool // the login form rather than the API
		body    string
		want    int
		// maxRetry, for a 429, is the largest Retry-After expected.
		maxRetry int
	}{
		{name: "11th attempt, right password", ip: ipA, body: good, want: http.StatusTooManyRequests, maxRetry: 6},
		{name: "another IP is unaffected", ip: ipB, body: good, want: http.StatusOK},
		{name: "the HTML form gets the page", ip: ipA, html: true, body: form, want: http.StatusTooManyRequests, maxRetry: 6},
		{name: "5 s later: still refused", advance: 5 * time.Second, ip: ipA, body: good, want: http.StatusTooManyRequests, maxRetry: 1},
		{name: "6 s later: one attempt is back", advance: time.Second, ip: ipA, body: bad, want: http.StatusUnauthorized},
		{name: "and only one", ip: ipA, body: bad, want: http.StatusTooManyRequests, maxRetry: 6},
		{name: "a minute later: the full burst", advance: throttleIdle, ip: ipA, body: bad, want: http.StatusUnauthorized},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		var rec *httptest.ResponseRecorder
		if st.html {
			rec = fromIP(t, svc, st.ip, "POST", "/login", st.body)
		} else {
			rec = fromIP(t, svc, st.ip, "POST", "/api/v1/login", st.body)
		}
		if rec.Code != st.want {
			t.Fatalf("%s: %d %s, want %d", st.name, rec.Code, rec.Body, st.want)
		}
		if st.want != http.StatusTooManyRequests {
			if h := rec.Header().Get("Retry-After"); h != "" {
				t.Errorf("%s: Retry-After %q on a %d", st.name, h, rec.Code)
			}
			continue
		}
		secs := retryAfter(t, rec)
		if secs > st.maxRetry {
			t.Errorf("%s: Retry-After %d, want ≤ %d", st.name, secs, st.maxRetry)
		}
		if st.html {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: Content-Type %q", st.name, ct)
			}
			if b := rec.Body.String(); !strings.Contains(b, "Too many attempts") || !strings.Contains(b, "Try again in "+strconv.Itoa(secs)+" seconds") {
				t.Errorf("%s: page lacks the message:\n%s", st.name, b)
			}
			continue
		}
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: body %s: %v", st.name, rec.Body, err)
		}
		if want := fmt.Sprintf("too many attempts, try again in %d seconds", secs); got["error"] != want {
			t.Errorf("%s: error %q, want %q", st.name, got["error"], want)
		}
	}
}

// TestThrottledRoutes: every route that checks a secret draws on the IP's
// attempts, and pages that only show a form do not.
func TestThrottledRoutes(t *testing.T) {
	svc, _, _ := newTestService(t)
	bogus := strings.Repeat("A", 43) // well formed, unknown
	routes := []struct {
		method, path, body string
		throttled          bool
	}{
		{"POST", "/login", "username=x&password=y", true},
		{"POST", "/api/v1/login", `{"username":"x","password":"y"}`, true},
		{"POST", "/api/v1/password/forgot", `{"login":"x"}`, true},
		{"POST", "/forgot", "login=x", true},
		{"POST", "/reset/" + bogus, "password=x&password2=x", true},
		{"POST", "/invite/" + bogus, "username=x", true},
		{"POST", "/setup", "token=" + bogus, true},
		{"POST", "/owner-login/" + bogus, "", true},
		{"POST", "/api/v1/login/totp", `{"code":"123456"}`, true},
		{"POST", "/api/v1/login/backup-code", `{"code":"x"}`, true},
		{"POST", "/api/v1/login/enroll/totp", `{}`, true},
		{"POST", "/api/v1/login/enroll/totp/confirm", `{"code":"123456"}`, true},
		{"POST", "/api/v1/login/webauthn/begin", `{"passkey":1}`, true},
		{"POST", "/api/v1/login/webauthn/finish", `{}`, true},
		{"POST", "/login/2fa", "code=123456", true},
		{"POST", "/login/enroll", "code=123456", true},
		{"GET", "/login", "", false},
		{"GET", "/forgot", "", false},
		{"GET", "/owner-login/" + bogus, "", false},
	}
	for i, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			ip := fmt.Sprintf("192.0.2.%d", i+1) // a fresh bucket per route
			for n := range throttleBurst {
				if rec := fromIP(t, svc, ip, rt.method, rt.path, rt.body); rec.Code == http.StatusTooManyRequests {
					t.Fatalf("attempt %d refused", n+1)
				}
			}
			rec := fromIP(t, svc, ip, rt.method, rt.path, rt.body)
			if got := rec.Code == http.StatusTooManyRequests; got != rt.throttled {
				t.Fatalf("11th request: %d, throttled = %v, want %v", rec.Code, got, rt.throttled)
			}
			if !rt.throttled {
				return
			}
			retryAfter(t, rec)
			isJSON := strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json")
			if wantJSON := strings.HasPrefix(rt.path, "/api/"); isJSON != wantJSON {
				t.Errorf("Content-Type %q for %s", rec.Header().Get("Content-Type"), rt.path)
			}
		})
	}
}

// TestThrottleMemoryBound: the map never holds more than its cap; idle
// entries (whose bucket is full again) are swept first and only they.
func TestThrottleMemoryBound(t *testing.T) {
	svc, _, clk := newTestService(t)
	tests := []struct {
		name     string
		th       *throttle
		capacity int
	}{
		{"the service's throttle", svc.throttle, throttleMaxClients},
		{"a small one", newThrottle(50, throttleBurst), 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := clk.Now()
			for i := range tc.capacity + tc.capacity/2 + 7 {
				tc.th.take(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), now)
				if n := tc.th.len(); n > tc.capacity {
					t.Fatalf("after %d IPs: %d tracked, cap %d", i+1, n, tc.capacity)
				}
			}
			if n := tc.th.len(); n != tc.capacity {
				t.Fatalf("%d tracked, want the cap %d", n, tc.capacity)
			}

			// An IP that keeps trying stays throttled across a sweep;
			// the idle ones go.
			later := now.Add(throttleIdle)
			busy := "172.16.0.1"
			for range throttleBurst {
				tc.th.take(busy, later.Add(-time.Second))
			}
			if d, _ := tc.th.take(busy, later.Add(-time.Second)); d <= 0 {
				t.Fatal("busy IP not throttled")
			}
			if tc.th.len() > tc.capacity {
				t.Fatalf("%d tracked, cap %d", tc.th.len(), tc.capacity)
			}
			tc.th.take("172.16.0.2", later)
			if n := tc.th.len(); n != 2 {
				t.Fatalf("after the sweep: %d tracked, want 2 (the busy IP and the new one)", n)
			}
			if d, _ := tc.th.take(busy, later); d <= 0 {
				t.Fatal("the sweep forgot a throttled IP")
			}
		})
	}
}

// TestThrottleKey: IPv6 clients share a bucket per /64; IPv4 (also
// IPv4-mapped) per address.
func TestThrottleKey(t *testing.T) {
	tests := []struct{ a, b string }{
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff::9"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"fe80::1%eth0", "fe80::2"},
		{"not-an-ip", "not-an-ip"},
	}
	for _, tc := range tests {
		if ka, kb := throttleKey(tc.a), throttleKey(tc.b); ka != kb {
			t.Errorf("throttleKey(%q) = %q, throttleKey(%q) = %q: want one bucket", tc.a, ka, tc.b, kb)
		}
	}
	for _, pair := range [][2]string{{"2001:db8:1:2::1", "2001:db8:1:3::1"}, {"192.0.2.1", "192.0.2.2"}} {
		if throttleKey(pair[0]) == throttleKey(pair[1]) {
			t.Errorf("%s and %s share a bucket", pair[0], pair[1])
		}
	}
}

// TestThrottleHoldsRefusals: a refused attempt is answered after
// throttleDelay, unless maxHeld refusals are already held, and a client
// that goes away is let go at once.
func TestThrottleHoldsRefusals(t *testing.T) {
	old := throttleDelay
	throttleDelay = 300 * time.Millisecond
	t.Cleanup(func() { throttleDelay = old })
	svc, _, _ := newTestService(t)
	const ip = "198.51.100.8"
	bad := `{"username":"nobody","password":"nope"}`
	for range throttleBurst {
		fromIP(t, svc, ip, "POST", "/api/v1/login", bad)
	}
	start := time.Now()
	if rec := fromIP(t, svc, ip, "POST", "/api/v1/login", bad); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("after the burst: %d", rec.Code)
	}
	if took := time.Since(start); took < throttleDelay {
		t.Errorf("refusal answered after %v; want it held %v", took, throttleDelay)
	}
	// All holding places taken: the refusal is immediate.
	for range maxHeld {
		svc.throttle.held <- struct{}{}
	}
	start = time.Now()
	if rec := fromIP(t, svc, ip, "POST", "/api/v1/login", bad); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("with every place taken: %d", rec.Code)
	}
	if took := time.Since(start); took >= throttleDelay {
		t.Errorf("with every place taken the refusal took %v; want it at once", took)
	}
	for range maxHeld {
		<-svc.throttle.held
	}
}

// TestBusySignInHeld: when the hashing pool is full, the 503 is held like
// a 429 (a distributed flood then gets one answer a second per connection).
func TestBusySignInHeld(t *testing.T) {
	old := throttleDelay
	throttleDelay = 300 * time.Millisecond
	t.Cleanup(func() { throttleDelay = old })
	// One worker that rests a thousand times as long as each hash took
	// (holding its place), and no waiting: the second attempt finds the
	// pool full.
	svc, _, _ := newTestServiceHashing(t, password.NewHasher(password.HasherOptions{
		Params:     password.Params{Memory: 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		Workers:    1,
		MaxWaiting: -1,
		Duty:       0.001,
	}))
	bad := `{"username":"nobody","password":"nope"}`
	if rec := fromIP(t, svc, "198.51.100.9", "POST", "/api/v1/login", bad); rec.Code != http.StatusUnauthorized {
		t.Fatalf("first attempt: %d %s", rec.Code, rec.Body)
	}
	start := time.Now()
	rec := fromIP(t, svc, "198.51.100.10", "POST", "/api/v1/login", bad)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("with the pool full: %d %s", rec.Code, rec.Body)
	}
	if took := time.Since(start); took < throttleDelay {
		t.Errorf("busy answer after %v; want it held %v", took, throttleDelay)
	}
	if got := rec.Header().Get("Retry-After"); got == "" {
		t.Error("busy answer without Retry-After")
	}
}

// TestThrottleCountsFailuresOnly: right passwords never spend the IP's
// attempts, wrong ones do, in any order.
func TestThrottleCountsFailuresOnly(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "alice", policies.RoleUser)
	good := `{"username":"alice","password":"` + testPW + `"}`
	bad := `{"username":"nobody","password":"nope"}`
	const ip = "198.51.100.20"
	for i := range 3 * throttleBurst {
		if rec := fromIP(t, svc, ip, "POST", "/api/v1/login", good); rec.Code != http.StatusOK {
			t.Fatalf("right password %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	for i := range throttleBurst {
		if rec := fromIP(t, svc, ip, "POST", "/api/v1/login", bad); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, rec.Code, rec.Body)
		}
		if i == throttleBurst-1 {
			break
		}
		if rec := fromIP(t, svc, ip, "POST", "/api/v1/login", good); rec.Code != http.StatusOK {
			t.Fatalf("right password after failure %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	if rec := fromIP(t, svc, ip, "POST", "/api/v1/login", good); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("after 10 failures: %d, want 429", rec.Code)
	}
}

// TestThrottleParallelFlood: attempts sent all at once cannot get past the
// budget: each is charged before it is checked, so at most throttleBurst
// reach the handler.
func TestThrottleParallelFlood(t *testing.T) {
	svc, _, _ := newTestService(t)
	bad := `{"username":"nobody","password":"nope"}`
	const n = 40
	codes := make(chan int, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			codes <- fromIP(t, svc, "198.51.100.21", "POST", "/api/v1/login", bad).Code
		}()
	}
	close(start)
	checked := 0
	for range n {
		switch c := <-codes; c {
		case http.StatusTooManyRequests:
		case http.StatusUnauthorized, http.StatusServiceUnavailable:
			checked++
		default:
			t.Errorf("status %d", c)
		}
	}
	if checked > throttleBurst {
		t.Fatalf("%d attempts reached the handler, want at most %d", checked, throttleBurst)
	}
}

// TestThrottleRefund: a refund gives back what take spent, never more than
// the burst.
func TestThrottleRefund(t *testing.T) {
	th := newThrottle(10, throttleBurst)
	now := time.Unix(1e9, 0)
	for range throttleBurst {
		if d, _ := th.take("a", now); d > 0 {
			t.Fatal("refused within the burst")
		}
	}
	if d, _ := th.take("a", now); d <= 0 {
		t.Fatal("not refused past the burst")
	}
	th.refund("a", now)
	if d, _ := th.take("a", now); d > 0 {
		t.Fatal("a refunded attempt is not available")
	}
	for range 3 * throttleBurst {
		th.refund("a", now)
	}
	for range throttleBurst {
		th.take("a", now)
	}
	if d, _ := th.take("a", now); d <= 0 {
		t.Fatal("refunds grew the bucket past its burst")
	}
}

// TestThrottleRefundsRightLinks: a valid reset or invitation link spends
// nothing, even when the form around it is wrong (mismatched passwords);
// a bogus link spends one attempt each.
func TestThrottleRefundsRightLinks(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "bob", policies.RoleUser)
	owner := newClient(t, svc)
	if got, body := owner.call("POST", "/api/v1/login", `{"username":"olga","password":"`+testPW+`"}`); got != 200 {
		t.Fatalf("login: %d %s", got, body)
	}
	linkPath := func(path, body string) string {
		got, b := owner.call("POST", path, body)
		var v struct{ Link string }
		if err := json.Unmarshal([]byte(b), &v); got != 201 || err != nil || v.Link == "" {
			t.Fatalf("%s: %d %s", path, got, b)
		}
		u, _ := url.Parse(v.Link)
		return u.Path
	}
	mismatch := url.Values{"username": {"newbie"}, "password": {testPW}, "password2": {testPW + "x"}}.Encode()
	tests := []struct {
		name, path string
		counted    bool
	}{
		{"reset link", linkPath("/api/v1/users/bob/reset-link", `{}`), false},
		{"invitation", linkPath("/api/v1/invitations", `{"email":"new@example.com"}`), false},
		{"bogus reset link", "/reset/" + strings.Repeat("A", 43), true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip := fmt.Sprintf("192.0.2.%d", 100+i)
			for n := range 2 * throttleBurst {
				rec := fromIP(t, svc, ip, "POST", tc.path, mismatch)
				if throttled := rec.Code == http.StatusTooManyRequests; throttled != (tc.counted && n >= throttleBurst) {
					t.Fatalf("attempt %d: %d", n+1, rec.Code)
				}
			}
		})
	}
}
