package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDirectoryFollowsWrites runs random creates, updates, deletes and
// group renames and deletions, and after each compares every kind of search
// with a brute-force filter over the users read one by one. The directory
// is built before the writes in one run and between them in the other, so
// both the upkeep and the build are checked.
func TestDirectoryFollowsWrites(t *testing.T) {
	for _, buildFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("built first %v", buildFirst), func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 1))
			clk := newClock()
			s := openTest(t, "", Options{Now: clk.Now})
			if buildFirst {
				if _, err := s.CountUsers(); err != nil {
					t.Fatal(err)
				}
			}
			groups := []string{"Ops", "dev", "QA", "sales"}
			ids := map[string]bool{}
			pick := func() string {
				keys := make([]string, 0, len(ids))
				for id := range ids {
					keys = append(keys, id)
				}
				slices.Sort(keys)
				return keys[rng.IntN(len(keys))]
			}
			randomize := func(u *User) {
				u.FullName = []string{"", "Ann Smith", "Bo Jones", "Émile Zola"}[rng.IntN(4)]
				u.Role = []string{"user", "admin"}[rng.IntN(2)]
				u.Groups = nil
				for _, g := range groups {
					if rng.IntN(3) == 0 {
						u.Groups = append(u.Groups, g)
					}
				}
				u.Disabled = rng.IntN(5) == 0
				u.ExpiresAt = time.Time{}
				if rng.IntN(5) == 0 {
					u.ExpiresAt = clk.Now().Add(time.Duration(rng.IntN(3)-1) * time.Hour)
				}
			}
			for step := range 300 {
				switch op := rng.IntN(10); {
				case op < 4 || len(ids) < 3:
					u := &User{Username: fmt.Sprintf("U%03d", rng.IntN(1000)), Email: fmt.Sprintf("m%d@x.org", step)}
					randomize(u)
					if err := s.CreateUser(u); err == nil {
						ids[u.ID] = true
					}
				case op < 7:
					if _, err := s.UpdateUser(pick(), func(u *User) error {
						randomize(u)
						if rng.IntN(3) == 0 {
							u.Username = fmt.Sprintf("r%03d", rng.IntN(1000))
						}
						return nil
					}); err != nil && !strings.Contains(err.Error(), "taken") {
						t.Fatal(err)
					}
				case op < 8:
					id := pick()
					if err := s.DeleteUser(id); err != nil {
						t.Fatal(err)
					}
					delete(ids, id)
				case op < 9:
					g := groups[rng.IntN(len(groups))]
					if err := s.CreateGroup(&Group{Name: g}); err != nil && !strings.Contains(err.Error(), "exists") {
						t.Fatal(err)
					}
					next := fmt.Sprintf("G%d", step)
					if err := s.RenameGroup(g, next); err != nil {
						t.Fatal(err)
					}
					groups[slices.Index(groups, g)] = next
				default:
					i := rng.IntN(len(groups))
					if err := s.CreateGroup(&Group{Name: groups[i]}); err != nil && !strings.Contains(err.Error(), "exists") {
						t.Fatal(err)
					}
					if err := s.DeleteGroup(groups[i]); err != nil {
						t.Fatal(err)
					}
					groups[i] = fmt.Sprintf("n%d", step)
				}
				if step == 150 && !buildFirst {
					if _, err := s.CountUsers(); err != nil {
						t.Fatal(err)
					}
				}
				if step%25 == 24 {
					clk.Advance(40 * time.Minute)
					checkDirectory(t, s, ids, groups, clk.Now())
				}
			}
		})
	}
}

// checkDirectory compares searches with a brute-force filter of all users.
func checkDirectory(t *testing.T, s *Store, ids map[string]bool, groups []string, now time.Time) {
	t.Helper()
	var all []*User
	for id := range ids {
		u, err := s.User(id)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, u)
	}
	slices.SortFunc(all, func(a, b *User) int { return strings.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username)) })
	filters := []UserFilter{{}, {Query: "smith"}, {Query: "U0"}, {Query: "@X.ORG"}, {Query: "émile"}, {Role: "admin"},
		{Status: StatusActive}, {Status: StatusDisabled}, {Group: strings.ToUpper(groups[0])}, {Group: groups[1], Status: StatusActive}}
	for _, f := range filters {
		var want []string
		for _, u := range all {
			if f.Match(u, now) {
				want = append(want, u.Username)
			}
		}
		// Page through in threes to exercise the cursor too.
		var got []string
		after := ""
		for range 1000 {
			page, next, err := s.SearchUsers(f, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, usernames(page)...)
			if next == "" {
				break
			}
			after = next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("SearchUsers(%+v) = %q; want %q", f, got, want)
		}
	}
	if n, err := s.CountUsers(); err != nil || n != len(ids) {
		t.Fatalf("CountUsers = %d, %v; want %d", n, err, len(ids))
	}
	counts, err := s.GroupMemberCounts()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, u := range all {
		for _, g := range u.Groups {
			want[strings.ToLower(g)]++
		}
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("GroupMemberCounts = %v; want %v", counts, want)
	}
}

// TestDirectorySurvivesReopen: a reopened store builds its directory from
// disk.
func TestDirectorySurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(testStorage(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"zed", "Amy", "kim"} {
		mustCreateUser(t, s, &User{Username: n, FullName: n + " Doe"})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{})
	got, _, err := s.SearchUsers(UserFilter{Query: "doe"}, "", 0)
	if err != nil || !slices.Equal(usernames(got), []string{"Amy", "kim", "zed"}) {
		t.Errorf("after reopen: %q, %v", usernames(got), err)
	}
}

// BenchmarkSearchUsers100k searches 100,000 users (500 groups) for a
// substring that matches a few of them, the worst case for a page: the
// whole directory is walked.
func BenchmarkSearchUsers100k(b *testing.B) {
	s := openTest(b, "", Options{})
	seedUsers(b, s, 100_000, 500)
	if _, err := s.CountUsers(); err != nil { // build the directory
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		f    UserFilter
	}{
		{"first page", UserFilter{}},
		{"rare substring", UserFilter{Query: "user04242"}},
		{"group", UserFilter{Group: "group-0123"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				users, _, err := s.SearchUsers(bc.f, "", 50)
				if err != nil || len(users) == 0 {
					b.Fatalf("%d users, %v", len(users), err)
				}
			}
		})
	}
}

// seedUsers adds n users spread over groups groups with a Batch.
func seedUsers(tb testing.TB, s *Store, n, groups int) {
	tb.Helper()
	bt, err := s.NewBatch()
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		u := &User{Username: fmt.Sprintf("user%06d", i), Email: fmt.Sprintf("user%06d@example.org", i),
			FullName: fmt.Sprintf("User Number %d", i), Role: "user",
			Groups: []string{fmt.Sprintf("group-%04d", i%groups)}}
		if err := bt.AddUser(u); err != nil {
			tb.Fatal(err)
		}
	}
	if err := bt.Commit(); err != nil {
		tb.Fatal(err)
	}
}
