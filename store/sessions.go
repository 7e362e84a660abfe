package store

import (
	"bytes"
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
	err := s.update(func(txn *badger.Txn) error {
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
		if err := txn.SetEntry(badger.NewEntry(sessionKey(rec.ID), b).WithTTL(ttl)); err != nil {
			return err
		}
		return txn.SetEntry(badger.NewEntry(userSessionKey(rec.UserID, rec.ID), nil).WithTTL(ttl))
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
	if s.index.complete.Load() {
		if _, ok := s.index.get(id); !ok {
			return Session{}, ErrNotFound
		}
	}
	var sess Session
	err := s.db.View(func(txn *badger.Txn) (err error) {
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
func readSession(txn *badger.Txn, id SessionID) (Session, error) {
	var sess Session
	if err := get(txn, sessionKey(id), &sess); err != nil {
		return Session{}, err
	}
	sess.ID = id
	item, err := txn.Get(seenKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return sess, nil
	}
	if err == nil {
		err = item.Value(func(b []byte) error { mergeSeen(&sess, b); return nil })
	}
	return sess, err
}

// mergeSeen moves sess.LastSeen forward to a written-back activity b (8
// bytes, unix ns, big endian); anything else is ignored.
func mergeSeen(sess *Session, b []byte) {
	if len(b) != 8 {
		return
	}
	n := int64(binary.BigEndian.Uint64(b))
	if sess.LastSeen.IsZero() || n > sess.LastSeen.UnixNano() {
		sess.LastSeen = time.Unix(0, n)
	}
}

// TouchSession records activity on session id at t, in memory only: an
// atomic update of the indexed session, no allocation, no disk I/O. The
// flusher writes it to Badger (see maxSeenGranularity) and Close writes
// all of it. It does nothing if the session is not indexed, if t is older
// than the recorded activity, or after Close.
func (s *Store) TouchSession(id SessionID, t time.Time) {
	if s.closed.Load() {
		return
	}
	s.index.touch(id, t.UnixNano())
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
	err := s.updateSync(func(txn *badger.Txn) error {
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
	complete := s.index.complete.Load()
	var out []Session
	err := s.db.View(func(txn *badger.Txn) error {
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
	err := s.db.View(func(txn *badger.Txn) error {
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
func (s *Store) deleteUserSessionsWith(userID string, keep *SessionID, first func(*badger.Txn) error) (n int, committed bool, err error) {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	var ids []SessionID
	err = s.db.View(func(txn *badger.Txn) (err error) {
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
		err := s.update(func(txn *badger.Txn) error {
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
	}
	if len(chunks) > 0 {
		return n, committed, s.db.Sync()
	}
	return n, committed, nil
}

// The flusher writes a session's last activity back only once it has moved
// by its write granularity since the last write: a tenth of the idle
// timeout, at most maxSeenGranularity, and maxSeenGranularity for sessions
// without an idle timeout (for them it is only shown, never enforced). So
// idle timeouts hold to within a tenth even across restarts, and a busy
// session costs one small write per granularity, not one per flush. Close
// and Flush write everything.
const maxSeenGranularity = 15 * time.Minute

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

// flush writes the activity of the indexed sessions: all of it, or (for the
// periodic flush) where it moved by at least its write granularity; and
// drops expired sessions from the index. The caller holds enter (or life's
// write lock).
func (s *Store) flush(all bool) error {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if err := s.flushAPIKeys(); err != nil {
		return err
	}
	ws := s.index.sweep(all, s.now().UnixNano())
	if len(ws) == 0 {
		return nil
	}
	err := s.writeLastSeen(ws)
	s.index.written(ws, err == nil)
	return err
}

// writeLastSeen writes activity times in one unsynced batch, each under its
// own small key (seen/<id>, 8 bytes) with the session's remaining TTL: no
// read and no rewrite of the session record. readSession and the index
// build take the later of the record's LastSeen and this. The caller holds
// sessMu, so no deletion runs meanwhile.
func (s *Store) writeLastSeen(ws []seenWrite) error {
	now := s.now()
	wb := s.db.NewWriteBatch()
	for _, w := range ws {
		ttl := ttlFor(time.Unix(0, w.expires), now)
		if ttl == 0 {
			continue
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(w.seen))
		if err := wb.SetEntry(badger.NewEntry(seenKey(w.id), v).WithTTL(ttl)); err != nil {
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

// indexChunk is how many session records the index build reads per
// transaction (and per hold of the store open, so Close never waits long).
const indexChunk = 20_000

// indexBatch is how many sessions the build adds to the index per lock.
const indexBatch = 1024

// rebuildSessionIndex starts a build of the session index in the
// background; until it completes, lookups that miss read Badger.
func (s *Store) rebuildSessionIndex() {
	epoch := s.index.startBuild()
	go s.buildSessionIndex(epoch)
}

// buildSessionIndex indexes every live session record, chunk by chunk, and
// marks the index complete, unless the store closes or a newer build
// starts first. After a failure it logs and starts over a little later;
// meanwhile the index is incomplete, which is correct, only slower.
func (s *Store) buildSessionIndex(epoch uint64) {
	for {
		err := s.indexAllSessions(epoch)
		if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, errStaleBuild) {
			return
		}
		s.log.Error("store: build the session index; lookups read the disk until it is built", "error", err, "retry_in", buildRetry)
		select {
		case <-s.stop:
			return
		case <-time.After(buildRetry):
		}
	}
}

// buildRetry is how long a failed index build waits before starting over.
const buildRetry = 10 * time.Second

// indexAllSessions is one attempt of buildSessionIndex.
func (s *Store) indexAllSessions(epoch uint64) error {
	start := time.Now()
	from, total := []byte(prefixSession), 0
	for from != nil {
		var added int
		var err error
		from, added, err = s.indexSessionChunk(epoch, from)
		total += added
		if err != nil {
			return err
		}
	}
	if s.index.finishBuild(epoch) {
		s.log.Info("store: session index built", "sessions", total, "took", time.Since(start).Round(time.Millisecond).String())
	}
	return nil
}

// errStaleBuild stops a build that a newer one replaced.
var errStaleBuild = errors.New("a newer build started")

// indexSessionChunk indexes up to indexChunk session records from the key
// from on, and returns the key to continue from (nil at the end).
func (s *Store) indexSessionChunk(epoch uint64, from []byte) (next []byte, added int, err error) {
	if err := s.enter(); err != nil {
		return nil, 0, err
	}
	defer s.leave()
	now := s.now()
	batch := make([]Session, 0, indexBatch)
	// flush hands the batch to the index under one lock.
	flush := func() error {
		n, stale := s.index.fillMany(batch, epoch)
		added += n
		batch = batch[:0]
		if stale {
			return errStaleBuild
		}
		return nil
	}
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixSession)
		it := txn.NewIterator(opts)
		defer it.Close()
		seenOpts := badger.DefaultIteratorOptions
		seenOpts.Prefix = []byte(prefixSeen)
		seen := txn.NewIterator(seenOpts)
		defer seen.Close()
		seen.Seek(seenKeyOf(from))
		n := 0
		for it.Seek(from); it.Valid(); it.Next() {
			item := it.Item()
			if n == indexChunk {
				next = item.KeyCopy(nil)
				break
			}
			n++
			id, ok := sessionIDFromKey(item.Key())
			if !ok {
				continue
			}
			sess := Session{ID: id}
			if err := item.Value(func(b []byte) error { return decode(b, &sess) }); err != nil {
				s.log.Error("store: unreadable session record skipped", "session", id.String(), "error", err)
				continue
			}
			// Both iterators walk ids in order: bring seen up to id.
			for seen.Valid() && bytes.Compare(seen.Item().Key()[len(prefixSeen):], id[:]) < 0 {
				seen.Next()
			}
			if seen.Valid() && bytes.Equal(seen.Item().Key()[len(prefixSeen):], id[:]) {
				if err := seen.Item().Value(func(b []byte) error { mergeSeen(&sess, b); return nil }); err != nil {
					return err
				}
			}
			if sess.Expired(now) {
				continue
			}
			if batch = append(batch, sess); len(batch) == indexBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	return next, added, err
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
