package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/portal"
)

// BenchmarkGuardCrossDomain is the hot path of an app on another domain:
// no session cookie, a valid host cookie (an HMAC to check, then the same
// in-memory session lookup as BenchmarkGuard).
func BenchmarkGuardCrossDomain(b *testing.B) {
	g, signedIn := newBenchGuard(b, portal.AppConfig{Name: "photos", URL: "https://photos.example.org", AllowGroups: []string{"ops"}, Guarded: true})
	if g.sso = portal.NewHostSignIn(g.service, g.app); g.sso == nil {
		b.Fatal("no single sign-on for an app on another domain")
	}
	var tok string
	for _, c := range signedIn.Cookies() {
		if c.Name == portal.DefaultCookieName {
			tok = c.Value
		}
	}
	v := g.service.Core().Sessions.HostCookie(core.SessionIDOf(tok), "photos.example.org")
	req := httptest.NewRequest("GET", "https://photos.example.org/", nil)
	req.Header.Set("Accept", "application/json")
	cookie := "__Host-gatehouse_session_host=" + v + "; theme=dark; _ga=GA1.2.3"
	cookies := make([]string, 1)
	w := &discardWriter{h: http.Header{}}
	spoof := []string{"mallory"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cookies[0] = cookie
		req.Header["Cookie"] = cookies
		req.Header["Remote-User"] = spoof
		if err := g.ServeHTTP(w, req, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if req.Header.Get("Remote-User") != "alice" || strings.Contains(req.Header.Get("Cookie"), "gatehouse") {
		b.Fatalf("last request was not let in cleanly: %v", req.Header)
	}
}
