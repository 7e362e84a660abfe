package policies

import "slices"

// Permission names one thing a role allows, such as "users.write".
type Permission string

// The permissions of DESIGN.md §4. Each write or admin permission has a read
// counterpart so that an auditor can read everything and change nothing.
const (
	PermUsersRead        Permission = "users.read"
	PermUsersWrite       Permission = "users.write"
	PermUsersRoles       Permission = "users.roles"
	PermGroupsRead       Permission = "groups.read"
	PermGroupsWrite      Permission = "groups.write"
	PermAppsRead         Permission = "apps.read"
	PermAppsWrite        Permission = "apps.write"
	PermAppsAccessAll    Permission = "apps.access.all"
	PermSessionsRead     Permission = "sessions.read"
	PermSessionsRevoke   Permission = "sessions.revoke"
	PermAuditRead        Permission = "audit.read"
	PermSettingsRead     Permission = "settings.read"
	PermSettingsWrite    Permission = "settings.write"
	PermRolesRead        Permission = "roles.read"
	PermImpersonate      Permission = "impersonate"
	PermKeysRead         Permission = "keys.read"
	PermKeysAdmin        Permission = "keys.admin"
	PermInvitationsRead  Permission = "invitations.read"
	PermInvitationsWrite Permission = "invitations.write"
)

// allPermissions lists every permission; a permission's index here is its
// bit in a PermissionSet, so only append to it.
var allPermissions = []Permission{
	PermUsersRead, PermUsersWrite, PermUsersRoles,
	PermGroupsRead, PermGroupsWrite,
	PermAppsRead, PermAppsWrite, PermAppsAccessAll,
	PermSessionsRead, PermSessionsRevoke,
	PermAuditRead,
	PermSettingsRead, PermSettingsWrite,
	PermRolesRead,
	PermImpersonate,
	PermKeysRead, PermKeysAdmin,
	PermInvitationsRead, PermInvitationsWrite,
}

// permissionBits maps each permission to its bit in a PermissionSet.
var permissionBits = func() map[Permission]PermissionSet {
	if len(allPermissions) > 64 {
		panic("policies: more than 64 permissions do not fit a PermissionSet")
	}
	m := make(map[Permission]PermissionSet, len(allPermissions))
	for i, p := range allPermissions {
		m[p] = 1 << i
	}
	return m
}()

// AllPermissions returns every known permission, in a stable order.
func AllPermissions() []Permission {
	return slices.Clone(allPermissions)
}

// Known reports whether p is one of AllPermissions, for checking custom roles.
func (p Permission) Known() bool {
	_, ok := permissionBits[p]
	return ok
}

// The built-in roles.
const (
	RoleOwner       = "owner"
	RoleAdmin       = "admin"
	RoleOperator    = "operator"
	RoleUserManager = "user_manager"
	RoleAuditor     = "auditor"
	RoleUser        = "user"
)

// Role is a named set of permissions: one of the built-in presets or a role
// an admin defined.
type Role struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Permissions []Permission `json:"permissions"`
	Builtin     bool         `json:"builtin"`
}

// builtinRoles is the table of DESIGN.md §4. Rules about who may act on whom
// (only owners touch owners, user managers give only the user role) are
// enforced by the portal, not expressed as permissions.
var builtinRoles = []Role{
	{
		Name:        RoleOwner,
		Builtin:     true,
		Description: "Everything; only owners grant or remove the owner role.",
		Permissions: allPermissions,
	},
	{
		Name:        RoleAdmin,
		Builtin:     true,
		Description: "Everything except acting on owners; reaches every app.",
		Permissions: allPermissions,
	},
	{
		Name:        RoleOperator,
		Builtin:     true,
		Description: "Changes app access; reads users, groups and sessions.",
		Permissions: []Permission{PermAppsRead, PermAppsWrite, PermUsersRead, PermGroupsRead, PermSessionsRead},
	},
	{
		Name:        RoleUserManager,
		Builtin:     true,
		Description: "Adds, edits, disables and removes users and groups; new users get the user role.",
		Permissions: []Permission{
			PermUsersRead, PermUsersWrite, PermGroupsRead, PermGroupsWrite,
			PermInvitationsRead, PermInvitationsWrite, PermSessionsRead, PermSessionsRevoke,
		},
	},
	{
		Name:        RoleAuditor,
		Builtin:     true,
		Description: "Reads everything in the portal; changes nothing.",
		Permissions: []Permission{
			PermUsersRead, PermGroupsRead, PermAppsRead, PermSessionsRead, PermAuditRead,
			PermSettingsRead, PermRolesRead, PermKeysRead, PermInvitationsRead,
		},
	},
	{
		Name:        RoleUser,
		Builtin:     true,
		Description: "Own profile, sessions, two-factor methods and API keys; the apps granted to them.",
		Permissions: []Permission{},
	},
}

// builtinSets holds each built-in role's compiled permissions.
var builtinSets = func() map[string]PermissionSet {
	m := make(map[string]PermissionSet, len(builtinRoles))
	for _, r := range builtinRoles {
		m[r.Name] = r.Set()
	}
	return m
}()

// BuiltinRoles returns the built-in roles, from most to least powerful:
// owner, admin, operator, user_manager, auditor, user. The result is a copy.
func BuiltinRoles() []Role {
	out := make([]Role, len(builtinRoles))
	for i, r := range builtinRoles {
		out[i] = r.clone()
	}
	return out
}

// BuiltinRole returns a copy of the built-in role called name.
func BuiltinRole(name string) (Role, bool) {
	for _, r := range builtinRoles {
		if r.Name == name {
			return r.clone(), true
		}
	}
	return Role{}, false
}

func (r Role) clone() Role {
	r.Permissions = slices.Clone(r.Permissions)
	return r
}

// Has reports whether the role grants p.
func (r Role) Has(p Permission) bool {
	return slices.Contains(r.Permissions, p)
}

// Set compiles the role's permissions; unknown permissions are dropped.
func (r Role) Set() PermissionSet {
	return NewPermissionSet(r.Permissions...)
}

// RolePermissions returns the compiled permissions of the built-in role
// called name, without allocating.
func RolePermissions(name string) (PermissionSet, bool) {
	s, ok := builtinSets[name]
	return s, ok
}

// PermissionSet is a compiled set of permissions for the hot path: one bit
// per entry of AllPermissions. The zero value is the empty set.
type PermissionSet uint64

// NewPermissionSet returns the set of ps; unknown permissions are dropped.
func NewPermissionSet(ps ...Permission) PermissionSet {
	var s PermissionSet
	for _, p := range ps {
		s |= permissionBits[p]
	}
	return s
}

// Has reports whether p is in the set, without allocating. Unknown
// permissions are never in a set.
func (s PermissionSet) Has(p Permission) bool {
	bit, ok := permissionBits[p]
	return ok && s&bit != 0
}

// Permissions returns the permissions in the set, in the order of
// AllPermissions.
func (s PermissionSet) Permissions() []Permission {
	var out []Permission
	for i, p := range allPermissions {
		if s&(1<<i) != 0 {
			out = append(out, p)
		}
	}
	return out
}
