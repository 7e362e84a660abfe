package core

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit actions of account management.
const (
	ActionUserUpdate  = "user.update"
	ActionUserRole    = "user.role"
	ActionUserGroups  = "user.groups"
	ActionUserDisable = "user.disable"
	ActionUserEnable  = "user.enable"
	ActionUserDelete  = "user.delete"
)

// ownerMu serialises every change that could remove the last owner, in
// this process (the store is one process's), so two owners demoting each
// other at once cannot leave none.
var ownerMu sync.Mutex

// FindUser returns the user named by ref: an id or a username.
func (s *Users) FindUser(ref string) (*store.User, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, NotFoundf("user")
	}
	u, err := s.store.User(ref)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.store.UserByUsername(policies.NormalizeUsername(ref))
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, NotFoundf("user %q", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("core: find user: %w", err)
	}
	return u, nil
}

// EachUser calls fn for every user, page by page.
func (s *Users) EachUser(fn func(u *store.User)) error {
	after := ""
	for {
		users, next, err := s.store.ListUsers(after, 500)
		if err != nil {
			return fmt.Errorf("core: list users: %w", err)
		}
		for _, u := range users {
			fn(u)
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// Target describes u for the rules of policies.CanManage.
func (s *Users) Target(role string) policies.Target {
	perms, _ := s.PermsOf(role)
	return policies.Target{Role: role, Perms: perms}
}

// MayManage checks that c may change u's account.
func (s *Users) MayManage(c *Actor, u *store.User) error {
	return policies.CanManage(c.Principal(), s.Target(u.Role))
}

// otherActiveOwners counts the owners other than u who can still sign in.
func (s *Users) otherActiveOwners(u *store.User) (int, error) {
	owners, err := s.store.UsersWithRole(policies.RoleOwner)
	if err != nil {
		return 0, fmt.Errorf("core: count owners: %w", err)
	}
	n, now := 0, s.now()
	for _, o := range owners {
		if o.ID != u.ID && UserActive(o, now) {
			n++
		}
	}
	return n, nil
}

var errLastOwner = fmt.Errorf("%w: this is the last owner; make someone else an owner first", ErrForbidden)

// UserPatch changes some fields of a user; nil fields stay as they are.
type UserPatch struct {
	Email         *string   `json:"email"`
	FallbackEmail *string   `json:"fallback_email"`
	FullName      *string   `json:"full_name"`
	Role          *string   `json:"role"`
	Groups        *[]string `json:"groups"`
	Active        *bool     `json:"active"`
	// ExpiresAt is an RFC 3339 time or a date (YYYY-MM-DD, end of that day
	// UTC); "" removes the expiry.
	ExpiresAt *string `json:"expires_at"`
}

// parseExpiry reads an expiry date for UserPatch.
func parseExpiry(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.Add(24*time.Hour - time.Second).UTC(), nil
	}
	return time.Time{}, Input("expires_at", "must be a date (YYYY-MM-DD) or an RFC 3339 time, not %q", v)
}

// CheckEmail checks and normalises the email address v of field.
func CheckEmail(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || len(v) > 254 {
		return "", Input(field, "must be a valid email address, not %q", v)
	}
	return v, nil
}

// CheckFullName checks and trims the full name v.
func CheckFullName(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len([]rune(v)) > 128 || strings.ContainsFunc(v, IsControl) {
		return "", Input("full_name", "must be at most 128 printable characters")
	}
	return v, nil
}

func normalizeGroupList(in []string) ([]string, error) {
	out := []string{}
	for _, g := range in {
		g = policies.NormalizeUsername(g)
		if g == "" {
			continue
		}
		if err := policies.ValidateGroupName(g); err != nil {
			return nil, Input("groups", "%v", err)
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out, nil
}

// updateUser applies p to the user ref on behalf of c, enforcing the rules
// of DESIGN.md §4, and audits each kind of change.
// mayChangeResetChannel says whether c may change u's email or fallback
// address (field) through the admin routes. Both receive u's reset links,
// so this is an admin credential action (principle 2): never with an API
// key, never while impersonating, never on one's own account (the email
// address is changed on the profile, which confirms it; the fallback
// address by another administrator).
func mayChangeResetChannel(c *Actor, u *store.User, field string) error {
	switch {
	case c.Key != nil:
		return fmt.Errorf("%w: API keys cannot change an email address, which receives reset links: sign in to the portal to do this", ErrForbidden)
	case c.Impersonating():
		return ErrImpersonating
	case c.User.ID != "" && c.User.ID == u.ID:
		if field == "email" {
			return errOwnEmail
		}
		return fmt.Errorf("%w: your fallback email address receives your reset links, so another administrator sets it", ErrForbidden)
	}
	return nil
}

// UpdateUser applies p to the user ref for c, within what c may grant.
func (s *Users) UpdateUser(c *Actor, ref string, p UserPatch) (*store.User, error) {
	u, err := s.FindUser(ref)
	if err != nil {
		return nil, err
	}
	if err := s.MayManage(c, u); err != nil {
		return nil, err
	}
	var (
		email, fallback, fullName string
		groups                    []string
		expires                   time.Time
	)
	if p.Email != nil {
		if email, err = CheckEmail("email", *p.Email); err != nil {
			return nil, err
		}
		if !strings.EqualFold(email, u.Email) {
			if err := mayChangeResetChannel(c, u, "email"); err != nil {
				return nil, err
			}
		}
	}
	if p.FallbackEmail != nil {
		if fallback, err = CheckEmail("fallback_email", *p.FallbackEmail); err != nil {
			return nil, err
		}
		if !strings.EqualFold(fallback, u.FallbackEmail) {
			if err := mayChangeResetChannel(c, u, "fallback_email"); err != nil {
				return nil, err
			}
		}
	}
	if p.FullName != nil {
		if fullName, err = CheckFullName(*p.FullName); err != nil {
			return nil, err
		}
	}
	if p.Groups != nil {
		if groups, err = normalizeGroupList(*p.Groups); err != nil {
			return nil, err
		}
		if u.ID == c.User.ID {
			if err := s.Access.mayJoin(c, addedGroups(u.Groups, groups)); err != nil {
				return nil, err
			}
		}
	}
	if p.ExpiresAt != nil {
		if expires, err = parseExpiry(*p.ExpiresAt); err != nil {
			return nil, err
		}
	}
	if p.Role != nil {
		role := strings.TrimSpace(*p.Role)
		if _, ok := s.PermsOf(role); !ok {
			return nil, Input("role", "unknown role %q", role)
		}
		if err := policies.CanAssignRole(c.Principal(), u.Role, s.Target(role)); err != nil {
			return nil, err
		}
	}
	// Changes that could leave no owner are checked and made under ownerMu.
	losesOwner := u.Role == policies.RoleOwner &&
		((p.Role != nil && strings.TrimSpace(*p.Role) != policies.RoleOwner) ||
			(p.Active != nil && !*p.Active) ||
			(p.ExpiresAt != nil && !expires.IsZero()))
	if losesOwner {
		ownerMu.Lock()
		defer ownerMu.Unlock()
		if n, err := s.otherActiveOwners(u); err != nil {
			return nil, err
		} else if n == 0 {
			return nil, errLastOwner
		}
	}
	if len(groups) > 0 {
		if err := s.store.EnsureGroups(groups); err != nil {
			return nil, fmt.Errorf("core: create groups: %w", err)
		}
	}
	before := u.Clone()
	appPasswords := 0 // the store deletes them with the disabling
	if p.Active != nil && !*p.Active && !u.Disabled {
		appPasswords = s.Credentials.countAppPasswords(u)
	}
	updated, err := s.store.UpdateUser(u.ID, func(x *store.User) error {
		if p.Email != nil {
			if !strings.EqualFold(x.Email, email) {
				// The administrator's address wins over a change
				// the user asked for: its link no longer confirms.
				x.PendingEmail = ""
			}
			x.Email = email
		}
		if p.FallbackEmail != nil {
			x.FallbackEmail = fallback
		}
		if p.FullName != nil {
			x.FullName = fullName
		}
		if p.Role != nil {
			x.Role = strings.TrimSpace(*p.Role)
		}
		if p.Groups != nil {
			x.Groups = groups
		}
		if p.Active != nil {
			x.Disabled = !*p.Active
		}
		if p.ExpiresAt != nil {
			x.ExpiresAt = expires
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, Conflictf("the email address %q is already used by another account", email)
		}
		return nil, fmt.Errorf("core: update user: %w", err)
	}
	s.auditUserChanges(c, before, updated)
	s.notifyEmailChange(c, before, updated)
	if updated.Disabled && !before.Disabled {
		if _, err := s.store.DeleteUserSessions(updated.ID); err != nil {
			return nil, fmt.Errorf("core: end sessions of disabled user: %w", err)
		}
		s.Credentials.revokeAllKeys(c, c.User.Username, updated)
		s.Credentials.appPasswordsGone(c, updated, appPasswords, "disabled")
	}
	return updated, nil
}

// auditUserChanges records one event per kind of change between a and b.
func (s *Users) auditUserChanges(c *Actor, a, b *store.User) {
	ev := func(action, reason string) {
		s.Audit(c, store.Event{Actor: c.User.Username, Action: action, Resource: "user:" + b.Username,
			Outcome: OutcomeSuccess, Reason: reason})
	}
	if a.Role != b.Role {
		ev(ActionUserRole, a.Role+" -> "+b.Role)
	}
	if !slices.Equal(a.Groups, b.Groups) {
		ev(ActionUserGroups, "["+strings.Join(a.Groups, ",")+"] -> ["+strings.Join(b.Groups, ",")+"]")
	}
	if a.Disabled != b.Disabled {
		if b.Disabled {
			ev(ActionUserDisable, "")
		} else {
			ev(ActionUserEnable, "")
		}
	}
	var fields []string
	if a.Email != b.Email {
		fields = append(fields, "email")
	}
	if a.FallbackEmail != b.FallbackEmail {
		fields = append(fields, "fallback_email")
	}
	if a.FullName != b.FullName {
		fields = append(fields, "full_name")
	}
	if !a.ExpiresAt.Equal(b.ExpiresAt) {
		fields = append(fields, "expires_at")
	}
	if len(fields) > 0 {
		ev(ActionUserUpdate, strings.Join(fields, ","))
	}
}

// DeleteUser removes the user ref; their sessions die with them and their
// audit history stays.
func (s *Users) DeleteUser(c *Actor, ref string) error {
	u, err := s.FindUser(ref)
	if err != nil {
		return err
	}
	if u.ID == c.User.ID {
		return Input("", "you cannot delete your own account")
	}
	if err := s.MayManage(c, u); err != nil {
		return err
	}
	if u.Role == policies.RoleOwner {
		ownerMu.Lock()
		defer ownerMu.Unlock()
		if n, err := s.otherActiveOwners(u); err != nil {
			return err
		} else if n == 0 {
			return errLastOwner
		}
	}
	s.Credentials.revokeAllKeys(c, c.User.Username, u)
	appPasswords := s.Credentials.countAppPasswords(u)
	if err := s.store.DeleteUser(u.ID); err != nil {
		return fmt.Errorf("core: delete user: %w", err)
	}
	s.Credentials.appPasswordsGone(c, u, appPasswords, "deleted")
	_, _ = s.store.DeleteUserTokens(tokenKindReset, u.ID)
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionUserDelete, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	return nil
}

// AdminCreateUser creates an account on behalf of c. Without a password the
// account gets a link to set one (returned, and emailed when mail is set
// up).
func (s *Users) AdminCreateUser(ctx context.Context, c *Actor, nu NewUser) (*store.User, string, error) {
	if nu.Role == "" {
		nu.Role = policies.RoleUser
	}
	if _, ok := s.PermsOf(nu.Role); !ok {
		return nil, "", Input("role", "unknown role %q", nu.Role)
	}
	if err := policies.CanAssignRole(c.Principal(), "", s.Target(nu.Role)); err != nil {
		return nil, "", err
	}
	u, err := s.ValidateNew(nu, nu.Password == "")
	if err != nil {
		return nil, "", err
	}
	if nu.Password == "" {
		created, err := s.CreateValidated(ctx, c, c.User.Username, u, "")
		if err != nil {
			return nil, "", err
		}
		link, err := s.Credentials.issueReset(ctx, c, created, true, c)
		return created, link, err
	}
	created, err := s.CreateValidated(ctx, c, c.User.Username, u, nu.Password)
	return created, "", err
}

// CheckAssign checks that c may give a new account role.
func (s *Users) CheckAssign(c *Actor, role string) error {
	return policies.CanAssignRole(c.Principal(), "", s.Target(role))
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
