package oidctest

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// relyingParty is a minimal OpenID Connect client at the paths
// Gatehouse uses: /login/oidc/mock starts a sign-in, its callback
// checks the state, verifies the ID token, fetches userinfo and answers
// both sets of claims as JSON.
func relyingParty(t *testing.T, p *Provider) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	ctx := t.Context()
	d, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: p.ClientID(), ClientSecret: p.ClientSecret(), Endpoint: d.Endpoint(),
		RedirectURL: "http://" + srv.Listener.Addr().String() + "/login/oidc/mock/callback", Scopes: []string{oidc.ScopeOpenID}}
	verifier := d.Verifier(&oidc.Config{ClientID: p.ClientID()})
	mux := http.NewServeMux()
	mux.HandleFunc("/login/oidc/mock", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "state", Value: "the-state", Path: "/"})
		http.Redirect(w, r, conf.AuthCodeURL("the-state", oidc.Nonce("the-nonce")), http.StatusFound)
	})
	mux.HandleFunc("/login/oidc/mock/callback", func(w http.ResponseWriter, r *http.Request) {
		if ck, err := r.Cookie("state"); err != nil || ck.Value != r.FormValue("state") {
			http.Error(w, "bad state", http.StatusBadRequest)
			return
		}
		tok, err := conf.Exchange(r.Context(), r.FormValue("code"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != "the-nonce" {
			http.Error(w, "bad ID token", http.StatusUnauthorized)
			return
		}
		ui, err := d.UserInfo(r.Context(), oauth2.StaticTokenSource(tok))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var got struct{ Token, Userinfo map[string]any }
		if idt.Claims(&got.Token) != nil || ui.Claims(&got.Userinfo) != nil {
			http.Error(w, "claims", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(got)
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// client is a browser: a cookie jar, and redirects left to the caller.
func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestSignInURL(t *testing.T) {
	for _, tc := range []struct{ rd, want string }{
		{"", "http://p/login/oidc/mock"},
		{"/profile?a=b", "http://p/login/oidc/mock?rd=%2Fprofile%3Fa%3Db"},
	} {
		if got := SignInURL("http://p", "mock", tc.rd); got != tc.want {
			t.Errorf("SignInURL(rd %q) = %q, want %q", tc.rd, got, tc.want)
		}
	}
}

// claimsOf runs the flow step by step and returns the claims the relying
// party saw.
func claimsOf(t *testing.T, p *Provider, rp *httptest.Server, u User) (token, userinfo map[string]any) {
	t.Helper()
	c := client(t)
	p.QueueUser(u)
	authz := Start(t, c, SignInURL(rp.URL, "mock", ""))
	if !strings.HasPrefix(authz.String(), p.AuthorizationEndpoint()) {
		t.Fatalf("Start = %s, want the provider's authorization endpoint", authz)
	}
	cb := Authorize(t, c, authz.String())
	if cb.Path != "/login/oidc/mock/callback" || cb.Query().Get("code") == "" || cb.Query().Get("state") != "the-state" {
		t.Fatalf("Authorize = %s, want the callback with a code and the state", cb)
	}
	resp, body := get(t, c, cb.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	var got struct{ Token, Userinfo map[string]any }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("callback answer %q: %v", body, err)
	}
	return got.Token, got.Userinfo
}

func TestUserClaims(t *testing.T) {
	p := NewProvider(t)
	rp := relyingParty(t, p)
	claims := map[string]any{"email": "a@example.com", "email_verified": true, "groups": []any{"ops", "dev"}}

	// Userinfo nil: the userinfo endpoint answers the ID token's claims.
	token, info := claimsOf(t, p, rp, User{Subject: "s-1", Claims: claims})
	for k, want := range map[string]any{"sub": "s-1", "email": "a@example.com", "email_verified": true} {
		if token[k] != want || info[k] != want {
			t.Errorf("%s: ID token %v, userinfo %v, want %v", k, token[k], info[k], want)
		}
	}
	if g, _ := info["groups"].([]any); len(g) != 2 {
		t.Errorf("userinfo groups = %v", info["groups"])
	}

	// Userinfo set: its own claims, and the subject.
	token, info = claimsOf(t, p, rp, User{Subject: "s-2", Claims: map[string]any{"name": "Ann"}, Userinfo: map[string]any{"email": "b@example.com"}})
	if token["name"] != "Ann" || token["email"] != nil {
		t.Errorf("ID token = %v", token)
	}
	if info["sub"] != "s-2" || info["email"] != "b@example.com" || info["name"] != nil {
		t.Errorf("userinfo = %v", info)
	}
}

func TestSignInFollowsTheFlow(t *testing.T) {
	var hits atomic.Int32
	p := NewProvider(t, WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); next.ServeHTTP(w, r) })
	}))
	rp := relyingParty(t, p)
	resp, body := p.SignIn(t, client(t), SignInURL(rp.URL, "mock", ""), User{Subject: "s-1"})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login/oidc/mock/callback" || !strings.Contains(body, `"sub":"s-1"`) {
		t.Errorf("SignIn ended at %s: %d %q", resp.Request.URL, resp.StatusCode, body)
	}
	if hits.Load() == 0 {
		t.Error("the middleware saw no request")
	}
	// A callback this browser did not start: Follow stops at the refusal.
	resp, body = Follow(t, client(t), rp.URL+"/login/oidc/mock/callback?code=x&state=the-state")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "bad state") {
		t.Errorf("Follow to a refusal: %d %q", resp.StatusCode, body)
	}
}

func TestProviderShutDownAtCleanup(t *testing.T) {
	var issuer string
	t.Run("inner", func(t *testing.T) { issuer = NewProvider(t).Issuer() })
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err == nil {
		resp.Body.Close()
		t.Errorf("the provider still answers after its test: %d", resp.StatusCode)
	}
}
