package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Several nodes on one PostgreSQL database (kv_postgres_notify.go): what
// another node commits reaches this one as the list of keys it changed, and
// applyRemote brings each cache up to date by reading those records again,
// through the same upkeep a local write does. On Badger (one process) none
// of this runs.

// ErrUnsynchronised means the store lost the change notifications of the
// other nodes and has not resynchronised yet: its caches may be missing a
// revocation, so what they would answer is refused (the guard answers 503).
var ErrUnsynchronised = errors.New("store: not synchronised with the other nodes (change notifications lost); try again shortly")

// Cluster is a store's part in running beside other nodes (ClusterOf).
type Cluster struct {
	s *Store
	// unsynced is set while the caches are not to be trusted.
	unsynced atomic.Bool
	// onRemote is told of the kinds of records (key prefixes such as
	// "setting/") another node changed, or of everything (all), for the
	// caches above the store (the core's settings, roles, apps).
	onRemote atomic.Pointer[func(prefixes map[string]bool, all bool)]
	// resyncs counts the resynchronisations (tests, metrics).
	resyncs atomic.Int64
}

// ClusterOf returns the part of s that runs beside other nodes.
func ClusterOf(s *Store) *Cluster { return &s.cluster }

// OnRemoteChange registers fn to be told, after the store's own caches are
// up to date, of the kinds of records another node changed: prefixes holds
// the key prefixes ("setting/", "role/", "app/", "appdef/", "group/",
// "ldapclient/"); all is set after a resynchronisation (anything may have
// changed). fn runs on the notification goroutine, one call at a time. On
// Badger it is never called.
func (c *Cluster) OnRemoteChange(fn func(prefixes map[string]bool, all bool)) {
	c.onRemote.Store(&fn)
}

// Shared reports whether other processes may use the same records (a
// PostgreSQL database) rather than this one alone (Badger).
func (c *Cluster) Shared() bool {
	_, ok := c.s.db.(*pgKV)
	return ok
}

// Synchronised reports whether the store's caches reflect every committed
// change (always true on Badger).
func (c *Cluster) Synchronised() bool { return !c.unsynced.Load() }

// checkSynced fails closed while the caches are not to be trusted.
func (c *Cluster) check() error {
	if c.unsynced.Load() {
		return ErrUnsynchronised
	}
	return nil
}

// untrust is called by the listener when it lost its connection.
func (c *Cluster) untrust() { c.unsynced.Store(true) }

// applyRemote re-reads the records under keys, changed by another node,
// into the caches. An error leaves the caches untrusted (the listener then
// reconnects and resynchronises).
func (c *Cluster) applyRemote(keys [][]byte) error {
	s := c.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	kinds := map[string]bool{}
	for _, k := range keys {
		var err error
		switch {
		case bytes.HasPrefix(k, []byte(prefixSession)):
			err = c.refreshSession(k)
		case bytes.HasPrefix(k, []byte(prefixSeen)):
			// Activity another node wrote back: key, then 8 bytes of
			// unix ns (changeSet.write).
			if len(k) == len(prefixSeen)+len(SessionID{})+8 {
				id := SessionID(k[len(prefixSeen) : len(k)-8])
				s.index.seenElsewhere(id, int64(binary.BigEndian.Uint64(k[len(k)-8:])))
			}
		case bytes.HasPrefix(k, []byte(prefixUser)):
			err = c.refreshUser(string(k[len(prefixUser):]))
		case bytes.HasPrefix(k, []byte(prefixAPIKey)):
			c.forgetAPIKey(k[len(prefixAPIKey):])
		case bytes.HasPrefix(k, []byte(prefixAppPassword)):
			if uid, _, ok := bytes.Cut(k[len(prefixAppPassword):], []byte{sep}); ok {
				s.appPasswords.forget(string(uid))
			}
		case bytes.HasPrefix(k, []byte(prefixLock)):
			err = c.refreshLock(k)
		default:
			for _, p := range notifiedPrefixes {
				if bytes.HasPrefix(k, p) {
					kinds[string(p)] = true
				}
			}
		}
		if err != nil {
			c.untrust()
			return fmt.Errorf("store: apply a change of another node: %w", err)
		}
	}
	if len(kinds) > 0 {
		if fn := c.onRemote.Load(); fn != nil {
			(*fn)(kinds, false)
		}
	}
	return nil
}

