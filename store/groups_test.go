package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGroups(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	g := &Group{Name: "Ops", Description: "on call"}
	if err := s.CreateGroup(g); err != nil {
		t.Fatal(err)
	}
	if !g.CreatedAt.Equal(clk.Now()) {
		t.Errorf("CreatedAt = %v", g.CreatedAt)
	}
	if err := s.CreateGroup(&Group{Name: "ops"}); !errors.Is(err, ErrConflict) {
		t.Errorf("CreateGroup(duplicate, other case) = %v, want ErrConflict", err)
	}
	for _, bad := range []string{"", "  ", "a\x00b"} {
		if err := s.CreateGroup(&Group{Name: bad}); err == nil {
			t.Errorf("CreateGroup(%q) succeeded", bad)
		}
	}
	got, err := s.Group("OPS")
	if err != nil || got.Name != "Ops" || got.Description != "on call" {
		t.Errorf("Group = %+v, %v", got, err)
	}
	if _, err := s.Group("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Group(missing) = %v", err)
	}

	if err := s.EnsureGroups([]string{"dev", "OPS", "admins", "dev", ""}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroups(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroups([]string{"x\x00"}); err == nil {
		t.Error("EnsureGroups accepted an invalid name")
	}
	list, err := s.ListGroups()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range list {
		names = append(names, g.Name)
	}
	if want := []string{"admins", "dev", "Ops"}; !slices.Equal(names, want) {
		t.Errorf("ListGroups = %q, want %q", names, want)
	}
	if list[2].Description != "on call" {
		t.Error("EnsureGroups overwrote an existing group")
	}
}

func TestListGroupsEmpty(t *testing.T) {
	s := openTest(t, "", Options{})
	if list, err := s.ListGroups(); err != nil || len(list) != 0 {
		t.Errorf("ListGroups = %v, %v", list, err)
	}
}

// mustUser creates a user with the given role and groups (kept as given:
// CreateUser only sorts and deduplicates them exactly).
func mustUser(t testing.TB, s *Store, name, role string, groups ...string) *User {
	t.Helper()
	return mustCreateUser(t, s, &User{Username: name, Email: name + "@example.com", Role: role, Groups: groups})
}

// diskUser reads a user record straight from Badger, bypassing the cache.
func diskUser(t testing.TB, s *Store, id string) *User {
	t.Helper()
	u := new(User)
	if err := s.db.View(func(txn kvTxn) error { return get(txn, userKey(id), u) }); err != nil {
		t.Fatalf("read user %s from disk: %v", id, err)
	}
	u.seal()
	return u
}

func TestUpdateGroup(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	if err := s.CreateGroup(&Group{Name: "Dev", Description: "old"}); err != nil {
		t.Fatal(err)
	}
	created := clk.Now()
	clk.Advance(time.Hour)
	errFn := errors.New("fn failed")
	tests := []struct {
		name     string
		group    string
		fn       func(g *Group) error
		wantErr  error // nil: success
		anyErr   bool  // an error without a sentinel
		wantDesc string
	}{
		{"description, other case", "DEV", func(g *Group) error { g.Description = "Developers"; return nil }, nil, false, "Developers"},
		{"CreatedAt is kept", "dev", func(g *Group) error { g.CreatedAt = time.Time{}; return nil }, nil, false, "Developers"},
		{"missing", "nope", func(g *Group) error { return nil }, ErrNotFound, false, "Developers"},
		{"rename refused", "dev", func(g *Group) error { g.Name = "ops"; g.Description = "x"; return nil }, nil, true, "Developers"},
		{"case-only rename refused", "dev", func(g *Group) error { g.Name = "dev"; return nil }, nil, true, "Developers"},
		{"fn error", "dev", func(g *Group) error { g.Description = "x"; return errFn }, errFn, false, "Developers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := s.UpdateGroup(tc.group, tc.fn)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.anyErr:
				if err == nil {
					t.Error("succeeded, want an error")
				}
			case err != nil:
				t.Errorf("err = %v", err)
			case g.Name != "Dev" || g.Description != tc.wantDesc:
				t.Errorf("returned %+v", g)
			}
			if err != nil && g != nil {
				t.Errorf("returned a group with error: %+v", g)
			}
			got, err := s.Group("dev")
			if err != nil || got.Name != "Dev" || got.Description != tc.wantDesc || !got.CreatedAt.Equal(created) {
				t.Errorf("stored %+v, %v; want description %q, CreatedAt %v", got, err, tc.wantDesc, created)
			}
		})
	}
}

