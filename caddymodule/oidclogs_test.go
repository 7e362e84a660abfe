package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestOIDCSecretsNotLogged runs the code flow, refresh, introspection,
// revocation and the usual mistakes (a wrong verifier, a reused code, a
// reused refresh token, a wrong secret) through a real Caddy logging at
// DEBUG, with the portal's access log on, then looks for every token, code, verifier and secret value in
// Caddy's log file and in the audit log.
func TestOIDCSecretsNotLogged(t *testing.T) {
	h := newHarness(t)
	cf := strings.Replace(h.caddyfile(consentGlobal, ""), "level INFO", "level DEBUG", 1)
	// The portal's access log too, with the request URIs and headers.
	cf = strings.Replace(cf, "\tgatehouse_portal\n", "\tlog\n\tgatehouse_portal\n", 1)
	h.start(cf)
	h.addUser("alice", "Correct horse battery 9", "user", "ops")
	h.addUser("carol", "Correct horse battery 9", "admin")
	issuer := h.portalURL("")
	p, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	o := &oidcRig{h: h, provider: p, issuer: issuer}
	ctx := context.Background()
	grafana := o.conf("grafana", rpSecret, rpRedirect, "profile", "email", "groups", "offline_access")
	alice := o.signedIn("alice")
	secrets := map[string]string{"client secret": rpSecret}
	keep := func(what, v string) {
		if v == "" {
			t.Fatalf("no %s", what)
		}
		secrets[what+" "+v[:6]] = v
	}

	v := oauth2.GenerateVerifier()
	keep("code_verifier", v)
	code := o.code(alice, grafana, "s1", oauth2.S256ChallengeOption(v), oidc.Nonce("n1"))
	keep("code", code)
	if _, err := grafana.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("a wrong verifier was accepted")
	}
	code = o.code(alice, grafana, "s2", oauth2.S256ChallengeOption(v), oidc.Nonce("n2"))
	keep("code", code)
	first, err := grafana.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	keep("access token", first.AccessToken)
	keep("refresh token", first.RefreshToken)
	if _, err := grafana.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
		t.Fatal("a code was exchanged twice")
	}
	code = o.code(alice, grafana, "s3", oauth2.S256ChallengeOption(v))
	keep("code", code)
	tok, err := grafana.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	keep("access token", tok.AccessToken)
	keep("refresh token", tok.RefreshToken)
	idt, _ := tok.Extra("id_token").(string)
	keep("id token", idt)
	if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatal(err)
	}
	fresh, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	keep("access token", fresh.AccessToken)
	keep("refresh token", fresh.RefreshToken)
	idt, _ = fresh.Extra("id_token").(string)
	keep("id token", idt)
	post := func(path, user, pass string, form url.Values) {
		req, _ := http.NewRequest("POST", issuer+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("/oidc/introspect", "grafana", rpSecret, url.Values{"token": {fresh.AccessToken}})
	post("/oidc/introspect", "grafana", "wrong-secret-0123456789", url.Values{"token": {fresh.AccessToken}})
	post("/oidc/introspect", "grafana", rpSecret, url.Values{"token": {tok.AccessToken + "x"}})
	post("/oidc/token", "grafana", rpSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	post("/oidc/revoke", "grafana", rpSecret, url.Values{"token": {fresh.AccessToken}, "token_type_hint": {"access_token"}})
	post("/oidc/revoke", "grafana", rpSecret, url.Values{"token": {fresh.RefreshToken}, "token_type_hint": {"refresh_token"}})
	post("/oidc/token", "grafana", rpSecret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {v}})
	if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(fresh)); err == nil {
		t.Fatal("a revoked access token works")
	}

	resp, auditLog := do(t, o.signedIn("carol"), "GET", h.portalURL("/api/v1/audit?limit=500"), nil, jsonAPI)
	if resp.StatusCode != 200 || !strings.Contains(string(auditLog), "oidc.token") {
		t.Fatalf("audit: %d %s", resp.StatusCode, auditLog)
	}
	caddyLog, err := os.ReadFile(filepath.Join(h.dir, "caddy.log"))
	if err != nil {
		t.Fatal(err)
	}
	var routed int
	for _, l := range strings.Split(string(caddyLog), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || !strings.HasPrefix(fmt.Sprint(m["msg"]), "oidc provider: ") {
			continue
		}
		routed++
		if m["logger"] != "gatehouse" || m["component"] != "oidc" || m["level"] == "warn" {
			t.Errorf("a library line not on the gatehouse app's logger at its level: %s", l)
		}
		t.Log(l)
	}
	if !strings.Contains(string(caddyLog), `"uri":"/oidc/token"`) {
		t.Error("the portal's access log is not in caddy.log")
	}
	if routed == 0 || strings.Contains(string(caddyLog), `WARN request error`) {
		t.Error("the provider library's log lines do not reach the gatehouse app's logger")
	}
	for what, s := range secrets {
		for name, log := range map[string][]byte{"caddy.log": caddyLog, "the audit log": auditLog} {
			if i := strings.Index(string(log), s); i >= 0 {
				start := max(0, strings.LastIndexByte(string(log[:i]), '\n'))
				end := i + len(s) + 200
				if j := strings.IndexByte(string(log[i:]), '\n'); j >= 0 {
					end = i + j
				}
				t.Errorf("the %s is in %s: %s", what, name, log[start:min(end, len(log))])
			}
		}
	}
	var lines int
	for _, l := range strings.Split(string(caddyLog), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			lines++
		}
	}
	t.Logf("%d log lines and %d bytes of audit log searched for %d values", lines, len(auditLog), len(secrets))
}
