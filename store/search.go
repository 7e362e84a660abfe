package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// UserFilter selects users for SearchUsers. The zero value selects all.
type UserFilter struct {
	// Query is a case-insensitive substring of the username, email
	// address or full name; "" matches any.
	Query string
	// Role matches User.Role exactly; "" matches any.
	Role string
	// Group matches membership (an element of User.Groups),
	// case-insensitively; "" matches any.
	Group string
	// Status is "" (any), StatusActive ("active": not Disabled and
	// ExpiresAt zero or after now) or StatusDisabled ("disabled":
	// Disabled, or ExpiresAt at or before now).
	Status string
}

// Match reports whether u passes the filter at now. The Query is trimmed
// of surrounding spaces; an unknown Status matches no one.
func (f UserFilter) Match(u *User, now time.Time) bool {
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" &&
		!strings.Contains(strings.ToLower(u.Username), q) &&
		!strings.Contains(strings.ToLower(u.Email), q) &&
		!strings.Contains(strings.ToLower(u.FullName), q) {
		return false
	}
	if f.Role != "" && u.Role != f.Role {
		return false
	}
	if f.Group != "" && !slices.ContainsFunc(u.Groups, func(g string) bool { return strings.EqualFold(g, f.Group) }) {
		return false
	}
	active := !u.Disabled && (u.ExpiresAt.IsZero() || now.Before(u.ExpiresAt))
	switch f.Status {
	case "":
		return true
	case StatusActive:
		return active
	case StatusDisabled:
		return !active
	}
	return false
}

// The values of UserFilter.Status besides "".
const (
	// StatusActive selects users that are enabled and not expired.
	StatusActive = "active"
	// StatusDisabled selects users that are disabled or expired.
	StatusDisabled = "disabled"
)

// SearchUsers is ListUsers keeping only the users that match f at Now():
// up to limit of them (50 when limit <= 0), ordered by lowercase username,
// after the cursor after (the next value of the previous page; "" for the
// first). It walks the in-memory directory of users (built on first use,
// then kept current by every write); next is the lowercase username of the
// last user returned when more matches follow, or "" on the last page. An unknown f.Status is an
// error. The users are fresh copies.
func (s *Store) SearchUsers(f UserFilter, after string, limit int) (users []*User, next string, err error) {
	if err := s.enter(); err != nil {
		return nil, "", err
	}
	defer s.leave()
	if limit <= 0 {
		limit = 50
	}
	users, next, err = s.searchUsers(f, after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("store: search users: %w", err)
	}
	return users, next, nil
}

// UsersWithRole returns every user whose role is exactly role, sorted by
// lowercase username.
func (s *Store) UsersWithRole(role string) ([]*User, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	users, _, err := s.searchUsers(UserFilter{Role: role}, "", 0)
	if err != nil {
		return nil, fmt.Errorf("store: users with role %q: %w", role, err)
	}
	return users, nil
}

// searchUsers finds the users matching f in the directory, after the
// cursor after, up to limit (no limit when limit <= 0), and reads them from
// the cache or Badger. A user changed or deleted between the two steps is
// checked again and left out when it no longer matches. The caller holds
// enter.
func (s *Store) searchUsers(f UserFilter, after string, limit int) (users []*User, next string, err error) {
	ids, next, err := s.matchIDs(f, strings.ToLower(after), limit)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	users = make([]*User, 0, len(ids))
	for _, id := range ids {
		u := s.users.get(id)
		if u == nil {
			u, err = s.loadUser(id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, "", fmt.Errorf("user %q: %w", id, err)
			}
		}
		if !f.Match(u, now) {
			continue
		}
		c := u.Clone()
		c.seal()
		users = append(users, c)
	}
	return users, next, nil
}
