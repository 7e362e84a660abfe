package core

import (
	"fmt"
	"slices"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// PermsOf returns the permissions of the built-in or custom role called
// name. It does not allocate: custom roles are held compiled in memory.
func (c *Core) PermsOf(name string) (policies.PermissionSet, bool) {
	if p, ok := policies.RolePermissions(name); ok {
		return p, true
	}
	if m := c.customRoles.Load(); m != nil {
		p, ok := (*m)[name]
		return p, ok
	}
	return 0, false
}

// ReloadRoles compiles the stored custom roles into memory.
func (c *Core) ReloadRoles() error {
	roles, err := c.store.ListRoles()
	if err != nil {
		return fmt.Errorf("core: load roles: %w", err)
	}
	m := make(map[string]policies.PermissionSet, len(roles))
	for _, r := range roles {
		m[r.Name] = policies.NewPermissionSet(PermissionsOf(r.Permissions)...)
	}
	c.customRoles.Store(&m)
	return nil
}

// PermissionsOf converts permission names.
func PermissionsOf(names []string) []policies.Permission {
	out := make([]policies.Permission, len(names))
	for i, n := range names {
		out[i] = policies.Permission(n)
	}
	return out
}

// RoleNames returns every role name, built-in first.
func (c *Core) RoleNames() []string {
	var out []string
	for _, r := range policies.BuiltinRoles() {
		out = append(out, r.Name)
	}
	if m := c.customRoles.Load(); m != nil {
		var custom []string
		for n := range *m {
			custom = append(custom, n)
		}
		slices.Sort(custom)
		out = append(out, custom...)
	}
	return out
}
