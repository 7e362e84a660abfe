package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// idToken runs the code flow for the signed-in c with grafana and returns
// the raw ID token.
func (o *oidcRig) idToken(c *http.Client) string {
	o.h.t.Helper()
	conf := o.conf("grafana", rpSecret, rpRedirect, "profile")
	v := oauth2.GenerateVerifier()
	code := o.code(c, conf, "st", oauth2.S256ChallengeOption(v))
	tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		o.h.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		o.h.t.Fatal("no ID token")
	}
	return raw
}

// jwtHeader returns a JWT's kid and alg.
func jwtHeader(t *testing.T, raw string) (kid, alg string) {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	var hdr struct{ Kid, Alg string }
	if err != nil || json.Unmarshal(b, &hdr) != nil {
		t.Fatalf("JWT header %q: %v", h, err)
	}
	return hdr.Kid, hdr.Alg
}

// verifyFresh verifies an ID token against the JWKS fetched now, as a
// relying party that never saw the provider before would.
func (o *oidcRig) verifyFresh(raw string) error {
	p, err := oidc.NewProvider(context.Background(), o.issuer)
	if err != nil {
		o.h.t.Fatalf("discovery: %v", err)
	}
	_, err = p.Verifier(&oidc.Config{ClientID: "grafana"}).Verify(context.Background(), raw)
	return err
}

