package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Token is a one-time token (setup link, invitation, password reset). Only
// the SHA-256 of its secret is stored.
type Token struct {
	// Kind groups tokens by purpose, e.g. "setup", "invite", "reset".
	Kind string `json:"kind"`
	// Hash is the SHA-256 of the secret; stored in the key.
	Hash [32]byte `json:"-"`
	// UserID is the user the token acts on, if any.
	UserID string `json:"user_id,omitempty"`
	// Data carries kind-specific values.
	Data map[string]string `json:"data,omitempty"`
	// CreatedAt is set by PutToken when zero.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the token stops working. Required.
	ExpiresAt time.Time `json:"expires_at"`
}

// PutToken stores t with a Badger TTL matching its ExpiresAt (replacing a
// token with the same kind and hash). Durable when it returns.
func (s *Store) PutToken(t *Token) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	now := s.now()
	switch {
	case !validName(t.Kind):
		return fmt.Errorf("store: put token: invalid kind %q", t.Kind)
	case !now.Before(t.ExpiresAt):
		return fmt.Errorf("store: put %s token: already expired", t.Kind)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	b, err := encode(t)
	if err != nil {
		return err
	}
	err = s.updateSync(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(tokenKey(t.Kind, t.Hash), b).WithTTL(ttlFor(t.ExpiresAt, now)))
	})
	if err != nil {
		return fmt.Errorf("store: put %s token: %w", t.Kind, err)
	}
	return nil
}

// ConsumeToken returns the token of kind with the given hash and deletes it
// in the same transaction, so it is single-use even under concurrent calls:
// exactly one caller gets it, the others get ErrNotFound. An expired token
// is deleted and reported as ErrNotFound. Durable when it returns.
func (s *Store) ConsumeToken(kind string, hash [32]byte) (*Token, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var t *Token
	key := tokenKey(kind, hash)
	err := s.updateSync(func(txn *badger.Txn) error {
		t = new(Token)
		if err := get(txn, key, t); err != nil {
			return err
		}
		return txn.Delete(key)
	})
	if err == nil && !s.now().Before(t.ExpiresAt) {
		err = ErrNotFound
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("store: consume %s token: %w", kind, ErrNotFound)
		}
		return nil, fmt.Errorf("store: consume %s token: %w", kind, err)
	}
	t.Hash = hash
	return t, nil
}

// Token returns the live token of kind with the given hash without using it
// up (e.g. to show a form only for a valid link). ErrNotFound when missing
// or expired.
func (s *Store) Token(kind string, hash [32]byte) (*Token, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	t := new(Token)
	err := s.db.View(func(txn *badger.Txn) error { return get(txn, tokenKey(kind, hash), t) })
	if err == nil && !s.now().Before(t.ExpiresAt) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s token: %w", kind, err)
	}
	t.Hash = hash
	return t, nil
}

// DeleteTokens removes every token of kind, e.g. to supersede older setup
// links. Durable when it returns.
func (s *Store) DeleteTokens(kind string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if !validName(kind) {
		return fmt.Errorf("store: delete tokens: invalid kind %q", kind)
	}
	if err := s.deletePrefix(tokenPrefix(kind)); err != nil {
		return fmt.Errorf("store: delete %s tokens: %w", kind, err)
	}
	return nil
}

// deletePrefix deletes every key under prefix, in bounded transactions,
// then syncs.
func (s *Store) deletePrefix(prefix []byte) error {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	for chunk := range slices.Chunk(keys, 1000) {
		err := s.update(func(txn *badger.Txn) error {
			for _, k := range chunk {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.db.Sync()
}
