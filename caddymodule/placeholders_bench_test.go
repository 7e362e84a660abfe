package caddymodule

import (
	"context"
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/portal"
)

// BenchmarkGuardReplacer is BenchmarkGuard with what Caddy adds to every
// request: a fresh replacer in the context, which the guard fills with the
// {http.auth.user.*} placeholders. Compare with BenchmarkGuardReplacerBase,
// the same loop without the guard, to see the guard's own cost.
func BenchmarkGuardReplacer(b *testing.B) {
	benchGuardReplacer(b, true)
}

// BenchmarkGuardReplacerBase is the loop of BenchmarkGuardReplacer without
// the guard call: the cost of the harness alone (a replacer per request).
func BenchmarkGuardReplacerBase(b *testing.B) {
	benchGuardReplacer(b, false)
}

func benchGuardReplacer(b *testing.B, guard bool) {
	g, req := newBenchGuard(b, portal.AppConfig{Name: "grafana", AllowGroups: []string{"ops"}})
	w := &discardWriter{h: http.Header{}}
	cookie := req.Header.Get("Cookie")
	cookies := make([]string, 1)
	ctx := req.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cookies[0] = cookie
		req.Header["Cookie"] = cookies
		r := req.WithContext(context.WithValue(ctx, caddy.ReplacerCtxKey, caddy.NewReplacer()))
		if !guard {
			continue
		}
		if err := g.ServeHTTP(w, r, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if guard && req.Header.Get("Remote-User") != "alice" {
		b.Fatalf("last request was not let in: %v", req.Header)
	}
}
