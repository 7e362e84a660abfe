package policies

import (
	"slices"
	"strings"
	"testing"
)

func TestAllPermissions(t *testing.T) {
	all := AllPermissions()
	seen := map[Permission]bool{}
	for _, p := range all {
		if seen[p] {
			t.Errorf("permission %q listed twice", p)
		}
		seen[p] = true
		if !p.Known() {
			t.Errorf("Permission(%q).Known() = false", p)
		}
	}
	if len(all) > 64 {
		t.Fatalf("%d permissions do not fit a PermissionSet", len(all))
	}
	all[0] = "mutated"
	if AllPermissions()[0] == "mutated" {
		t.Error("AllPermissions returns shared storage")
	}
	if Permission("nope").Known() {
		t.Error(`Permission("nope").Known() = true`)
	}
}

func TestBuiltinRoles(t *testing.T) {
	var reads []Permission
	for _, p := range AllPermissions() {
		if strings.HasSuffix(string(p), ".read") {
			reads = append(reads, p)
		}
	}
	tests := []struct {
		role string
		want []Permission
	}{
		{role: RoleOwner, want: AllPermissions()},
		{role: RoleAdmin, want: AllPermissions()},
		{role: RoleOperator, want: []Permission{PermAppsRead, PermAppsWrite, PermUsersRead, PermGroupsRead, PermSessionsRead}},
		{role: RoleUserManager, want: []Permission{
			PermUsersRead, PermUsersWrite, PermGroupsRead, PermGroupsWrite,
			PermInvitationsRead, PermInvitationsWrite, PermSessionsRead, PermSessionsRevoke,
		}},
		{role: RoleAuditor, want: reads},
		{role: RoleUser, want: nil},
	}
	roles := BuiltinRoles()
	if len(roles) != len(tests) {
		t.Fatalf("BuiltinRoles() has %d roles; want %d", len(roles), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			if roles[i].Name != tt.role {
				t.Errorf("BuiltinRoles()[%d] = %q; want %q", i, roles[i].Name, tt.role)
			}
			r, ok := BuiltinRole(tt.role)
			if !ok || !r.Builtin || r.Description == "" {
				t.Fatalf("BuiltinRole(%q) = %+v, %v", tt.role, r, ok)
			}
			set, ok := RolePermissions(tt.role)
			if !ok || set != r.Set() {
				t.Errorf("RolePermissions(%q) = %b, %v; want %b", tt.role, set, ok, r.Set())
			}
			for _, p := range AllPermissions() {
				want := slices.Contains(tt.want, p)
				if r.Has(p) != want || set.Has(p) != want {
					t.Errorf("%s: Has(%q) = %v (role), %v (set); want %v", tt.role, p, r.Has(p), set.Has(p), want)
				}
			}
		})
	}
}

func TestBuiltinRoleUnknown(t *testing.T) {
	if _, ok := BuiltinRole("wizard"); ok {
		t.Error(`BuiltinRole("wizard") found`)
	}
	if s, ok := RolePermissions("wizard"); ok || s != 0 {
		t.Errorf(`RolePermissions("wizard") = %b, %v`, s, ok)
	}
}

func TestBuiltinRolesAreCopies(t *testing.T) {
	r, _ := BuiltinRole(RoleOperator)
	r.Permissions[0] = PermKeysAdmin
	again, _ := BuiltinRole(RoleOperator)
	if again.Has(PermKeysAdmin) {
		t.Error("changing a returned role changed the built-in table")
	}
}

func TestPermissionSet(t *testing.T) {
	tests := []struct {
		name string
		in   []Permission
		has  []Permission
		not  []Permission
	}{
		{name: "empty", in: nil, not: []Permission{PermUsersRead, "nope"}},
		{name: "two", in: []Permission{PermUsersRead, PermAuditRead}, has: []Permission{PermUsersRead, PermAuditRead}, not: []Permission{PermUsersWrite}},
		{name: "unknown dropped", in: []Permission{"nope", PermImpersonate}, has: []Permission{PermImpersonate}, not: []Permission{"nope"}},
		{name: "duplicates", in: []Permission{PermKeysAdmin, PermKeysAdmin}, has: []Permission{PermKeysAdmin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewPermissionSet(tt.in...)
			for _, p := range tt.has {
				if !s.Has(p) {
					t.Errorf("Has(%q) = false", p)
				}
			}
			for _, p := range tt.not {
				if s.Has(p) {
					t.Errorf("Has(%q) = true", p)
				}
			}
			if got := s.Permissions(); len(got) != len(tt.has) {
				t.Errorf("Permissions() = %v; want %v", got, tt.has)
			}
		})
	}
}

func TestPermissionSetAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(1000, func() {
		s, _ := RolePermissions(RoleAdmin)
		if !s.Has(PermAppsAccessAll) {
			t.Fatal("admin lacks apps.access.all")
		}
	})
	if allocs != 0 {
		t.Errorf("RolePermissions + Has allocate %v times; want 0", allocs)
	}
}

func BenchmarkPermissionSetHas(b *testing.B) {
	s, _ := RolePermissions(RoleOperator)
	for b.Loop() {
		_ = s.Has(PermAppsAccessAll)
	}
}
