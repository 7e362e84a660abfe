package caddymodule

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAPIKeysThroughCaddy: a key opens the JSON API and a guarded app as its
// owner (never reaching the app itself), a read-only key cannot write, an
// allowlist holds, and revocation and disabling act on the next request.
func TestAPIKeysThroughCaddy(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)

	mk := func(body string) (id, key string) {
		t.Helper()
		resp, b := do(t, alice, "POST", h.portalURL("/api/v1/keys"), strings.NewReader(body), jsonAPI)
		if resp.StatusCode != 201 {
			t.Fatalf("create key: %d %s", resp.StatusCode, b)
		}
		var v struct{ ID, Key string }
		_ = json.Unmarshal(b, &v)
		return v.ID, v.Key
	}
	id, key := mk(`{"label":"script"}`)
	_, ro := mk(`{"label":"reader","scope":"read-only"}`)
	_, fenced := mk(`{"label":"office","ip_allow":["192.0.2.0/24"]}`)

	bearer := func(k, method, u, body string) (int, []byte) {
		t.Helper()
		c := &http.Client{Transport: noKeepAlive}
		hdr := map[string]string{"Authorization": "Bearer " + k, "Content-Type": "application/json", "Accept": "application/json"}
		var rd *strings.Reader
		if body != "" {
			rd = strings.NewReader(body)
		} else {
			rd = strings.NewReader("")
		}
		resp, b := do(t, c, method, u, rd, hdr)
		return resp.StatusCode, b
	}
	if got, b := bearer(key, "GET", h.portalURL("/api/v1/me"), ""); got != 200 || !strings.Contains(string(b), `"username":"alice"`) {
		t.Fatalf("API with a key: %d %s", got, b)
	}
	if got, b := bearer(key, "GET", h.appURL("/x"), ""); got != 200 {
		t.Fatalf("app with a key: %d %s", got, b)
	}
	hdr, _ := h.lastSeen()
	if hdr.Get("Remote-User") != "alice" || hdr.Get("Authorization") != "" {
		t.Errorf("upstream saw %v", hdr)
	}
	if got, _ := bearer(key, "GET", h.adminsURL("/"), ""); got != 403 {
		t.Errorf("key on an app its owner may not use: %d", got)
	}
	if got, _ := bearer(ro, "PATCH", h.portalURL("/api/v1/me"), `{"full_name":"X"}`); got != 403 {
		t.Errorf("read-only key writing: %d", got)
	}
	// The test client comes from 127.0.0.1, outside 192.0.2.0/24.
	if got, _ := bearer(fenced, "GET", h.portalURL("/api/v1/me"), ""); got != 401 {
		t.Errorf("key outside its allowlist: %d", got)
	}
	// Revocation takes effect on the next request.
	if resp, _ := do(t, alice, "DELETE", h.portalURL("/api/v1/keys/"+id), nil, jsonAPI); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if got, _ := bearer(key, "GET", h.appURL("/x"), ""); got != 401 {
		t.Errorf("revoked key on the app: %d", got)
	}
	// Disabling the user kills the keys.
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)
	if resp, _ := do(t, owner, "PATCH", h.portalURL("/api/v1/users/alice"), strings.NewReader(`{"active":false}`), jsonAPI); resp.StatusCode != 200 {
		t.Fatal("disable alice")
	}
	if got, _ := bearer(ro, "GET", h.portalURL("/api/v1/me"), ""); got != 401 {
		t.Errorf("key of a disabled user: %d", got)
	}
}
