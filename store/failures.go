package store

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// failures counts failed sign-ins of one key within a window. Until (the
// end of the window) is stored as well as set as the Badger TTL, which has
// only second resolution and follows the real clock.
type failures struct {
	// Count is the number of failures in the window.
	Count int `json:"count"`
	// First is the time of the window's first failure.
	First time.Time `json:"first"`
	// Until is the end of the window: First plus its length.
	Until time.Time `json:"until"`
}

// lock is a lockout record.
type lock struct {
	// Until is when the lock ends.
	Until time.Time `json:"until"`
}

// AddFailure counts one failure for key (e.g. a user id) at now and returns
// the count and the time of the first failure of the current window. The
// window lasts window from its first failure (the record's stored expiry
// and Badger TTL); the first failure at or after its end starts a new count
// at 1. window must be positive. Durable when it returns.
func (s *Store) AddFailure(key string, window time.Duration, now time.Time) (count int, first time.Time, err error) {
	if err := s.enter(); err != nil {
		return 0, time.Time{}, err
	}
	defer s.leave()
	if !validName(key) || window <= 0 {
		return 0, time.Time{}, fmt.Errorf("store: add failure %q: invalid key or window", key)
	}
	k := failuresKey(key)
	mu := &s.failMu[keyStripe(key, len(s.failMu))]
	mu.Lock()
	defer mu.Unlock()
	err = s.updateSync(func(txn kvTxn) error {
		f := new(failures)
		if err := get(txn, k, f); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if f.Count == 0 || !now.Before(f.Until) {
			*f = failures{First: now, Until: now.Add(window)}
		}
		f.Count++
		count, first = f.Count, f.First
		b, err := encode(f)
		if err != nil {
			return err
		}
		return txn.SetTTL(k, b, ttlFor(f.Until, now))
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: add failure %q: %w", key, err)
	}
	return count, first, nil
}

// keyStripe is the index among n stripes of key (FNV-1a).
func keyStripe(key string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// Failures returns the failure count of key in its window at now: 0 when
// there is none or the window has ended.
func (s *Store) Failures(key string, now time.Time) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	f := new(failures)
	err := s.db.View(func(txn kvTxn) error { return get(txn, failuresKey(key), f) })
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("store: failures %q: %w", key, err)
	case !now.Before(f.Until):
		return 0, nil
	}
	return f.Count, nil
}

// ClearFailures resets the failure count of key; a key without failures
// is not an error. Durable when it returns.
func (s *Store) ClearFailures(key string) error {
	return s.deleteOne(failuresKey(key), "clear failures "+key)
}

// PutLock locks key until the given time, replacing any lock it has; the
// record carries a matching Badger TTL. until must be after Now(). Durable
// when it returns.
func (s *Store) PutLock(key string, until time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	now := s.now()
	if !validName(key) || !now.Before(until) {
		return fmt.Errorf("store: put lock %q: invalid key or time", key)
	}
	b, err := encode(&lock{Until: until})
	if err != nil {
		return err
	}
	err = s.updateSync(func(txn kvTxn) error {
		return txn.SetTTL(lockKey(key), b, ttlFor(until, now))
	})
	if err != nil {
		return fmt.Errorf("store: put lock %q: %w", key, err)
	}
	s.locks.set(key, until, now)
	return nil
}

// Lock reports whether key is locked at now and, when it is, until when;
// until is zero when locked is false.
func (s *Store) Lock(key string, now time.Time) (until time.Time, locked bool, err error) {
	if err := s.enter(); err != nil {
		return time.Time{}, false, err
	}
	defer s.leave()
	if err := s.cluster.check(); err != nil {
		return time.Time{}, false, err
	}
	until, err = s.locks.get(s.db, key)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: lock %q: %w", key, err)
	}
	if until.IsZero() || !now.Before(until) {
		return time.Time{}, false, nil
	}
	return until, true, nil
}

// ClearLock lifts the lock of key; a key without a lock is not an error.
// Durable when it returns.
func (s *Store) ClearLock(key string) error {
	if err := s.deleteOne(lockKey(key), "clear lock "+key); err != nil {
		return err
	}
	s.locks.set(key, time.Time{}, s.now())
	return nil
}

// lockCache mirrors the lock records: loaded from Badger on first use,
// then kept by PutLock and ClearLock, the only writers of lock records
// while the store is open (a restore writes into a closed store's
// directory). Expired entries are dropped when the next lock is set.
type lockCache struct {
	mu     sync.RWMutex
	loaded bool
	until  map[string]time.Time
}

// get returns when key's lock ends (zero without one, ended or not),
// loading every lock record from db on the first call.
func (c *lockCache) get(db kvDB, key string) (time.Time, error) {
	c.mu.RLock()
	if c.loaded {
		t := c.until[key]
		c.mu.RUnlock()
		return t, nil
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		m := make(map[string]time.Time)
		err := db.View(func(txn kvTxn) error {
			it := txn.NewIterator(iterOptions{Prefix: []byte(prefixLock)})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				l := new(lock)
				if err := it.Item().Value(func(v []byte) error { return decode(v, l) }); err != nil {
					return err
				}
				m[string(it.Item().Key()[len(prefixLock):])] = l.Until
			}
			return nil
		})
		if err != nil {
			return time.Time{}, err
		}
		c.until, c.loaded = m, true
	}
	return c.until[key], nil
}

// set records key's lock until until (zero: none), after the record was
// written, at now (the store's clock), dropping the locks that ended.
// Before the first get there is nothing to keep: get loads the records,
// this one included.
func (c *lockCache) set(key string, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return
	}
	for k, t := range c.until {
		if !now.Before(t) {
			delete(c.until, k)
		}
	}
	if until.IsZero() {
		delete(c.until, key)
		return
	}
	c.until[key] = until
}

// deleteOne deletes one key (missing is fine), durably.
func (s *Store) deleteOne(k []byte, what string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.updateSync(func(txn kvTxn) error { return txn.Delete(k) }); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}
