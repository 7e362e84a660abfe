package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core/password"
)

func TestCheckOIDCClientConfig(t *testing.T) {
	ok := []string{"https://grafana.example.com/login/generic_oauth"}
	for _, tc := range []struct {
		name  string
		c     OIDCClientConfig
		field string // "" when the config is good
	}{
		{"confidential", OIDCClientConfig{RedirectURIs: ok, Secret: "0123456789abcdef"}, ""},
		{"public native app", OIDCClientConfig{RedirectURIs: []string{"app.immich:///oauth-callback"}, Public: true}, ""},
		{"no redirect", OIDCClientConfig{Secret: "0123456789abcdef"}, "oidc.redirect_uris"},
		{"relative redirect", OIDCClientConfig{RedirectURIs: []string{"/cb"}}, "oidc.redirect_uris[0]"},
		{"fragment", OIDCClientConfig{RedirectURIs: []string{ok[0], "https://a.example.com/cb#x"}}, "oidc.redirect_uris[1]"},
		{"wildcard", OIDCClientConfig{RedirectURIs: []string{"https://*.example.com/cb"}}, "oidc.redirect_uris[0]"},
		{"http without host", OIDCClientConfig{RedirectURIs: []string{"https:///cb"}}, "oidc.redirect_uris[0]"},
		{"bad logout uri", OIDCClientConfig{RedirectURIs: ok, PostLogoutRedirectURIs: []string{"x"}}, "oidc.post_logout_redirect_uris[0]"},
		{"public with secret", OIDCClientConfig{RedirectURIs: ok, Public: true, Secret: "0123456789abcdef"}, "oidc.public"},
		{"both secrets", OIDCClientConfig{RedirectURIs: ok, Secret: "0123456789abcdef", SecretHash: "$argon2id$x"}, "oidc.client_secret"},
		{"short secret", OIDCClientConfig{RedirectURIs: ok, Secret: "short"}, "oidc.client_secret"},
		{"bcrypt hash", OIDCClientConfig{RedirectURIs: ok, SecretHash: "$2y$10$abc"}, "oidc.client_secret_hash"},
		{"backchannel", OIDCClientConfig{RedirectURIs: ok, BackchannelLogoutURI: "ftp://x"}, "oidc.backchannel_logout_uri"},
		{"lifetime", OIDCClientConfig{RedirectURIs: ok, AccessTokenLifetime: -1}, "oidc.access_token_lifetime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := CheckOIDCClientConfig(tc.c, []byte("k"))
			var in *InputError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.field == "" && cl.AccessTokenLifetime != DefaultAccessTokenLifetime:
				t.Fatalf("lifetime %v", cl.AccessTokenLifetime)
			case tc.field != "" && (!errors.As(err, &in) || in.Field != tc.field):
				t.Fatalf("want an error on %s, got %v", tc.field, err)
			}
		})
	}
}

// TestCheckClientSecret: one answer for an unknown client, a public
// client and a wrong secret; a client_secret_hash client is checked with
// argon2id once, then by its keyed hash.
func TestCheckClientSecret(t *testing.T) {
	c, _ := newTestCore(t)
	ctx := context.Background()
	const secret = "s3cret-s3cret-s3cret"
	hash, err := password.Hash(secret, password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	uris := []string{"https://app.example.com/cb"}
	for _, ac := range []AppConfig{
		{Name: "plain", OIDC: &OIDCClientConfig{RedirectURIs: uris, Secret: secret}},
		{Name: "hashed", OIDC: &OIDCClientConfig{RedirectURIs: uris, SecretHash: hash}},
		{Name: "mobile", OIDC: &OIDCClientConfig{RedirectURIs: uris, Public: true}},
		{Name: "guarded"},
	} {
		if _, err := c.Access.RegisterApp(ac); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Access.RegisterApp(AppConfig{Name: "nosecret", OIDC: &OIDCClientConfig{RedirectURIs: uris}}); err == nil || !strings.Contains(err.Error(), "client_secret") {
		t.Fatalf("a confidential client without a secret: %v", err)
	}
	for _, tc := range []struct {
		client, secret string
		ok             bool
	}{
		{"plain", secret, true},
		{"plain", secret + "x", false},
		{"plain", "", false},
		{"hashed", secret, true},
		{"hashed", secret, true}, // now from the keyed hash
		{"hashed", "wrong-wrong-wrong", false},
		{"mobile", secret, false},
		{"mobile", "", false},
		{"guarded", secret, false},
		{"nobody", secret, false},
	} {
		_, err := c.Access.CheckClientSecret(ctx, tc.client, tc.secret)
		if tc.ok != (err == nil) || (err != nil && err != ErrClientAuth) {
			t.Errorf("%s/%q: %v", tc.client, tc.secret, err)
		}
	}
	// A fresh hashed client under concurrent first checks, right and
	// wrong: one argon2id check at a time, each answer right.
	if _, err := c.Access.RegisterApp(AppConfig{Name: "hashed2", OIDC: &OIDCClientConfig{RedirectURIs: uris, SecretHash: hash}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			try := secret
			if i%2 == 1 {
				try = "wrong-wrong-wrong"
			}
			if _, err := c.Access.CheckClientSecret(ctx, "hashed2", try); (err == nil) != (try == secret) {
				errs <- fmt.Sprintf("%q: %v", try, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if _, cl, _ := c.Access.OIDCClient("hashed"); cl.secretMAC.Load() == nil {
		t.Error("the hashed client's keyed hash was not kept after a success")
	}
	if _, _, err := c.Access.OIDCClient("guarded"); err != ErrNotFound {
		t.Errorf("a guarded-only app is no client: %v", err)
	}
}

// TestRegisterAppGlobalThenBareGuard: a guard with no settings of its own
// uses the app a global block declares; a guard with other rules, or a
// bare declaration of an app no global block declares followed by a ruled
// one, still conflicts.
func TestRegisterAppGlobalThenBareGuard(t *testing.T) {
	c, _ := newTestCore(t)
	uris := []string{"https://app.example.com/cb"}
	global, err := c.Access.RegisterApp(AppConfig{Name: "grafana", Global: true, AllowGroups: []string{"ops"}, Require2FA: true,
		OIDC: &OIDCClientConfig{RedirectURIs: uris, Secret: "0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	guard, err := c.Access.RegisterApp(AppConfig{Name: "grafana"})
	if err != nil || guard != global {
		t.Fatalf("bare guard: %v (same app: %v)", err, guard == global)
	}
	if _, err := c.Access.RegisterApp(AppConfig{Name: "grafana", AllowGroups: []string{"devs"}}); err == nil {
		t.Fatal("a guard with other rules was accepted")
	}
	if _, err := c.Access.RegisterApp(AppConfig{Name: "wiki"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Access.RegisterApp(AppConfig{Name: "wiki", AllowGroups: []string{"ops"}}); err == nil {
		t.Fatal("a guard's bare app then a ruled one was accepted")
	}
}
