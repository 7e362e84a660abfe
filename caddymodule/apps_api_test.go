package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core"
)

// TestAppsAPIThroughCaddy: apps made, re-keyed and deleted through the
// JSON API of a real Caddy: who may (apps.write; an API key yes; an
// impersonation no), bad bodies named by field, name clashes, Caddyfile
// apps read-only, the secret shown once and replaced by a rotation, the
// app surviving a reload, and the audit.
func TestAppsAPIThroughCaddy(t *testing.T) {
	h := newHarness(t)
	cf := h.caddyfile("", "")
	h.start(cf)
	h.addUser("olga", ownerPW, "owner")
	h.addUser("adam", ownerPW, "admin")
	h.addUser("oscar", alicePW, "operator")
	h.addUser("alice", alicePW, "user")
	api := func(c *http.Client, method, path, body string) (int, string) {
		t.Helper()
		resp, b := do(t, c, method, h.portalURL(path), strings.NewReader(body), jsonAPI)
		return resp.StatusCode, string(b)
	}
	adam, alice := h.client(), h.client()
	h.apiLogin(adam, "adam", ownerPW)
	h.apiLogin(alice, "alice", alicePW)
	const grafana = `{"name":"grafana","title":"Grafana","url":"https://grafana.example.com","allow_groups":["ops"],
		"oidc":{"redirect_uris":["https://grafana.example.com/login/generic_oauth"],"access_token_lifetime":"5m"}}`

	if got, b := api(alice, "POST", "/api/v1/apps", grafana); got != 403 {
		t.Fatalf("a user without apps.write: %d %s", got, b)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"name":"Bad Name"}`, "name"},
		{`{"name":"x1","url":"javascript:alert(1)"}`, "url"},
		{`{"name":"x1","allow_groups":["ops","a b"]}`, "allow_groups[1]"},
		{`{"name":"x1","oidc":{"redirect_uris":[]}}`, "oidc.redirect_uris"},
		{`{"name":"x1","oidc":{"redirect_uris":["https://a.example/cb","https://*.example/cb"]}}`, "oidc.redirect_uris[1]"},
		{`{"name":"x1","oidc":{"redirect_uris":["https://a.example/cb"],"access_token_lifetime":"soon"}}`, "oidc.access_token_lifetime"},
		{`{"name":"x1","oidc":{"redirect_uris":["https://a.example/cb"],"client_secret":"mine-mine-mine-mine"}}`, ""},
	} {
		got, b := api(adam, "POST", "/api/v1/apps", tc.body)
		if got != 400 || (tc.field != "" && !strings.Contains(b, `"field":"`+tc.field+`"`)) {
			t.Errorf("%s: %d %s, want 400 naming %q", tc.body, got, b, tc.field)
		}
	}

	got, b := api(adam, "POST", "/api/v1/apps", grafana)
	if got != 201 {
		t.Fatalf("create: %d %s", got, b)
	}
	var made struct {
		Name, Kind  string
		InCaddyfile bool `json:"in_caddyfile"`
		OIDC        struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
	}
	if err := json.Unmarshal([]byte(b), &made); err != nil || made.Kind != "oidc" || made.InCaddyfile || made.OIDC.ClientID != "grafana" ||
		!strings.HasPrefix(made.OIDC.ClientSecret, core.AppSecretPrefix) {
		t.Fatalf("created: %s", b)
	}
	secret := made.OIDC.ClientSecret
	check := func(s string) error {
		_, err := runningCore(t).Access.CheckClientSecret(context.Background(), "grafana", s)
		return err
	}
	if err := check(secret); err != nil {
		t.Fatalf("the secret of the new app: %v", err)
	}
	got, b = api(adam, "GET", "/api/v1/apps", "")
	if got != 200 || strings.Contains(b, secret) || !strings.Contains(b, `"name":"grafana"`) || !strings.Contains(b, `"kind":"oidc","in_caddyfile":false`) ||
		!strings.Contains(b, `"kind":"guarded","in_caddyfile":true`) {
		t.Fatalf("list: %d %s", got, b)
	}

	for _, tc := range []struct{ name, body string }{{"the same name", grafana}, {"a guarded app's name", `{"name":"whoami"}`}} {
		if got, b := api(adam, "POST", "/api/v1/apps", tc.body); got != 409 {
			t.Errorf("%s: %d %s, want 409", tc.name, got, b)
		}
	}
	if got, b := api(adam, "POST", "/api/v1/apps/whoami/oidc/secret", ""); got != 403 || !strings.Contains(b, "Caddyfile") {
		t.Errorf("re-key a Caddyfile app: %d %s", got, b)
	}
	if got, b := api(adam, "DELETE", "/api/v1/apps/whoami", ""); got != 403 {
		t.Errorf("delete a Caddyfile app: %d %s", got, b)
	}
	if got, b := api(alice, "POST", "/api/v1/apps/grafana/oidc/secret", ""); got != 403 {
		t.Errorf("re-key without apps.write: %d %s", got, b)
	}

	got, b = api(adam, "POST", "/api/v1/apps/grafana/oidc/secret", "")
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	if got != 200 || json.Unmarshal([]byte(b), &rotated) != nil || rotated.ClientSecret == "" || rotated.ClientSecret == secret {
		t.Fatalf("rotate: %d %s", got, b)
	}
	if err := check(secret); err == nil {
		t.Error("the old secret still works after a rotation")
	}
	if err := check(rotated.ClientSecret); err != nil {
		t.Errorf("the new secret: %v", err)
	}

	// An API key with apps.write may make apps (setup scripts).
	got, b = api(adam, "POST", "/api/v1/keys", `{"label":"setup"}`)
	var key struct{ Key string }
	if got != 201 || json.Unmarshal([]byte(b), &key) != nil {
		t.Fatalf("make a key: %d %s", got, b)
	}
	bearer := &http.Client{Transport: noKeepAlive}
	resp, kb := do(t, bearer, "POST", h.portalURL("/api/v1/apps"),
		strings.NewReader(`{"name":"immich","oidc":{"redirect_uris":["app.immich:///oauth-callback"],"public":true}}`),
		map[string]string{"Authorization": "Bearer " + key.Key, "Content-Type": "application/json", "Accept": "application/json"})
	if resp.StatusCode != 201 || strings.Contains(string(kb), "client_secret") {
		t.Fatalf("a public client made with an API key: %d %s", resp.StatusCode, kb)
	}

	// An admin acting as the operator (who holds apps.write) may not.
	if got, b := api(adam, "POST", "/api/v1/users/oscar/impersonate", ""); got != 200 {
		t.Fatalf("impersonate oscar: %d %s", got, b)
	}
	if got, b := api(adam, "POST", "/api/v1/apps", `{"name":"wiki"}`); got != 403 || !strings.Contains(b, "impersonating") {
		t.Errorf("make an app while impersonating: %d %s", got, b)
	}
	if got, b := api(adam, "DELETE", "/api/v1/apps/grafana", ""); got != 403 {
		t.Errorf("delete an app while impersonating: %d %s", got, b)
	}
	if got, b := api(adam, "DELETE", "/api/v1/impersonation", ""); got != 200 {
		t.Fatalf("stop impersonating: %d %s", got, b)
	}

	// A reload starts a new core, which loads the apps from the store.
	h.start(cf)
	if err := check(rotated.ClientSecret); err != nil {
		t.Errorf("the secret after a reload: %v", err)
	}
	if got, b := api(adam, "GET", "/api/v1/apps/immich", ""); got != 200 || !strings.Contains(b, `"public":true`) {
		t.Errorf("immich after a reload: %d %s", got, b)
	}

	if got, b := api(adam, "DELETE", "/api/v1/apps/grafana", ""); got != 204 {
		t.Fatalf("delete: %d %s", got, b)
	}
	if got, _ := api(adam, "GET", "/api/v1/apps/grafana", ""); got != 404 {
		t.Errorf("a deleted app: %d, want 404", got)
	}
	if err := check(rotated.ClientSecret); err == nil {
		t.Error("a deleted app's secret still works")
	}

	got, b = api(adam, "GET", "/api/v1/audit?limit=200", "")
	for _, want := range []string{`"action":"app.create"`, `"action":"oidc.secret.rotate"`, `"action":"app.delete"`} {
		if got != 200 || !strings.Contains(b, want) {
			t.Errorf("audit lacks %s", want)
		}
	}
	if strings.Contains(b, secret) || strings.Contains(b, rotated.ClientSecret) {
		t.Error("a client secret is in the audit log")
	}
}
