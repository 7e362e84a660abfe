package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestOIDCAuditCoverage: every provider event an administrator needs is in
// GET /api/v1/audit with the real actor, the app, and via oidc.
func TestOIDCAuditCoverage(t *testing.T) {
	o := startOIDCWith(t, consentGlobal)
	ctx := context.Background()
	grafana := o.conf("grafana", rpSecret, rpRedirect, "profile", "email", "offline_access")
	alice := o.signedIn("alice")
	carol := o.signedIn("carol")

	v := oauth2.GenerateVerifier()
	tok, err := grafana.Exchange(ctx, o.code(alice, grafana, "a1", oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatal(err)
	}
	o.authorize(o.signedIn("bob"), grafana.AuthCodeURL("a2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	code := o.code(alice, grafana, "a3", oauth2.S256ChallengeOption(v))
	if _, err := grafana.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("a wrong verifier was accepted")
	}
	o.authorize(alice, o.conf("mobile", "", "http://127.0.0.1:9/mcb").AuthCodeURL("a4"))
	if _, err := o.conf("grafana", "wrong-secret-0123456789", rpRedirect).Exchange(ctx, "x"); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	forum := o.conf("forum", rpSecret, "http://127.0.0.1:9/fcb", "email")
	page := o.consentPage(alice, forum, "a5", oauth2.S256ChallengeOption(v))
	if resp, _ := o.answer(alice, page, "allow", true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("allow: %d", resp.StatusCode)
	}
	if resp, _ := do(t, alice, "DELETE", o.h.portalURL("/api/v1/me/connected-apps/forum"), nil, jsonAPI); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	body := `{"name":"wiki","oidc":{"redirect_uris":["https://wiki.example.com/cb"]}}`
	if resp, b := do(t, carol, "POST", o.h.portalURL("/api/v1/apps"), strings.NewReader(body), jsonAPI); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create app: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, carol, "POST", o.h.portalURL("/api/v1/apps/wiki/oidc/secret"), nil, jsonAPI); resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.StatusCode, b)
	}

	tests := []struct {
		name, action, actor, resource, via, reason string
	}{
		{"token issued", "oidc.token", "alice", "app:grafana", "oidc", "scopes: openid profile email offline_access"},
		{"refresh", "oidc.refresh", "alice", "app:grafana", "oidc", "scopes: openid profile email offline_access"},
		{"refused: no access", "oidc.refused", "bob", "app:grafana", "oidc", "the app does not admit the user"},
		{"refused: PKCE verifier", "oidc.refused", "alice", "app:grafana", "oidc", "invalid code_verifier"},
		{"refused: public client without PKCE", "oidc.refused", "", "app:mobile", "oidc", "PKCE (S256) is required"},
		{"refused: bad client", "oidc.refused", "", "app:grafana", "oidc", "client authentication failed"},
		{"consent given", "oidc.consent.grant", "alice", "app:forum", "oidc", "scopes: openid email"},
		{"consent revoked", "oidc.consent.revoke", "alice", "app:forum", "api", ""},
		{"client secret rotated", "oidc.secret.rotate", "carol", "app:wiki", "api", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen []string
			for _, e := range o.audit(carol, tc.action) {
				seen = append(seen, fmt.Sprint(e))
				if fmt.Sprint(e["actor"]) == tc.actor || (tc.actor == "" && e["actor"] == nil) {
					if e["resource"] == tc.resource && e["via"] == tc.via && strings.Contains(fmt.Sprint(e["reason"]), tc.reason) {
						return
					}
				}
			}
			t.Errorf("no %s event by %q on %s via %s with %q among:\n%s", tc.action, tc.actor, tc.resource, tc.via, tc.reason, strings.Join(seen, "\n"))
		})
	}

}
