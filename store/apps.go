package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// AppAccess holds the access rules of a portal-managed app.
type AppAccess struct {
	// App is the app's name as configured in the Caddyfile.
	App string `json:"app"`
	// AllowGroups lists the groups whose members may use the app.
	AllowGroups []string `json:"allow_groups,omitempty"`
	// AllowUsers lists the usernames that may use the app.
	AllowUsers []string `json:"allow_users,omitempty"`
	// Require2FA lets in only sessions with a second factor.
	Require2FA bool `json:"require_2fa,omitempty"`
	// AppPasswords lets the guard take app passwords over HTTP Basic
	// from non-browser clients.
	AppPasswords bool `json:"app_passwords,omitempty"`
	// Operators lists the usernames who may change this one app's access
	// without any other admin right.
	Operators []string `json:"operators,omitempty"`
	// UpdatedAt is set by PutAppAccess.
	UpdatedAt time.Time `json:"updated_at"`
}

// PutAppAccess stores (replacing) the rules of a.App and sets a.UpdatedAt.
// Durable when it returns.
func (s *Store) PutAppAccess(a *AppAccess) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if !validName(a.App) {
		return fmt.Errorf("store: put app access %q: invalid app name", a.App)
	}
	a.UpdatedAt = s.now()
	err := s.updateSync(func(txn kvTxn) error { return put(txn, appKey(a.App), a) })
	if err != nil {
		return fmt.Errorf("store: put app access %q: %w", a.App, err)
	}
	return nil
}

// AppAccess returns the stored rules of app; ErrNotFound when never set.
func (s *Store) AppAccess(app string) (*AppAccess, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	a := new(AppAccess)
	err := s.db.View(func(txn kvTxn) error { return get(txn, appKey(app), a) })
	if err != nil {
		return nil, fmt.Errorf("store: app access %q: %w", app, err)
	}
	return a, nil
}

// ListAppAccess returns the stored rules of every app, sorted by app name.
func (s *Store) ListAppAccess() ([]*AppAccess, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*AppAccess
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte(prefixApp), func(_, v []byte) error {
			a := new(AppAccess)
			if err := decode(v, a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list app access: %w", err)
	}
	slices.SortFunc(out, func(a, b *AppAccess) int { return strings.Compare(a.App, b.App) })
	return out, nil
}
