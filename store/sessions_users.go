package store

import (
	"errors"
	"fmt"
	"slices"
)

// UserSessions returns the live sessions of a user, oldest first, with
// their latest LastSeen.
func (s *Store) UserSessions(userID string) ([]Session, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	now := s.now()
	complete := s.index.complete.Load()
	var out []Session
	err := s.db.View(func(txn kvTxn) error {
		ids, err := indexedSessions(txn, userID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, ok := s.index.get(id); complete && !ok {
				continue
			}
			sess, err := readSession(txn, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			s.withIndexedSeen(&sess)
			if !sess.Expired(now) {
				out = append(out, sess)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: sessions of user %q: %w", userID, err)
	}
	slices.SortFunc(out, func(a, b Session) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// indexedSessions lists the session ids in a user's index.
func indexedSessions(txn kvTxn, userID string) ([]SessionID, error) {
	var ids []SessionID
	opts := defaultIterOptions
	opts.PrefetchValues = false
	opts.Prefix = userSessionsPrefix(userID)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if id, ok := sessionIDFromIndex(it.Item().Key()); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// DeleteUserSessions removes every session of a user and returns how many
// there were. Durable when it returns.
func (s *Store) DeleteUserSessions(userID string) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	n, err := s.deleteUserSessions(userID, nil)
	if err != nil {
		return n, fmt.Errorf("store: delete sessions of user %q: %w", userID, err)
	}
	return n, nil
}

// DeleteUserSessionsExcept removes every session of a user but keep (e.g.
// the one changing the password) and returns how many it removed. Durable
// and visible to the very next lookup when it returns.
func (s *Store) DeleteUserSessionsExcept(userID string, keep SessionID) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	n, err := s.deleteUserSessions(userID, &keep)
	if err != nil {
		return n, fmt.Errorf("store: delete other sessions of user %q: %w", userID, err)
	}
	return n, nil
}

// deleteSessionsChunk bounds the size of one deletion transaction.
const deleteSessionsChunk = 512

// deleteUserSessions is DeleteUserSessions for a caller that holds enter;
// keep, when not nil, names a session to spare. Each chunk leaves the
// session index as soon as it is committed.
func (s *Store) deleteUserSessions(userID string, keep *SessionID) (int, error) {
	n, _, err := s.deleteUserSessionsWith(userID, keep, nil)
	return n, err
}

// deleteUserSessionsWith is deleteUserSessions that also runs first (when
// not nil) in the transaction of the first chunk, or alone in one when
// there are no sessions to end; committed reports whether that
// transaction committed. If first fails, nothing is written and the index
// is left as it was.
func (s *Store) deleteUserSessionsWith(userID string, keep *SessionID, first func(kvTxn) error) (n int, committed bool, err error) {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	var ids []SessionID
	err = s.db.View(func(txn kvTxn) (err error) {
		ids, err = indexedSessions(txn, userID)
		return err
	})
	if keep != nil {
		ids = slices.DeleteFunc(ids, func(id SessionID) bool { return id == *keep })
	}
	if err != nil {
		return 0, false, err
	}
	chunks := slices.Collect(slices.Chunk(ids, deleteSessionsChunk))
	if len(chunks) == 0 && first != nil {
		chunks = [][]SessionID{nil}
	}
	for i, chunk := range chunks {
		var found int
		var firstErr error
		err := s.update(func(txn kvTxn) error {
			found, firstErr = 0, nil
			if i == 0 && first != nil {
				if firstErr = first(txn); firstErr != nil {
					return firstErr
				}
			}
			for _, id := range chunk {
				ok, err := exists(txn, sessionKey(id))
				if err != nil {
					return err
				}
				if ok {
					found++
					if err := txn.Delete(sessionKey(id)); err != nil {
						return err
					}
				}
				if err := errors.Join(txn.Delete(seenKey(id)), txn.Delete(userSessionKey(userID, id))); err != nil {
					return err
				}
			}
			return nil
		})
		if firstErr != nil {
			return 0, false, firstErr
		}
		// Even if the write failed (see DeleteSession).
		s.index.remove(chunk...)
		if err != nil {
			if committed {
				_ = s.db.Sync()
			}
			return n, committed, err
		}
		n += found
		committed = committed || (i == 0 && first != nil)
		if err := s.revokeSessionRefresh(chunk); err != nil {
			return n, committed, err
		}
	}
	if len(chunks) > 0 {
		return n, committed, s.db.Sync()
	}
	return n, committed, nil
}
