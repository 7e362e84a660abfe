package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestUserFilterMatch(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	u := &User{Username: "alice", Email: "Alice@Example.com", FullName: "Alice Liddell", Role: "admin", Groups: []string{"Ops", "dev"}}
	disabled := &User{Username: "bob", Disabled: true}
	expired := &User{Username: "carol", ExpiresAt: now}
	future := &User{Username: "dan", ExpiresAt: now.Add(time.Second)}
	tests := []struct {
		f    UserFilter
		u    *User
		want bool
	}{
		{UserFilter{}, u, true},
		{UserFilter{}, disabled, true},
		{UserFilter{Query: "LIC"}, u, true},
		{UserFilter{Query: "example.COM"}, u, true},
		{UserFilter{Query: "liddell"}, u, true},
		{UserFilter{Query: "  liddell "}, u, true},
		{UserFilter{Query: "bob"}, u, false},
		{UserFilter{Role: "admin"}, u, true},
		{UserFilter{Role: "Admin"}, u, false},
		{UserFilter{Role: "user"}, u, false},
		{UserFilter{Group: "OPS"}, u, true},
		{UserFilter{Group: "Dev"}, u, true},
		{UserFilter{Group: "op"}, u, false},
		{UserFilter{Status: "active"}, u, true},
		{UserFilter{Status: "disabled"}, u, false},
		{UserFilter{Status: "active"}, disabled, false},
		{UserFilter{Status: "disabled"}, disabled, true},
		{UserFilter{Status: "active"}, expired, false}, // expires exactly now
		{UserFilter{Status: "disabled"}, expired, true},
		{UserFilter{Status: "active"}, future, true},
		{UserFilter{Status: "disabled"}, future, false},
		{UserFilter{Status: "bogus"}, u, false},
		{UserFilter{Query: "alice", Role: "admin", Group: "ops", Status: "active"}, u, true},
		{UserFilter{Query: "alice", Role: "admin", Group: "ops", Status: "disabled"}, u, false},
	}
	for _, tc := range tests {
		if got := tc.f.Match(tc.u, now); got != tc.want {
			t.Errorf("%+v.Match(%s) = %v, want %v", tc.f, tc.u.Username, got, tc.want)
		}
	}
}

func usernames(us []*User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

func TestSearchUsers(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for i, name := range []string{"Ann", "ben", "cat", "dan", "eve"} {
		u := mustUser(t, s, name, []string{"user", "admin"}[i%2], "g"+name[:1])
		switch name {
		case "cat":
			if _, err := s.UpdateUser(u.ID, func(u *User) error { u.Disabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
		case "dan":
			if _, err := s.UpdateUser(u.ID, func(u *User) error {
				u.ExpiresAt = clk.Now().Add(time.Hour)
				u.FullName = "Daniel Smith"
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Advance(2 * time.Hour) // dan has expired
	tests := []struct {
		f    UserFilter
		want []string
	}{
		{UserFilter{}, []string{"Ann", "ben", "cat", "dan", "eve"}},
		{UserFilter{Role: "admin"}, []string{"ben", "dan"}},
		{UserFilter{Status: "active"}, []string{"Ann", "ben", "eve"}},
		{UserFilter{Status: "disabled"}, []string{"cat", "dan"}},
		{UserFilter{Query: "SMITH"}, []string{"dan"}},
		{UserFilter{Query: "eve@"}, []string{"eve"}},
		{UserFilter{Query: "ann"}, []string{"Ann"}},
		{UserFilter{Group: "GB"}, []string{"ben"}},
		{UserFilter{Role: "admin", Status: "active"}, []string{"ben"}},
		{UserFilter{Query: "nobody"}, nil},
	}
	for _, tc := range tests {
		got, next, err := s.SearchUsers(tc.f, "", 0)
		if err != nil || !slices.Equal(usernames(got), tc.want) || next != "" {
			t.Errorf("SearchUsers(%+v) = %q, %q, %v; want %q", tc.f, usernames(got), next, err, tc.want)
		}
	}
	if _, _, err := s.SearchUsers(UserFilter{Status: "gone"}, "", 0); err == nil {
		t.Error("SearchUsers accepted an unknown status")
	}
	// Pages hold matches only; the cursor is case-insensitive.
	page, next, err := s.SearchUsers(UserFilter{Status: "active"}, "", 2)
	if err != nil || !slices.Equal(usernames(page), []string{"Ann", "ben"}) || next != "ben" {
		t.Fatalf("page 1 = %q, next %q, %v", usernames(page), next, err)
	}
	page, next, err = s.SearchUsers(UserFilter{Status: "active"}, "BEN", 2)
	if err != nil || !slices.Equal(usernames(page), []string{"eve"}) || next != "" {
		t.Fatalf("page 2 = %q, next %q, %v", usernames(page), next, err)
	}
	// Exactly limit matches left: no next page.
	page, next, _ = s.SearchUsers(UserFilter{Status: "disabled"}, "", 2)
	if !slices.Equal(usernames(page), []string{"cat", "dan"}) || next != "" {
		t.Errorf("exact page = %q, next %q", usernames(page), next)
	}
	page, next, _ = s.SearchUsers(UserFilter{}, "eve", 2)
	if len(page) != 0 || next != "" {
		t.Errorf("after the last user = %q, next %q", usernames(page), next)
	}
}

// TestSearchUsersScansPastNonMatches puts many non-matching users between
// the matches: each page must still be full.
func TestSearchUsersScansPastNonMatches(t *testing.T) {
	s := openTest(t, "", Options{})
	var want []string
	for i := range 40 {
		role := "user"
		if i%10 == 9 {
			role = "admin"
			want = append(want, fmt.Sprintf("u%02d", i))
		}
		mustUser(t, s, fmt.Sprintf("u%02d", i), role)
	}
	var got []string
	pages := 0
	for after := ""; ; pages++ {
		page, next, err := s.SearchUsers(UserFilter{Role: "admin"}, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if next != "" && len(page) != 3 {
			t.Fatalf("page %d has %d users before the end", pages, len(page))
		}
		got = append(got, usernames(page)...)
		if next == "" {
			break
		}
		after = next
	}
	if !slices.Equal(got, want) || pages != 1 {
		t.Errorf("paged %q in %d+1 pages, want %q in 2", got, pages, want)
	}
}

func TestUsersWithRole(t *testing.T) {
	s := openTest(t, "", Options{})
	mustUser(t, s, "zed", "owner")
	mustUser(t, s, "amy", "owner")
	mustUser(t, s, "bob", "user")
	mustUser(t, s, "cid", "Owner")
	for _, tc := range []struct {
		role string
		want []string
	}{
		{"owner", []string{"amy", "zed"}},
		{"Owner", []string{"cid"}},
		{"user", []string{"bob"}},
		{"nobody", nil},
	} {
		got, err := s.UsersWithRole(tc.role)
		if err != nil || !slices.Equal(usernames(got), tc.want) {
			t.Errorf("UsersWithRole(%q) = %q, %v; want %q", tc.role, usernames(got), err, tc.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UsersWithRole("owner"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close = %v", err)
	}
}
