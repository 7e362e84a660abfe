package store

import (
	"encoding/binary"
	"strings"
)

// The whole key layout lives here. Every key starts with a prefix naming its
// record type; no prefix is a prefix of another, so prefix scans never mix
// types. Index keys hold the id of the record they point to (or nothing when
// the key itself carries everything).
//
//	meta/schema                          schema version (one byte)
//	user/<id>                            User record
//	idx/username/<lower(username)>       -> user id
//	idx/email/<lower(email)>             -> user id (non-empty emails only)
//	group/<lower(name)>                  Group record
//	app/<app>                            AppAccess record
//	sess/<32-byte session id>            Session record (Badger TTL)
//	seen/<32-byte session id>            latest activity written back: 8-byte
//	                                     unix ns, big endian (same TTL)
//	idx/usess/<user id>\x00<32-byte id>  empty; user -> session (same TTL)
//	token/<kind>\x00<32-byte hash>       Token record (Badger TTL)
//	setting/<key>                        JSON setting
//	audit/<8-byte BE unix nanos><8 random bytes>  Event record
//	idx/auser/<lower(name)>\x00<16-byte audit suffix>  empty; user -> event
//	meta/audit-user-index                done marker of idx/auser (empty)
//	meta/posix-next                      next POSIX id to hand out (uint32, big-endian)
//	meta/backup-history                  []BackupRecord, oldest first (bounded)
//	meta/lease/<name>                    lease record (holder, until)
//	role/<lower(name)>                   Role record (custom roles)
//	fail/<key>                           failure counter (Badger TTL)
//	lock/<key>                           lockout (Badger TTL)
//	mfa/<user id>                        MFA record (second factors)
//	apikey/<32-byte hmac>                APIKey record
//	idx/apikey/<id>                      -> 32-byte hmac
//	idx/ukey/<user id>\x00<id>           empty; user -> api key
//	ident/<provider>\x00<subject>        Identity record (external account link)
//	idx/uident/<user id>\x00<provider>   -> subject; user -> identity links
//	apppw/<user id>\x00<32-byte hmac>    AppPassword record
//	idx/apppw/<id>                       -> user id \x00 32-byte hmac
//	ldapclient/<lower(name)>             LDAPClient record (directory bind account)
//	appdef/<app>                         App record (an app made in the portal or API)
const (
	prefixMeta         = "meta/"
	prefixUser         = "user/"
	prefixUsername     = "idx/username/"
	prefixEmail        = "idx/email/"
	prefixGroup        = "group/"
	prefixApp          = "app/"
	prefixSession      = "sess/"
	prefixSeen         = "seen/"
	prefixUserSessions = "idx/usess/"
	prefixToken        = "token/"
	prefixSetting      = "setting/"
	prefixAudit        = "audit/"
	prefixRole         = "role/"
	prefixFailures     = "fail/"
	prefixLock         = "lock/"
	prefixMFA          = "mfa/"
	prefixAPIKey       = "apikey/"
	prefixAPIKeyID     = "idx/apikey/"
	prefixUserAPIKeys  = "idx/ukey/"
	prefixIdentity     = "ident/"
	prefixUserIdents   = "idx/uident/"
	prefixAuditUser    = "idx/auser/"
	prefixAppPassword  = "apppw/"
	prefixAppPassID    = "idx/apppw/"
	prefixLDAPClient   = "ldapclient/"
	prefixAppDef       = "appdef/"
)

// sep separates a variable-length component from a fixed-size one.
const sep = 0

var (
	keySchema         = []byte(prefixMeta + "schema")
	keyAuditUserIndex = []byte(prefixMeta + "audit-user-index")
	keyPosixNext      = []byte(prefixMeta + "posix-next")
)

