package core

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/gatehouse-auth/gatehouse/store"
)

// newSSHKey returns a fresh ed25519 public key as an authorized_keys line
// (without its newline) and its fingerprint.
func newSSHKey(t *testing.T, comment string) (line, fp string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	if comment != "" {
		line += " " + comment
	}
	return line, ssh.FingerprintSHA256(pk)
}

// TestSetSSHKeys: only the person from a portal session sets their keys
// (not with an API key, an app password or while impersonated); bad keys
// are refused naming keys[i]; keys are stored canonical, audited by
// fingerprint, and reach the in-memory directory.
func TestSetSSHKeys(t *testing.T) {
	c, st := newTestCore(t)
	bob := mustUser(t, c, "bob", "user")
	k1, fp1 := newSSHKey(t, "bob@laptop")
	k2, _ := newSSHKey(t, "")
	imp := sessionActor(c, bob)
	imp.Session.ImpersonatorID, imp.Impersonator, imp.Impersonated = "x", "olga", "bob"
	key := sessionActor(c, bob)
	key.Credential, key.Key = CredKey, &store.APIKey{ID: "k", UserID: bob.ID}
	viaLDAP := sessionActor(c, bob)
	viaLDAP.Credential, viaLDAP.Via = CredAppPassword, ViaLDAP
	rsaLine := "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC" // cut short
	for _, tc := range []struct {
		name  string
		a     *Actor
		keys  []string
		field string // InputError field; "-" for ErrForbidden; "" for success
	}{
		{"API key", key, []string{k1}, "-"},
		{"impersonating", imp, []string{k1}, "-"},
		{"anonymous", &Actor{}, []string{k1}, "-"},
		{"an app password's actor", viaLDAP, []string{k1}, "-"},
		{"not a key", sessionActor(c, bob), []string{k1, "hello"}, "keys[1]"},
		{"a cut key", sessionActor(c, bob), []string{rsaLine}, "keys[0]"},
		{"options", sessionActor(c, bob), []string{`command="/bin/sh" ` + k1}, "keys[0]"},
		{"two lines", sessionActor(c, bob), []string{k1 + "\n" + k2}, "keys[0]"},
		{"twice", sessionActor(c, bob), []string{k1, "  " + k1 + " "}, "keys[1]"},
		{"control in comment", sessionActor(c, bob), []string{k2 + " a\x01b"}, "keys[0]"},
		{"too many", sessionActor(c, bob), make([]string, MaxSSHKeys+1), "keys"},
		{"session", sessionActor(c, bob), []string{"  " + k1 + "  ", k2}, ""},
	} {
		_, err := c.Credentials.SetSSHKeys(tc.a, SSHKeysInput{Keys: tc.keys})
		var ie *InputError
		switch {
		case tc.field == "-":
			if !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrImpersonating) {
				t.Errorf("%s: %v, want refused", tc.name, err)
			}
		case tc.field != "":
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Errorf("%s: %v, want an input error on %s", tc.name, err, tc.field)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	views, err := c.Credentials.SSHKeys(sessionActor(c, bob))
	if err != nil || len(views) != 2 || views[0].Key != k1 || views[0].Fingerprint != fp1 || views[0].Comment != "bob@laptop" || views[0].Type != "ssh-ed25519" {
		t.Fatalf("keys: %+v %v", views, err)
	}
	if a, _ := st.AccountNamed("bob"); len(a.SSHKeys) != 2 || a.SSHKeys[1] != k2 {
		t.Errorf("directory: %v", a.SSHKeys)
	}
	if ev := lastAudit(t, st, ActionSSHKeysUpdate); !strings.Contains(ev.Reason, fp1) || ev.Actor != "bob" {
		t.Errorf("audit: %+v", ev)
	}
	if _, err := c.Credentials.SetSSHKeys(sessionActor(c, bob), SSHKeysInput{}); err != nil {
		t.Fatal(err)
	}
	if views, _ := c.Credentials.SSHKeys(sessionActor(c, bob)); len(views) != 0 {
		t.Errorf("after clearing: %+v", views)
	}
}
