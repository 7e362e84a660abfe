package store

import "time"

// Account is what the request path needs of a user: who they are, for the
// identity headers and the access rules, and whether they may use a
// session. It holds no secrets and is a read-only snapshot: its strings and
// Groups are shared with the store and must not be modified.
type Account struct {
	// ID is User.ID.
	ID string
	// Username is User.Username.
	Username string
	// Email is User.Email.
	Email string
	// FullName is User.FullName.
	FullName string
	// Role is User.Role.
	Role string
	// Groups is User.Groups (sorted).
	Groups []string
	// GroupsHeader is Groups joined with ",".
	GroupsHeader string
	// Disabled is User.Disabled.
	Disabled bool
	// ExpiresAt is User.ExpiresAt; zero means never.
	ExpiresAt time.Time
	// PasswordChangedAt is User.PasswordChangedAt.
	PasswordChangedAt time.Time
	// UIDNumber is User.UIDNumber (0: none).
	UIDNumber uint32
	// SSHKeys is User.SSHKeys.
	SSHKeys []string
}

// Active reports whether the user is enabled and not expired at now.
func (i *Account) Active(now time.Time) bool {
	return !i.Disabled && (i.ExpiresAt.IsZero() || now.Before(i.ExpiresAt))
}

// AccountOf returns the account part of u. It does not allocate.
func AccountOf(u *User) Account {
	return Account{ID: u.ID, Username: u.Username, Email: u.Email, FullName: u.FullName, Role: u.Role,
		Groups: u.Groups, GroupsHeader: u.GroupsHeader(), Disabled: u.Disabled, ExpiresAt: u.ExpiresAt,
		PasswordChangedAt: u.PasswordChangedAt, UIDNumber: u.UIDNumber, SSHKeys: u.SSHKeys}
}

// Account returns the account of user id. This is the request path's user
// lookup: once the user directory is built (in the background after Open)
// it reads memory only and does not allocate, for any id; until then it
// reads through User. It returns ErrNotFound (possibly wrapped) when there
// is no such user.
func (s *Store) Account(id string) (Account, error) {
	if s.closed.Load() {
		return Account{}, ErrClosed
	}
	if s.cluster.unsynced.Load() {
		return Account{}, ErrUnsynchronised
	}
	d := &s.directory
	if d.built.Load() {
		d.mu.RLock()
		e, ok := d.byID[id]
		var ident Account
		if ok {
			ident = e.account()
		}
		// Read under the lock: a Batch may have dropped the directory.
		built := d.built.Load()
		d.mu.RUnlock()
		if ok {
			return ident, nil
		}
		if built {
			return Account{}, ErrNotFound
		}
	}
	u, err := s.User(id)
	if err != nil {
		return Account{}, err
	}
	return AccountOf(u), nil
}
