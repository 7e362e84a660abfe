package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	rpSecret   = "grafana-secret-0123456789"
	rpRedirect = "http://127.0.0.1:9/cb"
)

// oidcGlobal declares three OIDC apps: a confidential client for group
// ops, a public client, and a confidential one that requires 2FA.
const oidcGlobal = `app grafana {
			allow_groups ops
			oidc {
				redirect_uri ` + rpRedirect + `
				client_secret ` + rpSecret + `
			}
		}
		app mobile {
			oidc {
				redirect_uri http://127.0.0.1:9/mcb
				public
			}
		}
		app vault {
			require_2fa
			oidc {
				redirect_uri http://127.0.0.1:9/vcb
				client_secret ` + rpSecret + `
			}
		}`

type oidcRig struct {
	h        *harness
	provider *oidc.Provider
	issuer   string
}

func startOIDC(t *testing.T) *oidcRig {
	h := newHarness(t)
	h.start(h.caddyfile(oidcGlobal, ""))
	h.addUser("alice", "Correct horse battery 9", "user", "ops")
	h.addUser("bob", "Correct horse battery 9", "user")
	h.addUser("carol", "Correct horse battery 9", "admin")
	issuer := h.portalURL("")
	p, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &oidcRig{h: h, provider: p, issuer: issuer}
}

func (o *oidcRig) conf(client, secret, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: client, ClientSecret: secret, RedirectURL: redirect, Endpoint: o.provider.Endpoint(),
		Scopes: append([]string{oidc.ScopeOpenID}, scopes...)}
}

// authorize follows the browser's redirects on the portal from the auth
// URL and returns the last response (to the app, or a portal page).
func (o *oidcRig) authorize(c *http.Client, authURL string) (*http.Response, []byte) {
	o.h.t.Helper()
	u := authURL
	for range 6 {
		resp, body := do(o.h.t, c, "GET", u, nil, browser)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, o.issuer+"/oidc/") {
			return resp, body
		}
		u = loc
	}
	o.h.t.Fatal("too many redirects")
	return nil, nil
}

