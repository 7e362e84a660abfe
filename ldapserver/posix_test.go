package ldapserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/ssh"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// TestPosixAccounts: with POSIX ids on, users are posixAccounts and
// groups posixGroups, with the numbers the store handed out; SSH keys are
// sshPublicKey (ldapPublicKey); SSSD's queries, integer filters on
// uidNumber/gidNumber and memberUid filters work; with POSIX ids off
// nothing POSIX is served.
func TestPosixAccounts(t *testing.T) {
	f := newFixture(t, Config{})
	if err := f.st.SetPosixIDs(10000, 60000); err != nil {
		t.Fatal(err)
	}
	alice, err := f.st.UserByUsername("alice")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, _ := ssh.NewPublicKey(pub)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " alice@laptop"
	perms, _ := f.core.PermsOf(alice.Role)
	if _, err := f.core.Credentials.SetSSHKeys(&core.Actor{User: alice, Perms: perms, Via: core.ViaAPI, Credential: core.CredSession,
		Session: store.Session{UserID: alice.ID, CreatedAt: time.Now()}}, core.SSHKeysInput{Keys: []string{key}}); err != nil {
		t.Fatal(err)
	}
	uid := map[string]uint32{}
	var active []string // posix users the client sees
	for _, n := range []string{"olivia", "alice", "bob", "carol", "dave", "erin"} {
		a, err := f.st.AccountNamed(n)
		if err != nil || a.UIDNumber < 10000 || a.UIDNumber > 60000 {
			t.Fatalf("%s: uid %d %v", n, a.UIDNumber, err)
		}
		uid[n] = a.UIDNumber
		if a.Active(time.Now()) {
			active = append(active, n)
		}
	}
	num := func(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
	l := f.dial("all")
	b := f.srv.BaseDN()
	u := func(n string) string { return "uid=" + n + ",ou=users," + b }
	g := func(n string) string { return "cn=" + n + ",ou=groups," + b }
	users := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, u(n))
		}
		slices.Sort(out)
		return out
	}
	between := func(lo, hi uint32) (out []string) {
		for _, n := range active {
			if uid[n] >= lo && uid[n] <= hi {
				out = append(out, n)
			}
		}
		return users(out...)
	}

	// SSSD's user lookup, as sss_ssh_authorizedkeys makes it.
	res, err := l.Search(ldap.NewSearchRequest(b, ldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(&(objectClass=posixAccount)(uid=alice))", []string{"*"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("SSSD query: %v %v", res, err)
	}
	e := res.Entries[0]
	want := map[string][]string{
		"objectClass":   {"top", "person", "organizationalPerson", "inetOrgPerson", "posixAccount", "ldapPublicKey"},
		"uidNumber":     {num(uid["alice"])},
		"gidNumber":     {num(uid["alice"])}, // the private group
		"homeDirectory": {"/home/alice"},
		"loginShell":    {"/bin/bash"},
		"gecos":         {"Alice Liddell"},
		"sshPublicKey":  {key},
	}
	for k, v := range want {
		if got := e.GetAttributeValues(k); !slices.Equal(got, v) {
			t.Errorf("alice %s = %v, want %v", k, got, v)
		}
	}
	if got := f.st.GroupGID("media"); got < 10000 || slices.Contains(slices.Collect(maps.Values(uid)), got) {
		t.Errorf("media gid %d: not in the range or a user's uid", got)
	}
	media, dev := f.st.GroupGID("media"), f.st.GroupGID("dev")
	gr, err := l.Search(ldap.NewSearchRequest(g("media"), ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"*"}, nil))
	if err != nil || len(gr.Entries) != 1 {
		t.Fatalf("media: %v %v", gr, err)
	}
	if ge := gr.Entries[0]; ge.GetAttributeValue("gidNumber") != num(media) || !slices.Equal(ge.GetAttributeValues("memberUid"), []string{"alice", "carol"}) ||
		!slices.Contains(ge.GetAttributeValues("objectClass"), "posixGroup") {
		t.Errorf("media: %v", ge.Attributes)
	}

	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"(&(objectClass=posixAccount)(uidNumber=" + num(uid["bob"]) + "))", users("bob")},
		{"(uidNumber=" + num(uid["dave"]) + ")", nil}, // disabled
		{"(&(objectClass=posixAccount)(uidNumber>=9999))", users(active...)},
		{"(&(objectClass=posixAccount)(uidNumber>=" + num(uid["alice"]) + "))", between(uid["alice"], 60000)},
		{"(&(objectClass=posixAccount)(uidNumber<=" + num(uid["alice"]) + "))", between(0, uid["alice"])},
		{"(&(objectClass=posixAccount)(uidNumber<=" + num(uid["alice"]) + ")(uidNumber>=" + num(uid["alice"]) + "))", users("alice")},
		{"(&(objectClass=posixAccount)(uidNumber>=100000))", nil},
		{"(uidNumber=abc)", nil},
		{"(&(objectClass=posixGroup)(memberUid=alice))", []string{g("dev"), g("media")}},
		{"(&(objectClass=posixGroup)(memberUid=ALICE))", []string{g("dev"), g("media")}},
		{"(&(objectClass=posixGroup)(gidNumber=" + num(dev) + "))", []string{g("dev")}},
		{"(&(objectClass=posixGroup)(gidNumber>=" + num(min(media, dev)) + "))", []string{g("dev"), g("media")}},
		{"(|(uidNumber=" + num(uid["alice"]) + ")(gidNumber=" + num(media) + "))", []string{u("alice"), g("media")}},
		{"(sshPublicKey=*)", users("alice")},
	} {
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if got := dns(t, l, b, ldap.ScopeWholeSubtree, tc.filter); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", tc.filter, got, want)
		}
	}

	// Off: no POSIX classes or numbers (the keys stay).
	if err := f.st.SetPosixIDs(0, 0); err != nil {
		t.Fatal(err)
	}
	if got := dns(t, l, b, ldap.ScopeWholeSubtree, "(|(objectClass=posixAccount)(objectClass=posixGroup)(uidNumber=*)(gidNumber=*))"); len(got) != 0 {
		t.Errorf("POSIX ids off: %v", got)
	}
	if got := dns(t, l, b, ldap.ScopeWholeSubtree, "(sshPublicKey=*)"); !slices.Equal(got, users("alice")) {
		t.Errorf("keys with POSIX ids off: %v", got)
	}
}
