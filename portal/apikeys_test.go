package portal

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// keyCall makes an API request with the bearer key k.
func keyCall(t *testing.T, svc *Service, k, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "https://auth.example.com"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+k)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func makeKey(t *testing.T, svc *Service, ck *http.Cookie, body string) APIKeyView {
	t.Helper()
	got, b := apiCall(t, svc, ck, "POST", "/api/v1/keys", body)
	if got != 201 {
		t.Fatalf("create key %s: %d %s", body, got, b)
	}
	v := decodeBody[APIKeyView](t, b)
	if !core.WellFormedKey(v.Key) {
		t.Fatalf("key %q is not well formed", v.Key)
	}
	return v
}

func TestAPIKeys(t *testing.T) {
	svc, _, clk := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "bob", policies.RoleUser)
	wiki, _ := svc.core.Access.RegisterApp(AppConfig{Name: "wiki"})
	chat, _ := svc.core.Access.RegisterApp(AppConfig{Name: "chat"})
	vault, _ := svc.core.Access.RegisterApp(AppConfig{Name: "vault", Require2FA: true})
	root, bob := login(t, svc, "olga", false), login(t, svc, "bob", false)

	bad := []struct{ body, want string }{
		{`{}`, "label"},
		{`{"label":"x","scope":"admin"}`, "scope"},
		{`{"label":"x","scope":["nope"]}`, "no app"},
		{`{"label":"x","expires_at":"tomorrow"}`, "expires_at"},
		{`{"label":"x","expires_at":"2000-01-01"}`, "past"},
		{`{"label":"x","ip_allow":["10.0.0.0/99"]}`, "ip_allow"},
	}
	for _, tc := range bad {
		if got, b := apiCall(t, svc, bob, "POST", "/api/v1/keys", tc.body); got != 400 || !strings.Contains(b, tc.want) {
			t.Errorf("create %s: %d %s, want 400 about %s", tc.body, got, b, tc.want)
		}
	}

	all := makeKey(t, svc, bob, `{"label":"laptop"}`)
	ro := makeKey(t, svc, bob, `{"label":"backup","scope":"read-only","expires_at":"30d"}`)
	wikiOnly := makeKey(t, svc, bob, `{"label":"wiki bot","scope":["wiki"]}`)
	fenced := makeKey(t, svc, bob, `{"label":"office","ip_allow":["10.0.0.0/8"]}`)
	rootKey := makeKey(t, svc, root, `{"label":"admin script"}`)

	tests := []struct {
		name, key, method, path, body string
		want                          int
	}{
		{"inherit reads", all.Key, "GET", "/api/v1/me", "", 200},
		{"inherit writes own profile", all.Key, "PATCH", "/api/v1/me", `{"full_name":"Bob B"}`, 200},
		{"user key lacks admin rights", all.Key, "GET", "/api/v1/users", "", 403},
		{"admin key has them", rootKey.Key, "GET", "/api/v1/users", "", 200},
		{"read-only reads", ro.Key, "GET", "/api/v1/me", "", 200},
		{"read-only cannot write", ro.Key, "PATCH", "/api/v1/me", `{"full_name":"X"}`, 403},
		{"app key on the API", wikiOnly.Key, "GET", "/api/v1/me/sessions", "", 403},
		{"outside the allowlist", fenced.Key, "GET", "/api/v1/me", "", 401},
		{"a key cannot make keys", all.Key, "POST", "/api/v1/keys", `{"label":"child"}`, 403},
		{"a key cannot change the password", all.Key, "POST", "/api/v1/me/password", `{"current_password":"x","password":"y"}`, 403},
		{"malformed", "gth_nope", "GET", "/api/v1/me", "", 401},
		{"bad checksum", badChecksum(all.Key), "GET", "/api/v1/me", "", 401},
	}
	for _, tc := range tests {
		if got, b := keyCall(t, svc, tc.key, tc.method, tc.path, tc.body); got != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, got, b, tc.want)
		}
	}

	// The guard: the key's owner gets in where scope and access allow; the
	// key never reaches the app.
	guard := func(k string, app *App) Verdict {
		req := httptest.NewRequest("GET", "https://app.example.com/", nil)
		req.Header.Set("Authorization", "Bearer "+k)
		v := svc.Check(req, app)
		if v.Outcome == Allow && (req.Header.Get("Authorization") != "" || req.Header.Get("Remote-User") != "bob") {
			t.Errorf("allowed request headers: %v", req.Header)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		key  string
		app  *App
		want Outcome
	}{
		{"inherit key on wiki", all.Key, wiki, Allow},
		{"app key on its app", wikiOnly.Key, wiki, Allow},
		{"app key on another app", wikiOnly.Key, chat, Deny},
		{"no keys for require_2fa apps", all.Key, vault, StepUp},
		{"bad key", "gth_" + strings.Repeat("0", 49), wiki, SignIn},
	} {
		if v := guard(tc.key, tc.app); v.Outcome != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, v.Outcome, tc.want)
		}
	}

	// Listing never shows secrets; use is counted.
	_, b := apiCall(t, svc, bob, "GET", "/api/v1/keys", "")
	if strings.Contains(b, all.Key) || !strings.Contains(b, `"uses":`) || strings.Count(b, `"id"`) != 4 {
		t.Errorf("key list: %s", b)
	}
	if got, _ := apiCall(t, svc, bob, "GET", "/api/v1/keys?all=1", ""); got != 403 {
		t.Errorf("a user listing everyone's keys: %d", got)
	}
	if _, b := apiCall(t, svc, root, "GET", "/api/v1/keys?all=1", ""); strings.Count(b, `"id"`) != 5 {
		t.Errorf("admin list: %s", b)
	}
	// Revocation: by its owner, by keys.admin; not by another user.
	if got, _ := apiCall(t, svc, bob, "DELETE", "/api/v1/keys/"+rootKey.ID, ""); got != 404 {
		t.Errorf("bob revoking olga's key: %d", got)
	}
	if got, _ := apiCall(t, svc, bob, "DELETE", "/api/v1/keys/"+all.ID, ""); got != 204 {
		t.Errorf("revoke own key: %d", got)
	}
	if got, _ := keyCall(t, svc, all.Key, "GET", "/api/v1/me", ""); got != 401 {
		t.Errorf("revoked key: %d", got)
	}
	if got, _ := apiCall(t, svc, root, "DELETE", "/api/v1/keys/"+wikiOnly.ID, ""); got != 204 {
		t.Errorf("admin revoking bob's key: %d", got)
	}
	// Expiry.
	clk.Advance(31 * 24 * time.Hour)
	root = login(t, svc, "olga", false)
	if got, _ := keyCall(t, svc, ro.Key, "GET", "/api/v1/me", ""); got != 401 {
		t.Errorf("expired key: %d", got)
	}
	// Disabling the owner kills the keys.
	bobKey := makeKey(t, svc, login(t, svc, "bob", false), `{"label":"again"}`)
	if got, _ := apiCall(t, svc, root, "PATCH", "/api/v1/users/bob", `{"active":false}`); got != 200 {
		t.Fatal("disable bob")
	}
	apiCall(t, svc, root, "PATCH", "/api/v1/users/bob", `{"active":true}`)
	if got, _ := keyCall(t, svc, bobKey.Key, "GET", "/api/v1/me", ""); got != 401 {
		t.Errorf("key of a disabled (then enabled) user: %d", got)
	}
}

// badChecksum changes the last character of k (to one it is not).
func badChecksum(k string) string {
	last := byte('x')
	if k[len(k)-1] == last {
		last = 'y'
	}
	return k[:len(k)-1] + string(last)
}
