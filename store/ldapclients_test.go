package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestLDAPClients: create (names unique case-insensitively), read, list,
// touch at most once a minute, delete.
func TestLDAPClients(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	c := &LDAPClient{Name: "jellyfin", App: "media", Hash: []byte("0123456789abcdef0123456789abcdef"), CreatedBy: "alice"}
	if err := s.CreateLDAPClient(c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLDAPClient(&LDAPClient{Name: "JellyFin"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second client with the same name: %v, want ErrConflict", err)
	}
	got, err := s.LDAPClient("JELLYFIN")
	if err != nil || got.App != "media" || string(got.Hash) != string(c.Hash) || got.CreatedAt.IsZero() {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	if err := s.CreateLDAPClient(&LDAPClient{Name: "gitea"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListLDAPClients()
	if err != nil || len(list) != 2 || list[0].Name != "gitea" || list[1].Name != "jellyfin" {
		t.Fatalf("list: %v, %v", list, err)
	}

	now := clk.Now()
	if err := s.TouchLDAPClient(got, "192.0.2.1", now); err != nil {
		t.Fatal(err)
	}
	got, _ = s.LDAPClient("jellyfin")
	if !got.LastUsedAt.Equal(now) || got.LastUsedIP != "192.0.2.1" {
		t.Fatalf("after touch: %v %q", got.LastUsedAt, got.LastUsedIP)
	}
	if err := s.TouchLDAPClient(got, "192.0.2.1", now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.LDAPClient("jellyfin"); !again.LastUsedAt.Equal(now) {
		t.Fatal("a touch within the minute was written")
	}

	if err := s.DeleteLDAPClient("Jellyfin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LDAPClient("jellyfin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteLDAPClient("jellyfin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestEachAccount: the walk is in lowercase username order, starts after
// the name given, stops when asked, and AccountNamed finds a user by name
// in any case.
func TestEachAccount(t *testing.T) {
	s := openTest(t, "", Options{})
	for _, n := range []string{"Carol", "alice", "bob", "dave"} {
		if err := s.CreateUser(&User{Username: n, Role: "user", Groups: []string{"g"}}); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(after string, stop int) []string {
		var out []string
		if err := s.EachAccount(after, func(a Account) bool {
			out = append(out, a.Username)
			return len(out) != stop
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := walk("", 0); !slices.Equal(got, []string{"alice", "bob", "Carol", "dave"}) {
		t.Fatalf("walk: %v", got)
	}
	if got := walk("bob", 0); !slices.Equal(got, []string{"Carol", "dave"}) {
		t.Fatalf("walk after bob: %v", got)
	}
	if got := walk("bz", 1); !slices.Equal(got, []string{"Carol"}) {
		t.Fatalf("walk after bz, stop at 1: %v", got)
	}
	a, err := s.AccountNamed("CAROL")
	if err != nil || a.Username != "Carol" || len(a.Groups) != 1 {
		t.Fatalf("AccountNamed: %+v, %v", a, err)
	}
	if _, err := s.AccountNamed("erin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown name: %v", err)
	}
}

// TestEachAccountIn: the walk over one group's members, in any case of the
// group's name, resumes after a name like EachAccount.
func TestEachAccountIn(t *testing.T) {
	s := openTest(t, "", Options{})
	for n, groups := range map[string][]string{"alice": {"Media", "dev"}, "bob": {"dev"}, "carol": {"media"}, "dave": nil, "erin": {"MEDIA"}} {
		if err := s.CreateUser(&User{Username: n, Role: "user", Groups: groups}); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(group, after string) []string {
		var out []string
		if err := s.EachAccountIn(group, after, func(a Account) bool { out = append(out, a.Username); return true }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		group, after string
		want         []string
	}{
		{"media", "", []string{"alice", "carol", "erin"}},
		{"MEDIA", "alice", []string{"carol", "erin"}},
		{"dev", "", []string{"alice", "bob"}},
		{"nobody", "", nil},
		{"", "carol", []string{"dave", "erin"}},
	} {
		if got := walk(tc.group, tc.after); !slices.Equal(got, tc.want) {
			t.Errorf("group %q after %q: %v, want %v", tc.group, tc.after, got, tc.want)
		}
	}
}
