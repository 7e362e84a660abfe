package ldapserver

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// A DN is compared in normalized form: its RDNs, each "type=value" with
// the type (aliases resolved) and the value lowercased and unescaped. All
// names in the tree are case-insensitive (uid, cn, ou, dc), so this is the
// whole of distinguishedNameMatch the server needs. A multi-valued RDN
// ("cn=a+sn=b") never names an entry of the tree, so it normalizes to a
// form no entry has.

// maxDNLen bounds a DN the server parses.
const maxDNLen = 4096

// errDNSyntax is a DN that does not parse.
var errDNSyntax = errors.New("invalid DN syntax")

// multiValued is the type a multi-valued RDN normalizes to (with its
// whole text as the value): a name no entry of the tree has.
const multiValued = "multivalued"

// rdn is one normalized RDN.
type rdn struct{ typ, val string }

// parseDN normalizes a DN ("" is the root DSE: no RDNs).
func parseDN(s string) ([]rdn, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	// A DN is UTF-8 (RFC 4514); lowercasing would turn each invalid byte
	// into a three-byte U+FFFD.
	if len(s) > maxDNLen || !utf8.ValidString(s) {
		return nil, errDNSyntax
	}
	dn, err := ldap.ParseDN(s)
	if err != nil {
		return nil, errDNSyntax
	}
	out := make([]rdn, 0, len(dn.RDNs))
	for _, r := range dn.RDNs {
		if len(r.Attributes) != 1 {
			out = append(out, rdn{typ: multiValued, val: strings.ToLower(r.String())})
			continue
		}
		a := r.Attributes[0]
		if !validType(a.Type) {
			return nil, errDNSyntax
		}
		out = append(out, rdn{typ: canonicalAttr(a.Type), val: strings.ToLower(strings.TrimSpace(a.Value))})
	}
	// The normalized form may be longer than the text (escapes, and a few
	// letters whose lower case is longer): it stays within the bound, so
	// normalizing twice gives the same DN. Only a long DN can grow past it.
	if len(s) > maxDNLen/4 && len(dnString(out)) > maxDNLen {
		return nil, errDNSyntax
	}
	return out, nil
}

// validType reports whether s is an attribute type: a descriptor (a
// letter, then letters, digits and hyphens) or a numeric OID (RFC 4512).
func validType(s string) bool {
	if s == "" {
		return false
	}
	if s[0] >= '0' && s[0] <= '9' {
		dot := true
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '.' && !dot:
				dot = true
			case c >= '0' && c <= '9':
				dot = false
			default:
				return false
			}
		}
		return !dot
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	return true
}

// dnString is the normalized text of rdns (for comparisons and tests).
func dnString(rdns []rdn) string {
	var b strings.Builder
	for i, r := range rdns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.typ)
		b.WriteByte('=')
		b.WriteString(ldap.EscapeDN(r.val))
	}
	return b.String()
}

// escapeValue escapes an RDN value (RFC 4514).
func escapeValue(v string) string {
	// Usernames and group names are almost always letters, digits, '.',
	// '-' and '_', which need no escaping: skip go-ldap's rune-by-rune
	// copy for them (a listing writes one DN per entry).
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return ldap.EscapeDN(v)
		}
	}
	return v
}

// nodeKind says what a DN names in the tree.
type nodeKind uint8

// The kinds of node.
const (
	nodeNone     nodeKind = iota // outside the tree
	nodeRootDSE                  // ""
	nodeBase                     // the base DN
	nodeUsersOU                  // ou=users,<base>
	nodeGroupsOU                 // ou=groups,<base>
	nodeSystemOU                 // ou=system,<base>
	nodeUser                     // uid=<name>,ou=users,<base>
	nodeGroup                    // cn=<name>,ou=groups,<base>
	nodeClient                   // cn=<name>,ou=system,<base>
)

// node is a place in the tree; name is the lowercase uid or cn of a
// user, group or client.
type node struct {
	kind nodeKind
	name string
}

// tree is the DN layout under one base.
type tree struct {
	base    string // as configured
	baseRDN []rdn
	// users, groups and system are ",ou=…," + base: the suffixes of the
	// DNs the server writes.
	users, groups, system string
}

// newTree checks base and returns its layout.
func newTree(base string) (*tree, error) {
	rdns, err := parseDN(base)
	if err != nil || len(rdns) == 0 {
		return nil, errors.New("base DN: not a DN (e.g. dc=example,dc=com)")
	}
	for _, r := range rdns {
		if r.typ == multiValued {
			return nil, errors.New("base DN: multi-valued RDNs are not supported")
		}
	}
	return &tree{base: base, baseRDN: rdns, users: ",ou=users," + base, groups: ",ou=groups," + base, system: ",ou=system," + base}, nil
}

// locate says what dn names. A DN under the base that names nothing the
// tree can hold is nodeNone with under set.
func (t *tree) locate(rdns []rdn) (n node, under bool) {
	if len(rdns) == 0 {
		return node{kind: nodeRootDSE}, false
	}
	k := len(rdns) - len(t.baseRDN)
	if k < 0 {
		return node{}, false
	}
	for i, r := range t.baseRDN {
		if rdns[k+i] != r {
			return node{}, false
		}
	}
	switch k {
	case 0:
		return node{kind: nodeBase}, true
	case 1:
		if rdns[0].typ == "ou" {
			switch rdns[0].val {
			case "users":
				return node{kind: nodeUsersOU}, true
			case "groups":
				return node{kind: nodeGroupsOU}, true
			case "system":
				return node{kind: nodeSystemOU}, true
			}
		}
	case 2:
		if rdns[1].typ != "ou" {
			break
		}
		switch {
		case rdns[1].val == "users" && rdns[0].typ == "uid":
			return node{kind: nodeUser, name: rdns[0].val}, true
		case rdns[1].val == "groups" && rdns[0].typ == "cn":
			return node{kind: nodeGroup, name: rdns[0].val}, true
		case rdns[1].val == "system" && rdns[0].typ == "cn":
			return node{kind: nodeClient, name: rdns[0].val}, true
		}
	}
	return node{}, true
}

// userDN, groupDN and clientDN are the DNs the server writes.
func (t *tree) userDN(username string) string { return "uid=" + escapeValue(username) + t.users }
func (t *tree) groupDN(group string) string   { return "cn=" + escapeValue(group) + t.groups }
func (t *tree) clientDN(name string) string   { return "cn=" + escapeValue(name) + t.system }

// dnOf is the DN of a container node.
func (t *tree) dnOf(k nodeKind) string {
	switch k {
	case nodeBase:
		return t.base
	case nodeUsersOU:
		return "ou=users," + t.base
	case nodeGroupsOU:
		return "ou=groups," + t.base
	case nodeSystemOU:
		return "ou=system," + t.base
	}
	return ""
}
