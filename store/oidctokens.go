package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Records of the OpenID Connect provider (package oidcprovider):
//
//	oidcrt/<hex keyed hash of a refresh token>  OIDCRefresh (Badger TTL)
//	oidcfam/<family id>                         OIDCFamily (Badger TTL)
//	idx/oidcsess/<hex session id>\x00<family>   empty; session -> family
//	oidckey/<key id>                            OIDCSigningKey (ID-token and
//	                                            identity-assertion keys, by Use)
const (
	prefixOIDCRefresh = "oidcrt/"
	prefixOIDCFamily  = "oidcfam/"
	prefixOIDCSession = "idx/oidcsess/"
	prefixOIDCKey     = "oidckey/"
)

// ErrRefreshReused is returned when a refresh token that was already
// rotated is presented again: its whole family has been revoked.
var ErrRefreshReused = errors.New("store: refresh token reused")

// OIDCRefresh is a refresh token, stored under a keyed hash of the token
// (never the token itself).
type OIDCRefresh struct {
	// Family groups the tokens rotated from one code exchange.
	Family   string   `json:"family"`
	UserID   string   `json:"user_id"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	// AuthTime is when the user signed in; SessionID (hex) the portal
	// session the tokens were issued through.
	AuthTime  time.Time `json:"auth_time"`
	SessionID string    `json:"session_id,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Rotated is set when the token was exchanged for a new one: it must
	// never be used again.
	Rotated bool `json:"rotated,omitempty"`
}

// OIDCFamily is the state shared by a family of refresh tokens.
type OIDCFamily struct {
	Revoked   bool      `json:"revoked,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// OIDCSigningKey is a signing key of the provider, its private part sealed
// by the server key.
type OIDCSigningKey struct {
	ID        string `json:"id"`
	Algorithm string `json:"alg"`
	// Use says what the key signs: "" the provider's ID tokens,
	// KeyUseAssertion the guard's identity assertions. Both kinds are
	// published in the one JWKS.
	Use       string    `json:"use,omitempty"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
}

// KeyUseAssertion is the Use of a key that signs the identity assertions
// the guard sends apps (headers { jwt NAME }).
const KeyUseAssertion = "assertion"

func oidcRefreshKey(hash []byte) []byte { return cat(prefixOIDCRefresh, hex.EncodeToString(hash)) }
func oidcFamilyKey(f string) []byte     { return cat(prefixOIDCFamily, f) }
func oidcSessionKey(sess, f string) []byte {
	return cat(prefixOIDCSession, sess, string([]byte{sep}), f)
}

// PutOIDCRefresh stores a refresh token starting a new family (r.Family),
// indexed under its portal session. Durable when it returns.
func (s *Store) PutOIDCRefresh(hash []byte, r *OIDCRefresh) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.updateSync(func(txn kvTxn) error { return s.putRefresh(txn, hash, r) })
	if err != nil {
		return fmt.Errorf("store: put refresh token: %w", err)
	}
	return nil
}

func (s *Store) putRefresh(txn kvTxn, hash []byte, r *OIDCRefresh) error {
	ttl := ttlFor(r.ExpiresAt, s.now())
	b, err := encode(r)
	if err != nil {
		return err
	}
	fb, err := encode(&OIDCFamily{ExpiresAt: r.ExpiresAt})
	if err != nil {
		return err
	}
	var fam OIDCFamily
	switch err := get(txn, oidcFamilyKey(r.Family), &fam); {
	case err == nil && fam.Revoked:
		return ErrNotFound
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	}
	if err := txn.SetTTL(oidcRefreshKey(hash), b, ttl); err != nil {
		return err
	}
	if err := txn.SetTTL(oidcFamilyKey(r.Family), fb, ttl); err != nil {
		return err
	}
	if err := putFamilyUse(txn, r, ttl); err != nil {
		return err
	}
	if r.SessionID != "" {
		return txn.SetTTL(oidcSessionKey(r.SessionID, r.Family), nil, ttl)
	}
	return nil
}

// OIDCRefresh returns the live refresh token stored under hash;
// ErrNotFound when it is unknown, expired or its family revoked, and
// ErrRefreshReused (after revoking the family) when it was rotated.
func (s *Store) OIDCRefresh(hash []byte) (*OIDCRefresh, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	r := new(OIDCRefresh)
	var reused bool
	err := s.db.View(func(txn kvTxn) error {
		if err := get(txn, oidcRefreshKey(hash), r); err != nil {
			return err
		}
		var fam OIDCFamily
		if err := get(txn, oidcFamilyKey(r.Family), &fam); err != nil || fam.Revoked {
			return ErrNotFound
		}
		reused = r.Rotated
		return nil
	})
	if err != nil {
		return nil, err
	}
	if reused {
		return nil, errors.Join(ErrRefreshReused, s.RevokeOIDCFamily(r.Family))
	}
	if !s.now().Before(r.ExpiresAt) {
		return nil, ErrNotFound
	}
	return r, nil
}

