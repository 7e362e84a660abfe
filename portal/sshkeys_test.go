package portal

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/gatehouse-auth/gatehouse/core"
)

// TestSSHKeysAPI: GET/PUT /api/v1/me/ssh-keys: a bad key is a 400 naming
// its field; keys are kept canonical; setting them is a credential change
// (no API key, no impersonation, a fresh proof), listing is not.
func TestSSHKeysAPI(t *testing.T) {
	svc, _, clk := newTestService(t)
	impersonationFixture(t, svc)
	bob := signedInClient(t, svc, "bob", false)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, _ := ssh.NewPublicKey(pub)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " bob@laptop"
	body := func(keys ...string) string {
		b, _ := json.Marshal(map[string][]string{"keys": keys})
		return string(b)
	}

	for _, tc := range []struct{ body, field string }{
		{body(key, "ssh-ed25519 AAAA"), "keys[1]"},
		{body(`from="10.0.0.1" ` + key), "keys[0]"},
		{`{"keys":"one"}`, ""},
	} {
		if got, b := bob.call("PUT", "/api/v1/me/ssh-keys", tc.body); got != http.StatusBadRequest || tc.field != "" && !strings.Contains(b, `"field":"`+tc.field+`"`) {
			t.Errorf("PUT %s: %d %s, want 400 naming %s", tc.body, got, b, tc.field)
		}
	}
	got, b := bob.call("PUT", "/api/v1/me/ssh-keys", body("  "+key+"\n"))
	if got != http.StatusOK {
		t.Fatalf("PUT: %d %s", got, b)
	}
	got, b = bob.call("GET", "/api/v1/me/ssh-keys", "")
	items := decodeBody[list[core.SSHKeyView]](t, b).Items
	if got != http.StatusOK || len(items) != 1 || items[0].Key != key || items[0].Fingerprint != ssh.FingerprintSHA256(pk) {
		t.Fatalf("GET: %d %s", got, b)
	}

	apiKey := makeKey(t, svc, bob.session(), `{"label":"script"}`).Key
	if got, b := keyCall(t, svc, apiKey, "PUT", "/api/v1/me/ssh-keys", body()); got != http.StatusForbidden || !strings.Contains(b, "API key") {
		t.Errorf("PUT with an API key: %d %s", got, b)
	}
	if got, _ := keyCall(t, svc, apiKey, "GET", "/api/v1/me/ssh-keys", ""); got != http.StatusOK {
		t.Errorf("GET with an API key: %d", got)
	}
	olga := signedInClient(t, svc, "olga", false)
	if got, b := olga.call("POST", "/api/v1/users/bob/impersonate", ""); got != http.StatusOK {
		t.Fatalf("impersonate: %d %s", got, b)
	}
	if got, b := olga.call("PUT", "/api/v1/me/ssh-keys", body()); got != http.StatusForbidden || !strings.Contains(b, "impersonating") {
		t.Errorf("PUT while impersonating: %d %s", got, b)
	}
	clk.Advance(core.FreshWindow + time.Minute)
	if got, b := bob.call("PUT", "/api/v1/me/ssh-keys", body()); got != http.StatusForbidden || !strings.Contains(b, "confirm your current password") {
		t.Errorf("PUT from a stale session: %d %s", got, b)
	}
	if a, _ := svc.core.Store().AccountNamed("bob"); len(a.SSHKeys) != 1 {
		t.Errorf("keys after the refusals: %v", a.SSHKeys)
	}
}

// TestSSHKeyPages: the profile's section adds a key (a bad one answers
// 400 with the reason), lists it by comment and fingerprint, and removes
// it.
func TestSSHKeyPages(t *testing.T) {
	env := newPageEnv(t, nil)
	impersonationFixture(t, env.svc)
	b := env.browser(t)
	b.signIn("bob")
	_, page := b.get("/profile")
	if !strings.Contains(page, `id="ssh-keys-title"`) || !strings.Contains(page, `action="/profile/ssh-keys"`) {
		t.Fatal("profile lacks the SSH keys section")
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, _ := ssh.NewPublicKey(pub)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " bob@desk"
	fp := ssh.FingerprintSHA256(pk)
	if resp, page := b.submit("/profile", "/profile/ssh-keys", url.Values{"key": {"ssh-ed25519 AAAA-not-base64"}}); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(page, "not an SSH public key") {
		t.Errorf("bad key: %d", resp.StatusCode)
	}
	if resp, _ := b.submit("/profile", "/profile/ssh-keys", url.Values{"key": {key + "\n"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d", resp.StatusCode)
	}
	_, page = b.get("/profile")
	if !strings.Contains(page, "bob@desk") || !strings.Contains(page, "SHA256:") || !strings.Contains(page, `action="/profile/ssh-keys/remove"`) {
		t.Fatal("the key is not listed")
	}
	if a, _ := env.svc.core.Store().AccountNamed("bob"); len(a.SSHKeys) != 1 || a.SSHKeys[0] != key {
		t.Fatalf("stored: %v", a.SSHKeys)
	}
	if resp, _ := b.submit("/profile", "/profile/ssh-keys/remove", url.Values{"fingerprint": {fp}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", resp.StatusCode)
	}
	if a, _ := env.svc.core.Store().AccountNamed("bob"); len(a.SSHKeys) != 0 {
		t.Fatalf("after removal: %v", a.SSHKeys)
	}
}
