package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// SessionID identifies a session: the SHA-256 of its token, computed by the
// caller. The token itself is never stored.
type SessionID [32]byte

// String returns the id in hex.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// Session is a signed-in browser or client.
type Session struct {
	// ID is the SHA-256 of the session token; stored in the key.
	ID SessionID `json:"-"`
	// UserID is the id of the signed-in user.
	UserID string `json:"user_id"`
	// CreatedAt is set by CreateSession when zero.
	CreatedAt time.Time `json:"created_at"`
	// LastSeen is the latest activity (see TouchSession); CreateSession
	// sets it to CreatedAt when zero.
	LastSeen time.Time `json:"last_seen"`
	// ExpiresAt is the absolute end of the session. Required.
	ExpiresAt time.Time `json:"expires_at"`
	// IdleTimeout ends the session after this long without activity;
	// 0 means no idle limit.
	IdleTimeout time.Duration `json:"idle_timeout"`
	// Remember marks a "remember me" session.
	Remember bool `json:"remember,omitempty"`
	// Methods says how the session was authenticated, in order, e.g.
	// ["password", "totp"] or ["passkey"].
	Methods []string `json:"methods,omitempty"`
	// SecondFactor is true when the sign-in used a second factor (or a
	// passkey, or an owner recovery link): apps that require 2FA accept
	// only such sessions.
	SecondFactor bool `json:"second_factor,omitempty"`
	// IP is the client address at sign-in.
	IP string `json:"ip,omitempty"`
	// UserAgent is the client's User-Agent at sign-in.
	UserAgent string `json:"user_agent,omitempty"`
	// ImpersonatorID, when set, makes this an impersonation session: the
	// user with this id acts as UserID. Empty for ordinary sessions.
	ImpersonatorID string `json:"impersonator_id,omitempty"`
	// ImpersonatorName is the impersonator's username when the
	// impersonation started (for headers and the audit log).
	ImpersonatorName string `json:"impersonator_name,omitempty"`
	// ActorSession is the hex id (SessionID.String) of the impersonator's
	// own session, which lives on while they impersonate and is restored
	// when they stop. Empty for ordinary sessions.
	ActorSession string `json:"actor_session,omitempty"`
}

// Expired reports whether the session has passed its absolute end or its
// idle timeout at now.
func (s Session) Expired(now time.Time) bool {
	return !now.Before(s.ExpiresAt) || (s.IdleTimeout > 0 && now.Sub(s.LastSeen) >= s.IdleTimeout)
}

// CreateSession stores a new session with a Badger TTL matching ExpiresAt
// (plus its user→session index entry, same TTL) and caches it. It fills
// CreatedAt and LastSeen when zero, fails if the session is already expired
// and returns ErrConflict if the id exists. Durable when it returns.
func (s *Store) CreateSession(sess *Session) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	now := s.now()
	if err := prepareSession(sess, now); err != nil {
		return fmt.Errorf("store: create session %s: %w", sess.ID, err)
	}
	rec := *sess
	ttl := ttlFor(rec.ExpiresAt, now)
	gen := s.sessions.generation()
	err := s.updateSync(func(txn *badger.Txn) error {
		if err := claim(txn, sessionKey(rec.ID), "session id"); err != nil {
			return err
		}
		b, err := encode(&rec)
		if err != nil {
			return err
		}
		if err := txn.SetEntry(badger.NewEntry(sessionKey(rec.ID), b).WithTTL(ttl)); err != nil {
			return err
		}
		return txn.SetEntry(badger.NewEntry(userSessionKey(rec.UserID, rec.ID), nil).WithTTL(ttl))
	})
	if err != nil {
		return fmt.Errorf("store: create session %s: %w", sess.ID, err)
	}
	s.cacheSession(rec, gen)
	return nil
}

// prepareSession fills a new session's CreatedAt and LastSeen when zero and
// checks that it can be stored at now.
func prepareSession(sess *Session, now time.Time) error {
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = now
	}
	if sess.LastSeen.IsZero() {
		sess.LastSeen = sess.CreatedAt
	}
	switch {
	case !validName(sess.UserID):
		return fmt.Errorf("invalid user id %q", sess.UserID)
	case sess.ExpiresAt.IsZero():
		return errors.New("no expiry")
	case sess.Expired(now):
		return errors.New("already expired")
	}
	return nil
}

// cacheSession inserts sess unless a deletion happened since gen, writing
// the last activity of the sessions evicted to make room (those due, see
// sessionEntry.due).
func (s *Store) cacheSession(sess Session, gen uint64) {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	evicted := s.sessions.insertIfGen(newSessionEntry(sess), gen)
	// Activity below the write granularity is dropped with the entry.
	evicted = slices.DeleteFunc(evicted, func(e *sessionEntry) bool { return !e.due() })
	if len(evicted) > 0 {
		if err := s.writeLastSeen(evicted); err != nil {
			s.log.Error("store: write last activity of evicted sessions", "count", len(evicted), "error", err)
		}
	}
}

