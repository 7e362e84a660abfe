package ldapserver

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/store"
)

// entry is one entry of the tree as a search sees it. Attribute values are
// computed when asked for, so a filter over 100,000 users reads only the
// attributes it names.
type entry struct {
	kind nodeKind
	// dn is the entry's DN; for a user it is written only when needed
	// (see dnIn): most users a search walks do not match its filter.
	dn    string
	name  string         // lowercase uid or cn (users, groups, clients)
	acct  *store.Account // nodeUser
	group *groupInfo     // nodeGroup
	// hasKids is hasSubordinates.
	hasKids bool
}

// groupInfo is a group as the tree shows it: its name as stored and its
// visible members (usernames as stored, in username order).
type groupInfo struct {
	name    string
	members []string
	// gid is the group's POSIX gid, 0 for none (or POSIX ids off).
	gid uint32
}

// dnIn returns e's DN, writing a user's the first time it is asked for.
func (e *entry) dnIn(t *tree) string {
	if e.dn == "" && e.kind == nodeUser {
		e.dn = t.userDN(e.acct.Username)
	}
	return e.dn
}

// values returns the values of attr (a canonical lowercase name) on e, nil
// when e has none. The server's tree t writes DN values.
func (e *entry) values(t *tree, s *Server, attr string) []string {
	switch attr {
	case "entrydn":
		return []string{e.dnIn(t)}
	case "hassubordinates":
		if e.hasKids {
			return []string{"TRUE"}
		}
		return []string{"FALSE"}
	}
	switch e.kind {
	case nodeUser:
		return userValues(t, e.acct, attr, s.posixOn())
	case nodeGroup:
		return groupValues(t, e.group, attr)
	case nodeUsersOU, nodeGroupsOU, nodeSystemOU:
		switch attr {
		case "objectclass":
			return classesOU
		case "ou":
			return []string{strings.TrimPrefix(strings.SplitN(e.dn, ",", 2)[0], "ou=")}
		}
	case nodeClient:
		switch attr {
		case "objectclass":
			return classesClient
		case "cn":
			return []string{e.name}
		}
	case nodeBase:
		return baseValues(t, attr)
	case nodeRootDSE:
		return s.rootValues(attr)
	}
	return nil
}

// posixOn reports whether users and groups are served as POSIX accounts
// and groups (the store hands out their numbers: posix_ids).
func (s *Server) posixOn() bool { return s.core != nil && s.core.Store().PosixIDsOn() }

// userValues are the attributes of a user; posix is whether POSIX ids
// are on (a uid number kept from before is not served when they are off).
func userValues(t *tree, a *store.Account, attr string, posix bool) []string {
	px := posix && a.UIDNumber != 0
	switch attr {
	case "objectclass":
		switch {
		case px && len(a.SSHKeys) > 0:
			return classesUserPosixKey
		case px:
			return classesUserPosix
		case len(a.SSHKeys) > 0:
			return classesUserKeys
		}
		return classesUser
	case "uidnumber", "gidnumber":
		// gidNumber is the user's private group, numbered as the user
		// (store/posix.go: the counter is shared, so no group has it).
		if px {
			return []string{strconv.FormatUint(uint64(a.UIDNumber), 10)}
		}
	case "homedirectory":
		if px {
			return []string{"/home/" + a.Username}
		}
	case "loginshell":
		if px {
			return []string{"/bin/bash"}
		}
	case "gecos":
		if px {
			return []string{gecos(a)}
		}
	case "sshpublickey":
		return a.SSHKeys
	case "uid":
		return []string{a.Username}
	case "cn", "displayname":
		if a.FullName != "" {
			return []string{a.FullName}
		}
		return []string{a.Username}
	case "sn":
		if f := strings.Fields(a.FullName); len(f) > 0 {
			return []string{f[len(f)-1]}
		}
		return []string{a.Username}
	case "givenname":
		if f := strings.Fields(a.FullName); len(f) > 1 {
			return []string{strings.Join(f[:len(f)-1], " ")}
		}
	case "mail":
		if a.Email != "" {
			return []string{a.Email}
		}
	case "memberof":
		if len(a.Groups) == 0 {
			return nil
		}
		out := make([]string, len(a.Groups))
		for i, g := range a.Groups {
			out[i] = t.groupDN(g)
		}
		return out
	case "entryuuid":
		return []string{entryUUID(a.ID)}
	}
	return nil
}

// gecos is the full name for gecos (IA5String: other characters become
// '?'), else the username.
func gecos(a *store.Account) string {
	n := a.FullName
	if n == "" {
		n = a.Username
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == ':' {
			return '?'
		}
		return r
	}, n)
}

// groupValues are the attributes of a group.
func groupValues(t *tree, g *groupInfo, attr string) []string {
	switch attr {
	case "objectclass":
		if g.gid != 0 {
			return classesGroupPosix
		}
		return classesGroup
	case "gidnumber":
		if g.gid != 0 {
			return []string{strconv.FormatUint(uint64(g.gid), 10)}
		}
	case "memberuid":
		if g.gid != 0 {
			return g.members
		}
	case "cn":
		return []string{g.name}
	case "member", "uniquemember":
		out := make([]string, len(g.members))
		for i, m := range g.members {
			out[i] = t.userDN(m)
		}
		return out
	case "entryuuid":
		return []string{entryUUID("group:" + strings.ToLower(g.name))}
	}
	return nil
}

// baseValues are the attributes of the base entry: a domain for a dc=
// base, an organization for o=, an organizationalUnit for ou=.
func baseValues(t *tree, attr string) []string {
	first := t.baseRDN[0]
	switch attr {
	case "objectclass":
		switch first.typ {
		case "dc":
			return []string{"top", "domain"}
		case "o":
			return []string{"top", "organization"}
		case "ou":
			return classesOU
		}
		return []string{"top", "extensibleObject"}
	case first.typ:
		return []string{first.val}
	}
	return nil
}

// hasDN reports whether e's DN-valued attribute attr holds the DN of n.
func (e *entry) hasDN(attr string, n node) bool {
	switch attr {
	case "entrydn":
		return n.kind == e.kind && n.name == e.name && n.kind != nodeNone
	case "memberof":
		if e.kind != nodeUser || n.kind != nodeGroup {
			return false
		}
		for _, g := range e.acct.Groups {
			if strings.EqualFold(g, n.name) {
				return true
			}
		}
	case "member", "uniquemember":
		if e.kind != nodeGroup || n.kind != nodeUser {
			return false
		}
		for _, m := range e.group.members {
			if strings.EqualFold(m, n.name) {
				return true
			}
		}
	}
	return false
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// entryUUID is the UUID the tree shows for a record id: the 16 random
// bytes of a store id (26 base32 characters), else the first 16 bytes of
// the id's SHA-256, with the version 4 and variant bits set. It is stable
// for the record's life.
func entryUUID(id string) string {
	var b [16]byte
	if raw, err := idEncoding.DecodeString(strings.ToUpper(id)); err == nil && len(raw) == 16 {
		copy(b[:], raw)
	} else {
		sum := sha256.Sum256([]byte(id))
		copy(b[:], sum[:16])
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
