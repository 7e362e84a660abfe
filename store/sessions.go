package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
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

// SessionAuth is what the request path needs of a session, read from the
// in-memory session index (see sessionIndex) without touching the disk.
type SessionAuth struct {
	// ID is the session id.
	ID SessionID
	// UserID is the id of the signed-in user.
	UserID string
	// LastSeen is the latest activity.
	LastSeen time.Time
	// ExpiresAt is the absolute end of the session.
	ExpiresAt time.Time
	// IdleTimeout ends the session after this long without activity; 0
	// means no idle limit.
	IdleTimeout time.Duration
	// Remember marks a "remember me" session.
	Remember bool
	// SecondFactor is Session.SecondFactor.
	SecondFactor bool
	// Impersonation is set when the session has an ImpersonatorID or an
	// ActorSession: read the full record (Session) to check them.
	Impersonation bool
}

// Expired is Session.Expired.
func (a *SessionAuth) Expired(now time.Time) bool {
	return !now.Before(a.ExpiresAt) || (a.IdleTimeout > 0 && now.Sub(a.LastSeen) >= a.IdleTimeout)
}

// CreateSession stores a new session with a Badger TTL matching ExpiresAt
// (plus its user→session index entry, same TTL) and indexes it. It fills
// CreatedAt and LastSeen when zero, fails if the session is already expired
// and returns ErrConflict if the id exists. Durable when it returns.
func (s *Store) CreateSession(sess *Session) error {
	return s.CreateSessionIf(sess, nil)
}

