package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is a custom role: a named set of permissions an admin defined. The
// built-in roles are not stored.
type Role struct {
	// Name is unique, case-insensitively.
	Name string `json:"name"`
	// Description is free text for admins.
	Description string `json:"description,omitempty"`
	// Permissions are permission names (see package policies).
	Permissions []string `json:"permissions"`
	// CreatedAt is set by CreateRole.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is set by CreateRole and UpdateRole.
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateRole stores a new custom role, setting r.CreatedAt and
// r.UpdatedAt. ErrConflict when the name is taken (case-insensitive).
// Durable when it returns.
func (s *Store) CreateRole(r *Role) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if !validName(r.Name) || strings.TrimSpace(r.Name) == "" {
		return fmt.Errorf("store: create role %q: invalid name", r.Name)
	}
	now := s.now()
	r.CreatedAt, r.UpdatedAt = now, now
	rec := *r
	rec.Permissions = slices.Clone(r.Permissions)
	err := s.updateSync(func(txn kvTxn) error {
		if err := claim(txn, roleKey(rec.Name), "role"); err != nil {
			return err
		}
		return put(txn, roleKey(rec.Name), &rec)
	})
	if err != nil {
		return fmt.Errorf("store: create role %q: %w", r.Name, err)
	}
	return nil
}

// Role returns the custom role called name (case-insensitive); ErrNotFound
// when missing.
func (s *Store) Role(name string) (*Role, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	r := new(Role)
	if err := s.db.View(func(txn kvTxn) error { return get(txn, roleKey(name), r) }); err != nil {
		return nil, fmt.Errorf("store: role %q: %w", name, err)
	}
	return r, nil
}

// ListRoles returns every custom role, sorted by lowercase name.
func (s *Store) ListRoles() ([]*Role, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*Role
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte(prefixRole), func(_, v []byte) error {
			r := new(Role)
			if err := decode(v, r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list roles: %w", err)
	}
	return out, nil
}

// UpdateRole runs fn on the stored role called name (case-insensitive) and
// saves the result with a new UpdatedAt. fn must not change Name (an error
// is returned); CreatedAt is kept. fn may be called more than once (on a
// transaction conflict); if it returns an error nothing is written and that
// error is returned wrapped. ErrNotFound when missing. Durable when it
// returns.
func (s *Store) UpdateRole(name string, fn func(r *Role) error) (*Role, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out *Role
	err := s.updateSync(func(txn kvTxn) error {
		r := new(Role)
		if err := get(txn, roleKey(name), r); err != nil {
			return err
		}
		old := *r
		if err := fn(r); err != nil {
			return err
		}
		if r.Name != old.Name {
			return errors.New("a role cannot be renamed")
		}
		r.CreatedAt = old.CreatedAt
		r.UpdatedAt = s.now()
		out = r
		return put(txn, roleKey(name), r)
	})
	if err != nil {
		return nil, fmt.Errorf("store: update role %q: %w", name, err)
	}
	return out, nil
}

// DeleteRole removes a custom role (name is case-insensitive). It fails
// with an error wrapping ErrConflict while any user's Role names it
// (compared case-insensitively, checked in the same transaction) and with
// ErrNotFound when it does not exist. Durable when it returns.
func (s *Store) DeleteRole(name string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	err := s.updateSync(func(txn kvTxn) error {
		r := new(Role)
		if err := get(txn, roleKey(name), r); err != nil {
			return err
		}
		held := false
		err := scan(txn, []byte(prefixUser), func(_, v []byte) error {
			u := new(User)
			if err := decode(v, u); err != nil {
				return err
			}
			if strings.EqualFold(u.Role, r.Name) {
				held = true
				return errStopScan
			}
			return nil
		})
		if err != nil {
			return err
		}
		if held {
			return fmt.Errorf("role is held by users: %w", ErrConflict)
		}
		return txn.Delete(roleKey(name))
	})
	if err != nil {
		return fmt.Errorf("store: delete role %q: %w", name, err)
	}
	return nil
}
