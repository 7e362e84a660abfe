package store

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBackupRestoreRoundTrip(t *testing.T) {
	badgerOnly(t, "backup and restore of a Badger directory")
	clk := newClock()
	src := openTest(t, "", Options{Now: clk.Now})

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

	var buf bytes.Buffer
	if _, err := src.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := Restore(dir, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("restored dir: %v, %v", fi, err)
	}
	dst := openTest(t, dir, Options{Now: clk.Now})

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
	badgerOnly(t, "backup and restore of a Badger directory")
	s, err := Open(t.TempDir(), Options{})
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
