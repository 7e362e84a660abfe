package store

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// appPasswordKeys counts the keys of every app password record and index
// left in the database, to find orphans.
func appPasswordKeys(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn kvTxn) error {
		for _, p := range []string{prefixAppPassword, prefixAppPassID} {
			if err := scanKeys(txn, []byte(p), func([]byte) error { n++; return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustAppPassword(t *testing.T, s *Store, uid string, hash byte, app string) AppPassword {
	t.Helper()
	p := &AppPassword{UserID: uid, Hash: [32]byte{hash}, Name: "pw", App: app, CreatedBy: uid}
	if err := s.CreateAppPassword(p, 0); err != nil {
		t.Fatalf("CreateAppPassword: %v", err)
	}
	return *p
}

func TestAppPasswords(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, Options{Now: clk.Now})
	alice := &User{Username: "alice", Role: "user"}
	bob := &User{Username: "bob", Role: "user"}
	for _, u := range []*User{alice, bob} {
		if err := s.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateAppPassword(&AppPassword{UserID: "ghost", Hash: [32]byte{9}}, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("password of a missing user: %v", err)
	}
	p := mustAppPassword(t, s, alice.ID, 1, "wiki")
	if p.ID == "" || !p.CreatedAt.Equal(clk.Now()) {
		t.Fatalf("created %+v", p)
	}
	if err := s.CreateAppPassword(&AppPassword{UserID: alice.ID, Hash: [32]byte{1}}, 0); !errors.Is(err, ErrConflict) {
		t.Errorf("same hash twice: %v", err)
	}
	clk.Advance(time.Minute)
	q := mustAppPassword(t, s, alice.ID, 2, "")

	// Matching: only the owner's passwords, only the right hash.
	tests := []struct {
		name string
		user string
		hash byte
		want string // id, or "" for ErrNotFound
	}{
		{"first", alice.ID, 1, p.ID},
		{"second", alice.ID, 2, q.ID},
		{"wrong hash", alice.ID, 3, ""},
		{"someone else's password", bob.ID, 1, ""},
		{"no such user", "ghost", 1, ""},
		{"invalid user id", "a\x00b", 1, ""},
	}
	for range 2 { // from Badger, then from the cache
		for _, tc := range tests {
			got, err := s.MatchAppPassword(tc.user, [32]byte{tc.hash})
			if tc.want == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("%s: %+v, %v; want ErrNotFound", tc.name, got, err)
				}
				continue
			}
			if err != nil || got.ID != tc.want || got.UserID != tc.user {
				t.Errorf("%s: %+v, %v; want %s", tc.name, got, err, tc.want)
			}
		}
	}
	if got, _ := s.MatchAppPassword(alice.ID, [32]byte{1}); got.App != "wiki" || got.Name != "pw" || got.CreatedBy != alice.ID {
		t.Errorf("fields: %+v", got)
	}

	// Listing: newest first, without use yet.
	list, err := s.AppPasswords(alice.ID)
	if err != nil || len(list) != 2 || list[0].ID != q.ID || list[1].ID != p.ID || !list[0].LastUsedAt.IsZero() {
		t.Fatalf("AppPasswords = %+v, %v", list, err)
	}
	if got, err := s.AppPassword(p.ID); err != nil || got.UserID != alice.ID || got.Hash != p.Hash {
		t.Errorf("AppPassword = %+v, %v", got, err)
	}
	if _, err := s.AppPassword("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}

	// Use is kept in memory, listed at once and written by Flush; an
	// older use does not replace a newer one.
	used := clk.Now()
	s.TouchAppPassword(p, "192.0.2.1", used)
	s.TouchAppPassword(p, "192.0.2.9", used.Add(-time.Second))
	if list, _ := s.AppPasswords(alice.ID); !list[1].LastUsedAt.Equal(used) || list[1].LastUsedIP != "192.0.2.1" {
		t.Fatalf("after a use: %+v", list[1])
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{Now: clk.Now})
	if got, err := s.AppPassword(p.ID); err != nil || !got.LastUsedAt.Equal(used) || got.LastUsedIP != "192.0.2.1" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if got, err := s.MatchAppPassword(alice.ID, [32]byte{2}); err != nil || got.ID != q.ID {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}

	// Revocation is immediate, for the cache too; a use recorded before
	// it does not bring the record back at the next flush.
	s.TouchAppPassword(q, "192.0.2.2", clk.Now())
	if got, err := s.DeleteAppPassword(q.ID); err != nil || got.ID != q.ID || got.UserID != alice.ID {
		t.Fatalf("DeleteAppPassword = %+v, %v", got, err)
	}
	if _, err := s.MatchAppPassword(alice.ID, [32]byte{2}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked password still matches: %v", err)
	}
	if _, err := s.DeleteAppPassword(q.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked twice: %v", err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppPassword(q.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("flush revived a revoked password: %v", err)
	}
	if n := appPasswordKeys(t, s); n != 2 {
		t.Errorf("%d keys for one password", n)
	}

	// DeleteUserAppPasswords.
	mustAppPassword(t, s, alice.ID, 5, "")
	mustAppPassword(t, s, bob.ID, 6, "")
	if n, err := s.DeleteUserAppPasswords(alice.ID); err != nil || n != 2 {
		t.Errorf("DeleteUserAppPasswords = %d, %v", n, err)
	}
	if list, _ := s.AppPasswords(alice.ID); len(list) != 0 {
		t.Errorf("left: %+v", list)
	}
	if _, err := s.MatchAppPassword(alice.ID, [32]byte{1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked with all: %v", err)
	}
	if _, err := s.MatchAppPassword(bob.ID, [32]byte{6}); err != nil {
		t.Errorf("bob's password went with alice's: %v", err)
	}
}

// TestAppPasswordUsesFlushInChunks: more uses than one transaction
// writes are all written.
func TestAppPasswordUsesFlushInChunks(t *testing.T) {
	defer func(n int) { appPasswordFlushChunk = n }(appPasswordFlushChunk)
	appPasswordFlushChunk = 3
	s := openTest(t, t.TempDir(), Options{})
	u := &User{Username: "alice", Role: "user"}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 7 {
		s.TouchAppPassword(mustAppPassword(t, s, u.ID, byte(i), ""), "192.0.2.1", at)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.appPasswords.mu.Lock()
	clear(s.appPasswords.uses) // only what was written counts
	s.appPasswords.mu.Unlock()
	list, err := s.AppPasswords(u.ID)
	if err != nil || len(list) != 7 {
		t.Fatalf("AppPasswords = %d, %v", len(list), err)
	}
	for _, p := range list {
		if !p.LastUsedAt.Equal(at) {
			t.Errorf("%s: last use %v not written", p.ID, p.LastUsedAt)
		}
	}
}

// TestAppPasswordLimit: a user has at most limit app passwords.
func TestAppPasswordLimit(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	u := &User{Username: "alice", Role: "user"}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.CreateAppPassword(&AppPassword{UserID: u.ID, Hash: [32]byte{byte(i)}}, 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateAppPassword(&AppPassword{UserID: u.ID, Hash: [32]byte{9}}, 3); !errors.Is(err, ErrLimit) {
		t.Errorf("fourth of 3: %v", err)
	}
}

// TestAppPasswordsDieWithUser: deleting a user deletes their app
// passwords, index entries included; disabling one deletes them too, in
// the same transaction, and enabling the account again does not revive
// them; a disabled user gets none.
func TestAppPasswordsDieWithUser(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	for _, tc := range []struct {
		name string
		kill func(u *User) error
	}{
		{"deleted", func(u *User) error { return s.DeleteUser(u.ID) }},
		{"disabled", func(u *User) error {
			_, err := s.UpdateUser(u.ID, func(x *User) error { x.Disabled = true; return nil })
			return err
		}},
		{"disabled ending sessions", func(u *User) error {
			_, _, err := s.UpdateUserEndingSessions(u.ID, func(x *User) error { x.Disabled = true; return nil }, SessionID{})
			return err
		}},
	} {
		u := &User{Username: "u" + NewID()[:8], Role: "user"}
		if err := s.CreateUser(u); err != nil {
			t.Fatal(err)
		}
		p := mustAppPassword(t, s, u.ID, 1, "")
		s.TouchAppPassword(p, "192.0.2.1", time.Now())
		if _, err := s.MatchAppPassword(u.ID, [32]byte{1}); err != nil { // cached
			t.Fatal(err)
		}
		if err := tc.kill(u); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, err := s.MatchAppPassword(u.ID, [32]byte{1}); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: password still matches: %v", tc.name, err)
		}
		if n := appPasswordKeys(t, s); n != 0 {
			t.Errorf("%s: %d app password keys left", tc.name, n)
		}
		if tc.name == "deleted" {
			continue
		}
		if err := s.CreateAppPassword(&AppPassword{UserID: u.ID, Hash: [32]byte{2}}, 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: password made for a disabled user: %v", tc.name, err)
		}
		if _, err := s.UpdateUser(u.ID, func(x *User) error { x.Disabled = false; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MatchAppPassword(u.ID, [32]byte{1}); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: enabling revived the password: %v", tc.name, err)
		}
		// A change that is not a disabling keeps them.
		mustAppPassword(t, s, u.ID, 3, "")
		if _, err := s.UpdateUser(u.ID, func(x *User) error { x.FullName = "X"; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MatchAppPassword(u.ID, [32]byte{3}); err != nil {
			t.Errorf("%s: an edit killed the password: %v", tc.name, err)
		}
		if err := s.DeleteUser(u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := appPasswordKeys(t, s); n != 0 {
		t.Errorf("%d app password keys left after flush", n)
	}
}

// TestAppPasswordRevokeRaces: a check racing with a revocation never
// leaves the revoked password working in the cache, and a creation racing
// with the user's deletion leaves no orphan.
func TestAppPasswordRevokeRaces(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	for i := range 50 {
		u := &User{Username: "u" + NewID()[:8], Role: "user"}
		if err := s.CreateUser(u); err != nil {
			t.Fatal(err)
		}
		p := mustAppPassword(t, s, u.ID, byte(i), "")
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); _, _ = s.MatchAppPassword(u.ID, p.Hash) }()
		go func() { defer wg.Done(); _, _ = s.DeleteAppPassword(p.ID) }()
		go func() {
			defer wg.Done()
			_ = s.CreateAppPassword(&AppPassword{UserID: u.ID, Hash: [32]byte{byte(i), 1}}, 0)
		}()
		wg.Wait()
		if _, err := s.MatchAppPassword(u.ID, p.Hash); !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: revoked password matches after the race: %v", i, err)
		}
		wg.Add(2)
		go func() { defer wg.Done(); _ = s.DeleteUser(u.ID) }()
		go func() {
			defer wg.Done()
			_ = s.CreateAppPassword(&AppPassword{UserID: u.ID, Hash: [32]byte{byte(i), 2}}, 0)
		}()
		wg.Wait()
	}
	if n := appPasswordKeys(t, s); n != 0 {
		t.Errorf("%d orphan app password keys", n)
	}
}
