package oidcprovider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

const testIssuer = "https://auth.example.com"

func testAssertions(t *testing.T, c *core.Core, rotation time.Duration) *Assertions {
	t.Helper()
	a, err := NewAssertions(c, testIssuer, rotation)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// verifyAssertion verifies token against set as an app would, and returns
// its kid and claims.
func verifyAssertion(t *testing.T, set jose.JSONWebKeySet, token string) (string, map[string]any) {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := tok.Headers[0]
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != AssertionType {
		t.Errorf("typ %v, want %s", typ, AssertionType)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s: %d keys in the JWKS %v", h.KeyID, len(keys), jwksKids(set))
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return h.KeyID, claims
}

func jwksKids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

var alice = store.Account{ID: "u-alice", Username: "alice", Email: "alice@example.com", FullName: "Alice Liddell",
	Groups: []string{"ops", "staff"}, GroupsHeader: "ops,staff"}

func TestAssertionClaims(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := testCore(t, testStore(t), clk, nil)
	a := testAssertions(t, c, 0)
	// The provider signs ID tokens with RS256; the assertions are ES256
	// all the same, and their keys are in the provider's JWKS.
	p, err := New(c, Config{Issuer: clkIssuer(), Algorithm: jose.RS256, Assertions: a})
	if err != nil {
		t.Fatal(err)
	}
	set := p.JWKS()
	for _, k := range set.Keys {
		if k.KeyID == a.KeyID() && k.Algorithm != string(jose.ES256) {
			t.Errorf("assertion key published as %s", k.Algorithm)
		}
	}
	// The library verifies tokens it is given with the ID-token keys only.
	lib, _ := storage{p}.KeySet(context.Background())
	for _, k := range lib {
		if k.ID() == a.KeyID() {
			t.Errorf("the assertion key %s is in the key set the library verifies tokens with", k.ID())
		}
	}
	if len(set.Keys) != len(lib)+1 {
		t.Errorf("JWKS %v: want the %d ID-token keys and the assertion key", jwksKids(set), len(lib))
	}

	noMail := store.Account{ID: "u-bob", Username: "bob", GroupsHeader: ""}
	for _, tc := range []struct {
		name         string
		acct         store.Account
		app, imp     string
		want         map[string]any
		absent       []string
		wantLifetime int64
	}{
		{name: "full", acct: alice, app: "grafana", want: map[string]any{
			"iss": testIssuer, "aud": "grafana", "sub": "u-alice", "preferred_username": "alice",
			"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true,
			"groups": []any{"ops", "staff"}}, absent: []string{"imp"}},
		{name: "impersonated", acct: alice, app: "wiki", imp: "olga", want: map[string]any{
			"aud": "wiki", "sub": "u-alice", "imp": "olga"}},
		{name: "no email, no groups", acct: noMail, app: "grafana", want: map[string]any{
			"sub": "u-bob", "preferred_username": "bob", "groups": []any{}}, absent: []string{"email", "email_verified", "name", "imp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := clk.now()
			tok, err := a.Token(&tc.acct, tc.app, tc.imp, now)
			if err != nil {
				t.Fatal(err)
			}
			kid, claims := verifyAssertion(t, set, tok)
			if kid != a.KeyID() {
				t.Errorf("kid %s, want the assertion key %s", kid, a.KeyID())
			}
			for k, v := range tc.want {
				got, _ := json.Marshal(claims[k])
				want, _ := json.Marshal(v)
				if string(got) != string(want) {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			for _, k := range tc.absent {
				if _, ok := claims[k]; ok {
					t.Errorf("claim %s = %v, want none", k, claims[k])
				}
			}
			iat, exp := claims["iat"].(float64), claims["exp"].(float64)
			if int64(iat) != now.Unix() || exp-iat != AssertionLifetime.Seconds() {
				t.Errorf("iat %v exp %v: want iat now and exp 60 s later", iat, exp)
			}
		})
	}
}

func clkIssuer() *url.URL { return &url.URL{Scheme: "https", Host: "auth.example.com"} }

func TestAssertionCache(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := testAssertions(t, testCore(t, testStore(t), clk, nil), 0)
	tok := func(acct store.Account, app, imp string) string {
		t.Helper()
		s, err := a.Token(&acct, app, imp, clk.now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := tok(alice, "grafana", "")
	clk.add(44 * time.Second) // 16 s left: still reused
	if tok(alice, "grafana", "") != first {
		t.Fatal("an assertion with 16 s left was signed again")
	}
	for _, tc := range []struct {
		name  string
		other func() string
	}{
		{"another app", func() string { return tok(alice, "wiki", "") }},
		{"impersonated", func() string { return tok(alice, "grafana", "olga") }},
		{"another user", func() string { b := alice; b.ID = "u-bob"; return tok(b, "grafana", "") }},
		{"new email", func() string { b := alice; b.Email = "a@example.org"; return tok(b, "grafana", "") }},
		{"new username", func() string { b := alice; b.Username = "alice2"; return tok(b, "grafana", "") }},
		{"new name", func() string { b := alice; b.FullName = "A. L."; return tok(b, "grafana", "") }},
		{"left a group", func() string {
			b := alice
			b.Groups, b.GroupsHeader = []string{"ops"}, "ops"
			return tok(b, "grafana", "")
		}},
		{"email removed", func() string { b := alice; b.Email = ""; return tok(b, "grafana", "") }},
	} {
		// Alice as she is, cached (a case before may have replaced her).
		base := tok(alice, "grafana", "")
		if tok(alice, "grafana", "") != base {
			t.Fatalf("%s: alice's assertion was not cached", tc.name)
		}
		if tc.other() == base {
			t.Errorf("%s: got alice's cached assertion for grafana", tc.name)
		}
	}
	first = tok(alice, "grafana", "")
	clk.add(46 * time.Second) // 14 s left: signed again
	renewed := tok(alice, "grafana", "")
	if renewed == first {
		t.Fatal("an assertion with 14 s left was reused")
	}
	if tok(alice, "grafana", "") != renewed {
		t.Fatal("the renewed assertion was not cached")
	}

	// Due for renewal while another request signs it: the cached one is
	// served as long as more than 10 s of it is left, never after.
	a.cacheMu.RLock()
	e := a.cache[assertionFor{user: alice.ID, app: "grafana"}]
	a.cacheMu.RUnlock()
	e.renewing.Store(true)
	clk.add(46 * time.Second) // 14 s left
	if tok(alice, "grafana", "") != renewed {
		t.Fatal("with a renewal under way, a request signed another one")
	}
	clk.add(5 * time.Second) // 9 s left
	if tok(alice, "grafana", "") == renewed {
		t.Fatal("an assertion with 9 s left was served")
	}
}

func TestAssertionCacheBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("signs 10,000 assertions")
	}
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := testAssertions(t, testCore(t, testStore(t), clk, nil), 0)
	for i := range assertionCacheMax + 100 {
		u := alice
		u.ID = fmt.Sprintf("u-%d", i)
		if _, err := a.Token(&u, "grafana", "", clk.now()); err != nil {
			t.Fatal(err)
		}
	}
	a.cacheMu.RLock()
	n := len(a.cache)
	a.cacheMu.RUnlock()
	if n > assertionCacheMax || n < assertionCacheMax/2 {
		t.Fatalf("cache holds %d assertions, want at most %d (and not emptied)", n, assertionCacheMax)
	}
}

func TestAssertionKeyRotation(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := testCore(t, testStore(t), clk, nil)
	a := testAssertions(t, c, 0)
	p, err := New(c, Config{Issuer: clkIssuer(), Algorithm: jose.RS256, Assertions: a})
	if err != nil {
		t.Fatal(err)
	}
	idKeys := func() []string { return kids(p.signingKeys()) }
	old, err := a.Token(&alice, "grafana", "", clk.now())
	if err != nil {
		t.Fatal(err)
	}
	oldKid := a.KeyID()
	ids := idKeys()
	newKid, err := a.Rotate(&core.Actor{Via: core.ViaCLI})
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid || a.KeyID() != newKid {
		t.Fatalf("rotation: kid %s -> %s (current %s)", oldKid, newKid, a.KeyID())
	}
	if got := idKeys(); !slices.Equal(got, ids) {
		t.Errorf("rotating the assertion key changed the ID-token keys: %v -> %v", ids, got)
	}
	set := p.JWKS()
	if k, _ := verifyAssertion(t, set, old); k != oldKid {
		t.Errorf("old assertion kid %s", k)
	}
	fresh, err := a.Token(&alice, "grafana", "", clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := verifyAssertion(t, set, fresh); k != newKid {
		t.Errorf("after rotation the cached assertion (kid %s) was served, want one by %s", k, newKid)
	}
	// Rotating the provider's ID-token key keeps both assertion keys.
	if _, err := p.RotateKeys(&core.Actor{Via: core.ViaCLI}); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKids(p.JWKS()); !slices.Contains(kids, oldKid) || !slices.Contains(kids, newKid) || len(kids) != 4 {
		t.Errorf("after an ID-token key rotation the JWKS is %v, want 2 ID-token keys and assertion keys %s, %s", kids, oldKid, newKid)
	}
	// A second assertion rotation drops the oldest assertion key.
	third, err := a.Rotate(&core.Actor{Via: core.ViaCLI})
	if err != nil {
		t.Fatal(err)
	}
	kids := jwksKids(p.JWKS())
	if slices.Contains(kids, oldKid) || !slices.Contains(kids, newKid) || !slices.Contains(kids, third) {
		t.Errorf("after two rotations the JWKS is %v, want %s and %s, not %s", kids, newKid, third, oldKid)
	}
	// A new signer on the same store (a reload) signs with the current key.
	if b := testAssertions(t, c, 0); b.KeyID() != third {
		t.Errorf("reloaded: kid %s, want %s", b.KeyID(), third)
	}
}

func TestAssertionScheduledRotation(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := testAssertions(t, testCore(t, testStore(t), clk, nil), 48*time.Hour)
	first := a.KeyID()
	clk.add(47 * time.Hour)
	if _, err := a.Token(&alice, "grafana", "", clk.now()); err != nil || a.KeyID() != first {
		t.Fatalf("rotated before it was due: %v %s", err, a.KeyID())
	}
	clk.add(2 * time.Hour)
	tok, err := a.Token(&alice, "grafana", "", clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() == first {
		t.Fatal("not rotated once due")
	}
	if k, _ := verifyAssertion(t, a.JWKS(), tok); k != a.KeyID() {
		t.Errorf("signed with %s, want the new key %s", k, a.KeyID())
	}
	if kids := jwksKids(a.JWKS()); !slices.Contains(kids, first) {
		t.Errorf("the previous key %s left the JWKS: %v", first, kids)
	}
}

// TestAssertionRenewalOnce: 200 requests finding the assertion due for
// renewal at once cost one signature; the others get the cached one.
func TestAssertionRenewalOnce(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := testAssertions(t, testCore(t, testStore(t), clk, nil), 0)
	old, err := a.Token(&alice, "grafana", "", clk.now())
	if err != nil {
		t.Fatal(err)
	}
	clk.add(46 * time.Second)
	now := clk.now()
	var wg sync.WaitGroup
	start := make(chan struct{})
	got := make([]string, 200)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], _ = a.Token(&alice, "grafana", "", now)
		}()
	}
	close(start)
	wg.Wait()
	fresh := map[string]bool{}
	for _, g := range got {
		if g != old {
			fresh[g] = true
		}
	}
	if len(fresh) != 1 {
		t.Fatalf("%d renewals signed, want 1", len(fresh))
	}
}

// TestAssertionConcurrentSigning: assertions for many users signed at
// once (run with -race) each verify and say who they are for.
func TestAssertionConcurrentSigning(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := testAssertions(t, testCore(t, testStore(t), clk, nil), 0)
	var wg sync.WaitGroup
	toks := make([]string, 32)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := alice
			u.ID = fmt.Sprintf("u-%d", i)
			toks[i], _ = a.Token(&u, "grafana", "", clk.now())
		}()
	}
	wg.Wait()
	for i, tok := range toks {
		if _, c := verifyAssertion(t, a.JWKS(), tok); c["sub"] != fmt.Sprintf("u-%d", i) {
			t.Errorf("assertion %d is for %v", i, c["sub"])
		}
	}
}
