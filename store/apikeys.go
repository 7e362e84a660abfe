package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// APIKey is a key a user made for scripts and apps. Only an HMAC of the
// secret is stored (Hash, in the key of the record).
type APIKey struct {
	// ID is public and random; it names the key in lists and URLs.
	ID string `json:"id"`
	// Hash is the HMAC-SHA256 of the secret under the server key.
	Hash [32]byte `json:"-"`
	// UserID is the owner.
	UserID string `json:"user_id"`
	// Label is the owner's name for it.
	Label string `json:"label"`
	// Scope is "inherit", "read-only" or "apps" (then Apps lists them).
	Scope string `json:"scope"`
	// Apps are the apps an "apps" key may reach.
	Apps []string `json:"apps,omitempty"`
	// IPAllow lists the CIDRs the key may be used from; empty: anywhere.
	IPAllow []string `json:"ip_allow,omitempty"`
	// CreatedAt is set by CreateAPIKey; ExpiresAt zero means never.
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// LastUsedAt, LastUsedIP and Uses describe its use (kept in memory
	// and written in batches by Flush).
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	LastUsedIP string    `json:"last_used_ip,omitempty"`
	Uses       int64     `json:"uses,omitempty"`
}

// apiKeyCache holds every key read since start, by hash, so the guard's
// hot path checks a key without disk I/O; deletions remove entries at once.
type apiKeyCache struct {
	mu    sync.Mutex
	byID  map[string]*APIKey
	hash  map[[32]byte]*APIKey
	dirty map[string]bool
}

func (c *apiKeyCache) init() {
	if c.byID == nil {
		c.byID, c.hash, c.dirty = map[string]*APIKey{}, map[[32]byte]*APIKey{}, map[string]bool{}
	}
}

// CreateAPIKey stores a new key, assigning its ID and CreatedAt. Durable
// when it returns.
func (s *Store) CreateAPIKey(k *APIKey) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if !validName(k.UserID) {
		return fmt.Errorf("store: create api key: invalid user id %q", k.UserID)
	}
	k.ID = NewID()
	k.CreatedAt = s.now()
	rec := *k
	err := s.updateSync(func(txn kvTxn) error {
		if ok, err := exists(txn, userKey(k.UserID)); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		if err := claim(txn, apiKeyKey(k.Hash), "api key"); err != nil {
			return err
		}
		if err := put(txn, apiKeyKey(k.Hash), &rec); err != nil {
			return err
		}
		if err := txn.Set(apiKeyIDKey(k.ID), k.Hash[:]); err != nil {
			return err
		}
		return txn.Set(userAPIKeyKey(k.UserID, k.ID), nil)
	})
	if err != nil {
		return fmt.Errorf("store: create api key: %w", err)
	}
	return nil
}

// APIKeyByHash returns the key whose HMAC is hash (a copy), from memory
// after its first use; ErrNotFound when there is none.
func (s *Store) APIKeyByHash(hash [32]byte) (APIKey, error) {
	if err := s.enter(); err != nil {
		return APIKey{}, err
	}
	defer s.leave()
	return s.apiKeyByHash(hash)
}

// apiKeyByHash is APIKeyByHash for a caller that holds enter.
func (s *Store) apiKeyByHash(hash [32]byte) (APIKey, error) {
	if err := s.cluster.check(); err != nil {
		return APIKey{}, err
	}
	s.keys.mu.Lock()
	s.keys.init()
	if k, ok := s.keys.hash[hash]; ok {
		c := *k
		s.keys.mu.Unlock()
		return c, nil
	}
	s.keys.mu.Unlock()
	k := new(APIKey)
	if err := s.db.View(func(txn kvTxn) error { return get(txn, apiKeyKey(hash), k) }); err != nil {
		return APIKey{}, fmt.Errorf("store: api key: %w", err)
	}
	k.Hash = hash
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if cached, ok := s.keys.hash[hash]; ok {
		return *cached, nil
	}
	s.keys.byID[k.ID], s.keys.hash[hash] = k, k
	return *k, nil
}

// TouchAPIKey records a use of the key id from ip at t, in memory; Flush
// writes it.
func (s *Store) TouchAPIKey(id, ip string, t time.Time) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	s.keys.init()
	if k, ok := s.keys.byID[id]; ok {
		k.LastUsedAt, k.LastUsedIP = t, ip
		k.Uses++
		s.keys.dirty[id] = true
	}
}

// flushAPIKeys writes the usage of the keys touched since the last flush.
func (s *Store) flushAPIKeys() error {
	s.keys.mu.Lock()
	var recs []APIKey
	for id := range s.keys.dirty {
		if k, ok := s.keys.byID[id]; ok {
			recs = append(recs, *k)
		}
	}
	clear(s.keys.dirty)
	s.keys.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	return s.update(func(txn kvTxn) error {
		for i := range recs {
			if ok, err := exists(txn, apiKeyKey(recs[i].Hash)); err != nil || !ok {
				continue // revoked meanwhile
			}
			if err := put(txn, apiKeyKey(recs[i].Hash), &recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// APIKeys lists the keys of userID ("" for every user), newest first,
// with their latest use.
func (s *Store) APIKeys(userID string) ([]APIKey, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []APIKey
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte(prefixAPIKey), func(k, v []byte) error {
			var rec APIKey
			if err := decode(v, &rec); err != nil {
				return err
			}
			if userID != "" && rec.UserID != userID {
				return nil
			}
			copy(rec.Hash[:], k[len(prefixAPIKey):])
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	s.keys.mu.Lock()
	for i := range out {
		if k, ok := s.keys.byID[out[i].ID]; ok {
			out[i].LastUsedAt, out[i].LastUsedIP, out[i].Uses = k.LastUsedAt, k.LastUsedIP, k.Uses
		}
	}
	s.keys.mu.Unlock()
	slices.SortFunc(out, func(a, b APIKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// APIKey returns the key with the public id.
func (s *Store) APIKey(id string) (APIKey, error) {
	if err := s.enter(); err != nil {
		return APIKey{}, err
	}
	defer s.leave()
	var hash [32]byte
	err := s.db.View(func(txn kvTxn) error {
		item, err := txn.Get(apiKeyIDKey(id))
		if errors.Is(err, errKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = item.ValueCopy(hash[:0])
		return err
	})
	if err != nil {
		return APIKey{}, fmt.Errorf("store: api key %q: %w", id, err)
	}
	return s.apiKeyByHash(hash)
}

// DeleteAPIKey revokes the key id; it stops working at once.
func (s *Store) DeleteAPIKey(id string) error {
	k, err := s.APIKey(id)
	if err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err = s.updateSync(func(txn kvTxn) error {
		for _, key := range [][]byte{apiKeyKey(k.Hash), apiKeyIDKey(k.ID), userAPIKeyKey(k.UserID, k.ID)} {
			if err := txn.Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
	s.keys.mu.Lock()
	s.keys.init()
	delete(s.keys.byID, k.ID)
	delete(s.keys.hash, k.Hash)
	delete(s.keys.dirty, k.ID)
	s.keys.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store: delete api key %q: %w", id, err)
	}
	return nil
}

// DeleteUserAPIKeys revokes every key of userID and returns how many.
func (s *Store) DeleteUserAPIKeys(userID string) (int, error) {
	keys, err := s.APIKeys(userID)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := s.DeleteAPIKey(k.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return 0, err
		}
	}
	return len(keys), nil
}
