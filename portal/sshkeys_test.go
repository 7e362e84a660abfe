package portal

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
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
