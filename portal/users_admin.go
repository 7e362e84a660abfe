package portal

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
	actionUserUpdate  = "user.update"
	actionUserRole    = "user.role"
	actionUserGroups  = "user.groups"
	actionUserDisable = "user.disable"
	actionUserEnable  = "user.enable"
	actionUserDelete  = "user.delete"
)

// ownerMu serialises every change that could remove the last owner, in
// this process (the store is one process's), so two owners demoting each
// other at once cannot leave none.
var ownerMu sync.Mutex

// findUser returns the user named by ref: an id or a username.
func (s *Service) findUser(ref string) (*store.User, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("user: %w", ErrNotFound)
	}
	u, err := s.store.User(ref)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.store.UserByUsername(policies.NormalizeUsername(ref))
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("user %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("portal: find user: %w", err)
	}
	return u, nil
}

// eachUser calls fn for every user, page by page.
func (s *Service) eachUser(fn func(u *store.User)) error {
	after := ""
	for {
		users, next, err := s.store.ListUsers(after, 500)
		if err != nil {
			return fmt.Errorf("portal: list users: %w", err)
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

// target describes u for the rules of policies.CanManage.
func (s *Service) target(role string) policies.Target {
	perms, _ := s.core.PermsOf(role)
	return policies.Target{Role: role, Perms: perms}
}

// mayManage checks that c may change u's account.
func (s *Service) mayManage(c *caller, u *store.User) error {
	return policies.CanManage(c.Principal(), s.target(u.Role))
}

// otherActiveOwners counts the owners other than u who can still sign in.
func (s *Service) otherActiveOwners(u *store.User) (int, error) {
	owners, err := s.store.UsersWithRole(policies.RoleOwner)
	if err != nil {
		return 0, fmt.Errorf("portal: count owners: %w", err)
	}
	n, now := 0, s.now()
	for _, o := range owners {
		if o.ID != u.ID && userActive(o, now) {
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
	return time.Time{}, inputErr("expires_at", "must be a date (YYYY-MM-DD) or an RFC 3339 time, not %q", v)
}

func checkEmail(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || len(v) > 254 {
		return "", inputErr(field, "must be a valid email address, not %q", v)
	}
	return v, nil
}

func checkFullName(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len([]rune(v)) > 128 || strings.ContainsFunc(v, isControl) {
		return "", inputErr("full_name", "must be at most 128 printable characters")
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
			return nil, inputErr("groups", "%v", err)
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
func mayChangeResetChannel(c *caller, u *store.User, field string) error {
	switch {
	case c.Key != nil:
		return fmt.Errorf("%w: API keys cannot change an email address, which receives reset links: sign in to the portal to do this", ErrForbidden)
	case c.Impersonating():
		return errImpersonating
	case c.User.ID != "" && c.User.ID == u.ID:
		if field == "email" {
			return errOwnEmail
		}
		return fmt.Errorf("%w: your fallback email address receives your reset links, so another administrator sets it", ErrForbidden)
	}
	return nil
}

func (s *Service) updateUser(c *caller, ref string, p UserPatch) (*store.User, error) {
	u, err := s.findUser(ref)
	if err != nil {
		return nil, err
	}
	if err := s.mayManage(c, u); err != nil {
		return nil, err
	}
	var (
		email, fallback, fullName string
		groups                    []string
		expires                   time.Time
	)
	if p.Email != nil {
		if email, err = checkEmail("email", *p.Email); err != nil {
			return nil, err
		}
		if !strings.EqualFold(email, u.Email) {
			if err := mayChangeResetChannel(c, u, "email"); err != nil {
				return nil, err
			}
		}
	}
	if p.FallbackEmail != nil {
		if fallback, err = checkEmail("fallback_email", *p.FallbackEmail); err != nil {
			return nil, err
		}
		if !strings.EqualFold(fallback, u.FallbackEmail) {
			if err := mayChangeResetChannel(c, u, "fallback_email"); err != nil {
				return nil, err
			}
		}
	}
	if p.FullName != nil {
		if fullName, err = checkFullName(*p.FullName); err != nil {
			return nil, err
		}
	}
	if p.Groups != nil {
		if groups, err = normalizeGroupList(*p.Groups); err != nil {
			return nil, err
		}
		if u.ID == c.User.ID {
			if err := s.mayJoin(c, addedGroups(u.Groups, groups)); err != nil {
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
		if _, ok := s.core.PermsOf(role); !ok {
			return nil, inputErr("role", "unknown role %q", role)
		}
		if err := policies.CanAssignRole(c.Principal(), u.Role, s.target(role)); err != nil {
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
			return nil, fmt.Errorf("portal: create groups: %w", err)
		}
	}
	before := u.Clone()
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
			return nil, fmt.Errorf("the email address %q is already used by another account: %w", email, ErrConflict)
		}
		return nil, fmt.Errorf("portal: update user: %w", err)
	}
	s.auditUserChanges(c, before, updated)
	if updated.Disabled && !before.Disabled {
		if _, err := s.store.DeleteUserSessions(updated.ID); err != nil {
			return nil, fmt.Errorf("portal: end sessions of disabled user: %w", err)
		}
		s.revokeAllKeys(c, c.User.Username, updated)
	}
	return updated, nil
}

// auditUserChanges records one event per kind of change between a and b.
func (s *Service) auditUserChanges(c *caller, a, b *store.User) {
	ev := func(action, reason string) {
		s.core.Audit(c, store.Event{Actor: c.User.Username, Action: action, Resource: "user:" + b.Username,
			Outcome: outcomeSuccess, Reason: reason})
	}
	if a.Role != b.Role {
		ev(actionUserRole, a.Role+" -> "+b.Role)
	}
	if !slices.Equal(a.Groups, b.Groups) {
		ev(actionUserGroups, "["+strings.Join(a.Groups, ",")+"] -> ["+strings.Join(b.Groups, ",")+"]")
	}
	if a.Disabled != b.Disabled {
		if b.Disabled {
			ev(actionUserDisable, "")
		} else {
			ev(actionUserEnable, "")
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
		ev(actionUserUpdate, strings.Join(fields, ","))
	}
}

// deleteUser removes the user ref; their sessions die with them and their
// audit history stays.
func (s *Service) deleteUser(c *caller, ref string) error {
	u, err := s.findUser(ref)
	if err != nil {
		return err
	}
	if u.ID == c.User.ID {
		return inputErr("", "you cannot delete your own account")
	}
	if err := s.mayManage(c, u); err != nil {
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
	s.revokeAllKeys(c, c.User.Username, u)
	if err := s.store.DeleteUser(u.ID); err != nil {
		return fmt.Errorf("portal: delete user: %w", err)
	}
	_, _ = s.store.DeleteUserTokens(tokenKindReset, u.ID)
	s.core.Audit(c, store.Event{Actor: c.User.Username, Action: actionUserDelete, Resource: "user:" + u.Username, Outcome: outcomeSuccess})
	return nil
}

// adminCreateUser creates an account on behalf of c. Without a password the
// account gets a link to set one (returned, and emailed when mail is set
// up).
func (s *Service) adminCreateUser(ctx context.Context, c *caller, nu NewUser) (*store.User, string, error) {
	if nu.Role == "" {
		nu.Role = policies.RoleUser
	}
	if _, ok := s.core.PermsOf(nu.Role); !ok {
		return nil, "", inputErr("role", "unknown role %q", nu.Role)
	}
	if err := policies.CanAssignRole(c.Principal(), "", s.target(nu.Role)); err != nil {
		return nil, "", err
	}
	u, err := s.validateNew(nu, nu.Password == "")
	if err != nil {
		return nil, "", err
	}
	if nu.Password == "" {
		created, err := s.createValidated(ctx, c, c.User.Username, u, "")
		if err != nil {
			return nil, "", err
		}
		link, err := s.issueReset(ctx, c, created, true, c)
		return created, link, err
	}
	created, err := s.createValidated(ctx, c, c.User.Username, u, nu.Password)
	return created, "", err
}

// checkAssign checks that c may give a new account role.
func checkAssign(s *Service, c *caller, role string) error {
	return policies.CanAssignRole(c.Principal(), "", s.target(role))
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
