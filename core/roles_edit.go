package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

const (
	actionRoleCreate = "role.create"
	actionRoleUpdate = "role.update"
	actionRoleDelete = "role.delete"
)

// RoleView is a role as the API shows it.
type RoleView struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	Builtin     bool      `json:"builtin"`
	Users       int       `json:"users"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// RoleInput creates or changes a custom role.
type RoleInput struct {
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	Permissions *[]string `json:"permissions"`
}

// ListRoles returns the built-in roles, then the custom ones by name, each
// with the number of users holding it.
func (s *Access) ListRoles() ([]RoleView, error) {
	counts := map[string]int{}
	if err := s.Users.EachUser(func(u *store.User) { counts[u.Role]++ }); err != nil {
		return nil, err
	}
	var out []RoleView
	for _, r := range policies.BuiltinRoles() {
		v := RoleView{Name: r.Name, Description: r.Description, Builtin: true, Users: counts[r.Name]}
		for _, p := range r.Permissions {
			v.Permissions = append(v.Permissions, string(p))
		}
		if v.Permissions == nil {
			v.Permissions = []string{}
		}
		out = append(out, v)
	}
	custom, err := s.store.ListRoles()
	if err != nil {
		return nil, fmt.Errorf("core: list roles: %w", err)
	}
	for _, r := range custom {
		out = append(out, RoleView{Name: r.Name, Description: r.Description, Permissions: r.Permissions,
			Users: counts[r.Name], UpdatedAt: r.UpdatedAt})
	}
	return out, nil
}

// Role returns the built-in or custom role name with its holders' count.
func (s *Access) Role(name string) (RoleView, error) {
	roles, err := s.ListRoles()
	if err != nil {
		return RoleView{}, err
	}
	for _, r := range roles {
		if r.Name == name {
			return r, nil
		}
	}
	return RoleView{}, NotFoundf("role %q", name)
}

// checkPermissions validates a custom role's permission list: known names,
// and none the caller lacks (nobody defines a role stronger than their own).
func checkPermissions(c *Actor, perms []string) ([]string, error) {
	out := []string{}
	for _, p := range perms {
		p = strings.TrimSpace(p)
		if !policies.Permission(p).Known() {
			return nil, Input("permissions", "unknown permission %q", p)
		}
		if !c.Can(policies.Permission(p)) {
			return nil, fmt.Errorf("%w: you cannot grant %s, which your role lacks", ErrForbidden, p)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// CreateRole creates the custom role in for c, with no permission c
// lacks.
func (s *Access) CreateRole(c *Actor, in RoleInput) (RoleView, error) {
	name := policies.NormalizeUsername(in.Name)
	if err := policies.ValidateGroupName(name); err != nil {
		return RoleView{}, Input("name", "%v", err)
	}
	if _, ok := policies.BuiltinRole(name); ok {
		return RoleView{}, Conflictf("role %q is built in", name)
	}
	rec := &store.Role{Name: name, Permissions: []string{}}
	if in.Description != nil {
		rec.Description = strings.TrimSpace(*in.Description)
	}
	if in.Permissions != nil {
		ps, err := checkPermissions(c, *in.Permissions)
		if err != nil {
			return RoleView{}, err
		}
		rec.Permissions = ps
	}
	if err := s.store.CreateRole(rec); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return RoleView{}, Conflictf("a role called %q already exists", name)
		}
		return RoleView{}, fmt.Errorf("core: create role: %w", err)
	}
	if err := s.ReloadRoles(); err != nil {
		return RoleView{}, err
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionRoleCreate, Resource: "role:" + name,
		Outcome: OutcomeSuccess, Reason: strings.Join(rec.Permissions, " ")})
	return s.Role(name)
}

// mayChangeRole checks that c may edit or delete the custom role name:
// c must be able to manage every user holding it (see
// policies.CanChangeRole). An unknown role passes, for the store to report.
func (s *Access) mayChangeRole(c *Actor, name string) error {
	if _, ok := s.PermsOf(name); !ok {
		return nil
	}
	holders, err := s.store.UsersWithRole(name)
	if err != nil {
		return fmt.Errorf("core: holders of role %q: %w", name, err)
	}
	names := make([]string, len(holders))
	for i, u := range holders {
		names[i] = u.Username
	}
	// A refusal names the first holder: someone other than the caller
	// when there is anyone.
	if i := slices.Index(names, c.User.Username); i >= 0 {
		names = append(slices.Delete(names, i, i+1), c.User.Username)
	}
	return policies.CanChangeRole(c.Principal(), s.Users.Target(name), names)
}

// UpdateRole changes the custom role name for c.
func (s *Access) UpdateRole(c *Actor, name string, in RoleInput) (RoleView, error) {
	if _, ok := policies.BuiltinRole(name); ok {
		return RoleView{}, fmt.Errorf("%w: built-in roles cannot be changed", ErrForbidden)
	}
	if err := s.mayChangeRole(c, name); err != nil {
		return RoleView{}, err
	}
	var perms []string
	if in.Permissions != nil {
		var err error
		if perms, err = checkPermissions(c, *in.Permissions); err != nil {
			return RoleView{}, err
		}
	}
	_, err := s.store.UpdateRole(name, func(rec *store.Role) error {
		if in.Description != nil {
			rec.Description = strings.TrimSpace(*in.Description)
		}
		if in.Permissions != nil {
			rec.Permissions = perms
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return RoleView{}, NotFoundf("role %q", name)
		}
		return RoleView{}, fmt.Errorf("core: update role: %w", err)
	}
	if err := s.ReloadRoles(); err != nil {
		return RoleView{}, err
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionRoleUpdate, Resource: "role:" + name,
		Outcome: OutcomeSuccess, Reason: strings.Join(perms, " ")})
	return s.Role(name)
}

// DeleteRole deletes the custom role name, which nobody may hold, for c.
func (s *Access) DeleteRole(c *Actor, name string) error {
	if _, ok := policies.BuiltinRole(name); ok {
		return fmt.Errorf("%w: built-in roles cannot be deleted", ErrForbidden)
	}
	if err := s.mayChangeRole(c, name); err != nil {
		return err
	}
	if err := s.store.DeleteRole(name); err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			return NotFoundf("role %q", name)
		case errors.Is(err, store.ErrConflict):
			return Conflictf("role %q is still held by some users; give them another role first", name)
		}
		return fmt.Errorf("core: delete role: %w", err)
	}
	if err := s.ReloadRoles(); err != nil {
		return err
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionRoleDelete, Resource: "role:" + name, Outcome: OutcomeSuccess})
	return nil
}
