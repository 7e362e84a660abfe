package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestIdentities(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	alice := &User{Username: "alice", Role: "user"}
	bob := &User{Username: "bob", Role: "user"}
	for _, u := range []*User{alice, bob} {
		if err := s.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := s.Identity("google", "123"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Identity before any link = %v, want ErrNotFound", err)
	}
	if err := s.LinkIdentity(&Identity{Provider: "google", Subject: "123", UserID: "nobody"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("link to a missing user = %v, want ErrNotFound", err)
	}
	for _, bad := range []*Identity{
		{Provider: "", Subject: "1", UserID: alice.ID},
		{Provider: "google", Subject: "", UserID: alice.ID},
		{Provider: "google", Subject: "a\x00b", UserID: alice.ID},
		{Provider: "go\x00ogle", Subject: "1", UserID: alice.ID},
	} {
		if err := s.LinkIdentity(bad); err == nil {
			t.Errorf("LinkIdentity(%q, %q) accepted", bad.Provider, bad.Subject)
		}
	}

	g := &Identity{Provider: "google", Subject: "123", UserID: alice.ID, Email: "alice@gmail.com"}
	if err := s.LinkIdentity(g); err != nil {
		t.Fatal(err)
	}
	if !g.CreatedAt.Equal(clk.Now()) {
		t.Errorf("CreatedAt = %v", g.CreatedAt)
	}
	// Linking again is idempotent and keeps CreatedAt.
	clk.Advance(time.Hour)
	if err := s.LinkIdentity(&Identity{Provider: "google", Subject: "123", UserID: alice.ID}); err != nil {
		t.Fatalf("same link again: %v", err)
	}
	got, err := s.Identity("google", "123")
	if err != nil || got.UserID != alice.ID || !got.CreatedAt.Equal(g.CreatedAt) {
		t.Fatalf("Identity = %+v, %v", got, err)
	}

	// The external account is someone else's: conflict. Alice already has
	// a Google account: conflict.
	if err := s.LinkIdentity(&Identity{Provider: "google", Subject: "123", UserID: bob.ID}); !errors.Is(err, ErrConflict) {
		t.Errorf("link taken identity = %v, want ErrConflict", err)
	}
	if err := s.LinkIdentity(&Identity{Provider: "google", Subject: "999", UserID: alice.ID}); !errors.Is(err, ErrConflict) {
		t.Errorf("second google account for alice = %v, want ErrConflict", err)
	}
	// Subjects are case-sensitive and may hold any byte but NUL.
	if err := s.LinkIdentity(&Identity{Provider: "authentik", Subject: "Ab/c:d", UserID: alice.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.LinkIdentity(&Identity{Provider: "authentik", Subject: "ab/c:d", UserID: bob.ID}); err != nil {
		t.Fatal(err)
	}

	list, err := s.UserIdentities(alice.ID)
	if err != nil || len(list) != 2 || list[0].Provider != "authentik" || list[1].Provider != "google" {
		t.Fatalf("UserIdentities(alice) = %+v, %v", list, err)
	}
	if list, _ := s.UserIdentities(bob.ID); len(list) != 1 || list[0].Subject != "ab/c:d" {
		t.Errorf("UserIdentities(bob) = %+v", list)
	}

	clk.Advance(time.Minute)
	if err := s.TouchIdentity("google", "123", "new@gmail.com", clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Identity("google", "123"); !got.LastUsedAt.Equal(clk.Now()) || got.Email != "new@gmail.com" {
		t.Errorf("after touch: %+v", got)
	}
	if err := s.TouchIdentity("google", "nope", "", clk.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("touch missing = %v", err)
	}

	// Unlink.
	if _, err := s.UnlinkIdentity(bob.ID, "google"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unlink what bob does not have = %v", err)
	}
	un, err := s.UnlinkIdentity(alice.ID, "google")
	if err != nil || un.Subject != "123" || un.Email != "new@gmail.com" {
		t.Fatalf("UnlinkIdentity = %+v, %v", un, err)
	}
	if _, err := s.Identity("google", "123"); !errors.Is(err, ErrNotFound) {
		t.Errorf("identity after unlink = %v", err)
	}
	// Now free for bob.
	if err := s.LinkIdentity(&Identity{Provider: "google", Subject: "123", UserID: bob.ID}); err != nil {
		t.Errorf("link freed identity: %v", err)
	}

	// Deleting a user removes their links, and nobody else's.
	if err := s.DeleteUser(alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Identity("authentik", "Ab/c:d"); !errors.Is(err, ErrNotFound) {
		t.Errorf("identity of a deleted user = %v", err)
	}
	if list, _ := s.UserIdentities(alice.ID); len(list) != 0 {
		t.Errorf("links of a deleted user: %+v", list)
	}
	if list, _ := s.UserIdentities(bob.ID); len(list) != 2 {
		t.Errorf("bob's links after alice's deletion: %+v", list)
	}
}

// TestLinkIdentityRace links one external account to many users at once:
// exactly one wins.
func TestLinkIdentityRace(t *testing.T) {
	s := openTest(t, "", Options{})
	var users []*User
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		u := &User{Username: n, Role: "user"}
		if err := s.CreateUser(u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.LinkIdentity(&Identity{Provider: "google", Subject: "same", UserID: u.ID})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, ErrConflict):
				t.Errorf("link: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d users got the same identity", wins.Load())
	}
}
