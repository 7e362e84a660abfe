package store

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// AppPassword is a generated password a user made for one app (or for
// every app) that cannot do a second factor: an LDAP bind, HTTP Basic.
// Only an HMAC of the secret is stored (Hash, in the key of the record).
type AppPassword struct {
	// ID is public and random; it names the password in lists and URLs.
	ID string `json:"id"`
	// UserID is the owner.
	UserID string `json:"user_id"`
	// Hash is the HMAC-SHA256 of the secret under the server key.
	Hash [32]byte `json:"-"`
	// Name is the owner's name for it ("Phone mail", "Jellyfin TV").
	Name string `json:"name"`
	// App limits it to one app; "" lets it work for every app.
	App string `json:"app,omitempty"`
	// CreatedAt is set by CreateAppPassword; CreatedBy is the user id of
	// who made it (today always the owner).
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	// LastUsedAt and LastUsedIP describe its latest use (kept in memory
	// and written in batches by Flush).
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	LastUsedIP string    `json:"last_used_ip,omitempty"`
}

// ErrLimit means a user already has as many records of a kind as allowed.
var ErrLimit = errors.New("store: limit reached")

// appPasswordCache serves MatchAppPassword without disk I/O: the app
// passwords of each user checked since start (an empty list for a user
// without any), and their latest uses not yet written.
//
// Every write of a user's app passwords drops the user's list after it
// commits and bumps gen; a list read from Badger is only kept when gen did
// not move meanwhile, so a revoked password never comes back from a read
// that raced with its deletion.
type appPasswordCache struct {
	mu     sync.Mutex
	gen    uint64
	byUser map[string][]AppPassword
	// uses are the latest uses by password id; dirty those not written.
	uses  map[string]appPasswordUse
	dirty map[string]bool
}

type appPasswordUse struct {
	user string
	at   time.Time
	ip   string
}

func (c *appPasswordCache) init() {
	if c.byUser == nil {
		c.byUser, c.uses, c.dirty = map[string][]AppPassword{}, map[string]appPasswordUse{}, map[string]bool{}
	}
}

// forget drops the cached list of userID after a write, and the uses of
// the passwords ids (deleted).
func (c *appPasswordCache) forget(userID string, ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.gen++
	delete(c.byUser, userID)
	for _, id := range ids {
		delete(c.uses, id)
		delete(c.dirty, id)
	}
}

// forgetUser is forget after every password of userID was deleted.
func (c *appPasswordCache) forgetUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.gen++
	delete(c.byUser, userID)
	for id, u := range c.uses {
		if u.user == userID {
			delete(c.uses, id)
			delete(c.dirty, id)
		}
	}
}

// CreateAppPassword stores p for p.UserID, assigning its ID and CreatedAt,
// unless the user already has limit app passwords (ErrLimit; limit <= 0:
// no limit). ErrNotFound when the user does not exist or is disabled.
// Durable when it returns.
func (s *Store) CreateAppPassword(p *AppPassword, limit int) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if !validName(p.UserID) {
		return fmt.Errorf("store: create app password: invalid user id %q", p.UserID)
	}
	// Serialised with DeleteUser and UpdateUser, so no password is made
	// for a user whose deletion or disabling is sweeping them away.
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	p.ID = NewID()
	p.CreatedAt = s.now()
	rec := *p
	err := s.updateSync(func(txn kvTxn) error {
		u := new(User)
		if err := get(txn, userKey(rec.UserID), u); err != nil {
			return err
		}
		if u.Disabled {
			return fmt.Errorf("user is disabled: %w", ErrNotFound)
		}
		if limit > 0 {
			n := 0
			err := scanKeys(txn, appPasswordsPrefix(rec.UserID), func([]byte) error { n++; return nil })
			if err != nil {
				return err
			}
			if n >= limit {
				return fmt.Errorf("%d app passwords: %w", n, ErrLimit)
			}
		}
		if err := claim(txn, appPasswordKey(rec.UserID, rec.Hash), "app password"); err != nil {
			return err
		}
		if err := put(txn, appPasswordKey(rec.UserID, rec.Hash), &rec); err != nil {
			return err
		}
		return txn.Set(appPasswordIDKey(rec.ID), appPasswordKey(rec.UserID, rec.Hash)[len(prefixAppPassword):])
	})
	s.appPasswords.forget(p.UserID)
	if err != nil {
		return fmt.Errorf("store: create app password: %w", err)
	}
	return nil
}

// scanKeys calls fn with each key under prefix, without reading values.
func scanKeys(txn kvTxn, prefix []byte, fn func(k []byte) error) error {
	opts := defaultIterOptions
	opts.Prefix, opts.PrefetchValues = prefix, false
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := fn(it.Item().Key()); err != nil {
			return err
		}
	}
	return nil
}

