package caddymodule

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestLDAPPosixThroughCaddy: posix_ids turned on by a reload numbers the
// users already there, a new user gets the next number, and Debian's
// ldapsearch making SSSD's queries reads posixAccount with the SSH key
// alice put on her profile, and her groups as posixGroups.
func TestLDAPPosixThroughCaddy(t *testing.T) {
	h, env, _, cfg := startLDAPHarnessConfig(t, "")
	clientDN, secret := makeClient(t, h, "sssd", "")
	h.start(strings.Replace(cfg, "EXTRA", "posix_ids 20000-29999", 1))
	h.addUser("erin", alicePW, "user", "admins")

	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, _ := ssh.NewPublicKey(pub)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " alice@laptop"
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	body, _ := json.Marshal(map[string][]string{"keys": {key}})
	if resp, b := do(t, alice, "PUT", h.portalURL("/api/v1/me/ssh-keys"), strings.NewReader(string(body)), jsonAPI); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT ssh-keys: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, alice, "PUT", h.portalURL("/api/v1/me/ssh-keys"), strings.NewReader(`{"keys":["ssh-rsa nope"]}`), jsonAPI); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(string(b), `"field":"keys[0]"`) {
		t.Fatalf("PUT a bad key: %d %s", resp.StatusCode, b)
	}

	search := func(filter string, attrs ...string) string {
		t.Helper()
		args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", env.plain, "-D", clientDN, "-w", secret, "-b", "dc=gatehouse", filter}, attrs...)
		out, code := env.run("ldapsearch", args...)
		if code != 0 {
			t.Fatalf("ldapsearch %s: exit %d\n%s", filter, code, out)
		}
		return out
	}
	out := search("(&(objectClass=posixAccount)(uid=alice))", "objectClass", "uid", "uidNumber", "gidNumber", "homeDirectory", "loginShell", "sshPublicKey")
	uid := regexp.MustCompile(`(?m)^uidNumber: (2\d{4})$`).FindStringSubmatch(out)
	for _, want := range []string{"dn: uid=alice,ou=users,dc=gatehouse", "objectClass: posixAccount", "objectClass: ldapPublicKey",
		"homeDirectory: /home/alice", "loginShell: /bin/bash", "sshPublicKey: " + key} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if uid == nil || !strings.Contains(out, "gidNumber: "+uid[1]) {
		t.Fatalf("uidNumber and gidNumber in:\n%s", out)
	}

	// Numbers: four users backfilled at the reload, the group admins, then
	// erin at her creation: six distinct numbers from the range.
	out = search("(|(objectClass=posixAccount)(objectClass=posixGroup))", "uidNumber", "gidNumber")
	nums := regexp.MustCompile(`(?m)^uidNumber: (\d+)$`).FindAllStringSubmatch(out, -1)
	if len(nums) != 4 { // olga, alice, bob, erin (dave is disabled)
		t.Fatalf("posix accounts:\n%s", out)
	}
	erin := search("(uid=erin)", "uidNumber")
	if !strings.Contains(erin, "uidNumber: 20005") {
		t.Errorf("erin, created after the backfill of 5 records, should be 20005:\n%s", erin)
	}
	if got := search("(&(objectClass=posixAccount)(uidNumber>=20005))", "1.1"); strings.Count(got, "dn: ") != 1 || !strings.Contains(got, "uid=erin") {
		t.Errorf("uidNumber>=20005:\n%s", got)
	}

	// SSSD's group lookups: by member, and by number.
	out = search("(&(objectClass=posixGroup)(memberUid=alice))", "cn", "gidNumber", "memberUid")
	gid := regexp.MustCompile(`(?m)^gidNumber: (2\d{4})$`).FindStringSubmatch(out)
	if !strings.Contains(out, "dn: cn=admins,ou=groups,dc=gatehouse") || !strings.Contains(out, "memberUid: alice") ||
		!strings.Contains(out, "memberUid: erin") || strings.Contains(out, "memberUid: dave") || gid == nil {
		t.Fatalf("posixGroup by member:\n%s", out)
	}
	if got := search("(&(objectClass=posixGroup)(gidNumber="+gid[1]+"))", "cn"); !strings.Contains(got, "cn: admins") {
		t.Errorf("posixGroup by gidNumber:\n%s", got)
	}
}
