package policies

import (
	"errors"
	"strings"
	"testing"
)

func principal(role string) Principal {
	s, _ := RolePermissions(role)
	return Principal{Role: role, Perms: s}
}

func target(role string) Target {
	s, _ := RolePermissions(role)
	return Target{Role: role, Perms: s}
}

func TestCanManage(t *testing.T) {
	custom := Target{Role: "helpdesk", Perms: NewPermissionSet(PermUsersRead, PermSessionsRevoke)}
	tests := []struct {
		actor, target string
		t             *Target
		ok            bool
	}{
		{actor: RoleOwner, target: RoleOwner, ok: true},
		{actor: RoleOwner, target: RoleAdmin, ok: true},
		{actor: RoleAdmin, target: RoleOwner, ok: false},
		{actor: RoleAdmin, target: RoleAdmin, ok: true},
		{actor: RoleAdmin, target: RoleUser, ok: true},
		{actor: RoleUserManager, target: RoleUser, ok: true},
		{actor: RoleUserManager, target: RoleAdmin, ok: false},
		{actor: RoleUserManager, target: RoleOwner, ok: false},
		{actor: RoleUserManager, target: RoleOperator, ok: false},
		{actor: RoleUserManager, target: RoleAuditor, ok: false},
		{actor: RoleUserManager, t: &custom, ok: true},
		{actor: RoleOperator, target: RoleUser, ok: false},
		{actor: RoleAuditor, target: RoleUser, ok: false},
		{actor: RoleUser, target: RoleUser, ok: false},
	}
	for _, tc := range tests {
		tg := target(tc.target)
		if tc.t != nil {
			tg = *tc.t
		}
		err := CanManage(principal(tc.actor), tg)
		if (err == nil) != tc.ok {
			t.Errorf("CanManage(%s, %s) = %v, want ok=%v", tc.actor, tg.Role, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("CanManage(%s, %s) error %v does not wrap ErrForbidden", tc.actor, tg.Role, err)
		}
	}
}

func TestCanAssignRole(t *testing.T) {
	tests := []struct {
		actor, from, to string
		ok              bool
	}{
		{RoleOwner, RoleUser, RoleOwner, true},
		{RoleOwner, RoleOwner, RoleAdmin, true},
		{RoleAdmin, RoleUser, RoleOwner, false},
		{RoleAdmin, RoleOwner, RoleUser, false},
		{RoleAdmin, RoleUser, RoleAdmin, true},
		{RoleAdmin, "", RoleAuditor, true},
		{RoleUserManager, "", RoleUser, true},
		{RoleUserManager, "", RoleAdmin, false},
		{RoleUserManager, "", RoleAuditor, false},
		{RoleUserManager, RoleUser, RoleAuditor, false},
		{RoleUserManager, RoleUser, RoleUser, true},
		{RoleOperator, RoleUser, RoleAdmin, false},
		{RoleAuditor, "", RoleUser, true}, // CanManage refuses the auditor before this is asked
	}
	for _, tc := range tests {
		err := CanAssignRole(principal(tc.actor), tc.from, target(tc.to))
		if (err == nil) != tc.ok {
			t.Errorf("CanAssignRole(%s, %q -> %s) = %v, want ok=%v", tc.actor, tc.from, tc.to, err, tc.ok)
		}
	}
	// A custom role holding more than the actor has cannot be granted.
	big := Target{Role: "superops", Perms: NewPermissionSet(PermAuditRead, PermUsersRoles)}
	p := Principal{Role: "mgr", Perms: NewPermissionSet(PermUsersWrite, PermUsersRoles)}
	if err := CanAssignRole(p, RoleUser, big); err == nil {
		t.Error("granting a role with permissions the actor lacks was allowed")
	}
}

func TestCanChangeRole(t *testing.T) {
	roleAdmin := Principal{Role: "roleadmin", Perms: NewPermissionSet(PermUsersRoles, PermUsersWrite, PermUsersRead, PermRolesRead)}
	rolesOnly := Principal{Role: "rolesonly", Perms: NewPermissionSet(PermUsersRoles, PermRolesRead, PermAuditRead)}
	strong := Target{Role: "strong", Perms: NewPermissionSet(PermUsersWrite, PermAuditRead)}
	weak := Target{Role: "weak", Perms: NewPermissionSet(PermUsersRead)}
	tests := []struct {
		name    string
		p       Principal
		r       Target
		holders []string
		want    string // "" when allowed, else part of the refusal
	}{
		{"admin, held stronger-than-anyone role", principal(RoleAdmin), strong, []string{"bob"}, ""},
		{"weaker role, nobody holds it", roleAdmin, weak, nil, ""},
		{"weaker role, held", roleAdmin, weak, []string{"bob"}, ""},
		{"stronger role, held", roleAdmin, strong, []string{"bob", "carol"}, "role strong is held by bob, whom you may not manage"},
		{"stronger role, nobody holds it", roleAdmin, strong, nil, "the strong role holds permissions you do not have"},
		{"held, caller cannot manage users at all", rolesOnly, weak, []string{"bob"}, "role weak is held by bob, whom you may not manage"},
		{"not held, caller cannot manage users", rolesOnly, Target{Role: "audit", Perms: NewPermissionSet(PermAuditRead)}, nil, ""},
	}
	for _, tc := range tests {
		err := CanChangeRole(tc.p, tc.r, tc.holders)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want allowed", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want a refusal containing %q", tc.name, err, tc.want)
		}
	}
}
