package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const rpLoggedOut = "http://127.0.0.1:9/bye"

// startOIDCLogout starts Caddy with grafana (a post-logout URI and, when
// bcl is not "", a back-channel logout URI) and users alice (ops), bob
// (ops) and carol (admin).
func startOIDCLogout(t *testing.T, bcl string, apps ...string) *oidcRig {
	h := newHarness(t)
	extra := ""
	if bcl != "" {
		extra = "\n\t\t\t\tbackchannel_logout_uri " + bcl
	}
	extra += "\n\t\t\t}\n\t\t}\n\t\t" + strings.Join(apps, "\n\t\t")
	h.start(h.caddyfile(`app grafana {
			allow_groups ops
			oidc {
				redirect_uri `+rpRedirect+`
				post_logout_redirect_uri `+rpLoggedOut+`
				client_secret `+rpSecret+extra, ""))
	h.addUser("alice", "Correct horse battery 9", "user", "ops")
	h.addUser("bob", "Correct horse battery 9", "user", "ops")
	h.addUser("carol", "Correct horse battery 9", "admin")
	issuer := h.portalURL("")
	p, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &oidcRig{h: h, provider: p, issuer: issuer}
}

// tokens runs the code flow for c and returns the tokens, the verified ID
// token and its sid.
func (o *oidcRig) tokens(c *http.Client, conf *oauth2.Config) (*oauth2.Token, string, string) {
	o.h.t.Helper()
	v := oauth2.GenerateVerifier()
	tk, err := conf.Exchange(context.Background(), o.code(c, conf, "st", oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
	if err != nil {
		o.h.t.Fatal(err)
	}
	raw, _ := tk.Extra("id_token").(string)
	idt, err := o.provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(context.Background(), raw)
	if err != nil {
		o.h.t.Fatalf("ID token: %v", err)
	}
	var cl struct {
		SID string `json:"sid"`
	}
	_ = idt.Claims(&cl)
	return tk, raw, cl.SID
}

func (o *oidcRig) signedInStill(c *http.Client) bool {
	resp, _ := do(o.h.t, c, "GET", o.h.portalURL("/api/v1/me"), nil, jsonAPI)
	return resp.StatusCode == http.StatusOK
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestOIDCLogoutRPInitiated(t *testing.T) {
	o := startOIDCLogout(t, "")
	ctx := context.Background()
	grafana := o.conf("grafana", rpSecret, rpRedirect, "offline_access")
	end := o.issuer + "/oidc/end_session"
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return end + "?" + v.Encode()
	}

	alice := o.signedIn("alice")
	tk, hint, sid := o.tokens(alice, grafana)
	_, bobHint, _ := o.tokens(o.signedIn("bob"), grafana)

	t.Run("the ID token carries an opaque sid", func(t *testing.T) {
		if sid == "" {
			t.Fatal("no sid in the ID token")
		}
		for _, ck := range alice.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(o.issuer, "http://")}) {
			sum := sha256.Sum256([]byte(ck.Value))
			if strings.Contains(ck.Value, sid) || sid == hex.EncodeToString(sum[:]) || strings.Contains(hex.EncodeToString(sum[:]), sid) {
				t.Fatalf("sid %q reveals cookie %s", sid, ck.Name)
			}
		}
	})

	t.Run("discovery names the end_session endpoint", func(t *testing.T) {
		var d struct {
			End string `json:"end_session_endpoint"`
		}
		if err := o.provider.Claims(&d); err != nil || d.End != end {
			t.Fatalf("end_session_endpoint %q: %v", d.End, err)
		}
	})

	t.Run("no hint: a confirmation page, nothing ends on a GET", func(t *testing.T) {
		resp, body := do(t, alice, "GET", q("post_logout_redirect_uri", rpLoggedOut, "client_id", "grafana", "state", "s1"), nil, browser)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Sign out of Gatehouse?") || !strings.Contains(string(body), `method="post"`) ||
			!csrfRE.Match(body) || resp.Header.Get("Location") != "" || !o.signedInStill(alice) {
			t.Fatalf("%d %q signed in %v:\n%s", resp.StatusCode, resp.Header.Get("Location"), o.signedInStill(alice), body)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Error("the confirmation page may be framed")
		}
	})

	t.Run("another user's hint: a confirmation page", func(t *testing.T) {
		resp, body := do(t, alice, "GET", q("id_token_hint", bobHint, "post_logout_redirect_uri", rpLoggedOut), nil, browser)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Sign out of Gatehouse?") || !o.signedInStill(alice) {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("an unregistered post_logout_redirect_uri is never redirected to", func(t *testing.T) {
		for _, bad := range []string{rpLoggedOut + "x", rpLoggedOut + "/", "http://evil.example/bye", rpRedirect} {
			resp, body := do(t, alice, "GET", q("id_token_hint", hint, "post_logout_redirect_uri", bad, "state", "s"), nil, browser)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(body), "not registered") {
				t.Errorf("%s: %d %q", bad, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		// Without a client to check it against, a URI is not trusted either.
		resp, _ := do(t, alice, "GET", q("post_logout_redirect_uri", "http://evil.example/bye"), nil, browser)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("no client: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if !o.signedInStill(alice) {
			t.Fatal("a refused sign-out ended the session")
		}
	})

	t.Run("a forged hint is refused", func(t *testing.T) {
		parts := strings.Split(hint, ".")
		forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
		resp, _ := do(t, alice, "GET", q("id_token_hint", forged, "post_logout_redirect_uri", rpLoggedOut), nil, browser)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !o.signedInStill(alice) {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("the confirmation form needs its CSRF token", func(t *testing.T) {
		body, hdr := formBody("confirm", "1", "client_id", "grafana", "post_logout_redirect_uri", rpLoggedOut)
		resp, _ := do(t, alice, "POST", end, body, hdr)
		if resp.StatusCode != http.StatusForbidden || !o.signedInStill(alice) {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("the hint of this session: signed out, back to the app with state", func(t *testing.T) {
		resp, _ := do(t, alice, "GET", q("id_token_hint", hint, "post_logout_redirect_uri", rpLoggedOut, "state", "st 9"), nil, browser)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != rpLoggedOut+"?state=st+9" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if o.signedInStill(alice) {
			t.Fatal("still signed in to the portal")
		}
		if _, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: tk.RefreshToken}).Token(); err == nil {
			t.Fatal("the refresh token outlived the session")
		}
	})

	t.Run("confirmed with the form: signed out, back to the app", func(t *testing.T) {
		c := o.signedIn("alice")
		_, _, _ = o.tokens(c, grafana)
		resp, page := do(t, c, "GET", q("client_id", "grafana", "post_logout_redirect_uri", rpLoggedOut, "state", "s2"), nil, browser)
		m := csrfRE.FindSubmatch(page)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("%d: no form", resp.StatusCode)
		}
		body, hdr := formBody("csrf", string(m[1]), "confirm", "1", "client_id", "grafana", "post_logout_redirect_uri", rpLoggedOut, "state", "s2")
		hdr["Origin"] = o.issuer
		resp, _ = do(t, c, "POST", end, body, hdr)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != rpLoggedOut+"?state=s2" || o.signedInStill(c) {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}
