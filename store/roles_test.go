package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestCreateRole(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	r := &Role{Name: "HelpDesk", Description: "first line", Permissions: []string{"users.read"}}
	if err := s.CreateRole(r); err != nil {
		t.Fatal(err)
	}
	if !r.CreatedAt.Equal(clk.Now()) || !r.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v", r.CreatedAt, r.UpdatedAt)
	}
	r.Permissions[0] = "changed after create"
	for _, tc := range []struct {
		name    string
		role    *Role
		wantErr error // nil: any error
	}{
		{"same name", &Role{Name: "HelpDesk"}, ErrConflict},
		{"other case", &Role{Name: "helpdesk"}, ErrConflict},
		{"empty", &Role{Name: ""}, nil},
		{"blank", &Role{Name: "  "}, nil},
		{"separator", &Role{Name: "a\x00b"}, nil},
	} {
		err := s.CreateRole(tc.role)
		if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Errorf("CreateRole(%s) = %v, want %v", tc.name, err, tc.wantErr)
		}
	}
	for _, name := range []string{"helpdesk", "HELPDESK", "HelpDesk"} {
		got, err := s.Role(name)
		if err != nil || got.Name != "HelpDesk" || got.Description != "first line" || !slices.Equal(got.Permissions, []string{"users.read"}) {
			t.Errorf("Role(%q) = %+v, %v", name, got, err)
		}
	}
	if _, err := s.Role("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Role(missing) = %v, want ErrNotFound", err)
	}
}

func TestListRoles(t *testing.T) {
	s := openTest(t, "", Options{})
	if roles, err := s.ListRoles(); err != nil || len(roles) != 0 {
		t.Errorf("ListRoles of an empty store = %v, %v", roles, err)
	}
	for _, n := range []string{"zeta", "Beta", "alpha"} {
		if err := s.CreateRole(&Role{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	roles, err := s.ListRoles()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	if want := []string{"alpha", "Beta", "zeta"}; !slices.Equal(names, want) {
		t.Errorf("ListRoles = %q, want %q", names, want)
	}
}

func TestUpdateRole(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	if err := s.CreateRole(&Role{Name: "auditor", Permissions: []string{"audit.read"}}); err != nil {
		t.Fatal(err)
	}
	created := clk.Now()
	errFn := errors.New("fn failed")
	tests := []struct {
		name      string
		role      string
		fn        func(r *Role) error
		wantErr   error
		anyErr    bool
		wantPerms []string
	}{
		{"add permission, other case", "AUDITOR", func(r *Role) error { r.Permissions = append(r.Permissions, "users.read"); return nil }, nil, false, []string{"audit.read", "users.read"}},
		{"CreatedAt is kept", "auditor", func(r *Role) error { r.CreatedAt = time.Time{}; return nil }, nil, false, []string{"audit.read", "users.read"}},
		{"missing", "nope", func(r *Role) error { return nil }, ErrNotFound, false, []string{"audit.read", "users.read"}},
		{"rename refused", "auditor", func(r *Role) error { r.Name = "x"; r.Permissions = nil; return nil }, nil, true, []string{"audit.read", "users.read"}},
		{"fn error", "auditor", func(r *Role) error { r.Permissions = nil; return errFn }, errFn, false, []string{"audit.read", "users.read"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.Advance(time.Minute)
			before, _ := s.Role("auditor")
			got, err := s.UpdateRole(tc.role, tc.fn)
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
			case !got.UpdatedAt.Equal(clk.Now()):
				t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, clk.Now())
			}
			stored, err2 := s.Role("auditor")
			if err2 != nil || !slices.Equal(stored.Permissions, tc.wantPerms) || !stored.CreatedAt.Equal(created) {
				t.Errorf("stored %+v, %v; want permissions %q", stored, err2, tc.wantPerms)
			}
			if err != nil && !stored.UpdatedAt.Equal(before.UpdatedAt) {
				t.Error("a failed update changed UpdatedAt")
			}
		})
	}
}

func TestDeleteRole(t *testing.T) {
	s := openTest(t, "", Options{})
	for _, n := range []string{"helpdesk", "auditor"} {
		if err := s.CreateRole(&Role{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	u := mustUser(t, s, "hd", "HelpDesk") // a role held in another case still counts
	mustUser(t, s, "plain", "user")
	for _, tc := range []struct {
		role    string
		wantErr error
	}{
		{"nope", ErrNotFound},
		{"HELPDESK", ErrConflict},
		{"Auditor", nil},
		{"auditor", ErrNotFound},
	} {
		if err := s.DeleteRole(tc.role); !errors.Is(err, tc.wantErr) {
			t.Errorf("DeleteRole(%q) = %v, want %v", tc.role, err, tc.wantErr)
		}
	}
	if _, err := s.Role("helpdesk"); err != nil {
		t.Errorf("held role was deleted: %v", err)
	}
	if _, err := s.UpdateUser(u.ID, func(u *User) error { u.Role = "user"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRole("helpdesk"); err != nil {
		t.Errorf("DeleteRole once unheld = %v", err)
	}
	if roles, err := s.ListRoles(); err != nil || len(roles) != 0 {
		t.Errorf("ListRoles after deleting all = %v, %v", roles, err)
	}
}