// groupFixture is a store with groups, users and apps referring to them.
type groupFixture struct {
	s                                *Store
	clk                              *clock
	alice, bob, carol, dave, eve, fr *User
}

func newGroupFixture(t *testing.T) *groupFixture {
	t.Helper()
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	if err := s.CreateGroup(&Group{Name: "staff", Description: "everyone"}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroups([]string{"ops", "dev"}); err != nil {
		t.Fatal(err)
	}
	f := &groupFixture{s: s, clk: clk}
	f.alice = mustUser(t, s, "alice", "user", "staff", "dev")
	f.bob = mustUser(t, s, "bob", "user", "ops")
	f.carol = mustUser(t, s, "carol", "user", "STAFF")
	f.dave = mustUser(t, s, "dave", "user", "Staff", "staff", "zz")
	// "legacy" has no group record: memberships may name unknown groups.
	f.eve = mustUser(t, s, "eve", "user", "dev", "legacy")
	f.fr = mustUser(t, s, "frank", "user")
	for _, a := range []*AppAccess{
		{App: "wiki", AllowGroups: []string{"ops", "staff"}, AllowUsers: []string{"frank"}, Operators: []string{"bob"}},
		{App: "git", AllowGroups: []string{"Dev", "legacy"}},
		{App: "mail"},
	} {
		if err := s.PutAppAccess(a); err != nil {
			t.Fatal(err)
		}
	}
	// Warm the cache, so the tests prove it is kept coherent.
	for _, u := range f.users() {
		if _, err := s.User(u.ID); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Hour)
	return f
}

func (f *groupFixture) users() []*User { return []*User{f.alice, f.bob, f.carol, f.dave, f.eve, f.fr} }

// check compares every user's groups (cached and on disk) and every app's
// allowed groups with want, and that exactly the changed users and apps got
// a new UpdatedAt.
func (f *groupFixture) check(t *testing.T, wantUsers map[string][]string, wantApps map[string][]string) {
	t.Helper()
	for _, u := range f.users() {
		want, changed := wantUsers[u.Username]
		if !changed {
			want = u.Groups
		}
		cached, err := f.s.User(u.ID)
		if err != nil {
			t.Fatal(err)
		}
		disk := diskUser(t, f.s, u.ID)
		if !slices.Equal(cached.Groups, want) || !slices.Equal(disk.Groups, want) {
			t.Errorf("%s groups: cached %q, disk %q; want %q", u.Username, cached.Groups, disk.Groups, want)
		}
		if cached.GroupsHeader() != strings.Join(want, ",") {
			t.Errorf("%s GroupsHeader = %q, want %q", u.Username, cached.GroupsHeader(), strings.Join(want, ","))
		}
		if wantUpd := changed && !slices.Equal(want, u.Groups); cached.UpdatedAt.Equal(f.clk.Now()) != wantUpd {
			t.Errorf("%s UpdatedAt = %v, changed = %v", u.Username, cached.UpdatedAt, wantUpd)
		}
	}
	apps, err := f.s.ListAppAccess()
	if err != nil {
		t.Fatal(err)
	}
	orig := map[string][]string{"wiki": {"ops", "staff"}, "git": {"Dev", "legacy"}, "mail": nil}
	for _, a := range apps {
		want, changed := wantApps[a.App]
		if !changed {
			want = orig[a.App]
		}
		if !slices.Equal(a.AllowGroups, want) {
			t.Errorf("app %s groups = %q, want %q", a.App, a.AllowGroups, want)
		}
		if a.UpdatedAt.Equal(f.clk.Now()) != changed {
			t.Errorf("app %s UpdatedAt = %v, changed = %v", a.App, a.UpdatedAt, changed)
		}
		if a.App == "wiki" && (!slices.Equal(a.AllowUsers, []string{"frank"}) || !slices.Equal(a.Operators, []string{"bob"})) {
			t.Errorf("wiki lost its users or operators: %+v", a)
		}
	}
}

func TestRenameGroup(t *testing.T) {
	tests := []struct {
		name      string
		from, to  string
		wantErr   error // nil: success
		anyErr    bool
		wantUsers map[string][]string // only the users that change
		wantApps  map[string][]string // only the apps that change
		gone      string              // group that must no longer exist
		wantGroup string              // group that must exist, with the old record's description
	}{
		{
			name: "every case of the name is rewritten", from: "STAFF", to: "crew",
			wantUsers: map[string][]string{"alice": {"crew", "dev"}, "carol": {"crew"}, "dave": {"crew", "zz"}},
			wantApps:  map[string][]string{"wiki": {"crew", "ops"}},
			gone:      "staff", wantGroup: "crew",
		},
		{
			name: "case-only rename of the same group", from: "staff", to: "Staff",
			wantUsers: map[string][]string{"alice": {"Staff", "dev"}, "carol": {"Staff"}, "dave": {"Staff", "zz"}},
			wantApps:  map[string][]string{"wiki": {"Staff", "ops"}},
			wantGroup: "Staff",
		},
		{
			name: "merging into an unknown group deduplicates", from: "dev", to: "legacy",
			wantUsers: map[string][]string{"alice": {"legacy", "staff"}, "eve": {"legacy"}},
			wantApps:  map[string][]string{"git": {"legacy"}},
			gone:      "dev", wantGroup: "legacy",
		},
		{name: "taken", from: "staff", to: "ops", wantErr: ErrConflict},
		{name: "taken in another case", from: "staff", to: "OPS", wantErr: ErrConflict},
		{name: "missing", from: "nope", to: "x", wantErr: ErrNotFound},
		{name: "missing, member of unknown group", from: "legacy", to: "x", wantErr: ErrNotFound},
		{name: "empty new name", from: "staff", to: " ", anyErr: true},
		{name: "invalid new name", from: "staff", to: "a\x00b", anyErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newGroupFixture(t)
			err := f.s.RenameGroup(tc.from, tc.to)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("RenameGroup = %v, want %v", err, tc.wantErr)
				}
			case tc.anyErr:
				if err == nil {
					t.Fatal("RenameGroup succeeded, want an error")
				}
			case err != nil:
				t.Fatalf("RenameGroup: %v", err)
			}
			// On error nothing changes.
			f.check(t, tc.wantUsers, tc.wantApps)
			if tc.gone != "" {
				if _, err := f.s.Group(tc.gone); !errors.Is(err, ErrNotFound) {
					t.Errorf("Group(%q) = %v, want ErrNotFound", tc.gone, err)
				}
			}
			if tc.wantGroup != "" {
				g, err := f.s.Group(tc.wantGroup)
				if err != nil || g.Name != tc.wantGroup {
					t.Fatalf("Group(%q) = %+v, %v", tc.wantGroup, g, err)
				}
				if tc.from == "STAFF" && g.Description != "everyone" {
					t.Errorf("renamed group lost its description: %+v", g)
				}
			}
			if groups, _ := f.s.ListGroups(); len(groups) != 3 {
				t.Errorf("%d groups after rename, want 3", len(groups))
			}
		})
	}
}

