package ldapserver

import (
	"slices"
	"strings"
)

// The attribute types the tree holds, by lowercase name: what each is
// called on the wire. Names are case-insensitive; aliases and OIDs map to
// the same lowercase name (canonicalAttr).
var attrNames = map[string]string{
	"objectclass":             "objectClass",
	"uid":                     "uid",
	"cn":                      "cn",
	"sn":                      "sn",
	"givenname":               "givenName",
	"displayname":             "displayName",
	"mail":                    "mail",
	"memberof":                "memberOf",
	"entryuuid":               "entryUUID",
	"member":                  "member",
	"uniquemember":            "uniqueMember",
	"ou":                      "ou",
	"dc":                      "dc",
	"o":                       "o",
	"entrydn":                 "entryDN",
	"hassubordinates":         "hasSubordinates",
	"namingcontexts":          "namingContexts",
	"supportedldapversion":    "supportedLDAPVersion",
	"supportedcontrol":        "supportedControl",
	"supportedextension":      "supportedExtension",
	"supportedfeatures":       "supportedFeatures",
	"supportedsaslmechanisms": "supportedSASLMechanisms",
	"vendorname":              "vendorName",
	"uidnumber":               "uidNumber",
	"gidnumber":               "gidNumber",
	"homedirectory":           "homeDirectory",
	"loginshell":              "loginShell",
	"gecos":                   "gecos",
	"memberuid":               "memberUid",
	"sshpublickey":            "sshPublicKey",
}

// attrAliases are the other names and the OIDs of those types.
var attrAliases = map[string]string{
	"commonname":                     "cn",
	"2.5.4.3":                        "cn",
	"surname":                        "sn",
	"2.5.4.4":                        "sn",
	"userid":                         "uid",
	"0.9.2342.19200300.100.1.1":      "uid",
	"gn":                             "givenname",
	"2.5.4.42":                       "givenname",
	"rfc822mailbox":                  "mail",
	"0.9.2342.19200300.100.1.3":      "mail",
	"2.5.4.0":                        "objectclass",
	"2.5.4.31":                       "member",
	"2.5.4.50":                       "uniquemember",
	"2.16.840.1.113730.3.1.241":      "displayname",
	"1.3.6.1.1.16.4":                 "entryuuid",
	"organizationalunitname":         "ou",
	"2.5.4.11":                       "ou",
	"domaincomponent":                "dc",
	"0.9.2342.19200300.100.1.25":     "dc",
	"organizationname":               "o",
	"2.5.4.10":                       "o",
	"1.3.6.1.1.1.1.0":                "uidnumber",
	"1.3.6.1.1.1.1.1":                "gidnumber",
	"1.3.6.1.1.1.1.2":                "gecos",
	"1.3.6.1.1.1.1.3":                "homedirectory",
	"1.3.6.1.1.1.1.4":                "loginshell",
	"1.3.6.1.1.1.1.12":               "memberuid",
	"1.3.6.1.4.1.24552.500.1.1.1.13": "sshpublickey",
}

// numeric are the types compared as integers (integerMatch and
// integerOrderingMatch): uidNumber>=10000 is a number's order, not a
// string's.
func numeric(attr string) bool { return attr == "uidnumber" || attr == "gidnumber" }

// canonicalAttr is the lowercase name of an attribute description: the
// type, lowercased, aliases resolved. Options (";binary", ";lang-en") are
// kept, so an attribute with options is a type the tree does not hold.
func canonicalAttr(desc string) string {
	d := strings.ToLower(strings.TrimSpace(desc))
	if a, ok := attrAliases[d]; ok {
		return a
	}
	return d
}

// dnValued are the types whose values are DNs (distinguishedNameMatch).
func dnValued(attr string) bool {
	return attr == "member" || attr == "uniquemember" || attr == "memberof" || attr == "entrydn"
}

// operational are the types sent only for "+" or when named.
func operational(attr string) bool {
	return attr == "entrydn" || attr == "hassubordinates"
}

// Object classes of each kind of entry.
var (
	classesUser  = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}
	classesGroup = []string{"top", "groupOfNames", "groupOfUniqueNames"}
	// A user with a uid number is also a posixAccount, one with SSH keys
	// an ldapPublicKey (openssh-lpk); a group with a gid a posixGroup.
	classesUserPosix    = append(slices.Clone(classesUser), "posixAccount")
	classesUserKeys     = append(slices.Clone(classesUser), "ldapPublicKey")
	classesUserPosixKey = append(slices.Clone(classesUser), "posixAccount", "ldapPublicKey")
	classesGroupPosix   = append(slices.Clone(classesGroup), "posixGroup")
	classesOU           = []string{"top", "organizationalUnit"}
	classesClient       = []string{"top", "applicationProcess"}
	classesRoot         = []string{"top"}
)

// userAttrs, groupAttrs, … list each kind's user attributes in the order
// they are sent.
var (
	userAttrs = []string{"objectclass", "uid", "cn", "sn", "givenname", "displayname", "mail", "memberof", "entryuuid",
		"uidnumber", "gidnumber", "homedirectory", "loginshell", "gecos", "sshpublickey"}
	groupAttrs  = []string{"objectclass", "cn", "member", "uniquemember", "entryuuid", "gidnumber", "memberuid"}
	ouAttrs     = []string{"objectclass", "ou"}
	clientAttrs = []string{"objectclass", "cn"}
	rootAttrs   = []string{"objectclass", "namingcontexts", "supportedldapversion", "supportedcontrol",
		"supportedextension", "supportedfeatures", "vendorname"}
	opAttrs = []string{"entrydn", "hassubordinates", "entryuuid"}
)