// Session returns the live session id. This is the request hot path: on a
// cache hit it does no disk I/O and no heap allocation. LastSeen reflects
// the latest TouchSession. It returns ErrNotFound (unwrapped) when the
// session is missing or Expired at Now(); an expired one is also dropped
// from the cache.
func (s *Store) Session(id SessionID) (Session, error) {
	if s.closed.Load() {
		return Session{}, ErrClosed
	}
	if e := s.sessions.get(id); e != nil {
		sess := e.snapshot()
		if sess.Expired(s.now()) {
			s.sessions.dropIf(e)
			return Session{}, ErrNotFound
		}
		return sess, nil
	}
	return s.loadSession(id)
}

// loadSession is Session's cache miss: read from Badger, then cache.
func (s *Store) loadSession(id SessionID) (Session, error) {
	if err := s.enter(); err != nil {
		return Session{}, err
	}
	defer s.leave()
	gen := s.sessions.generation()
	var sess Session
	err := s.db.View(func(txn *badger.Txn) error { return get(txn, sessionKey(id), &sess) })
	if errors.Is(err, ErrNotFound) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: session %s: %w", id, err)
	}
	sess.ID = id
	if sess.Expired(s.now()) {
		return Session{}, ErrNotFound
	}
	s.cacheSession(sess, gen)
	return sess, nil
}

// TouchSession records activity on session id at t, in memory only: an
// atomic update of the cached entry, no allocation, no disk I/O. The
// flusher writes it to Badger within FlushInterval (and at Close). It does
// nothing if the session is not cached, if t is older than the recorded
// activity, or after Close.
func (s *Store) TouchSession(id SessionID, t time.Time) {
	if s.closed.Load() {
		return
	}
	if e := s.sessions.get(id); e != nil {
		e.touch(t)
	}
}

// DeleteSession removes the session, its index entry and its cache entry.
// A missing session is not an error. Durable when it returns.
func (s *Store) DeleteSession(id SessionID) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	err := s.updateSync(func(txn *badger.Txn) error {
		var sess Session
		err := get(txn, sessionKey(id), &sess)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := txn.Delete(sessionKey(id)); err != nil {
			return err
		}
		return txn.Delete(userSessionKey(sess.UserID, id))
	})
	// Drop the cache entry even if the write failed: better a cache miss
	// than serving a session that was meant to be gone.
	s.sessions.remove(id)
	if err != nil {
		return fmt.Errorf("store: delete session %s: %w", id, err)
	}
	return nil
}