// CreateSessionIf is CreateSession with a condition on the session's user:
// check (when not nil) sees the user's record as stored, in the transaction
// that stores the session, and if it returns an error nothing is stored and
// CreateSessionIf returns that error as is. A user write that commits
// while the session is being stored makes the transaction run again, so
// check always holds for the record the session was stored beside. A
// sign-in uses it to refuse a session for a password that was changed
// after the sign-in checked it. ErrNotFound: the user does not exist.
func (s *Store) CreateSessionIf(sess *Session, check func(u *User) error) error {
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
	var checkErr error
	s.sessMu.Lock()
	err := s.update(func(txn kvTxn) error {
		if check != nil {
			u := new(User)
			if err := get(txn, userKey(rec.UserID), u); err != nil {
				return err
			}
			if checkErr = check(u); checkErr != nil {
				return checkErr
			}
		}
		if err := claim(txn, sessionKey(rec.ID), "session id"); err != nil {
			return err
		}
		b, err := encode(&rec)
		if err != nil {
			return err
		}
		if err := txn.SetTTL(sessionKey(rec.ID), b, ttl); err != nil {
			return err
		}
		return txn.SetTTL(userSessionKey(rec.UserID, rec.ID), nil, ttl)
	})
	if err == nil {
		// Under sessMu: a deletion of the user's sessions that read
		// the new one from Badger cannot run until it is indexed.
		s.index.add(&rec)
	}
	s.sessMu.Unlock()
	if checkErr != nil {
		return checkErr
	}
	if err == nil {
		err = s.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("store: create session %s: %w", sess.ID, err)
	}
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

// SessionAuth returns what the request path needs of the live session id.
// This is the request hot path: once the session index is built (in the
// background after Open) it does no disk I/O and no heap allocation, for
// any id, live or not. It returns ErrNotFound (unwrapped) when the session
// is missing or Expired at Now().
func (s *Store) SessionAuth(id SessionID) (SessionAuth, error) {
	if s.closed.Load() {
		return SessionAuth{}, ErrClosed
	}
	if s.cluster.unsynced.Load() {
		return SessionAuth{}, ErrUnsynchronised
	}
	// Read before the lookup: if the index was complete then, a miss is
	// authoritative.
	complete := s.index.complete.Load()
	if a, ok := s.index.get(id); ok {
		if a.Expired(s.now()) {
			return SessionAuth{}, ErrNotFound
		}
		return a, nil
	}
	if complete {
		return SessionAuth{}, ErrNotFound
	}
	sess, err := s.Session(id)
	if err != nil {
		return SessionAuth{}, err
	}
	return SessionAuth{ID: id, UserID: sess.UserID, LastSeen: sess.LastSeen, ExpiresAt: sess.ExpiresAt,
		IdleTimeout: sess.IdleTimeout, Remember: sess.Remember, SecondFactor: sess.SecondFactor,
		Impersonation: sess.ImpersonatorID != "" || sess.ActorSession != ""}, nil
}

// Session returns the whole live session id, read from Badger, with its
// latest LastSeen. It returns ErrNotFound (unwrapped) when the session is
// missing or Expired at Now(). The request path uses SessionAuth.
func (s *Store) Session(id SessionID) (Session, error) {
	if err := s.enter(); err != nil {
		return Session{}, err
	}
	defer s.leave()
	if err := s.cluster.check(); err != nil {
		return Session{}, err
	}
	if s.index.complete.Load() {
		if _, ok := s.index.get(id); !ok {
			return Session{}, ErrNotFound
		}
	}
	var sess Session
	err := s.db.View(func(txn kvTxn) (err error) {
		sess, err = readSession(txn, id)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: session %s: %w", id, err)
	}
	s.withIndexedSeen(&sess)
	if sess.Expired(s.now()) {
		return Session{}, ErrNotFound
	}
	s.index.fill(&sess, 0) // while the index is being built
	return sess, nil
}

// withIndexedSeen moves sess.LastSeen forward to the indexed activity.
func (s *Store) withIndexedSeen(sess *Session) {
	if n := s.index.lastSeen(sess.ID); n != 0 && (sess.LastSeen.IsZero() || n > sess.LastSeen.UnixNano()) {
		sess.LastSeen = time.Unix(0, n)
	}
}

// readSession reads a session record and the activity written back for it
// (see writeLastSeen), whichever is later.
func readSession(txn kvTxn, id SessionID) (Session, error) {
	var sess Session
	if err := get(txn, sessionKey(id), &sess); err != nil {
		return Session{}, err
	}
	sess.ID = id
	item, err := txn.Get(seenKey(id))
	if errors.Is(err, errKeyNotFound) {
		return sess, nil
	}
	if err == nil {
		err = item.Value(func(b []byte) error { mergeSeen(&sess, b); return nil })
	}
	return sess, err
}

// DeleteSession removes the session, its index entries and its written-back
// activity. A missing session is not an error. Durable, and refused by the
// very next lookup, when it returns.
func (s *Store) DeleteSession(id SessionID) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	err := s.updateSync(func(txn kvTxn) error {
		var sess Session
		err := get(txn, sessionKey(id), &sess)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.Join(txn.Delete(sessionKey(id)), txn.Delete(seenKey(id)), txn.Delete(userSessionKey(sess.UserID, id)))
	})
	// Drop it from the index even if the write failed: better refuse a
	// session than serve one that was meant to be gone.
	s.index.remove(id)
	if err != nil {
		return fmt.Errorf("store: delete session %s: %w", id, err)
	}
	// A session ended on purpose takes the refresh tokens issued through
	// it along (OpenID Connect provider); one that expires does not.
	return s.revokeSessionRefresh([]SessionID{id})
}

// MaxActiveSessions bounds ActiveSessions.
const MaxActiveSessions = 1000

// ActiveSessions returns the sessions active at or after since and not
// Expired at now, most recently active first, at most MaxActiveSessions of
// them. They are chosen in memory (the session index), so only those
// returned are read from disk, however many sessions the store holds.
func (s *Store) ActiveSessions(now, since time.Time) ([]Session, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	auths := s.index.active(since.UnixNano(), now.UnixNano(), MaxActiveSessions)
	if len(auths) == 0 {
		return nil, nil
	}
	out := make([]Session, 0, len(auths))
	err := s.db.View(func(txn kvTxn) error {
		for _, a := range auths {
			sess, err := readSession(txn, a.ID)
			if errors.Is(err, ErrNotFound) {
				continue // deleted since
			}
			if err != nil {
				return err
			}
			sess.LastSeen = a.LastSeen
			out = append(out, sess)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: active sessions: %w", err)
	}
	return out, nil
}

// sortByActivity orders sessions most recently active first.
func sortByActivity(list []SessionAuth) {
	slices.SortFunc(list, func(a, b SessionAuth) int { return b.LastSeen.Compare(a.LastSeen) })
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
