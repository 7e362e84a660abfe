package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// UserFilter selects users for SearchUsers. The zero value selects all.
type UserFilter struct {
	// Query is a case-insensitive substring of the username, e-mail
	// address or full name.
	Query string
	// Role matches the role exactly.
	Role string
	// Group matches membership, case-insensitively.
	Group string
	// Status is "" (any), "active" (enabled and not expired) or
	// "disabled" (disabled or expired).
	Status string
}

// Match reports whether u passes the filter at now.
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
	case "active":
		return active
	case "disabled":
		return !active
	}
	return true
}

// SearchUsers is ListUsers keeping only the users that match f: up to limit
// of them (50 when limit <= 0), ordered by lowercase username, after the
// cursor after; next is "" on the last page.
func (s *Store) SearchUsers(f UserFilter, after string, limit int) (users []*User, next string, err error) {
	if limit <= 0 {
		limit = 50
	}
	now := s.now()
	cursor := after
	for {
		page, pageNext, err := s.ListUsers(cursor, 500)
		if err != nil {
			return nil, "", fmt.Errorf("store: search users: %w", err)
		}
		for _, u := range page {
			if !f.Match(u, now) {
				continue
			}
			if len(users) == limit {
				return users, strings.ToLower(users[limit-1].Username), nil
			}
			users = append(users, u)
		}
		if pageNext == "" {
			return users, "", nil
		}
		cursor = pageNext
	}
}

// UsersWithRole returns every user holding role, by username.
func (s *Store) UsersWithRole(role string) ([]*User, error) {
	users, _, err := s.SearchUsers(UserFilter{Role: role}, "", 1<<30)
	return users, err
}
