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

// Audit actions of groups.
const (
	ActionGroupCreate = "group.create"
	ActionGroupUpdate = "group.update"
	ActionGroupRename = "group.rename"
	ActionGroupDelete = "group.delete"
	ActionGroupAdd    = "group.member_add"
	ActionGroupRemove = "group.member_remove"
)

// GroupView is a group as the API shows it.
type GroupView struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Members     int       `json:"members"`
	CreatedAt   time.Time `json:"created_at"`
}

// GroupInput creates or changes a group; nil fields stay as they are.
type GroupInput struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// groupError maps a store error about group name to the portal's.
func groupError(name string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return NotFoundf("group %q", name)
	case errors.Is(err, store.ErrTooBig):
		return fmt.Errorf("group %q: %w", name, ErrTooMany)
	}
	return fmt.Errorf("core: group %q: %w", name, err)
}

func checkGroupName(v string) (string, error) {
	name := policies.NormalizeUsername(v)
	if name == "" {
		return "", Input("name", "is required")
	}
	if err := policies.ValidateGroupName(name); err != nil {
		return "", Input("name", "%v", err)
	}
	return name, nil
}

func checkDescription(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len([]rune(v)) > 500 || strings.ContainsFunc(v, func(r rune) bool { return IsControl(r) && r != '\n' }) {
		return "", Input("description", "must be at most 500 printable characters")
	}
	return v, nil
}

// ListGroups returns every group with its member count.
func (s *Access) ListGroups() ([]GroupView, error) {
	groups, err := s.store.ListGroups()
	if err != nil {
		return nil, fmt.Errorf("core: list groups: %w", err)
	}
	counts, err := s.store.GroupMemberCounts()
	if err != nil {
		return nil, fmt.Errorf("core: count members: %w", err)
	}
	out := make([]GroupView, len(groups))
	for i, g := range groups {
		out[i] = GroupView{Name: g.Name, Description: g.Description, Members: counts[strings.ToLower(g.Name)], CreatedAt: g.CreatedAt}
	}
	return out, nil
}

// Group returns one group and its members.
func (s *Access) Group(name string) (GroupView, []*store.User, error) {
	g, err := s.store.Group(name)
	if err != nil {
		return GroupView{}, nil, groupError(name, err)
	}
	members, err := s.store.GroupMembers(g.Name)
	if err != nil {
		return GroupView{}, nil, fmt.Errorf("core: group members: %w", err)
	}
	return GroupView{Name: g.Name, Description: g.Description, Members: len(members), CreatedAt: g.CreatedAt}, members, nil
}

// CreateGroup creates the group in for c.
func (s *Access) CreateGroup(c *Actor, in GroupInput) (GroupView, error) {
	if in.Name == nil {
		return GroupView{}, Input("name", "is required")
	}
	name, err := checkGroupName(*in.Name)
	if err != nil {
		return GroupView{}, err
	}
	g := &store.Group{Name: name}
	if in.Description != nil {
		if g.Description, err = checkDescription(*in.Description); err != nil {
			return GroupView{}, err
		}
	}
	if err := s.store.CreateGroup(g); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return GroupView{}, Conflictf("a group called %q already exists", name)
		}
		return GroupView{}, fmt.Errorf("core: create group: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionGroupCreate, Resource: "group:" + name, Outcome: OutcomeSuccess})
	return GroupView{Name: g.Name, Description: g.Description, CreatedAt: g.CreatedAt}, nil
}

