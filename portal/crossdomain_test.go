package portal

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// handoffCode runs a sign-in to x's app for the portal session ck up to
// the portal's redirect with the code, and returns the code's URL and the
// state cookie the guard set.
func handoffCode(t *testing.T, svc *Service, x *HostSignIn, ck *http.Cookie) (string, *http.Cookie) {
	t.Helper()
	req := httptest.NewRequest("GET", "https://photos.example.org/albums", nil)
	req.Header.Set("Accept", "text/html")
	v := svc.Check(req, x.app)
	rec := httptest.NewRecorder()
	if v.Outcome != SignIn || !x.Refuse(rec, req, v, "https://photos.example.org/albums") {
		t.Fatalf("the guard did not begin the sign-in: %v", v.Outcome)
	}
	var state *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "__Host-gatehouse_session_state" {
			state = c
		}
	}
	if state == nil {
		t.Fatalf("no state cookie: %v", rec.Result().Header)
	}
	req = httptest.NewRequest("GET", rec.Result().Header.Get("Location"), nil)
	req.AddCookie(ck)
	rec = httptest.NewRecorder()
	svc.ServeHTTP(rec, req)
	loc := rec.Result().Header.Get("Location")
	if rec.Code != http.StatusFound || !strings.HasPrefix(loc, "https://photos.example.org"+core.HandoffPath+"?code=") {
		t.Fatalf("handoff page: %d %q %s", rec.Code, loc, rec.Body)
	}
	if got := rec.Header().Get("Location"); strings.Contains(got, loc[strings.Index(loc, "=")+1:]) {
		t.Errorf("the Location left for the access log holds the code: %q", got)
	}
	return loc, state
}

// TestHandoffCodeLifetime: with a fake clock, a sign-in code works until
// core.HandoffLifetime (30 s) is over, then it is refused with no cookie.
func TestHandoffCodeLifetime(t *testing.T) {
	if core.HandoffLifetime > 30*time.Second {
		t.Fatalf("a sign-in code lives %v, more than 30 s", core.HandoffLifetime)
	}
	tests := []struct {
		wait time.Duration
		ok   bool
	}{
		{0, true},
		{core.HandoffLifetime - time.Second, true},
		{core.HandoffLifetime, false},
		{core.HandoffLifetime + time.Second, false},
		{time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.wait.String(), func(t *testing.T) {
			svc, _, clk := newTestService(t)
			mustUser(t, svc, "alice", policies.RoleUser)
			ck := login(t, svc, "alice", false)
			app, err := svc.core.Access.RegisterApp(AppConfig{Name: "photos", URL: "https://photos.example.org", Guarded: true})
			if err != nil {
				t.Fatal(err)
			}
			x := NewHostSignIn(svc, app)
			if x == nil {
				t.Fatal("no single sign-on for an app on another domain")
			}
			u, state := handoffCode(t, svc, x, ck)
			clk.Advance(tc.wait)
			req := httptest.NewRequest("GET", u, nil)
			req.AddCookie(state)
			rec := httptest.NewRecorder()
			if !x.ServeHandoff(rec, req) {
				t.Fatal("the guard did not answer its path")
			}
			gotCookie := false
			for _, c := range rec.Result().Cookies() {
				gotCookie = gotCookie || c.Name == "__Host-gatehouse_session_host"
			}
			if tc.ok != (rec.Code == http.StatusFound && gotCookie) {
				t.Fatalf("after %v: %d, host cookie %v; want ok=%v", tc.wait, rec.Code, gotCookie, tc.ok)
			}
			if !tc.ok && rec.Code != http.StatusBadRequest {
				t.Fatalf("after %v: %d, want 400", tc.wait, rec.Code)
			}
		})
	}
}

// TestHostSignInOnlyOutsideTheCookieDomain: only a guarded app whose URL
// the session cookie does not reach gets the single sign-on.
func TestHostSignInOnlyOutsideTheCookieDomain(t *testing.T) {
	svc, _, _ := newTestService(t) // portal https://auth.example.com, host-only cookie
	tests := []struct {
		name string
		cfg  AppConfig
		want bool
	}{
		{"another domain", AppConfig{Name: "a1", URL: "https://photos.example.org", Guarded: true}, true},
		{"another host of the portal's domain (host-only cookie)", AppConfig{Name: "a2", URL: "https://wiki.example.com", Guarded: true}, true},
		{"the portal's host", AppConfig{Name: "a3", URL: "https://auth.example.com/wiki", Guarded: true}, false},
		{"the portal's host, upper case and port", AppConfig{Name: "a4", URL: "https://AUTH.example.com:443/", Guarded: true}, false},
		{"no URL", AppConfig{Name: "a5", Guarded: true}, false},
		{"not guarded", AppConfig{Name: "a6", URL: "https://photos.example.org"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app, err := svc.core.Access.RegisterApp(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := NewHostSignIn(svc, app) != nil; got != tc.want {
				t.Errorf("single sign-on %v, want %v", got, tc.want)
			}
		})
	}
}