func TestDeleteGroup(t *testing.T) {
	tests := []struct {
		name      string
		group     string
		wantErr   error
		wantUsers map[string][]string
		wantApps  map[string][]string
	}{
		{
			name: "every case of the name is removed", group: "Staff",
			wantUsers: map[string][]string{"alice": {"dev"}, "carol": nil, "dave": {"zz"}},
			wantApps:  map[string][]string{"wiki": {"ops"}},
		},
		{
			name: "app left with no groups", group: "ops",
			wantUsers: map[string][]string{"bob": nil},
			wantApps:  map[string][]string{"wiki": {"staff"}},
		},
		{name: "missing", group: "nope", wantErr: ErrNotFound},
		{name: "members but no record", group: "legacy", wantErr: ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newGroupFixture(t)
			err := f.s.DeleteGroup(tc.group)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("DeleteGroup = %v, want %v", err, tc.wantErr)
			}
			f.check(t, tc.wantUsers, tc.wantApps)
			_, gerr := f.s.Group(tc.group)
			if tc.wantErr == nil && !errors.Is(gerr, ErrNotFound) {
				t.Errorf("group after delete: %v", gerr)
			}
			if tc.wantErr == nil {
				if err := f.s.DeleteGroup(tc.group); !errors.Is(err, ErrNotFound) {
					t.Errorf("second DeleteGroup = %v, want ErrNotFound", err)
				}
			}
		})
	}
}

