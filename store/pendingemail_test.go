package store

import (
	"errors"
	"testing"
)

// TestPendingEmail: a pending address is stored and read back, is not
// indexed (no lookup finds it, and it does not block anyone else from
// the address), and is dropped when the verified address becomes it.
func TestPendingEmail(t *testing.T) {
	s := openTest(t, "", Options{})
	alice := mustCreateUser(t, s, &User{Username: "alice", Email: "alice@example.com", Role: "user"})
	u, err := s.UpdateUser(alice.ID, func(x *User) error { x.PendingEmail = "boss@example.com"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if u.PendingEmail != "boss@example.com" || u.Email != "alice@example.com" {
		t.Fatalf("after the request: email %q, pending %q", u.Email, u.PendingEmail)
	}
	if _, err := s.UserByEmail("boss@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UserByEmail(pending) = %v, want ErrNotFound: a pending address is not indexed", err)
	}
	// Someone else may still take the address: pending claims nothing.
	mustCreateUser(t, s, &User{Username: "boss", Email: "Boss@example.com", Role: "owner"})
	// Confirming it now conflicts and changes nothing.
	_, err = s.UpdateUser(alice.ID, func(x *User) error { x.Email = x.PendingEmail; return nil })
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("confirming an address taken meanwhile: %v, want ErrConflict", err)
	}
	got, _ := s.User(alice.ID)
	if got.Email != "alice@example.com" || got.PendingEmail != "boss@example.com" {
		t.Errorf("after the failed confirmation: email %q, pending %q", got.Email, got.PendingEmail)
	}
	// A free pending address is confirmed; the pending field empties.
	if _, err := s.UpdateUser(alice.ID, func(x *User) error { x.PendingEmail = "new@example.com"; return nil }); err != nil {
		t.Fatal(err)
	}
	u, err = s.UpdateUser(alice.ID, func(x *User) error { x.Email = "NEW@example.com"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if u.PendingEmail != "" {
		t.Errorf("pending %q after the address became the verified one", u.PendingEmail)
	}
	if byMail, err := s.UserByEmail("new@example.com"); err != nil || byMail.ID != alice.ID {
		t.Errorf("UserByEmail(new) = %v, %v", byMail, err)
	}
}
