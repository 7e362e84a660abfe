package store

import (
	"errors"
	"fmt"
	"slices"
	"time"
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
	// CreatedBy is the id of the user who made the token, if anyone did
	// (the portal checks at use time that they still may). Records
	// written before it existed have none.
	CreatedBy string `json:"created_by,omitempty"`
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
	err = s.updateSync(func(txn kvTxn) error {
		return txn.SetTTL(tokenKey(t.Kind, t.Hash), b, ttlFor(t.ExpiresAt, now))
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
	err := s.updateSync(func(txn kvTxn) error {
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
	err := s.db.View(func(txn kvTxn) error { return get(txn, tokenKey(kind, hash), t) })
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
	err := s.db.View(func(txn kvTxn) error {
		opts := defaultIterOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.deleteKeys(keys)
}

// deleteKeys deletes keys in bounded transactions, then syncs.
func (s *Store) deleteKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	for chunk := range slices.Chunk(keys, 1000) {
		err := s.update(func(txn kvTxn) error {
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

// ListTokens returns the unexpired tokens of kind (at Now()), with Hash
// filled from the key, newest (by CreatedAt) first.
func (s *Store) ListTokens(kind string) ([]*Token, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	now := s.now()
	var out []*Token
	prefix := tokenPrefix(kind)
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, prefix, func(k, v []byte) error {
			t := new(Token)
			if err := decode(v, t); err != nil {
				return err
			}
			if len(k) != len(prefix)+len(t.Hash) || !now.Before(t.ExpiresAt) {
				return nil
			}
			copy(t.Hash[:], k[len(prefix):])
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list %s tokens: %w", kind, err)
	}
	slices.SortFunc(out, func(a, b *Token) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// DeleteToken removes the token of kind with the given hash; ErrNotFound
// when it does not exist. Durable when it returns.
func (s *Store) DeleteToken(kind string, hash [32]byte) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	key := tokenKey(kind, hash)
	err := s.updateSync(func(txn kvTxn) error {
		if ok, err := exists(txn, key); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return txn.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("store: delete %s token: %w", kind, err)
	}
	return nil
}

// DeleteUserTokens removes every token of kind whose UserID is userID
// (e.g. older reset links), expired or not, and returns how many. userID
// must not be empty (that would match every token without a user). Large
// sets are deleted in several transactions. Durable when it returns.
func (s *Store) DeleteUserTokens(kind, userID string) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	if !validName(kind) || userID == "" {
		return 0, fmt.Errorf("store: delete %s tokens of user %q: invalid kind or user id", kind, userID)
	}
	var keys [][]byte
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, tokenPrefix(kind), func(k, v []byte) error {
			t := new(Token)
			if err := decode(v, t); err != nil {
				return err
			}
			if t.UserID == userID {
				keys = append(keys, slices.Clone(k))
			}
			return nil
		})
	})
	if err == nil {
		err = s.deleteKeys(keys)
	}
	if err != nil {
		return 0, fmt.Errorf("store: delete %s tokens of user %q: %w", kind, userID, err)
	}
	return len(keys), nil
}