// code runs the flow for a signed-in c and returns the code.
func (o *oidcRig) code(c *http.Client, conf *oauth2.Config, state string, opts ...oauth2.AuthCodeOption) string {
	o.h.t.Helper()
	resp, body := o.authorize(c, conf.AuthCodeURL(state, opts...))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), conf.RedirectURL+"?") {
		o.h.t.Fatalf("authorize: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	q := loc.Query()
	if q.Get("state") != state || q.Get("iss") != o.issuer || q.Get("code") == "" {
		o.h.t.Fatalf("authorization response %s: want state %q, iss %q and a code", loc, state, o.issuer)
	}
	return q.Get("code")
}

func (o *oidcRig) signedIn(user string) *http.Client {
	c := o.h.client()
	o.h.apiLogin(c, user, "Correct horse battery 9")
	return c
}

func TestOIDCProvider(t *testing.T) {
	o := startOIDC(t)
	ctx := context.Background()
	grafana := o.conf("grafana", rpSecret, rpRedirect, "profile", "email", "groups", "offline_access")
	alice := o.signedIn("alice")

	var tok *oauth2.Token
	t.Run("code flow with PKCE, ID token and UserInfo", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := o.code(alice, grafana, "st1", oauth2.S256ChallengeOption(v), oidc.Nonce("n1"))
		var err error
		if tok, err = grafana.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := o.provider.Verifier(&oidc.Config{ClientID: "grafana"}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var cl struct {
			Nonce         string   `json:"nonce"`
			Username      string   `json:"preferred_username"`
			Name          string   `json:"name"`
			Email         string   `json:"email"`
			EmailVerified bool     `json:"email_verified"`
			Groups        []string `json:"groups"`
			AMR           []string `json:"amr"`
			AuthTime      int64    `json:"auth_time"`
		}
		if err := idt.Claims(&cl); err != nil {
			t.Fatal(err)
		}
		if cl.Nonce != "n1" || cl.Username != "alice" || cl.Name != "Alice" || cl.Email != "alice@example.com" || !cl.EmailVerified ||
			!slices.Equal(cl.Groups, []string{"ops"}) || !slices.Equal(cl.AMR, []string{"pwd"}) || cl.AuthTime == 0 || idt.Subject == "alice" {
			t.Fatalf("claims %+v sub %q", cl, idt.Subject)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		ui, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
			t.Fatalf("userinfo %+v: %v", ui, err)
		}
	})

	t.Run("refresh rotates and reuse revokes the family", func(t *testing.T) {
		old := &oauth2.Token{RefreshToken: tok.RefreshToken}
		fresh, err := grafana.TokenSource(ctx, old).Token()
		if err != nil || fresh.RefreshToken == "" || fresh.RefreshToken == old.RefreshToken {
			t.Fatalf("refresh: %v", err)
		}
		if _, err := grafana.TokenSource(ctx, old).Token(); err == nil {
			t.Fatal("a rotated refresh token worked again")
		}
		if _, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
			t.Fatal("the family survived a reuse")
		}
	})

	t.Run("20 concurrent code exchanges: one wins, the reuse revokes it", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := o.code(alice, grafana, "st2", oauth2.S256ChallengeOption(v))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []*oauth2.Token
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if tk, err := grafana.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
					mu.Lock()
					won = append(won, tk)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("%d exchanges succeeded, want 1", len(won))
		}
		if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(won[0])); err == nil {
			t.Fatal("the access token of a reused code still works")
		}
		if _, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: won[0].RefreshToken}).Token(); err == nil {
			t.Fatal("the refresh token of a reused code still works")
		}
	})

	t.Run("redirect_uri must match exactly and is never redirected to", func(t *testing.T) {
		for _, bad := range []string{rpRedirect + "/extra", rpRedirect + "x", "http://127.0.0.1:9/", "http://evil.example/cb"} {
			c := o.conf("grafana", rpSecret, bad)
			resp, body := o.authorize(alice, c.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(body), "not registered") {
				t.Errorf("%s: %d %q", bad, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		resp, _ := o.authorize(alice, o.conf("nope", "", rpRedirect).AuthCodeURL("s"))
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("unknown client: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("PKCE: public clients need it, S256 only, no downgrade", func(t *testing.T) {
		mobile := o.conf("mobile", "", "http://127.0.0.1:9/mcb", "profile")
		resp, _ := o.authorize(alice, mobile.AuthCodeURL("s"))
		if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=invalid_request") {
			t.Errorf("public client without PKCE: %d %s", resp.StatusCode, loc)
		}
		resp, _ = o.authorize(alice, mobile.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq"), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=invalid_request") {
			t.Errorf("plain PKCE: %d %s", resp.StatusCode, loc)
		}
		v := oauth2.GenerateVerifier()
		code := o.code(alice, mobile, "s3", oauth2.S256ChallengeOption(v))
		if _, err := mobile.Exchange(ctx, code); err == nil {
			t.Error("a code bound to a challenge was exchanged without its verifier")
		}
		code = o.code(alice, mobile, "s4", oauth2.S256ChallengeOption(v))
		if _, err := mobile.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Error("a wrong verifier was accepted")
		}
		code = o.code(alice, mobile, "s5", oauth2.S256ChallengeOption(v))
		if _, err := mobile.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Errorf("public client with PKCE: %v", err)
		}
	})

	t.Run("unknown client and wrong secret look the same", func(t *testing.T) {
		post := func(id, secret string) (int, string) {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {rpRedirect}}
			req, _ := http.NewRequest("POST", o.provider.Endpoint().TokenURL, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(id, secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		s1, b1 := post("grafana", "wrong-secret-0123456789")
		s2, b2 := post("nosuchapp", "wrong-secret-0123456789")
		if s1 != http.StatusUnauthorized || s1 != s2 || b1 != b2 {
			t.Fatalf("wrong secret %d %s; unknown client %d %s", s1, b1, s2, b2)
		}
	})

	t.Run("an app that does not admit the user: no access page, no code", func(t *testing.T) {
		bob := o.signedIn("bob")
		resp, body := o.authorize(bob, grafana.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "No access") || resp.Header.Get("Location") != "" {
			t.Fatalf("bob: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("require_2fa: a password-only session steps up", func(t *testing.T) {
		vault := o.conf("vault", rpSecret, "http://127.0.0.1:9/vcb")
		resp, _ := o.authorize(alice, vault.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/login/2fa") || strings.Contains(loc, "code=") {
			t.Fatalf("vault: %d %s", resp.StatusCode, loc)
		}
	})

	t.Run("not signed in: sent to sign in, back to the same request", func(t *testing.T) {
		resp, _ := o.authorize(o.h.client(), grafana.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if loc := resp.Header.Get("Location"); !strings.Contains(loc, "/login?") || !strings.Contains(loc, url.QueryEscape("/oidc/continue?id=")) {
			t.Fatalf("anonymous: %d %s", resp.StatusCode, loc)
		}
	})

	t.Run("introspection and revocation", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		tk, err := grafana.Exchange(ctx, o.code(alice, grafana, "s6", oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		introspect := func(secret string) (int, map[string]any) {
			form := url.Values{"token": {tk.AccessToken}}
			req, _ := http.NewRequest("POST", o.issuer+"/oidc/introspect", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("grafana", secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			return resp.StatusCode, m
		}
		if st, m := introspect(rpSecret); st != 200 || m["active"] != true || m["client_id"] != "grafana" {
			t.Fatalf("introspect: %d %v", st, m)
		}
		if st, _ := introspect("wrong-secret-0123456789"); st != http.StatusUnauthorized {
			t.Fatalf("introspect with a wrong secret: %d", st)
		}
		form := url.Values{"token": {tk.AccessToken}, "token_type_hint": {"access_token"}}
		req, _ := http.NewRequest("POST", o.issuer+"/oidc/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("grafana", rpSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("revoke: %v %v", resp, err)
		}
		resp.Body.Close()
		if st, m := introspect(rpSecret); st != 200 || m["active"] == true {
			t.Fatalf("revoked token introspects as %d %v", st, m)
		}
	})

	t.Run("discovery, JWKS and CORS", func(t *testing.T) {
		resp, body := do(t, http.DefaultClient, "GET", o.issuer+"/.well-known/openid-configuration", nil, map[string]string{"Origin": "https://spa.example"})
		var d map[string]any
		_ = json.Unmarshal(body, &d)
		if d["issuer"] != o.issuer || fmt.Sprint(d["response_types_supported"]) != "[code]" || fmt.Sprint(d["code_challenge_methods_supported"]) != "[S256]" ||
			d["authorization_response_iss_parameter_supported"] != true || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("discovery %v, CORS %q", d, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		resp, body = do(t, http.DefaultClient, "GET", fmt.Sprint(d["jwks_uri"]), nil, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"RS256"`) {
			t.Fatalf("jwks: %d %s", resp.StatusCode, body)
		}
		resp, _ = do(t, http.DefaultClient, "GET", o.issuer+"/oidc/authorize?client_id=grafana", nil, map[string]string{"Origin": "https://spa.example"})
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("CORS on /authorize")
		}
	})

	t.Run("signing out revokes the refresh and access tokens issued through the session", func(t *testing.T) {
		c := o.signedIn("alice")
		v := oauth2.GenerateVerifier()
		tk, err := grafana.Exchange(ctx, o.code(c, grafana, "s7", oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tk)); err != nil {
			t.Fatalf("access token before the sign-out: %v", err)
		}
		if resp, _ := do(t, c, "POST", o.h.portalURL("/api/v1/logout"), nil, jsonAPI); resp.StatusCode >= 300 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		if _, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: tk.RefreshToken}).Token(); err == nil {
			t.Fatal("refresh token outlived the session's sign-out")
		}
		if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tk)); err == nil {
			t.Fatal("access token outlived the session's sign-out")
		}
	})

	t.Run("a disabled user's refresh token fails at once", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		c := o.signedIn("alice")
		tk, err := grafana.Exchange(ctx, o.code(c, grafana, "s8", oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		// A code made before she is disabled, exchanged after.
		v2 := oauth2.GenerateVerifier()
		pending := o.code(c, grafana, "s9", oauth2.S256ChallengeOption(v2))
		root := o.signedIn("carol")
		if resp, b := do(t, root, "PATCH", o.h.portalURL("/api/v1/users/alice"), strings.NewReader(`{"active":false}`), jsonAPI); resp.StatusCode != 200 {
			t.Fatalf("disable: %d %s", resp.StatusCode, b)
		}
		if _, err := grafana.Exchange(ctx, pending, oauth2.VerifierOption(v2)); err == nil {
			t.Fatal("a code was exchanged for a user disabled since it was made")
		}
		if _, b := do(t, root, "GET", o.h.portalURL("/api/v1/audit?action=oidc.refused"), nil, jsonAPI); !strings.Contains(string(b), "code exchange refused: the user is disabled") {
			t.Errorf("no audited refusal of the exchange:\n%s", b)
		}
		if _, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: tk.RefreshToken}).Token(); err == nil {
			t.Fatal("a disabled user's refresh token worked")
		}
		if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tk)); err == nil {
			t.Fatal("a disabled user's access token worked at UserInfo")
		}
	})
}
