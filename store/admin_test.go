package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func mustUserT(t *testing.T, s *Store, name, role string, groups ...string) *User {
	t.Helper()
	u := &User{Username: name, Email: name + "@example.com", Role: role, Groups: groups}
	if err := s.CreateUser(u); err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	return u
}

func TestRenameAndDeleteGroup(t *testing.T) {
	s := openTest(t, "", Options{})
	if err := s.EnsureGroups([]string{"staff", "ops", "dev"}); err != nil {
		t.Fatal(err)
	}
	alice := mustUserT(t, s, "alice", "user", "staff", "dev")
	bob := mustUserT(t, s, "bob", "user", "ops")
	if err := s.PutAppAccess(&AppAccess{App: "wiki", AllowGroups: []string{"ops", "staff"}}); err != nil {
		t.Fatal(err)
	}
	// Warm the cache so the test proves it is kept coherent.
	if _, err := s.User(alice.ID); err != nil {
		t.Fatal(err)
	}

	if err := s.RenameGroup("STAFF", "crew"); err != nil {
		t.Fatalf("RenameGroup: %v", err)
	}
	if u, _ := s.User(alice.ID); !slices.Equal(u.Groups, []string{"crew", "dev"}) || u.GroupsHeader() != "crew,dev" {
		t.Errorf("alice groups after rename = %v (%q)", u.Groups, u.GroupsHeader())
	}
	if a, _ := s.AppAccess("wiki"); !slices.Equal(a.AllowGroups, []string{"crew", "ops"}) {
		t.Errorf("wiki groups after rename = %v", a.AllowGroups)
	}
	if _, err := s.Group("staff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old group still there: %v", err)
	}
	for _, tc := range []struct {
		from, to string
		want     error
	}{
		{"crew", "ops", ErrConflict},
		{"nope", "x", ErrNotFound},
	} {
		if err := s.RenameGroup(tc.from, tc.to); !errors.Is(err, tc.want) {
			t.Errorf("RenameGroup(%s, %s) = %v, want %v", tc.from, tc.to, err, tc.want)
		}
	}
	if err := s.RenameGroup("crew", "Crew"); err != nil {
		t.Errorf("case-only rename: %v", err)
	}

	if err := s.DeleteGroup("ops"); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	if u, _ := s.User(bob.ID); len(u.Groups) != 0 {
		t.Errorf("bob groups after delete = %v", u.Groups)
	}
	if a, _ := s.AppAccess("wiki"); !slices.Equal(a.AllowGroups, []string{"Crew"}) {
		t.Errorf("wiki groups after delete = %v", a.AllowGroups)
	}
	if err := s.DeleteGroup("ops"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete = %v", err)
	}
	counts, err := s.GroupMemberCounts()
	if err != nil || counts["crew"] != 1 || counts["dev"] != 1 || counts["ops"] != 0 {
		t.Errorf("GroupMemberCounts = %v, %v", counts, err)
	}
	if m, err := s.GroupMembers("crew"); err != nil || len(m) != 1 || m[0].Username != "alice" {
		t.Errorf("GroupMembers = %v, %v", m, err)
	}
	if g, err := s.UpdateGroup("dev", func(g *Group) error { g.Description = "Developers"; return nil }); err != nil || g.Description != "Developers" {
		t.Errorf("UpdateGroup = %+v, %v", g, err)
	}
	if _, err := s.UpdateGroup("dev", func(g *Group) error { g.Name = "x"; return nil }); err == nil {
		t.Error("UpdateGroup renamed a group")
	}
}

