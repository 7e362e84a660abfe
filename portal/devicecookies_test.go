package portal

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// deviceCookieOf signs u in through the API from a fresh client and
// returns the device cookie it got.
func deviceCookieOf(t *testing.T, svc *Service, name string) *http.Cookie {
	t.Helper()
	c := newClient(t, svc)
	if got, body := c.call("POST", "/api/v1/login", `{"username":"`+name+`","password":"`+testPW+`"}`); got != 200 {
		t.Fatalf("login %s: %d %s", name, got, body)
	}
	ck := c.cookies[DefaultCookieName+deviceCookieSuffix]
	if ck == nil {
		t.Fatalf("no device cookie for %s", name)
	}
	return ck
}

// TestTrustedDevice: only an entry for the user, signed for that user's
// account, makes a trusted device.
func TestTrustedDevice(t *testing.T) {
	svc, _, _ := newTestService(t)
	alice := mustUser(t, svc, "alice", policies.RoleUser)
	bob := mustUser(t, svc, "bob", policies.RoleUser)
	a, b := deviceCookieOf(t, svc, "alice").Value, deviceCookieOf(t, svc, "bob").Value
	f := strings.Split(a, deviceFieldSep)
	tests := []struct {
		name, value string
		alice, bob  bool // trusted for
	}{
		{"alice's own", a, true, false},
		{"bob's own", b, false, true},
		{"both in one cookie", b + deviceEntrySep + a, true, true},
		{"alice's relabelled for bob", "bob" + deviceFieldSep + f[1] + deviceFieldSep + f[2], false, false},
		{"bad signature", f[0] + deviceFieldSep + f[1] + deviceFieldSep + strings.Repeat("A", len(f[2])), false, false},
		{"another nonce", f[0] + deviceFieldSep + strings.Repeat("A", len(f[1])) + deviceFieldSep + f[2], false, false},
		{"no signature", f[0] + deviceFieldSep + f[1], false, false},
		{"garbage", "x:y:z~~::", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "https://auth.example.com/api/v1/login", nil)
			req.AddCookie(&http.Cookie{Name: DefaultCookieName + deviceCookieSuffix, Value: tc.value})
			if got := svc.core.Auth.TrustedDevice(svc.clientActor(req), alice) != ""; got != tc.alice {
				t.Errorf("trusted for alice = %v, want %v", got, tc.alice)
			}
			if got := svc.core.Auth.TrustedDevice(svc.clientActor(req), bob) != ""; got != tc.bob {
				t.Errorf("trusted for bob = %v, want %v", got, tc.bob)
			}
		})
	}

	// A new sign-in of the same user keeps the nonce; one of another user
	// is added in front; a sixth user drops the oldest.
	c := newClient(t, svc)
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	for _, n := range users[2:] {
		mustUser(t, svc, n, policies.RoleUser)
	}
	var first string
	for i, n := range append(users, "alice") {
		if got, body := c.call("POST", "/api/v1/login", `{"username":"`+n+`","password":"`+testPW+`"}`); got != 200 {
			t.Fatalf("login %s: %d %s", n, got, body)
		}
		v := c.cookies[DefaultCookieName+deviceCookieSuffix].Value
		entries := strings.Split(v, deviceEntrySep)
		if !strings.HasPrefix(entries[0], n+deviceFieldSep) || len(entries) > maxDeviceEntries {
			t.Fatalf("after %s: %q", n, v)
		}
		if i == 0 {
			first = entries[0]
		}
		if i == len(users) && entries[0] == first {
			t.Errorf("alice's entry survived five newer users: %q", v)
		}
	}
}

// TestDeviceLockExpires: a trusted device that failed the threshold is
// locked for the lockout duration, then trusted again; the account is not
// locked by it, and a completed sign-in from the device clears its count.
func TestDeviceLockExpires(t *testing.T) {
	svc, _, clk := newTestService(t)
	alice := mustUser(t, svc, "alice", policies.RoleUser)
	c := newClient(t, svc)
	try := func(pw string) int {
		clk.Advance(throttleEvery) // one address: keep clear of its throttle
		got, _ := c.call("POST", "/api/v1/login", `{"username":"alice","password":"`+pw+`"}`)
		return got
	}
	if try(testPW) != 200 {
		t.Fatal("first sign-in")
	}
	// Four failures, then a success: the count starts again.
	for range 4 {
		try("wrong")
	}
	if try(testPW) != 200 {
		t.Fatal("sign-in after 4 failures")
	}
	for range 4 {
		try("wrong")
	}
	if try(testPW) != 200 {
		t.Fatal("a success did not clear the device's count")
	}
	for range 5 {
		try("wrong")
	}
	if got := try(testPW); got != 401 {
		t.Fatalf("locked device: %d", got)
	}
	if locked, _ := svc.core.Auth.Locked(alice); locked {
		t.Error("the device's failures locked the account")
	}
	if got, _ := newClient(t, svc).call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`); got != 200 {
		t.Errorf("a new device while only a device is locked: %d", got)
	}
	clk.Advance(30*time.Minute + time.Second)
	if got := try(testPW); got != 200 {
		t.Fatalf("after the lockout duration: %d", got)
	}
}
