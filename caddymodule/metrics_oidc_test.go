package caddymodule

import (
	"context"
	"testing"

	"golang.org/x/oauth2"
)

// TestMetricsOIDCTokensThroughCaddy: a code exchange and a refresh at
// the OpenID Connect provider are counted by grant on Caddy's /metrics; a
// reused code issues nothing and counts nothing.
func TestMetricsOIDCTokensThroughCaddy(t *testing.T) {
	o := startOIDC(t)
	ctx := context.Background()
	grafana := o.conf("grafana", rpSecret, rpRedirect, "offline_access")
	alice := o.signedIn("alice")
	v := oauth2.GenerateVerifier()
	code := o.code(alice, grafana, "st1", oauth2.S256ChallengeOption(v))
	tok, err := grafana.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := grafana.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
		t.Fatal("a code worked twice")
	}
	samples, _ := scrapeMetrics(t, o.h)
	want := map[string]float64{
		`gatehouse_oidc_tokens_issued_total{grant="authorization_code"}`: 1,
		`gatehouse_oidc_tokens_issued_total{grant="refresh_token"}`:      1,
		`gatehouse_oidc_tokens_issued_total{grant="other"}`:              0,
	}
	for k, v := range want {
		if got, ok := samples[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
}