// jwksKids lists the key ids the JWKS serves.
func (o *oidcRig) jwksKids() []string {
	o.h.t.Helper()
	_, b := do(o.h.t, o.h.client(), "GET", o.issuer+"/oidc/keys", nil, nil)
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(b, &set); err != nil {
		o.h.t.Fatalf("JWKS %s: %v", b, err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func (o *oidcRig) rotateKeys() string {
	o.h.t.Helper()
	out, err := runCommand(o.h.t, oidcCommand(), "", "rotate-keys", "--json", "--address", "127.0.0.1:"+strconv.Itoa(o.h.admin))
	var rep rotatedKeys
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.KeyID == "" {
		o.h.t.Fatalf("caddy gatehouse oidc rotate-keys: %v\n%s", err, out)
	}
	return rep.KeyID
}

// TestOIDCProviderKeyRotation: `caddy gatehouse oidc rotate-keys` on the
// running Caddy makes a key that signs the next ID tokens at once; the
// JWKS keeps the previous key, so tokens signed before still verify, and
// a further rotation drops the oldest.
func TestOIDCProviderKeyRotation(t *testing.T) {
	o := startOIDC(t)
	alice := o.signedIn("alice")
	tok1 := o.idToken(alice)
	kid1, alg := jwtHeader(t, tok1)
	if alg != "RS256" {
		t.Errorf("default algorithm %s, want RS256", alg)
	}
	if kids := o.jwksKids(); len(kids) != 1 || kids[0] != kid1 {
		t.Fatalf("JWKS before rotation %v, want [%s]", kids, kid1)
	}

	kid2 := o.rotateKeys()
	tok2 := o.idToken(alice)
	if got, _ := jwtHeader(t, tok2); got != kid2 || kid2 == kid1 {
		t.Fatalf("ID token after rotation signed by %s, want the new key %s (old %s)", got, kid2, kid1)
	}
	if kids := o.jwksKids(); len(kids) != 2 || kids[0] != kid2 || kids[1] != kid1 {
		t.Fatalf("JWKS after a rotation %v, want [%s %s]", kids, kid2, kid1)
	}
	for name, tok := range map[string]string{"before": tok1, "after": tok2} {
		if err := o.verifyFresh(tok); err != nil {
			t.Errorf("ID token signed %s the rotation: %v", name, err)
		}
	}
	// The relying party that cached the old JWKS finds the new key too.
	if _, err := o.provider.Verifier(&oidc.Config{ClientID: "grafana"}).Verify(context.Background(), tok2); err != nil {
		t.Errorf("new token with the cached key set: %v", err)
	}

	kid3 := o.rotateKeys()
	if kids := o.jwksKids(); len(kids) != 2 || kids[0] != kid3 || kids[1] != kid2 {
		t.Fatalf("JWKS after two rotations %v, want [%s %s]", kids, kid3, kid2)
	}
	if err := o.verifyFresh(tok1); err == nil {
		t.Error("a token of the dropped key still verifies")
	}
	if err := o.verifyFresh(tok2); err != nil {
		t.Errorf("token of the previous key: %v", err)
	}
	if got, _ := jwtHeader(t, o.idToken(alice)); got != kid3 {
		t.Errorf("ID token signed by %s, want %s", got, kid3)
	}
}

// TestOIDCProviderES256: oidc_provider's signing_algorithm ES256 signs ID
// tokens that go-oidc verifies; switching from RS256 rotates at the next
// start and keeps the RS256 key in the JWKS for the tokens it signed.
func TestOIDCProviderES256(t *testing.T) {
	o := startOIDC(t)
	alice := o.signedIn("alice")
	rs := o.idToken(alice)

	o.h.start(o.h.caddyfile(oidcGlobal+"\n\t\toidc_provider {\n\t\t\tsigning_algorithm ES256\n\t\t\tkey_rotation 2160h\n\t\t}", ""))
	alice.CloseIdleConnections() // the reload closed them
	p, err := oidc.NewProvider(context.Background(), o.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&disc); err != nil || len(disc.Algs) != 1 || disc.Algs[0] != "ES256" {
		t.Errorf("discovery id_token_signing_alg_values_supported %v (%v), want [ES256]", disc.Algs, err)
	}
	o.provider = p
	es := o.idToken(alice)
	if _, alg := jwtHeader(t, es); alg != "ES256" {
		t.Fatalf("ID token alg %s, want ES256", alg)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: "grafana"}).Verify(context.Background(), es)
	if err != nil {
		t.Fatalf("go-oidc verifies the ES256 token: %v", err)
	}
	var cl struct {
		Username string `json:"preferred_username"`
	}
	if err := idt.Claims(&cl); err != nil || cl.Username != "alice" {
		t.Errorf("claims %+v (%v)", cl, err)
	}
	// The RS256 token of before the switch verifies (the old key is the
	// previous one), by a relying party that accepts both algorithms.
	if _, err := p.Verifier(&oidc.Config{ClientID: "grafana", SupportedSigningAlgs: []string{"RS256", "ES256"}}).Verify(context.Background(), rs); err != nil {
		t.Errorf("RS256 token of before the switch: %v", err)
	}
	// A reload with the same configuration does not rotate again.
	kids := o.jwksKids()
	o.h.start(o.h.caddyfile(oidcGlobal+"\n\t\toidc_provider {\n\t\t\tsigning_algorithm ES256\n\t\t\tkey_rotation 2160h\n\t\t}\n\t\tinvite_lifetime 48h", ""))
	alice.CloseIdleConnections()
	kid, _ := jwtHeader(t, o.idToken(alice))
	if after := o.jwksKids(); !slices.Equal(after, kids) || kid != kids[0] {
		t.Errorf("after a reload the JWKS is %v and the token's key %s, want %v and %s", after, kid, kids, kids[0])
	}
}

// TestOIDCProviderBadJSONConfig: the JSON config is checked as the
// Caddyfile is (a config may be given as JSON through the admin API).
func TestOIDCProviderBadJSONConfig(t *testing.T) {
	h := newHarness(t)
	var cfg map[string]any
	if err := json.Unmarshal(adapt(t, h.caddyfile("", "")), &cfg); err != nil {
		t.Fatal(err)
	}
	gh := cfg["apps"].(map[string]any)["gatehouse"].(map[string]any)
	for _, tc := range []struct {
		value map[string]any
		want  string
	}{
		{map[string]any{"signing_algorithm": "HS256"}, `signing_algorithm: "HS256" is not a signing algorithm`},
		{map[string]any{"key_rotation": "1h"}, "key_rotation 1h0m0s: want at least 24h"},
		{map[string]any{"key_rotation": "-48h"}, "key_rotation -48h0m0s"},
	} {
		gh["oidc_provider"] = tc.value
		b, _ := json.Marshal(cfg)
		err := caddy.Load(b, true)
		if err == nil {
			_ = caddy.Stop()
			t.Errorf("%v: loaded, want an error", tc.value)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %q, want %q", tc.value, err, tc.want)
		}
	}
}
