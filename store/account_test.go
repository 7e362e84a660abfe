package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// waitDirectory waits until the user directory is built.
func waitDirectory(t testing.TB, s *Store) {
	t.Helper()
	waitUntil(t, "the user directory is built", s.directory.built.Load)
}

// sameAccount compares an Account with the one made from the user's record.
func sameAccount(t *testing.T, step string, s *Store, id string) {
	t.Helper()
	got, err := s.Account(id)
	if err != nil {
		t.Fatalf("%s: Account: %v", step, err)
	}
	u, err := s.User(id)
	if err != nil {
		t.Fatalf("%s: User: %v", step, err)
	}
	want := AccountOf(u)
	// Times compare by instant (the directory keeps unix nanoseconds).
	if !got.ExpiresAt.Equal(want.ExpiresAt) || !got.PasswordChangedAt.Equal(want.PasswordChangedAt) {
		t.Errorf("%s: times %v %v, want %v %v", step, got.ExpiresAt, got.PasswordChangedAt, want.ExpiresAt, want.PasswordChangedAt)
	}
	got.ExpiresAt, got.PasswordChangedAt, want.ExpiresAt, want.PasswordChangedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(got.Groups) == 0 && len(want.Groups) == 0 {
		got.Groups, want.Groups = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: Account = %+v\nwant        %+v", step, got, want)
	}
}

// TestAccountFollowsWrites: the request path's view of a user (from the
// directory) is the user's record after every kind of write, at once.
func TestAccountFollowsWrites(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	waitDirectory(t, s)
	u := mustCreateUser(t, s, &User{Username: "alice", Email: "Alice@Example.com", FullName: "Alice Ä", Role: "user",
		Groups: []string{"staff", "Dev"}, PasswordChangedAt: clk.Now()})
	sameAccount(t, "created", s, u.ID)
	steps := []struct {
		name string
		fn   func(u *User) error
	}{
		{"disabled", func(u *User) error { u.Disabled = true; return nil }},
		{"enabled, expiring", func(u *User) error { u.Disabled = false; u.ExpiresAt = clk.Now().Add(time.Hour); return nil }},
		{"renamed", func(u *User) error { u.Username, u.Email, u.FullName = "alicia", "", "Alicia"; return nil }},
		{"regrouped", func(u *User) error { u.Groups = []string{"ops"}; return nil }},
		{"no groups", func(u *User) error { u.Groups = nil; return nil }},
		{"new role and password", func(u *User) error {
			u.Role, u.PasswordChangedAt, u.Groups = "admin", clk.Now().Add(time.Minute), []string{"a", "b", "c"}
			return nil
		}},
	}
	for _, st := range steps {
		if _, err := s.UpdateUser(u.ID, st.fn); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		sameAccount(t, st.name, s, u.ID)
	}
	if err := s.CreateGroup(&Group{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameGroup("b", "beta"); err != nil {
		t.Fatal(err)
	}
	sameAccount(t, "group renamed", s, u.ID)
	if a, _ := s.Account(u.ID); a.GroupsHeader != "a,beta,c" {
		t.Errorf("groups header after the rename = %q", a.GroupsHeader)
	}
	if err := s.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Account(u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted user: Account = %v, want ErrNotFound", err)
	}
	if _, err := s.Account("nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: Account = %v, want ErrNotFound", err)
	}
}

// TestAccountWithoutDirectory: before the directory is built (or after a
// Batch dropped it) Account reads through User.
func TestAccountWithoutDirectory(t *testing.T) {
	s := openTest(t, "", Options{})
	waitDirectory(t, s)
	b, err := s.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	u := &User{Username: "bob", Groups: []string{"x"}}
	if err := b.AddUser(u); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if s.directory.built.Load() {
		t.Fatal("the batch did not drop the directory")
	}
	sameAccount(t, "after a batch", s, u.ID)
	if _, err := s.Account("nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: Account = %v, want ErrNotFound", err)
	}
}

func TestAccountDoesNotAllocate(t *testing.T) {
	s := openTest(t, "", Options{})
	waitDirectory(t, s)
	u := mustCreateUser(t, s, &User{Username: "carol", Email: "c@example.com", Groups: []string{"g1", "g2"}})
	if n := testing.AllocsPerRun(100, func() {
		if a, err := s.Account(u.ID); err != nil || a.GroupsHeader != "g1,g2" {
			t.Fatal(a, err)
		}
		if _, err := s.Account("nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Account allocates %v times", n)
	}
}
