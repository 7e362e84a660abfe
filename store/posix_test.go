package store

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func mustCreate(t *testing.T, s *Store, name string) *User {
	t.Helper()
	u := &User{Username: name, Role: "user"}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPosixIDs: with POSIX ids on, users and groups get numbers from the
// range at creation, in order, from one counter; existing records get
// theirs at SetPosixIDs; updates and renames keep them; a deleted user's
// number is never handed out again (not even after a restart); the
// directory serves them from memory; a used-up range leaves new users
// without one.
func TestPosixIDs(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	old := mustCreate(t, s, "old")
	if err := s.CreateGroup(&Group{Name: "Old-Group"}); err != nil {
		t.Fatal(err)
	}
	if old.UIDNumber != 0 {
		t.Fatalf("uid %d with POSIX ids off", old.UIDNumber)
	}
	if err := s.SetPosixIDs(10000, 10004); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Account(old.ID); a.UIDNumber != 10000 {
		t.Errorf("backfilled user: uid %d, want 10000", a.UIDNumber)
	}
	if g := s.GroupGID("old-group"); g != 10001 {
		t.Errorf("backfilled group: gid %d, want 10001", g)
	}
	alice := mustCreate(t, s, "alice")
	if alice.UIDNumber != 10002 {
		t.Errorf("alice: uid %d, want 10002", alice.UIDNumber)
	}
	if err := s.EnsureGroups([]string{"dev"}); err != nil {
		t.Fatal(err)
	}
	if g := s.GroupGID("DEV"); g != 10003 {
		t.Errorf("dev: gid %d, want 10003", g)
	}
	if _, err := s.UpdateUser(alice.ID, func(u *User) error { u.UIDNumber = 1; u.FullName = "A"; return nil }); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.AccountNamed("alice"); a.UIDNumber != 10002 {
		t.Errorf("alice after an update: uid %d", a.UIDNumber)
	}
	if err := s.RenameGroup("dev", "developers"); err != nil {
		t.Fatal(err)
	}
	if g, d := s.GroupGID("developers"), s.GroupGID("dev"); g != 10003 || d != 0 {
		t.Errorf("after the rename: developers %d, dev %d", g, d)
	}
	if err := s.DeleteUser(alice.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{})
	if err := s.SetPosixIDs(10000, 10004); err != nil {
		t.Fatal(err)
	}
	bob := mustCreate(t, s, "bob")
	if bob.UIDNumber != 10004 {
		t.Errorf("bob after alice's deletion and a restart: uid %d, want 10004 (never reused)", bob.UIDNumber)
	}
	carol := mustCreate(t, s, "carol")
	if carol.UIDNumber != 0 {
		t.Errorf("carol past the range's end: uid %d, want none", carol.UIDNumber)
	}
	// A wider range serves new users again, from where the counter is.
	if err := s.SetPosixIDs(10000, 20000); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.AccountNamed("carol"); a.UIDNumber != 10005 {
		t.Errorf("carol after widening: uid %d, want 10005", a.UIDNumber)
	}
	if err := s.SetPosixIDs(0, 0); err != nil {
		t.Fatal(err)
	}
	if dan := mustCreate(t, s, "dan"); dan.UIDNumber != 0 || s.PosixIDsOn() {
		t.Errorf("POSIX ids off: dan got uid %d", dan.UIDNumber)
	}
	for _, bad := range [][2]uint32{{0, 10}, {10, 9}} {
		if err := s.SetPosixIDs(bad[0], bad[1]); err == nil {
			t.Errorf("range %d-%d accepted", bad[0], bad[1])
		}
	}
}

// TestPosixIDsRace: users and groups created at once never share a number.
func TestPosixIDsRace(t *testing.T) {
	s := openTest(t, "", Options{})
	if err := s.SetPosixIDs(5000, 9000); err != nil {
		t.Fatal(err)
	}
	const n = 40
	ids := make([]uint32, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			u := &User{Username: fmt.Sprintf("u%d", i), Role: "user"}
			if err := s.CreateUser(u); err != nil {
				t.Error(err)
			}
			ids[i] = u.UIDNumber
		}()
		go func() {
			defer wg.Done()
			g := &Group{Name: fmt.Sprintf("g%d", i)}
			if err := s.CreateGroup(g); err != nil {
				t.Error(err)
			}
			ids[n+i] = g.GIDNumber
		}()
	}
	wg.Wait()
	slices.Sort(ids)
	for i, id := range ids {
		if id != uint32(5000+i) {
			t.Fatalf("numbers handed out: %v", ids)
		}
	}
}