// UserSessions returns the live sessions of a user, oldest first, with
// their latest LastSeen.
func (s *Store) UserSessions(userID string) ([]Session, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	now := s.now()
	var out []Session
	err := s.db.View(func(txn *badger.Txn) error {
		ids, err := indexedSessions(txn, userID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			var sess Session
			if e := s.sessions.get(id); e != nil {
				sess = e.snapshot()
			} else {
				err := get(txn, sessionKey(id), &sess)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				sess.ID = id
			}
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
func indexedSessions(txn *badger.Txn, userID string) ([]SessionID, error) {
	var ids []SessionID
	opts := badger.DefaultIteratorOptions
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

// ActiveSessions returns the sessions active at or after since and not
// Expired at now, most recently active first, from memory: a session in
// use is in the cache (SessionCacheSize of them), so this costs nothing on
// disk however many sessions the store holds. It may miss a session the
// cache evicted (only when more sessions were used since than the cache
// holds) and, just after a restart, those not used since.
func (s *Store) ActiveSessions(now, since time.Time) []Session {
	var out []Session
	sinceN := since.UnixNano()
	s.sessions.mu.RLock()
	for _, e := range s.sessions.m {
		if e.lastSeen.Load() < sinceN {
			continue
		}
		if sess := e.snapshot(); !sess.Expired(now) {
			out = append(out, sess)
		}
	}
	s.sessions.mu.RUnlock()
	slices.SortFunc(out, func(a, b Session) int { return b.LastSeen.Compare(a.LastSeen) })
	return out
}

// deleteSessionsChunk bounds the size of one deletion transaction.
const deleteSessionsChunk = 512

// deleteUserSessions is DeleteUserSessions for a caller that holds enter;
// keep, when not nil, names a session to spare.
func (s *Store) deleteUserSessions(userID string, keep *SessionID) (int, error) {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	var ids []SessionID
	err := s.db.View(func(txn *badger.Txn) (err error) {
		ids, err = indexedSessions(txn, userID)
		return err
	})
	if keep != nil {
		ids = slices.DeleteFunc(ids, func(id SessionID) bool { return id == *keep })
	}
	if err != nil {
		return 0, err
	}
	defer s.sessions.remove(ids...)
	n := 0
	for chunk := range slices.Chunk(ids, deleteSessionsChunk) {
		err := s.update(func(txn *badger.Txn) error {
			found := 0
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
				if err := txn.Delete(userSessionKey(userID, id)); err != nil {
					return err
				}
			}
			n += found
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	if len(ids) > 0 {
		return n, s.db.Sync()
	}
	return n, nil
}

// Flush writes all pending last-activity times to Badger now (without
// fsync).
func (s *Store) Flush() error {
	return s.flushLocked(true)
}

func (s *Store) flushLocked(all bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.flush(all); err != nil {
		return fmt.Errorf("store: flush last activity: %w", err)
	}
	return nil
}

// flush writes the dirty cached sessions: all of them, or (for the periodic
// flush) those whose activity moved by at least their write granularity.
// The caller holds enter (or life's write lock).
func (s *Store) flush(all bool) error {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if err := s.flushAPIKeys(); err != nil {
		return err
	}
	dirty := s.sessions.dirtyEntries()
	if !all {
		due := dirty[:0]
		for _, e := range dirty {
			if e.due() {
				due = append(due, e)
			} else {
				e.dirty.Store(true) // later
			}
		}
		dirty = due
	}
	if len(dirty) == 0 {
		return nil
	}
	return s.writeLastSeen(dirty)
}

// writeLastSeen rewrites the records of entries with their latest LastSeen
// in one unsynced batch, keeping each record's remaining TTL, and notes
// what it wrote. On failure the entries are marked dirty again. The caller
// holds sessMu.
func (s *Store) writeLastSeen(entries []*sessionEntry) (err error) {
	defer func() {
		if err != nil {
			for _, e := range entries {
				e.dirty.Store(true)
			}
		}
	}()
	now := s.now()
	wb := s.db.NewWriteBatch()
	for _, e := range entries {
		sess := e.snapshot()
		if sess.Expired(now) {
			continue
		}
		defer e.savedSeen.Store(sess.LastSeen.UnixNano())
		b, err := encode(&sess)
		if err == nil {
			err = wb.SetEntry(badger.NewEntry(sessionKey(sess.ID), b).WithTTL(ttlFor(sess.ExpiresAt, now)))
		}
		if err != nil {
			wb.Cancel()
			return err
		}
	}
	return wb.Flush()
}

// flusher writes last-activity times every interval until Close.
func (s *Store) flusher(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.flushLocked(false); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Error("store: periodic flush", "error", err)
			}
		}
	}
}

// Session record flags (one uvarint in the binary form).
const (
	sessRemember = 1 << iota
	sessSecondFactor
)

// appendBinary writes the session's binary form (see binaryEncoder). The ID
// is in the key, not the value.
func (sess *Session) appendBinary(b []byte) []byte {
	var flags uint64
	if sess.Remember {
		flags |= sessRemember
	}
	if sess.SecondFactor {
		flags |= sessSecondFactor
	}
	b = appendString(b, sess.UserID)
	b = appendTime(b, sess.CreatedAt)
	b = appendTime(b, sess.LastSeen)
	b = appendTime(b, sess.ExpiresAt)
	b = binary.AppendVarint(b, int64(sess.IdleTimeout))
	b = binary.AppendUvarint(b, flags)
	b = appendStrings(b, sess.Methods)
	b = appendString(b, sess.IP)
	b = appendString(b, sess.UserAgent)
	b = appendString(b, sess.ImpersonatorID)
	b = appendString(b, sess.ImpersonatorName)
	return appendString(b, sess.ActorSession)
}

// decodeBinary reads what appendBinary wrote.
func (sess *Session) decodeBinary(r *recordReader) error {
	id := sess.ID
	*sess = Session{ID: id}
	sess.UserID = r.str()
	sess.CreatedAt = r.time()
	sess.LastSeen = r.time()
	sess.ExpiresAt = r.time()
	sess.IdleTimeout = time.Duration(r.varint())
	flags := r.uvarint()
	sess.Remember = flags&sessRemember != 0
	sess.SecondFactor = flags&sessSecondFactor != 0
	sess.Methods = r.strs()
	sess.IP = r.str()
	sess.UserAgent = r.str()
	sess.ImpersonatorID = r.str()
	sess.ImpersonatorName = r.str()
	sess.ActorSession = r.str()
	return r.err
}