// UpdateGroup renames and/or describes a group. A rename follows the group
// into every member and every app's allowed groups.
func (s *Access) UpdateGroup(c *Actor, name string, in GroupInput) (GroupView, error) {
	g, err := s.store.Group(name)
	if err != nil {
		return GroupView{}, groupError(name, err)
	}
	name = g.Name
	if in.Name != nil && slices.ContainsFunc(c.User.Groups, func(x string) bool { return strings.EqualFold(x, name) }) {
		// Caddyfile rules do not follow a rename: renaming a group one is
		// in to a name such a rule allows is joining that group.
		if app := s.opensFor(c, []string{*in.Name}); app != "" {
			return GroupView{}, fmt.Errorf("%w: you are in group %s, and renaming it to %s would open the app %q, which you cannot use now; ask an owner or an admin",
				ErrForbidden, name, policies.NormalizeUsername(*in.Name), app)
		}
	}
	if in.Description != nil {
		desc, err := checkDescription(*in.Description)
		if err != nil {
			return GroupView{}, err
		}
		if _, err := s.store.UpdateGroup(name, func(g *store.Group) error { g.Description = desc; return nil }); err != nil {
			return GroupView{}, groupError(name, err)
		}
		s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionGroupUpdate, Resource: "group:" + name, Outcome: OutcomeSuccess})
	}
	if in.Name != nil {
		newName, err := checkGroupName(*in.Name)
		if err != nil {
			return GroupView{}, err
		}
		if newName != name {
			if err := s.store.RenameGroup(name, newName); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return GroupView{}, Conflictf("a group called %q already exists", newName)
				}
				return GroupView{}, groupError(name, err)
			}
			s.reloadAppAccess()
			s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionGroupRename, Resource: "group:" + newName,
				Outcome: OutcomeSuccess, Reason: name + " -> " + newName})
			name = newName
		}
	}
	v, _, err := s.Group(name)
	return v, err
}

// DeleteGroup deletes the group name, and removes it from its members,
// for c.
func (s *Access) DeleteGroup(c *Actor, name string) error {
	if err := s.store.DeleteGroup(name); err != nil {
		return groupError(name, err)
	}
	s.reloadAppAccess()
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionGroupDelete, Resource: "group:" + name, Outcome: OutcomeSuccess})
	return nil
}

// SetMembership adds the user ref to group name, or removes them.
func (s *Access) SetMembership(c *Actor, name, ref string, member bool) error {
	g, err := s.store.Group(name)
	if err != nil {
		return groupError(name, err)
	}
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return err
	}
	if err := s.Users.MayManage(c, u); err != nil {
		return err
	}
	groups := slices.Clone(u.Groups)
	i := slices.IndexFunc(groups, func(x string) bool { return strings.EqualFold(x, g.Name) })
	action := ActionGroupAdd
	switch {
	case member && i >= 0, !member && i < 0:
		return nil
	case member:
		if u.ID == c.User.ID {
			if err := s.mayJoin(c, []string{g.Name}); err != nil {
				return err
			}
		}
		groups = append(groups, g.Name)
	default:
		groups = slices.Delete(groups, i, i+1)
		action = ActionGroupRemove
	}
	if _, err := s.store.UpdateUser(u.ID, func(x *store.User) error { x.Groups = groups; return nil }); err != nil {
		return fmt.Errorf("core: change membership: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: action, Resource: "group:" + g.Name, Outcome: OutcomeSuccess,
		Reason: "user " + u.Username})
	return nil
}

// opensFor returns the title of an app that joining the groups add would
// open to c and that c does not reach today, or "" when there is none.
// Principle 3 of DESIGN.md §6 (nobody grants what they could not do
// themselves) forbids joining such a group: holders of apps.access.all
// (owners, admins) reach every app, so they may join any group; anyone
// else only groups whose every app already lets them in. Apps are judged
// by their rules as loaded now, from the Caddyfile and the portal. Adding
// other people is not checked (that is what groups.write is for).
func (s *Access) opensFor(c *Actor, add []string) string {
	acct := store.AccountOf(c.User)
	now := s.SubjectOf(&acct)
	if now.AccessAll || len(add) == 0 {
		return ""
	}
	next := now
	next.Groups = slices.Clone(now.Groups)
	for _, g := range add {
		next.Groups = append(next.Groups, policies.NormalizeUsername(g))
	}
	for _, a := range s.Apps() {
		acc := a.Access()
		if acc.Decide(next).Allow && !acc.Decide(now).Allow {
			return a.Title
		}
	}
	return ""
}

// mayJoin refuses c putting itself into the groups add when that opens an
// app c does not reach (see opensFor).
func (s *Access) mayJoin(c *Actor, add []string) error {
	if app := s.opensFor(c, add); app != "" {
		return fmt.Errorf("%w: you cannot add yourself to group %s: it opens the app %q, which you cannot use now; ask an owner or an admin to add you",
			ErrForbidden, strings.Join(add, ", "), app)
	}
	return nil
}

// addedGroups returns the groups of next that are not in prev.
func addedGroups(prev, next []string) []string {
	var out []string
	for _, g := range next {
		if !slices.ContainsFunc(prev, func(x string) bool { return strings.EqualFold(x, g) }) {
			out = append(out, g)
		}
	}
	return out
}
