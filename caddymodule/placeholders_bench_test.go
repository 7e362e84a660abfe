package caddymodule

import (
	"context"
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

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

// BenchmarkGuardReplacerProxy is BenchmarkGuardReplacer followed by the
// placeholders reverse_proxy and the access log set on every request (20
// more keys), so the replacer's map grows as it does in a real site: the
// guard's keys can move its growth points.
func BenchmarkGuardReplacerProxy(b *testing.B) {
	benchGuardReplacerWith(b, true, proxySets{})
}

// proxySets stands for reverse_proxy and the access log: it sets as many
// placeholders as they do.
type proxySets struct{}

var proxyKeys = func() []string {
	var keys []string
	for _, k := range []string{"duration", "duration_ms", "retries", "upstream.address", "upstream.hostport",
		"upstream.host", "upstream.port", "upstream.requests", "upstream.max_requests", "upstream.fails",
		"upstream.latency", "upstream.latency_ms", "status_code", "status_text", "upstream.duration",
		"upstream.duration_ms", "header.Content-Type"} {
		keys = append(keys, "http.reverse_proxy."+k)
	}
	return append(keys, "http.response.status", "http.response.size", "http.response.duration")
}()

func (proxySets) ServeHTTP(_ http.ResponseWriter, r *http.Request) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	for i, k := range proxyKeys {
		repl.Set(k, i)
	}
	return nil
}

func benchGuardReplacer(b *testing.B, guard bool) {
	benchGuardReplacerWith(b, guard, nopHandler{})
}

func benchGuardReplacerWith(b *testing.B, guard bool, next caddyhttp.Handler) {
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
		if err := g.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if guard && req.Header.Get("Remote-User") != "alice" {
		b.Fatalf("last request was not let in: %v", req.Header)
	}
}
