package caddymodule

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/portal"
)

// BenchmarkGuardJWT is BenchmarkGuard with `headers { jwt X-Gatehouse-JWT }`:
// the hot path plus the signed identity assertion, which is signed once
// and then taken from the cache (a new one every 45 s per user and app;
// the signing itself is oidcprovider's BenchmarkAssertionSign).
func BenchmarkGuardJWT(b *testing.B) {
	g, req := newBenchGuardWith(b, portal.Options{Headers: portal.Headers{JWT: "X-Gatehouse-JWT"}},
		portal.AppConfig{Name: "grafana", AllowGroups: []string{"ops"}})
	w := &discardWriter{h: http.Header{}}
	first := req.Clone(req.Context())
	if err := g.ServeHTTP(w, first, nopHandler{}); err != nil || first.Header.Get("Remote-User") != "alice" {
		b.Fatalf("guard did not let alice in: %v %v", err, first.Header)
	}
	token := first.Header.Get("X-Gatehouse-JWT")
	if strings.Count(token, ".") != 2 {
		b.Fatalf("no assertion: %v", first.Header)
	}
	spoof := []string{"mallory"}
	forged := []string{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJvbGdhIn0."}
	cookie := req.Header.Get("Cookie")
	cookies := make([]string, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cookies[0] = cookie
		req.Header["Cookie"] = cookies
		req.Header["Remote-User"] = spoof      // a spoofed header to strip
		req.Header["X-Gatehouse-Jwt"] = forged // and a forged assertion
		if err := g.ServeHTTP(w, req, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if req.Header.Get("Remote-User") != "alice" || req.Header.Get("X-Gatehouse-JWT") != token {
		b.Fatalf("last request was not let in with the cached assertion: %v", req.Header)
	}
}
