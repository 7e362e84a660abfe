package ldapserver

import (
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-auth/gatehouse/store"
)

// fuzzEntries are one entry of each kind to evaluate fuzzed filters on.
func fuzzEntries(s *Server) []*entry {
	acct := &store.Account{ID: "abcdefghijklmnopqrstuvwxyz", Username: "alice", Email: "alice@example.com",
		FullName: "Alice Liddell", Groups: []string{"Media", "dev"}}
	t := s.tree
	return []*entry{
		{kind: nodeRootDSE},
		{kind: nodeBase, dn: t.base, hasKids: true},
		{kind: nodeUsersOU, dn: t.dnOf(nodeUsersOU), hasKids: true},
		{kind: nodeUser, name: "alice", dn: t.userDN("alice"), acct: acct},
		{kind: nodeGroup, name: "media", dn: t.groupDN("Media"), group: &groupInfo{name: "Media", members: []string{"alice", "Bob"}}},
		{kind: nodeClient, name: "nextcloud", dn: t.clientDN("nextcloud")},
	}
}

// FuzzLDAPFilter compiles any filter a client could send — from its text
// through go-ldap's compiler, and from raw bytes as BER — and evaluates it
// on an entry of each kind: nothing may panic, and a filter past the depth
// and size limits must be refused, never evaluated.
func FuzzLDAPFilter(f *testing.F) {
	for _, s := range []string{
		"(objectClass=*)", "(&(objectClass=person)(uid=alice))", "(|(uid=a*)(mail=*@example.com)(!(cn=x)))",
		"(memberOf=cn=media,ou=groups,dc=gatehouse)", "(memberOf:1.2.840.113556.1.4.1941:=cn=dev,ou=groups,dc=gatehouse)",
		"(cn=*li*dd*l)", "(uid>=b)", "(uid<=b)", "(cn~=alice)", "(&)", "(|)", "(uid=\\2a)", "(cn:caseExactMatch:=Alice)",
		"(:dn:2.5.13.5:=x)", "(member=uid=alice,ou=users,dc=gatehouse)", "(entryDN=dc=gatehouse)", "(x;binary=1)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s := &Server{tree: mustTree("dc=gatehouse"), cfg: Config{SizeLimit: 10}}
		entries := fuzzEntries(s)
		try := func(p *ber.Packet) {
			flt, err := compileFilter(s.tree, p)
			if err != nil {
				return
			}
			if depth(flt) > maxFilterDepth+1 {
				t.Fatalf("a filter %d levels deep compiled", depth(flt))
			}
			for _, e := range entries {
				flt.match(s, e)
			}
			flt.usernameHint()
		}
		if p, err := ldap.CompileFilter(in); err == nil {
			try(p)
		}
		if p, err := ber.DecodePacketErr([]byte(in)); err == nil {
			try(p)
		}
	})
}

func depth(f *filter) int {
	d := 0
	for _, k := range f.kids {
		d = max(d, depth(k))
	}
	return d + 1
}

func mustTree(base string) *tree {
	t, err := newTree(base)
	if err != nil {
		panic(err)
	}
	return t
}

// FuzzLDAPDN parses any DN a client could send as a search base, a bind
// name or an assertion value: nothing may panic, normalizing is
// idempotent, and the DN the server writes for a username names that user.
func FuzzLDAPDN(f *testing.F) {
	for _, s := range []string{
		"", "dc=gatehouse", "uid=alice,ou=users,dc=gatehouse", "UID=Alice , OU=Users,DC=Gatehouse", "cn=a+sn=b,ou=groups,dc=gatehouse",
		"cn=\\2C comma\\, here,ou=system,dc=gatehouse", "uid=#04024869,ou=users,dc=gatehouse", "=", ",,", "cn=",
		"uid=alice\\00,ou=users,dc=gatehouse", "dc=example,dc=com",
	} {
		f.Add(s)
	}
	t0 := mustTree("dc=gatehouse")
	f.Fuzz(func(t *testing.T, in string) {
		rdns, err := parseDN(in)
		if err == nil {
			t0.locate(rdns)
			again, err := parseDN(dnString(rdns))
			if err != nil || dnString(again) != dnString(rdns) {
				t.Fatalf("normalizing %q is not idempotent: %q then %q (%v)", in, dnString(rdns), dnString(again), err)
			}
		}
		if name := strings.TrimSpace(in); name != "" && name == in {
			rdns, err := parseDN(t0.userDN(name))
			if err != nil {
				return // not a value a username can hold
			}
			if n, _ := t0.locate(rdns); n.kind != nodeUser || n.name != strings.ToLower(name) {
				t.Fatalf("the DN written for user %q names %+v", name, n)
			}
		}
	})
}
