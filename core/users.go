package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// NewUser is what CreateUser needs to make an account.
type NewUser struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	// FallbackEmail is a second address for account recovery.
	FallbackEmail string   `json:"fallback_email"`
	FullName      string   `json:"full_name"`
	Role          string   `json:"role"`
	Groups        []string `json:"groups"`
	Password      string   `json:"password"`
}

// UserView is a user as the JSON API and the CLI show it: snake_case fields
// matching the export format, never a secret.
type UserView struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"`
	Email         string     `json:"email"`         // verified: the one apps are told
	PendingEmail  string     `json:"pending_email"` // asked for, not yet confirmed by its link
	FallbackEmail string     `json:"fallback_email"`
	FullName      string     `json:"full_name"`
	Role          string     `json:"role"`
	Groups        []string   `json:"groups"`
	Active        bool       `json:"active"`
	ExpiresAt     *time.Time `json:"expires_at"`
	CreatedAt     time.Time  `json:"created_at"`
	LastLoginAt   *time.Time `json:"last_login_at"`
	// Source is where the account comes from: "local", or "ldap" for a
	// person of the external directory, whose password and profile the
	// directory keeps.
	Source string `json:"source"`
	// ExternalID is the directory entry (DN) of an "ldap" account.
	ExternalID string `json:"external_id,omitempty"`
	// Language ("" follows the browser) and TimeZone ("" is UTC) are the
	// user's profile settings of how the portal and e-mails speak to them.
	Language string `json:"language"`
	TimeZone string `json:"time_zone"`
}

// View is u as the API shows it.
func (s *Users) View(u *store.User) UserView {
	v := UserView{
		ID:            u.ID,
		Username:      u.Username,
		Email:         u.Email,
		PendingEmail:  u.PendingEmail,
		FallbackEmail: u.FallbackEmail,
		FullName:      u.FullName,
		Role:          u.Role,
		Groups:        u.Groups,
		Active:        UserActive(u, s.now()),
		CreatedAt:     u.CreatedAt,
		Source:        "local",
		Language:      u.Language,
		TimeZone:      u.TimeZone,
	}
	if u.Source != "" {
		v.Source, v.ExternalID = u.Source, u.ExternalID
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	v.ExpiresAt, v.LastLoginAt = TimeOrNil(u.ExpiresAt), TimeOrNil(u.LastLoginAt)
	return v
}

// validate checks nu, password included, and returns the record to store
// (without its password hash) or an *InputError naming the first problem.
func (s *Users) validate(nu NewUser) (*store.User, error) { return s.ValidateNew(nu, false) }

// ValidateNew is validate; with noPassword the account is made without one
// (its owner sets it through a link).
func (s *Users) ValidateNew(nu NewUser, noPassword bool) (*store.User, error) {
	u := &store.User{
		Username: policies.NormalizeUsername(nu.Username),
		Email:    strings.TrimSpace(nu.Email),
		FullName: strings.TrimSpace(nu.FullName),
		Role:     strings.TrimSpace(nu.Role),
	}
	if u.Username == "" {
		return nil, Input("username", "is required")
	}
	if err := policies.ValidateUsername(u.Username); err != nil {
		return nil, Input("username", "%v", err)
	}
	var err error
	if u.Email, err = CheckEmail("email", u.Email); err != nil {
		return nil, err
	}
	if u.FallbackEmail, err = CheckEmail("fallback_email", nu.FallbackEmail); err != nil {
		return nil, err
	}
	if u.FullName, err = CheckFullName(u.FullName); err != nil {
		return nil, err
	}
	if u.Role == "" {
		u.Role = policies.RoleUser
	}
	if _, ok := s.PermsOf(u.Role); !ok {
		return nil, Input("role", "unknown role %q (roles: %s)", u.Role, strings.Join(s.RoleNames(), ", "))
	}
	if u.Groups, err = normalizeGroupList(nu.Groups); err != nil {
		return nil, err
	}
	if len(u.Groups) == 0 {
		u.Groups = nil
	}
	if noPassword {
		if nu.Password != "" {
			return nil, Input("password", "must be empty when the user sets it through a link")
		}
		return u, nil
	}
	if nu.Password == "" {
		return nil, Input("password", "is required")
	}
	if err := s.PasswordRules().Check(nu.Password, u.Username); err != nil {
		return nil, Input("password", "%v", err)
	}
	return u, nil
}

// IsControl reports whether r is an ASCII control character.
func IsControl(r rune) bool { return r < 0x20 || r == 0x7f }

// CreateUser validates nu, hashes the password, creates missing groups and
// stores the user. a is who asked (for the audit log; nil: nobody).
func (s *Users) CreateUser(ctx context.Context, a *Actor, nu NewUser) (*store.User, error) {
	u, err := s.validate(nu)
	if err != nil {
		return nil, err
	}
	return s.CreateValidated(ctx, a, actorName(a), u, nu.Password)
}

// CreateValidated stores u, checked by validate, with the password pw;
// the audit log names actor as its creator, on a's behalf.
func (s *Users) CreateValidated(ctx context.Context, a *Actor, actor string, u *store.User, pw string) (*store.User, error) {
	if pw != "" {
		hash, err := s.hasher.Hash(ctx, pw)
		if err != nil {
			return nil, s.Auth.BusyOr(err)
		}
		u.PasswordHash = hash
		u.PasswordChangedAt = s.now()
	}
	if len(u.Groups) > 0 {
		if err := s.store.EnsureGroups(u.Groups); err != nil {
			return nil, fmt.Errorf("core: create groups: %w", err)
		}
	}
	if err := s.store.CreateUser(u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			if _, err := s.store.UserByUsername(u.Username); err == nil {
				return nil, Conflictf("the username %q is already taken", u.Username)
			}
			return nil, Conflictf("the email address %q is already used by another account", u.Email)
		}
		return nil, fmt.Errorf("core: create user: %w", err)
	}
	s.Audit(a, store.Event{Actor: actor, Action: ActionUserCreate, Resource: "user:" + u.Username,
		Outcome: OutcomeSuccess, Reason: "role " + u.Role})
	return u, nil
}

// ListUsers returns one page of users ordered by username; after is the
// previous page's next cursor.
func (s *Users) ListUsers(after string, limit int) ([]UserView, string, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	users, next, err := s.store.ListUsers(after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("core: list users: %w", err)
	}
	out := make([]UserView, len(users))
	for i, u := range users {
		out[i] = s.View(u)
	}
	return out, next, nil
}

// CreateUserView is CreateUser returning the user as the API shows it.
func (s *Users) CreateUserView(ctx context.Context, a *Actor, nu NewUser) (UserView, error) {
	u, err := s.CreateUser(ctx, a, nu)
	if err != nil {
		return UserView{}, err
	}
	return s.View(u), nil
}

// TimeOrNil is t for a JSON field that is null when t is zero.
func TimeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
