package store

import (
	"errors"
	"fmt"
	"strings"
)

// UpdateUser applies fn to a copy of the user and stores the result. fn may
// be called more than once (on a transaction conflict) and must only change
// the user it is given. If fn returns an error, nothing is written and that
// error is returned. Username and email changes move their index entries
// (ErrConflict if the new value is taken, and then nothing changes);
// Groups are normalised and UpdatedAt set. The change is durable and
// visible to the very next User call when UpdateUser returns. The result is
// shared and read-only, as for User.
func (s *Store) UpdateUser(id string, fn func(u *User) error) (*User, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	var rec *User
	var fnErr error
	err := s.updateSync(func(txn kvTxn) (err error) {
		rec, fnErr, err = s.updateUserTxn(txn, id, fn)
		return err
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, fmt.Errorf("store: update user %q: %w", id, err)
	}
	s.users.replace(rec)
	s.directory.put(rec)
	if rec.Disabled {
		s.appPasswords.forgetUser(id)
	}
	return rec, nil
}

// UpdateUserEndingSessions is UpdateUser that also ends every session of
// the user but keep (zero: all of them), in the same transaction as the
// change: a crash cannot leave a changed password with the sessions it
// was meant to end. Past deleteSessionsChunk sessions the rest end in
// further transactions before it returns. It returns the user as stored
// and how many sessions ended.
func (s *Store) UpdateUserEndingSessions(id string, fn func(u *User) error, keep SessionID) (*User, int, error) {
	if err := s.enter(); err != nil {
		return nil, 0, err
	}
	defer s.leave()
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	var rec *User
	var fnErr error
	kept := &keep
	if keep == (SessionID{}) {
		kept = nil
	}
	n, committed, err := s.deleteUserSessionsWith(id, kept, func(txn kvTxn) (err error) {
		rec, fnErr, err = s.updateUserTxn(txn, id, fn)
		return err
	})
	if fnErr != nil {
		return nil, 0, fnErr
	}
	if committed {
		// With the first chunk of deletions, even if a later one failed.
		s.users.replace(rec)
		s.directory.put(rec)
		if rec.Disabled {
			s.appPasswords.forgetUser(id)
		}
	}
	if err != nil {
		return nil, n, fmt.Errorf("store: update user %q and end their sessions: %w", id, err)
	}
	return rec, n, nil
}

// updateUserTxn applies fn to user id within txn: rec is the record
// written, fnErr fn's own error (err is then fnErr too).
func (s *Store) updateUserTxn(txn kvTxn, id string, fn func(u *User) error) (rec *User, fnErr, err error) {
	old := new(User)
	if err := get(txn, userKey(id), old); err != nil {
		return nil, nil, err
	}
	u := old.Clone()
	if err := fn(u); err != nil {
		return nil, err, err
	}
	u.ID, u.CreatedAt = old.ID, old.CreatedAt
	u.UIDNumber = old.UIDNumber // for life
	u.UpdatedAt = s.now()
	if u.PendingEmail != "" && strings.EqualFold(u.PendingEmail, u.Email) {
		u.PendingEmail = ""
	}
	u.seal()
	if err := validateUser(u); err != nil {
		return nil, nil, err
	}
	if err := moveIndex(txn, usernameKey(old.Username), usernameKey(u.Username), old.Username != "", true, id, "username"); err != nil {
		return nil, nil, err
	}
	if err := moveIndex(txn, emailKey(old.Email), emailKey(u.Email), old.Email != "", u.Email != "", id, "email"); err != nil {
		return nil, nil, err
	}
	if err := put(txn, userKey(id), u); err != nil {
		return nil, nil, err
	}
	if u.Disabled && !old.Disabled {
		// Disabling kills the user's app passwords, whoever disables
		// and however: enabling the account again does not revive them.
		if _, err := deleteUserAppPasswords(txn, id); err != nil {
			return nil, nil, err
		}
	}
	return u, nil, nil
}

// moveIndex points the index at newKey (when hasNew) to id instead of
// oldKey (when hasOld), failing with ErrConflict if newKey belongs to
// someone else.
func moveIndex(txn kvTxn, oldKey, newKey []byte, hasOld, hasNew bool, id, what string) error {
	if hasOld && hasNew && string(oldKey) == string(newKey) {
		return nil
	}
	if hasNew {
		if err := claim(txn, newKey, what); err != nil {
			return err
		}
		if err := txn.Set(newKey, []byte(id)); err != nil {
			return err
		}
	}
	if hasOld {
		return deleteIfPointsTo(txn, oldKey, id)
	}
	return nil
}

// deleteIfPointsTo removes an index key only if it names id.
func deleteIfPointsTo(txn kvTxn, key []byte, id string) error {
	item, err := txn.Get(key)
	if errors.Is(err, errKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	if string(v) != id {
		return nil
	}
	return txn.Delete(key)
}