// readAppPasswords reads userID's app passwords in txn, oldest first.
func readAppPasswords(txn kvTxn, userID string) ([]AppPassword, error) {
	prefix := appPasswordsPrefix(userID)
	out := []AppPassword{}
	err := scan(txn, prefix, func(k, v []byte) error {
		var rec AppPassword
		if err := decode(v, &rec); err != nil {
			return err
		}
		if len(k) != len(prefix)+len(rec.Hash) {
			return fmt.Errorf("app password key of %d bytes", len(k))
		}
		copy(rec.Hash[:], k[len(prefix):])
		rec.UserID = userID
		out = append(out, rec)
		return nil
	})
	slices.SortFunc(out, func(a, b AppPassword) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// MatchAppPassword returns the app password of userID whose HMAC is hash;
// ErrNotFound when none is. The hash is compared with every one of the
// user's passwords in constant time, from memory after the user's first
// check.
func (s *Store) MatchAppPassword(userID string, hash [32]byte) (AppPassword, error) {
	if !validName(userID) {
		return AppPassword{}, fmt.Errorf("store: app password: %w", ErrNotFound)
	}
	if err := s.cluster.check(); err != nil {
		return AppPassword{}, err
	}
	list, err := s.cachedAppPasswords(userID)
	if err != nil {
		return AppPassword{}, err
	}
	found := -1
	for i := range list {
		if subtle.ConstantTimeCompare(list[i].Hash[:], hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return AppPassword{}, fmt.Errorf("store: app password: %w", ErrNotFound)
	}
	return list[found], nil
}

// cachedAppPasswords returns userID's app passwords (shared, read-only).
func (s *Store) cachedAppPasswords(userID string) ([]AppPassword, error) {
	c := &s.appPasswords
	c.mu.Lock()
	c.init()
	list, ok := c.byUser[userID]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return list, nil
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	err := s.db.View(func(txn kvTxn) (err error) {
		list, err = readAppPasswords(txn, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: app passwords of user %q: %w", userID, err)
	}
	c.mu.Lock()
	if c.gen == gen {
		c.byUser[userID] = list
	}
	c.mu.Unlock()
	return list, nil
}

// TouchAppPassword records a use of p from ip at t, in memory; Flush
// writes it.
func (s *Store) TouchAppPassword(p AppPassword, ip string, t time.Time) {
	c := &s.appPasswords
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	if u, ok := c.uses[p.ID]; ok && !t.After(u.at) {
		return
	}
	id := p.ID
	c.uses[id] = appPasswordUse{user: p.UserID, at: t, ip: ip}
	c.dirty[id] = true
}

// appPasswordFlushChunk is how many uses one transaction writes, so a
// burst of binds by many users never makes a transaction too big for
// Badger (a variable for the tests).
var appPasswordFlushChunk = 500

// flushAppPasswords writes the latest uses recorded since the last flush.
// The caller holds enter.
func (s *Store) flushAppPasswords() error {
	c := &s.appPasswords
	c.mu.Lock()
	uses := make(map[string]appPasswordUse, len(c.dirty))
	for id := range c.dirty {
		uses[id] = c.uses[id]
	}
	clear(c.dirty)
	c.mu.Unlock()
	ids := make([]string, 0, len(uses))
	for id := range uses {
		ids = append(ids, id)
	}
	for chunk := range slices.Chunk(ids, appPasswordFlushChunk) {
		if err := s.writeAppPasswordUses(chunk, uses); err != nil {
			return err
		}
	}
	return nil
}

// writeAppPasswordUses writes the uses of the app passwords ids in one
// transaction.
func (s *Store) writeAppPasswordUses(ids []string, uses map[string]appPasswordUse) error {
	return s.update(func(txn kvTxn) error {
		for _, id := range ids {
			use := uses[id]
			key, err := appPasswordKeyOf(txn, id)
			if errors.Is(err, ErrNotFound) {
				continue // revoked meanwhile
			}
			if err != nil {
				return err
			}
			var rec AppPassword
			if err := get(txn, key, &rec); errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if !use.at.After(rec.LastUsedAt) {
				continue
			}
			rec.LastUsedAt, rec.LastUsedIP = use.at, use.ip
			if err := put(txn, key, &rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// appPasswordKeyOf reads the record key of the app password id.
func appPasswordKeyOf(txn kvTxn, id string) ([]byte, error) {
	item, err := txn.Get(appPasswordIDKey(id))
	if errors.Is(err, errKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	return append([]byte(prefixAppPassword), v...), nil
}

// AppPasswords lists userID's app passwords, newest first, with their
// latest use.
func (s *Store) AppPasswords(userID string) ([]AppPassword, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if !validName(userID) {
		return []AppPassword{}, nil
	}
	var out []AppPassword
	err := s.db.View(func(txn kvTxn) (err error) {
		out, err = readAppPasswords(txn, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list app passwords of user %q: %w", userID, err)
	}
	s.appPasswords.mu.Lock()
	s.appPasswords.init()
	for i := range out {
		if u, ok := s.appPasswords.uses[out[i].ID]; ok && u.at.After(out[i].LastUsedAt) {
			out[i].LastUsedAt, out[i].LastUsedIP = u.at, u.ip
		}
	}
	s.appPasswords.mu.Unlock()
	slices.Reverse(out)
	return out, nil
}

// AppPassword returns the app password with the public id.
func (s *Store) AppPassword(id string) (AppPassword, error) {
	if err := s.enter(); err != nil {
		return AppPassword{}, err
	}
	defer s.leave()
	var rec AppPassword
	err := s.db.View(func(txn kvTxn) error {
		key, err := appPasswordKeyOf(txn, id)
		if err != nil {
			return err
		}
		return getAppPassword(txn, key, &rec)
	})
	if err != nil {
		return AppPassword{}, fmt.Errorf("store: app password %q: %w", id, err)
	}
	return rec, nil
}

// getAppPassword reads the record at key, with the hash and owner its key
// holds.
func getAppPassword(txn kvTxn, key []byte, rec *AppPassword) error {
	if err := get(txn, key, rec); err != nil {
		return err
	}
	uid, hash, ok := splitAppPasswordKey(key)
	if !ok {
		return fmt.Errorf("app password key of %d bytes", len(key))
	}
	rec.UserID, rec.Hash = uid, hash
	return nil
}

// splitAppPasswordKey reads the user id and hash of a record key.
func splitAppPasswordKey(key []byte) (uid string, hash [32]byte, ok bool) {
	rest := key[len(prefixAppPassword):]
	if len(rest) < len(hash)+2 || rest[len(rest)-len(hash)-1] != sep {
		return "", hash, false
	}
	copy(hash[:], rest[len(rest)-len(hash):])
	return string(rest[:len(rest)-len(hash)-1]), hash, true
}

// DeleteAppPassword revokes the app password id and returns it; it stops
// working at once. Durable when it returns.
func (s *Store) DeleteAppPassword(id string) (AppPassword, error) {
	if err := s.enter(); err != nil {
		return AppPassword{}, err
	}
	defer s.leave()
	var rec AppPassword
	err := s.updateSync(func(txn kvTxn) error {
		key, err := appPasswordKeyOf(txn, id)
		if err != nil {
			return err
		}
		if err := getAppPassword(txn, key, &rec); err != nil {
			return err
		}
		if err := txn.Delete(key); err != nil {
			return err
		}
		return txn.Delete(appPasswordIDKey(id))
	})
	if rec.UserID != "" {
		s.appPasswords.forget(rec.UserID, id)
	}
	if err != nil {
		return AppPassword{}, fmt.Errorf("store: delete app password %q: %w", id, err)
	}
	return rec, nil
}

// DeleteUserAppPasswords revokes every app password of userID in one
// transaction and returns how many. Durable when it returns.
func (s *Store) DeleteUserAppPasswords(userID string) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	if !validName(userID) {
		return 0, nil
	}
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	var ids []string
	err := s.updateSync(func(txn kvTxn) (err error) {
		ids, err = deleteUserAppPasswords(txn, userID)
		return err
	})
	s.appPasswords.forgetUser(userID)
	if err != nil {
		return 0, fmt.Errorf("store: delete app passwords of user %q: %w", userID, err)
	}
	return len(ids), nil
}

// deleteUserAppPasswords deletes every app password of userID in txn (also
// for DeleteUser, and UpdateUser disabling the user) and returns their ids.
// The caller drops the cache (appPasswords.forgetUser) after the commit.
func deleteUserAppPasswords(txn kvTxn, userID string) ([]string, error) {
	list, err := readAppPasswords(txn, userID)
	if err != nil {
		return nil, fmt.Errorf("list app passwords: %w", err)
	}
	ids := make([]string, 0, len(list))
	for _, p := range list {
		if err := txn.Delete(appPasswordKey(userID, p.Hash)); err != nil {
			return nil, err
		}
		if err := txn.Delete(appPasswordIDKey(p.ID)); err != nil {
			return nil, err
		}
		ids = append(ids, p.ID)
	}
	return ids, nil
}
