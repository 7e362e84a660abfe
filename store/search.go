package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// UserFilter selects users for SearchUsers. The zero value selects all.
type UserFilter struct {
	// Query is a case-insensitive substring of the username, e-mail
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
// first). It scans until it has limit matches or reaches the end, in one
// snapshot; next is the lowercase username of the last user returned when
// more matches follow, or "" on the last page. An unknown f.Status is an
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

// searchUsers walks the username index after the cursor after and collects
// the users matching f, up to limit (no limit when limit <= 0). The caller
// holds enter.
func (s *Store) searchUsers(f UserFilter, after string, limit int) (users []*User, next string, err error) {
	switch f.Status {
	case "", StatusActive, StatusDisabled:
	default:
		return nil, "", fmt.Errorf("unknown status %q", f.Status)
	}
	now := s.now()
	after = strings.ToLower(after)
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixUsername)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(usernameKey(after)); it.ValidForPrefix(opts.Prefix); it.Next() {
			item := it.Item()
			name := string(item.Key()[len(prefixUsername):])
			if after != "" && name <= after {
				continue
			}
			id, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			u := new(User)
			if err := get(txn, userKey(string(id)), u); err != nil {
				return fmt.Errorf("user %q of username %q: %w", id, name, err)
			}
			if !f.Match(u, now) {
				continue
			}
			if limit > 0 && len(users) == limit {
				next = strings.ToLower(users[len(users)-1].Username)
				return nil
			}
			u.seal()
			users = append(users, u)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return users, next, nil
}
