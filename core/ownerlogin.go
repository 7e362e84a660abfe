package core

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// OwnerLoginLifetime is how long an owner recovery link works.
const OwnerLoginLifetime = 15 * time.Minute

// TokenKindOwnerLogin is the store's kind of owner sign-in links.
const TokenKindOwnerLogin = "owner-login"

// Audit actions of owner recovery links.
const (
	ActionOwnerLoginCreate = "owner_login.create"
	ActionOwnerLoginUse    = "owner_login.use"
)

// OwnerFor returns the active owner named username, or the first active
// owner by username when it is empty.
func (s *Credentials) OwnerFor(username string) (*store.User, error) {
	now := s.now()
	if username == "" {
		owners, err := s.store.UsersWithRole(policies.RoleOwner)
		if err != nil {
			return nil, fmt.Errorf("core: list owners: %w", err)
		}
		for _, u := range owners {
			if UserActive(u, now) {
				return u, nil
			}
		}
		return nil, Input("username", "there is no active owner; create one with: caddy gatehouse user add --role owner")
	}
	u, err := s.store.UserByUsername(policies.NormalizeUsername(username))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, Input("username", "no user %q", username)
	case err != nil:
		return nil, fmt.Errorf("core: look up user: %w", err)
	case u.Role != policies.RoleOwner:
		return nil, Input("username", "%s is not an owner (role %s): recovery links are for owners only", u.Username, u.Role)
	case !UserActive(u, now):
		return nil, Input("username", "%s is disabled or expired", u.Username)
	}
	return u, nil
}

// OwnerLoginToken returns the live recovery token of secret and its owner,
// without spending it; ErrLink when either is unusable.
func (s *Credentials) OwnerLoginToken(secret string) (*store.Token, *store.User, error) {
	hash, ok := LinkHash(secret)
	if !ok {
		return nil, nil, ErrLink
	}
	t, err := s.store.Token(TokenKindOwnerLogin, hash)
	if err != nil {
		return nil, nil, ErrLink
	}
	u, err := s.store.User(t.UserID)
	if err != nil || u.Role != policies.RoleOwner || !UserActive(u, s.now()) {
		return nil, nil, ErrLink
	}
	return t, u, nil
}