func TestGroupMembersAndCounts(t *testing.T) {
	f := newGroupFixture(t)
	names := func(us []*User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	for _, tc := range []struct {
		group string
		want  []string
	}{
		{"staff", []string{"alice", "carol", "dave"}},
		{"STAFF", []string{"alice", "carol", "dave"}},
		{"dev", []string{"alice", "eve"}},
		{"legacy", []string{"eve"}},
		{"nope", nil},
	} {
		got, err := f.s.GroupMembers(tc.group)
		if err != nil || !slices.Equal(names(got), tc.want) {
			t.Errorf("GroupMembers(%q) = %q, %v; want %q", tc.group, names(got), err, tc.want)
		}
	}
	counts, err := f.s.GroupMemberCounts()
	want := map[string]int{"staff": 3, "dev": 2, "ops": 1, "legacy": 1, "zz": 1}
	if err != nil || !maps.Equal(counts, want) {
		t.Errorf("GroupMemberCounts = %v, %v; want %v", counts, err, want)
	}
	if err := f.s.DeleteGroup("staff"); err != nil {
		t.Fatal(err)
	}
	if counts, _ := f.s.GroupMemberCounts(); counts["staff"] != 0 || counts["dev"] != 2 {
		t.Errorf("GroupMemberCounts after delete = %v", counts)
	}
	empty := openTest(t, "", Options{})
	if counts, err := empty.GroupMemberCounts(); err != nil || len(counts) != 0 {
		t.Errorf("GroupMemberCounts of an empty store = %v, %v", counts, err)
	}
}

// TestRenameGroupKeepsCacheCoherent races renames with UpdateUser on the
// same user: at the end the cached user must equal the stored one.
func TestRenameGroupKeepsCacheCoherent(t *testing.T) {
	s := openTest(t, "", Options{})
	if err := s.EnsureGroups([]string{"g0"}); err != nil {
		t.Fatal(err)
	}
	u := mustUser(t, s, "alice", "user", "g0", "other")
	const rounds = 20
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range rounds {
			if err := s.RenameGroup(fmt.Sprintf("g%d", i), fmt.Sprintf("g%d", i+1)); err != nil {
				t.Errorf("RenameGroup: %v", err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range rounds {
			if _, err := s.UpdateUser(u.ID, func(u *User) error { u.FullName = fmt.Sprint("Alice ", i); return nil }); err != nil {
				t.Errorf("UpdateUser: %v", err)
				return
			}
			if _, err := s.User(u.ID); err != nil {
				t.Errorf("User: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	cached, err := s.User(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	disk := diskUser(t, s, u.ID)
	want := []string{fmt.Sprintf("g%d", rounds), "other"}
	if !slices.Equal(disk.Groups, want) || !slices.Equal(cached.Groups, want) || cached.FullName != disk.FullName ||
		disk.FullName != fmt.Sprint("Alice ", rounds-1) {
		t.Errorf("cached %q %q, disk %q %q; want groups %q", cached.FullName, cached.Groups, disk.FullName, disk.Groups, want)
	}
}

// TestRenameGroupTooBig checks that a group too large for one transaction
// fails as documented, with nothing changed.
func TestRenameGroupTooBig(t *testing.T) {
	badgerOnly(t, "Badger's transaction size limit")
	if testing.Short() {
		t.Skip("writes many users")
	}
	s := openTest(t, "", Options{})
	if err := s.CreateGroup(&Group{Name: "big"}); err != nil {
		t.Fatal(err)
	}
	// Written in a batch: CreateUser syncs each one.
	const n = 12000
	b, err := s.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 200)
	for i := range n {
		u := &User{ID: fmt.Sprintf("id%05d", i), Username: fmt.Sprintf("u%05d", i), FullName: pad, Groups: []string{"big"}}
		if err := b.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"RenameGroup": func() error { return s.RenameGroup("big", "huge") },
		"DeleteGroup": func() error { return s.DeleteGroup("big") },
	} {
		if err := op(); !errors.Is(err, ErrTooBig) || !errors.Is(err, errTxnTooBig) {
			t.Errorf("%s = %v, want ErrTooBig wrapping errTxnTooBig", name, err)
		}
	}
	if _, err := s.Group("big"); err != nil {
		t.Errorf("group after failed rename: %v", err)
	}
	if counts, err := s.GroupMemberCounts(); err != nil || counts["big"] != n || counts["huge"] != 0 {
		t.Errorf("GroupMemberCounts after failed rename = %v, %v", counts, err)
	}
}
