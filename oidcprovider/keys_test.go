package oidcprovider

import (
	"bytes"
	"crypto/x509"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/store"
)

// clock is a settable clock for the core.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testCore is a core on a fresh store in t.TempDir, on clk.
func testCore(t *testing.T, st *store.Store, clk *clock, secret []byte) *core.Core {
	t.Helper()
	c, err := core.New(core.Options{
		Store:     st,
		PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Hasher:    password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
		Now:       clk.now,
		SecretKey: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func testProvider(t *testing.T, c *core.Core, alg jose.SignatureAlgorithm, rotation time.Duration) *Provider {
	t.Helper()
	p, err := New(c, Config{Issuer: &url.URL{Scheme: "https", Host: "auth.example.com"}, Algorithm: alg, KeyRotation: rotation})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func kids(keys []*signingKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.id)
	}
	return out
}

func TestKeyRotationSchedule(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := testCore(t, testStore(t), clk, nil)
	p := testProvider(t, c, jose.RS256, 48*time.Hour)
	first := p.signingKeys()
	if len(first) != 1 || first[0].alg != jose.RS256 {
		t.Fatalf("first start: keys %v", kids(first))
	}
	clk.add(47 * time.Hour)
	if got := kids(p.signingKeys()); len(got) != 1 || got[0] != first[0].id {
		t.Fatalf("before the schedule: keys %v, want %v", got, kids(first))
	}
	clk.add(time.Hour)
	second := p.signingKeys()
	if len(second) != 2 || second[0].id == first[0].id || second[1].id != first[0].id {
		t.Fatalf("on the schedule: keys %v, want a new key then %s", kids(second), first[0].id)
	}
	clk.add(48 * time.Hour)
	third := p.signingKeys()
	if len(third) != 2 || third[1].id != second[0].id {
		t.Fatalf("second scheduled rotation: keys %v, want a new key then %s", kids(third), second[0].id)
	}
	stored, err := c.Store().OIDCKeys().List()
	if err != nil || len(stored) != 2 {
		t.Fatalf("stored keys: %d (%v), want 2", len(stored), err)
	}
	// A provider started later finds the same keys.
	if got := kids(testProvider(t, c, jose.RS256, 48*time.Hour).signingKeys()); got[0] != third[0].id || got[1] != third[1].id {
		t.Errorf("after a restart keys %v, want %v", got, kids(third))
	}
	events, _, err := c.Store().ListAudit(store.AuditFilter{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Action == "oidc.keys_rotated" {
			n++
		}
	}
	if n != 2 { // the first key is made, not rotated
		t.Errorf("%d oidc.keys_rotated events, want 2", n)
	}
}

func TestKeyRotationManualOnly(t *testing.T) {
	clk := &clock{t: time.Now()}
	c := testCore(t, testStore(t), clk, nil)
	p := testProvider(t, c, jose.ES256, 0)
	k := p.signingKeys()[0].id
	clk.add(10 * 365 * 24 * time.Hour)
	if got := p.signingKeys(); len(got) != 1 || got[0].id != k {
		t.Fatalf("key_rotation 0 rotated: %v", kids(got))
	}
	id, err := p.RotateKeys(&core.Actor{Via: core.ViaCLI})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.signingKeys(); len(got) != 2 || got[0].id != id || got[1].id != k || got[0].alg != jose.ES256 {
		t.Fatalf("after RotateKeys: %v, want [%s %s] ES256", kids(got), id, k)
	}
}

func TestKeyAlgorithmChange(t *testing.T) {
	clk := &clock{t: time.Now()}
	c := testCore(t, testStore(t), clk, nil)
	rs := testProvider(t, c, jose.RS256, 0).signingKeys()[0]
	keys := testProvider(t, c, jose.ES256, 0).signingKeys()
	if len(keys) != 2 || keys[0].alg != jose.ES256 || keys[1].id != rs.id || keys[1].alg != jose.RS256 {
		t.Fatalf("after the switch to ES256: %v", kids(keys))
	}
	// Started again with ES256: no further rotation.
	if again := testProvider(t, c, jose.ES256, 0).signingKeys(); again[0].id != keys[0].id {
		t.Errorf("a restart with the same algorithm rotated")
	}
}

func TestKeysSealed(t *testing.T) {
	clk := &clock{t: time.Now()}
	st := testStore(t)
	secret := bytes.Repeat([]byte{7}, 32)
	c := testCore(t, st, clk, secret)
	k := testProvider(t, c, jose.ES256, 0).signingKeys()[0]
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.OIDCKeys().List()
	if err != nil || len(stored) != 1 {
		t.Fatal(stored, err)
	}
	if bytes.Contains(stored[0].Sealed, der) || bytes.Contains(stored[0].Sealed, der[len(der)-32:]) {
		t.Error("the private key is stored in clear")
	}
	// Another server key cannot open it: the provider refuses to start
	// rather than make a key over it.
	other := testCore(t, st, clk, bytes.Repeat([]byte{8}, 32))
	if _, err := New(other, Config{Issuer: &url.URL{Scheme: "https", Host: "auth.example.com"}}); err == nil {
		t.Error("the provider started with keys sealed by another server key")
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{{"RS256", true}, {"ES256", true}, {"none", false}, {"HS256", false}, {"rs256", false}, {"", false}, {"PS256", false}} {
		if _, err := ParseAlgorithm(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseAlgorithm(%q): %v", tc.in, err)
		}
	}
}

// TestKeyRotationScheduleConcurrent: many requests that find the key due
// at once rotate it once.
func TestKeyRotationScheduleConcurrent(t *testing.T) {
	clk := &clock{t: time.Now()}
	c := testCore(t, testStore(t), clk, nil)
	p := testProvider(t, c, jose.ES256, 24*time.Hour)
	old := p.signingKeys()[0].id
	clk.add(25 * time.Hour)
	var wg sync.WaitGroup
	got := make([]string, 16)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = p.signingKeys()[0].id }()
	}
	wg.Wait()
	for _, id := range got {
		if id == old || id != got[0] {
			t.Fatalf("keys seen: %v (old %s), want one new key", got, old)
		}
	}
	if stored, err := c.Store().OIDCKeys().List(); err != nil || len(stored) != 2 {
		t.Errorf("stored keys %d (%v), want 2", len(stored), err)
	}
}