func cat(prefix string, parts ...string) []byte {
	n := len(prefix)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, prefix...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func userKey(id string) []byte       { return cat(prefixUser, id) }
func usernameKey(name string) []byte { return cat(prefixUsername, strings.ToLower(name)) }
func emailKey(email string) []byte   { return cat(prefixEmail, strings.ToLower(email)) }
func groupKey(name string) []byte    { return cat(prefixGroup, strings.ToLower(name)) }
func appKey(app string) []byte       { return cat(prefixApp, app) }
func settingKey(key string) []byte   { return cat(prefixSetting, key) }
func ldapClientKey(name string) []byte {
	return cat(prefixLDAPClient, strings.ToLower(name))
}
func appDefKey(app string) []byte    { return cat(prefixAppDef, app) }
func roleKey(name string) []byte     { return cat(prefixRole, strings.ToLower(name)) }
func failuresKey(key string) []byte  { return cat(prefixFailures, key) }
func lockKey(key string) []byte      { return cat(prefixLock, key) }
func mfaKey(userID string) []byte    { return cat(prefixMFA, userID) }
func apiKeyKey(hash [32]byte) []byte { return cat(prefixAPIKey, string(hash[:])) }
func apiKeyIDKey(id string) []byte   { return cat(prefixAPIKeyID, id) }
func userAPIKeyKey(uid, id string) []byte {
	return append(append(cat(prefixUserAPIKeys, uid), sep), id...)
}
func sessionKey(id SessionID) []byte { return cat(prefixSession, string(id[:])) }
func seenKey(id SessionID) []byte    { return cat(prefixSeen, string(id[:])) }

// seenKeyOf maps a session key (or the bare prefix) to its seen key.
func seenKeyOf(sessKey []byte) []byte {
	return cat(prefixSeen, string(sessKey[len(prefixSession):]))
}

// sessionIDFromKey reads the id from a session key.
func sessionIDFromKey(k []byte) (id SessionID, ok bool) {
	if len(k) != len(prefixSession)+len(id) {
		return id, false
	}
	copy(id[:], k[len(prefixSession):])
	return id, true
}
func userSessionsPrefix(uid string) []byte { return append(cat(prefixUserSessions, uid), sep) }

func userSessionKey(uid string, id SessionID) []byte {
	return append(userSessionsPrefix(uid), id[:]...)
}

func identityKey(provider, subject string) []byte {
	return append(append(cat(prefixIdentity, provider), sep), subject...)
}

func userIdentitiesPrefix(uid string) []byte { return append(cat(prefixUserIdents, uid), sep) }

func userIdentityKey(uid, provider string) []byte {
	return append(userIdentitiesPrefix(uid), provider...)
}

// sessionIDFromIndex extracts the session id at the end of an idx/usess key.
func sessionIDFromIndex(k []byte) (id SessionID, ok bool) {
	if len(k) < len(id) {
		return id, false
	}
	copy(id[:], k[len(k)-len(id):])
	return id, true
}

func tokenPrefix(kind string) []byte { return append(cat(prefixToken, kind), sep) }

func tokenKey(kind string, hash [32]byte) []byte {
	return append(tokenPrefix(kind), hash[:]...)
}

// auditSuffixLen is the size of the part of an audit key after its prefix:
// big-endian unix nanoseconds then 8 random bytes. Its hex form is Event.ID.
const auditSuffixLen = 16

func auditKey(suffix []byte) []byte { return cat(prefixAudit, string(suffix)) }

// auditUserPrefix is the start of the index keys of the events by or about
// the user name (case-insensitive).
func auditUserPrefix(name string) []byte {
	return append(cat(prefixAuditUser, strings.ToLower(name)), sep)
}

func auditUserKey(name string, suffix []byte) []byte {
	return append(auditUserPrefix(name), suffix...)
}

// auditTimeKey is the smallest possible audit key at unix nanos n.
func auditTimeKey(n int64) []byte {
	b := make([]byte, 0, len(prefixAudit)+8)
	b = append(b, prefixAudit...)
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

// auditKeyNanos reads the timestamp of an audit key.
func auditKeyNanos(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k[len(prefixAudit):]))
}

// validName reports whether s can be a key component: non-empty and free of
// the separator byte.
func validName(s string) bool { return s != "" && !strings.ContainsRune(s, sep) }

// appPasswordsPrefix is the start of the keys of userID's app passwords.
func appPasswordsPrefix(uid string) []byte { return append(cat(prefixAppPassword, uid), sep) }

func appPasswordKey(uid string, hash [32]byte) []byte {
	return append(appPasswordsPrefix(uid), hash[:]...)
}

func appPasswordIDKey(id string) []byte { return cat(prefixAppPassID, id) }
