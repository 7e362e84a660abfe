package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBackupRestoreRoundTrip(t *testing.T) {
	// On the PostgreSQL pass: PostgreSQL -> Badger -> PostgreSQL.
	clk := newClock()
	src := openTest(t, "", Options{Now: clk.Now})
	check := fillForBackup(t, src, clk)
	dir := filepath.Join(t.TempDir(), "restored")
	if err := Restore(dir, bytes.NewReader(backupOf(t, src))); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("restored dir: %v, %v", fi, err)
	}
	dst, err := Open(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	check(t, dst)
	if testPG == nil {
		return
	}
	back := testPG.Database(t)
	if err := Restore(back, bytes.NewReader(backupOf(t, dst))); err != nil {
		t.Fatal(err)
	}
	pgAgain, err := Open(back, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer pgAgain.Close()
	check(t, pgAgain)
}

// TestBackupBadgerToPostgres: a Badger backup restores into PostgreSQL
// (caddy gatehouse restore --storage postgres://…), and PostgreSQL's back
// into Badger, with every record, byte for byte, and its expiry.
func TestBackupBadgerToPostgres(t *testing.T) {
	pgOnly(t)
	clk := newClock()
	src, err := Open(t.TempDir(), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	check := fillForBackup(t, src, clk)
	dsn := testPG.Database(t)
	if err := Restore(dsn, bytes.NewReader(backupOf(t, src))); err != nil {
		t.Fatal(err)
	}
	pg, err := Open(dsn, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	check(t, pg)
	dir := filepath.Join(t.TempDir(), "back")
	if err := Restore(dir, bytes.NewReader(backupOf(t, pg))); err != nil {
		t.Fatal(err)
	}
	dst, err := Open(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	check(t, dst)

	// A database with records is refused, and left as it was.
	err = Restore(dsn, bytes.NewReader(backupOf(t, src)))
	if err == nil || !strings.Contains(err.Error(), "holds records") {
		t.Errorf("restore into a used database = %v", err)
	}
	check(t, pg)
	// A bad backup into a fresh database: refused, nothing left.
	fresh := testPG.Database(t)
	if err := Restore(fresh, strings.NewReader("not a backup at all")); err == nil {
		t.Error("a bad backup restored")
	}
	if err := Restore(fresh, bytes.NewReader(backupOf(t, src))); err != nil {
		t.Errorf("restore after a failed one: %v", err)
	}
}

func backupOf(t *testing.T, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawRecords is every live record of s: key -> value and expiry.
func rawRecords(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(defaultIterOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().Key())] = fmt.Sprintf("%x exp %d", v, it.Item().ExpiresAt())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fillForBackup writes one record of every kind into src and returns a
// check that a restored store holds the same: through the API, and record
// for record.
func fillForBackup(t *testing.T, src *Store, clk *clock) func(t *testing.T, dst *Store) {
	t.Helper()
	alice := mustCreateUser(t, src, &User{Username: "alice", Email: "alice@example.com", FullName: "Alice", Role: "owner",
		Groups: []string{"admins", "ops"}, PasswordHash: "$argon2id$fake"})
	bob := mustCreateUser(t, src, &User{Username: "bob", Role: "auditor-plus", Groups: []string{"ops"}})
	if err := src.EnsureGroups([]string{"admins", "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateRole(&Role{Name: "auditor-plus", Description: "reads audit", Permissions: []string{"audit.read", "users.read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.UpdateMFA(alice.ID, func(m *MFA) error {
		m.TOTPSecret = []byte("encrypted-secret")
		m.TOTPSince = clk.Now()
		m.BackupCodes = []string{"aa", "bb"}
		m.WebAuthn = []WebAuthnCredential{{ID: []byte{1, 2}, Name: "key", PublicKey: []byte{3}, CreatedAt: clk.Now()}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	key := &APIKey{UserID: alice.ID, Hash: [32]byte{7}, Label: "ci", Scope: "apps", Apps: []string{"grafana"}}
	if err := src.CreateAPIKey(key); err != nil {
		t.Fatal(err)
	}
	sess := &Session{ID: SessionID{1}, UserID: bob.ID, ExpiresAt: clk.Now().Add(time.Hour), IP: "192.0.2.1", Methods: []string{"password"}}
	mustCreateSession(t, src, sess)
	for _, a := range []string{"login", "user.create"} {
		if err := src.AppendAudit(&Event{Actor: "alice", Action: a, Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	tok := &Token{Kind: "invite", Hash: [32]byte{9}, UserID: bob.ID, Data: map[string]string{"k": "v"}, ExpiresAt: clk.Now().Add(time.Hour)}
	if err := src.PutToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := src.PutAppAccess(&AppAccess{App: "grafana", AllowGroups: []string{"ops"}, Require2FA: true}); err != nil {
		t.Fatal(err)
	}
	if err := src.PutSetting("branding", map[string]string{"title": "Acme"}); err != nil {
		t.Fatal(err)
	}
	// Activity still in memory must be in the backup.
	clk.Advance(time.Minute)
	src.TouchSession(sess.ID, clk.Now())
	if _, err := src.APIKeyByHash(key.Hash); err != nil { // caches it, as the guard does
		t.Fatal(err)
	}
	src.TouchAPIKey(key.ID, "192.0.2.9", clk.Now())

	// A deleted record and an overwritten one: Badger's backup carries
	// the deletion and the older version, which must not come back.
	mustCreateSession(t, src, &Session{ID: SessionID{2}, UserID: bob.ID, ExpiresAt: clk.Now().Add(time.Hour)})
	if err := src.DeleteSession(SessionID{2}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"old", "new"} {
		if err := src.PutSetting("overwritten", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Flush(); err != nil {
		t.Fatal(err)
	}
	raw := rawRecords(t, src)
	if _, ok := raw[string(sessionKey(SessionID{2}))]; ok {
		t.Fatal("test setup: the deleted session is there")
	}
	return func(t *testing.T, dst *Store) {
		t.Helper()
		if got := rawRecords(t, dst); !maps.Equal(got, raw) {
			for k, v := range raw {
				if got[k] != v {
					t.Errorf("record %q: restored %q, want %q", k, got[k], v)
				}
			}
			for k := range got {
				if _, ok := raw[k]; !ok {
					t.Errorf("record %q restored from nowhere", k)
				}
			}
		}
		tests := []struct {
			name string
			get  func(s *Store) (any, error)
		}{
			{"user by id", func(s *Store) (any, error) { return s.User(alice.ID) }},
			{"user by username", func(s *Store) (any, error) { return s.UserByUsername("BOB") }},
			{"user by email", func(s *Store) (any, error) { return s.UserByEmail("alice@example.com") }},
			{"users", func(s *Store) (any, error) { u, _, err := s.ListUsers("", 10); return u, err }},
			{"groups", func(s *Store) (any, error) { return s.ListGroups() }},
			{"group members", func(s *Store) (any, error) { return s.GroupMembers("ops") }},
			{"role", func(s *Store) (any, error) { return s.Role("auditor-plus") }},
			{"mfa", func(s *Store) (any, error) { return s.MFA(alice.ID) }},
			{"api key by hash", func(s *Store) (any, error) { return s.APIKeyByHash(key.Hash) }},
			{"user api keys", func(s *Store) (any, error) { return s.APIKeys(alice.ID) }},
			{"session", func(s *Store) (any, error) { return s.Session(sess.ID) }},
			{"user sessions", func(s *Store) (any, error) { return s.UserSessions(bob.ID) }},
			{"audit", func(s *Store) (any, error) { e, _, err := s.ListAudit(AuditFilter{}, "", 10); return e, err }},
			{"token", func(s *Store) (any, error) { return s.Token("invite", tok.Hash) }},
			{"app access", func(s *Store) (any, error) { return s.AppAccess("grafana") }},
			{"setting", func(s *Store) (any, error) {
				var v map[string]string
				err := s.Setting("branding", &v)
				return v, err
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				want, err := tc.get(src)
				if err != nil {
					t.Fatalf("source: %v", err)
				}
				got, err := tc.get(dst)
				if err != nil {
					t.Fatalf("restored: %v", err)
				}
				wj, _ := json.Marshal(want)
				gj, _ := json.Marshal(got)
				if !bytes.Equal(wj, gj) {
					t.Errorf("restored\n %s\nwant\n %s", gj, wj)
				}
				if string(gj) == "null" || string(gj) == "[]" || string(gj) == "{}" {
					t.Errorf("empty record %s", gj)
				}
			})
		}

		// The flushed activity made it, and the records keyed by hash kept it.
		if s, err := dst.Session(sess.ID); err != nil || !s.LastSeen.Equal(clk.Now()) {
			t.Errorf("restored session LastSeen = %v (%v), want %v", s.LastSeen, err, clk.Now())
		}
		if k, err := dst.APIKeyByHash(key.Hash); err != nil || k.Uses != 1 || k.LastUsedIP != "192.0.2.9" {
			t.Errorf("restored API key = %+v, %v", k, err)
		}
	}
}

func TestRestoreRefusesNonEmptyDir(t *testing.T) {
	badgerOnly(t, "backup and restore of a Badger directory")
	src := openTest(t, "", Options{})
	mustCreateUser(t, src, &User{Username: "alice"})
	var buf bytes.Buffer
	if _, err := src.Backup(&buf); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Restore(dir, bytes.NewReader(buf.Bytes()))
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Restore(non-empty) = %v, want an error naming %s", err, dir)
	}
	entries, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(keep); len(entries) != 1 || string(b) != "mine" {
		t.Fatalf("non-empty dir touched: %d entries, keep.txt = %q", len(entries), b)
	}

	// An existing database is refused too.
	if err := Restore(src.dir, bytes.NewReader(buf.Bytes())); err == nil {
		t.Fatal("Restore over a live database succeeded")
	}
}

func TestRestoreRejectsBadBackup(t *testing.T) {
	badgerOnly(t, "backup and restore of a Badger directory")
	for name, data := range map[string][]byte{
		"empty":   nil,
		"garbage": []byte("this is not a backup at all, not even protobuf"),
		"huge":    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3},
		"short":   {10, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3},
	} {
		t.Run(name, func(t *testing.T) {
			missing := filepath.Join(t.TempDir(), "new")
			if err := Restore(missing, bytes.NewReader(data)); err == nil {
				t.Fatal("Restore succeeded")
			}
			if _, err := os.Stat(missing); !os.IsNotExist(err) {
				t.Errorf("failed restore left %s behind: %v", missing, err)
			}
			empty := t.TempDir()
			if err := Restore(empty, bytes.NewReader(data)); err == nil {
				t.Fatal("Restore succeeded")
			}
			if entries, _ := os.ReadDir(empty); len(entries) != 0 {
				t.Errorf("failed restore left %d entries in %s", len(entries), empty)
			}
		})
	}
}

func TestBackupAfterClose(t *testing.T) {
	s, err := Open(testStorage(t, t.TempDir()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(&bytes.Buffer{}); err == nil {
		t.Fatal("Backup after Close succeeded")
	}
}
