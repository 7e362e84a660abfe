package store

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPrefixesDisjoint(t *testing.T) {
	all := []string{prefixMeta, prefixUser, prefixUsername, prefixEmail, prefixGroup, prefixApp,
		prefixSession, prefixUserSessions, prefixToken, prefixSetting, prefixAudit,
		prefixRole, prefixFailures, prefixLock, prefixMFA, prefixAPIKey, prefixAPIKeyID, prefixUserAPIKeys,
		prefixIdentity, prefixUserIdents, prefixAuditUser, prefixLDAPClient, prefixAppDef,
		prefixOIDCRefresh, prefixOIDCFamily, prefixOIDCSession, prefixOIDCKey,
		prefixOIDCSessionClient, prefixOIDCLastUse, prefixOIDCUser, prefixOIDCRequest, prefixOIDCCode, prefixOIDCAccess,
		prefixOIDCAccessUser, prefixOIDCAccessSess}
	for i, a := range all {
		for j, b := range all {
			if i != j && strings.HasPrefix(a, b) {
				t.Errorf("prefix %q starts with prefix %q", a, b)
			}
		}
	}
}

func TestKeysCaseInsensitive(t *testing.T) {
	if !bytes.Equal(usernameKey("Alice"), usernameKey("alice")) {
		t.Error("username keys differ by case")
	}
	if !bytes.Equal(emailKey("A@X.org"), emailKey("a@x.org")) {
		t.Error("email keys differ by case")
	}
	if !bytes.Equal(groupKey("Ops"), groupKey("ops")) {
		t.Error("group keys differ by case")
	}
	if !bytes.Equal(roleKey("HelpDesk"), roleKey("helpdesk")) {
		t.Error("role keys differ by case")
	}
}

func TestUserSessionKey(t *testing.T) {
	id := SessionID{1, 2, 3}
	k := userSessionKey("u1", id)
	if !bytes.HasPrefix(k, userSessionsPrefix("u1")) {
		t.Fatal("index key lacks the user's prefix")
	}
	if bytes.HasPrefix(k, userSessionsPrefix("u")) {
		t.Error("user u's prefix matches user u1's keys")
	}
	got, ok := sessionIDFromIndex(k)
	if !ok || got != id {
		t.Errorf("sessionIDFromIndex = %v, %v", got, ok)
	}
}

func TestAuditKeysSortByTime(t *testing.T) {
	t0 := time.Unix(1, 0)
	a := auditTimeKey(t0.UnixNano())
	b := auditTimeKey(t0.Add(time.Nanosecond).UnixNano())
	if bytes.Compare(a, b) >= 0 {
		t.Error("audit keys do not sort by time")
	}
	if got := auditKeyNanos(b); got != t0.UnixNano()+1 {
		t.Errorf("auditKeyNanos = %d", got)
	}
}