// refreshSession brings the session index up to date with the session
// record under key: indexed when live, dropped when gone.
func (c *Cluster) refreshSession(key []byte) error {
	s := c.s
	id, ok := sessionIDFromKey(key)
	if !ok {
		return nil
	}
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	var sess Session
	err := s.db.View(func(txn kvTxn) (err error) {
		sess, err = readSession(txn, id)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		s.index.remove(id)
		return nil
	case err != nil:
		return err
	}
	if _, indexed := s.index.get(id); !indexed && !sess.Expired(s.now()) {
		s.index.add(&sess)
	}
	return nil
}

// refreshUser re-reads user id into the user cache and directory (or drops
// it there when deleted), with the upkeep of UpdateUser and DeleteUser.
func (c *Cluster) refreshUser(id string) error {
	s := c.s
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	u := new(User)
	err := s.db.View(func(txn kvTxn) error { return get(txn, userKey(id), u) })
	switch {
	case errors.Is(err, ErrNotFound):
		s.users.remove(id)
		s.directory.remove(id)
		s.appPasswords.forgetUser(id)
		return nil
	case err != nil:
		return err
	}
	u.ID = id
	s.users.replace(u)
	s.directory.put(u)
	if u.Disabled {
		s.appPasswords.forgetUser(id)
	}
	return nil
}

// forgetAPIKey drops the cached key with the HMAC hash (read again on its
// next use).
func (c *Cluster) forgetAPIKey(hash []byte) {
	s := c.s
	if len(hash) != 32 {
		return
	}
	h := [32]byte(hash)
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	s.keys.init()
	if k, ok := s.keys.hash[h]; ok {
		delete(s.keys.byID, k.ID)
		delete(s.keys.dirty, k.ID)
	}
	delete(s.keys.hash, h)
}

// refreshLock re-reads the lockout record under key into the lock cache.
func (c *Cluster) refreshLock(key []byte) error {
	s := c.s
	l := new(lock)
	err := s.db.View(func(txn kvTxn) error { return get(txn, key, l) })
	switch {
	case errors.Is(err, ErrNotFound):
		l.Until = time.Time{}
	case err != nil:
		return err
	}
	s.locks.set(string(key[len(prefixLock):]), l.Until, s.now())
	return nil
}

// resync rebuilds every cache from the database, then trusts them again.
// The listener calls it after it reconnected and LISTENs again, so nothing
// committed after the rebuild's reads is missed.
func (c *Cluster) resync() error {
	s := c.s
	c.untrust()
	start := time.Now()
	if err := c.resyncSessions(); err != nil {
		return fmt.Errorf("store: resync: sessions: %w", err)
	}
	if err := c.resyncRest(); err != nil {
		return fmt.Errorf("store: resync: %w", err)
	}
	if fn := c.onRemote.Load(); fn != nil {
		(*fn)(nil, true)
	}
	c.resyncs.Add(1)
	c.unsynced.Store(false)
	s.log.Info("store: caches resynchronised from the database", "storage", s.dir, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// resyncSessions writes the pending activity, empties the session index
// and builds it again from the records.
func (c *Cluster) resyncSessions() error {
	s := c.s
	if err := s.enter(); err != nil {
		return err
	}
	if err := s.flush(true); err != nil {
		s.leave()
		return err
	}
	s.sessMu.Lock()
	epoch := s.index.reset()
	s.sessMu.Unlock()
	s.leave()
	return s.indexAllSessions(epoch) // holds enter chunk by chunk
}

// resyncRest empties the user cache, rebuilds the directory and empties
// the caches of API keys, app passwords and locks (read again on use).
func (c *Cluster) resyncRest() error {
	s := c.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.userWriteMu.Lock()
	s.users.clear()
	s.invalidateDirectory()
	s.userWriteMu.Unlock()
	if err := s.ensureDirectory(); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	s.keys.mu.Lock()
	s.keys.byID, s.keys.hash, s.keys.dirty = nil, nil, nil
	s.keys.mu.Unlock()
	s.appPasswords.mu.Lock()
	s.appPasswords.gen++
	s.appPasswords.byUser = nil
	s.appPasswords.init()
	s.appPasswords.mu.Unlock()
	s.locks.mu.Lock()
	s.locks.loaded, s.locks.until = false, nil
	s.locks.mu.Unlock()
	return nil
}