// RotateOIDCRefresh marks the token under oldHash used and stores next
// under newHash in the same family, atomically: of two concurrent
// rotations of one token one succeeds and the other finds it reused
// (ErrRefreshReused, the family revoked).
func (s *Store) RotateOIDCRefresh(oldHash, newHash []byte, next *OIDCRefresh) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	var reused bool
	err := s.updateSync(func(txn kvTxn) error {
		reused = false
		var old OIDCRefresh
		if err := get(txn, oidcRefreshKey(oldHash), &old); err != nil {
			return err
		}
		if old.Rotated {
			reused = true
			return nil
		}
		if old.Family != next.Family {
			return ErrNotFound
		}
		old.Rotated = true
		ob, err := encode(&old)
		if err != nil {
			return err
		}
		if err := txn.SetTTL(oidcRefreshKey(oldHash), ob, ttlFor(old.ExpiresAt, s.now())); err != nil {
			return err
		}
		return s.putRefresh(txn, newHash, next)
	})
	if err == nil && reused {
		return errors.Join(ErrRefreshReused, s.RevokeOIDCFamily(next.Family))
	}
	if err != nil {
		return fmt.Errorf("store: rotate refresh token: %w", err)
	}
	return nil
}

// RevokeOIDCFamily revokes every refresh token of a family. Durable when
// it returns.
func (s *Store) RevokeOIDCFamily(family string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.revokeFamilies([]string{family})
}

func (s *Store) revokeFamilies(families []string) error {
	if len(families) == 0 {
		return nil
	}
	return s.updateSync(func(txn kvTxn) error {
		for _, f := range families {
			var fam OIDCFamily
			if err := get(txn, oidcFamilyKey(f), &fam); err != nil {
				if errors.Is(err, ErrNotFound) {
					continue
				}
				return err
			}
			fam.Revoked = true
			b, err := encode(&fam)
			if err != nil {
				return err
			}
			if err := txn.SetTTL(oidcFamilyKey(f), b, ttlFor(fam.ExpiresAt, s.now())); err != nil {
				return err
			}
		}
		return nil
	})
}

// revokeSessionRefresh revokes the refresh and access tokens issued
// through the sessions ids (called when sessions are deleted: a sign-out, a revoke, a
// disabled or deleted user; never when a session merely expires). The
// caller holds enter.
func (s *Store) revokeSessionRefresh(ids []SessionID) error {
	var families []string
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{PrefetchValues: false})
		defer it.Close()
		for _, id := range ids {
			p := oidcSessionKey(id.String(), "")
			for it.Seek(p); it.ValidForPrefix(p); it.Next() {
				k := it.Item().Key()
				families = append(families, string(bytes.Clone(k[len(p):])))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: revoke refresh tokens of ended sessions: %w", err)
	}
	return errors.Join(s.revokeFamilies(families), revokeSessionAccess(s, ids), endOIDCSessionClients(s, ids))
}

// OIDCKeys is the part of the store that keeps the provider's signing
// keys.
type OIDCKeys struct{ s *Store }

// OIDCKeys returns the store's signing-keys part.
func (s *Store) OIDCKeys() OIDCKeys { return OIDCKeys{s} }

// List returns the provider's signing keys.
func (k OIDCKeys) List() ([]*OIDCSigningKey, error) {
	s := k.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*OIDCSigningKey
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{Prefix: []byte(prefixOIDCKey)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := new(OIDCSigningKey)
			if err := it.Item().Value(func(b []byte) error { return decode(b, k) }); err != nil {
				return err
			}
			out = append(out, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: oidc signing keys: %w", err)
	}
	return out, nil
}

// Put stores a signing key (ErrConflict when its id is taken), and
// deletes the keys named in drop. Durable when it returns.
func (ks OIDCKeys) Put(k *OIDCSigningKey, drop ...string) error {
	s := ks.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.updateSync(func(txn kvTxn) error {
		if err := claim(txn, cat(prefixOIDCKey, k.ID), "oidc signing key"); err != nil {
			return err
		}
		for _, d := range drop {
			if err := txn.Delete(cat(prefixOIDCKey, d)); err != nil {
				return err
			}
		}
		return put(txn, cat(prefixOIDCKey, k.ID), k)
	})
	if err != nil {
		return fmt.Errorf("store: put oidc signing key: %w", err)
	}
	return nil
}