func TestSearchUsers(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for i, name := range []string{"ann", "ben", "cat", "dan", "eve"} {
		u := mustUserT(t, s, name, []string{"user", "admin"}[i%2], "g"+name[:1])
		if name == "cat" {
			_, _ = s.UpdateUser(u.ID, func(u *User) error { u.Disabled = true; return nil })
		}
		if name == "dan" {
			_, _ = s.UpdateUser(u.ID, func(u *User) error { u.ExpiresAt = clk.Now().Add(-time.Hour); u.FullName = "Daniel Smith"; return nil })
		}
	}
	names := func(us []*User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	tests := []struct {
		f    UserFilter
		want []string
	}{
		{UserFilter{}, []string{"ann", "ben", "cat", "dan", "eve"}},
		{UserFilter{Role: "admin"}, []string{"ben", "dan"}},
		{UserFilter{Status: "active"}, []string{"ann", "ben", "eve"}},
		{UserFilter{Status: "disabled"}, []string{"cat", "dan"}},
		{UserFilter{Query: "SMITH"}, []string{"dan"}},
		{UserFilter{Query: "eve@"}, []string{"eve"}},
		{UserFilter{Group: "GB"}, []string{"ben"}},
	}
	for _, tc := range tests {
		got, next, err := s.SearchUsers(tc.f, "", 0)
		if err != nil || !slices.Equal(names(got), tc.want) || next != "" {
			t.Errorf("SearchUsers(%+v) = %v, %q, %v; want %v", tc.f, names(got), next, err, tc.want)
		}
	}
	// Paging over matches only.
	page, next, _ := s.SearchUsers(UserFilter{Status: "active"}, "", 2)
	if !slices.Equal(names(page), []string{"ann", "ben"}) || next != "ben" {
		t.Fatalf("page 1 = %v next %q", names(page), next)
	}
	page, next, _ = s.SearchUsers(UserFilter{Status: "active"}, next, 2)
	if !slices.Equal(names(page), []string{"eve"}) || next != "" {
		t.Fatalf("page 2 = %v next %q", names(page), next)
	}
	if admins, _ := s.UsersWithRole("admin"); len(admins) != 2 {
		t.Errorf("UsersWithRole = %d", len(admins))
	}
}

func TestCustomRoles(t *testing.T) {
	s := openTest(t, "", Options{})
	if err := s.CreateRole(&Role{Name: "helpdesk", Permissions: []string{"users.read"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRole(&Role{Name: "HelpDesk"}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate role = %v", err)
	}
	r, err := s.UpdateRole("helpdesk", func(r *Role) error { r.Permissions = append(r.Permissions, "sessions.read"); return nil })
	if err != nil || len(r.Permissions) != 2 {
		t.Fatalf("UpdateRole = %+v, %v", r, err)
	}
	u := mustUserT(t, s, "hd", "helpdesk")
	if err := s.DeleteRole("helpdesk"); !errors.Is(err, ErrConflict) {
		t.Errorf("deleting a held role = %v, want ErrConflict", err)
	}
	if _, err := s.UpdateUser(u.ID, func(u *User) error { u.Role = "user"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRole("helpdesk"); err != nil {
		t.Errorf("DeleteRole = %v", err)
	}
	if _, err := s.Role("helpdesk"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted role = %v", err)
	}
	if roles, err := s.ListRoles(); err != nil || len(roles) != 0 {
		t.Errorf("ListRoles = %v, %v", roles, err)
	}
}

func TestFailuresAndLocks(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for want := 1; want <= 3; want++ {
		n, _, err := s.AddFailure("u1", time.Minute, clk.Now())
		if err != nil || n != want {
			t.Fatalf("AddFailure = %d, %v; want %d", n, err, want)
		}
		clk.Advance(10 * time.Second)
	}
	if n, _ := s.Failures("u1", clk.Now()); n != 3 {
		t.Errorf("Failures = %d", n)
	}
	clk.Advance(time.Minute) // the window from the first failure is over
	if n, _, _ := s.AddFailure("u1", time.Minute, clk.Now()); n != 1 {
		t.Errorf("after the window: %d, want 1", n)
	}
	if err := s.ClearFailures("u1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Failures("u1", clk.Now()); n != 0 {
		t.Errorf("after clear: %d", n)
	}

	if err := s.PutLock("u1", clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, locked, _ := s.Lock("u1", clk.Now()); !locked {
		t.Error("not locked")
	}
	if _, locked, _ := s.Lock("u1", clk.Now().Add(2*time.Minute)); locked {
		t.Error("still locked after its end")
	}
	if err := s.ClearLock("u1"); err != nil {
		t.Fatal(err)
	}
	if _, locked, _ := s.Lock("u1", clk.Now()); locked {
		t.Error("locked after ClearLock")
	}
}

func TestTokenListing(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	put := func(b byte, user string, life time.Duration) {
		if err := s.PutToken(&Token{Kind: "invite", Hash: [32]byte{b}, UserID: user, ExpiresAt: clk.Now().Add(life)}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	put(1, "a", time.Hour)
	put(2, "b", time.Hour)
	put(3, "a", 5*time.Second)
	clk.Advance(10 * time.Second)
	list, err := s.ListTokens("invite")
	if err != nil || len(list) != 2 || list[0].Hash != [32]byte{2} || list[1].Hash != [32]byte{1} {
		t.Fatalf("ListTokens = %+v, %v", list, err)
	}
	if n, err := s.DeleteUserTokens("invite", "a"); err != nil || n != 2 {
		t.Errorf("DeleteUserTokens = %d, %v (the expired one counts too)", n, err)
	}
	if err := s.DeleteToken("invite", [32]byte{2}); err != nil {
		t.Errorf("DeleteToken = %v", err)
	}
	if err := s.DeleteToken("invite", [32]byte{2}); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteToken = %v", err)
	}
}

func TestAllSessionsAndDeleteExcept(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for i := range 3 {
		mustCreateSession(t, s, &Session{ID: SessionID{1, byte(i)}, UserID: "alice", ExpiresAt: clk.Now().Add(time.Hour)})
	}
	mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: "bob", ExpiresAt: clk.Now().Add(time.Hour)})
	mustCreateSession(t, s, &Session{ID: SessionID{3}, UserID: "bob", ExpiresAt: clk.Now().Add(time.Minute)})
	s.TouchSession(SessionID{2}, clk.Now().Add(30*time.Second))
	clk.Advance(2 * time.Minute)
	all, err := s.AllSessions(clk.Now())
	if err != nil || len(all) != 4 || all[0].ID != (SessionID{2}) {
		t.Fatalf("AllSessions = %d sessions (first %v), %v", len(all), all[0].ID, err)
	}
	n, err := s.DeleteUserSessionsExcept("alice", SessionID{1, 1})
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserSessionsExcept = %d, %v", n, err)
	}
	if _, err := s.Session(SessionID{1, 0}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked session still found: %v", err)
	}
	if _, err := s.Session(SessionID{1, 1}); err != nil {
		t.Errorf("kept session lost: %v", err)
	}
}

func TestPruneAuditAndUserFilter(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	add := func(actor, action, resource string) {
		if err := s.AppendAudit(&Event{Actor: actor, Action: action, Resource: resource, Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
	}
	add("root", "user.create", "user:alice") // old
	add("alice", "login", "user:alice")
	cut := clk.Now()
	add("root", "user.update", "user:bob")
	add("bob", "login", "user:bob")
	evs, _, _ := s.ListAudit(AuditFilter{User: "ALICE"}, "", 0)
	if len(evs) != 2 {
		t.Errorf("User filter = %d events, want 2", len(evs))
	}
	n, err := s.PruneAudit(cut)
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit = %d, %v", n, err)
	}
	evs, _, _ = s.ListAudit(AuditFilter{}, "", 0)
	if len(evs) != 2 || evs[1].Action != "user.update" {
		t.Errorf("after prune: %+v", evs)
	}
}
