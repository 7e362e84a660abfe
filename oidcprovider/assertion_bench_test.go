package oidcprovider

import (
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

func benchAssertions(b *testing.B) *Assertions {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	c, err := core.New(core.Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	a, err := NewAssertions(c, testIssuer, 0)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkAssertionSign is a cache miss: one assertion signed (ES256)
// and cached, what the guard pays once per user and app every 45 s.
func BenchmarkAssertionSign(b *testing.B) {
	a := benchAssertions(b)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.sign(assertionFor{user: alice.ID, app: "grafana"}, &alice, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssertionCached is the hit the guard's hot path takes.
func BenchmarkAssertionCached(b *testing.B) {
	a := benchAssertions(b)
	now := time.Now()
	first, err := a.Token(&alice, "grafana", "", now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if t, _ := a.Token(&alice, "grafana", "", now); t != first {
			b.Fatal("signed again")
		}
	}
}
