package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The OpenID Connect provider's short-lived records, shared by every node
// on one database so that any node can continue any flow:
//
//	oidcreq/<auth request id>                     OIDCAuthRequest (TTL)
//	oidccode/<hex hash of a code>                 OIDCCode (TTL)
//	oidcat/<hex hash of an access token>          OIDCAccess (TTL)
//	idx/oidcatu/<user>\x00<client>\x00<hex hash>  empty; user -> access token
//	idx/oidcats/<hex session id>\x00<hex hash>    empty; session -> access token
//
// Expired records are invisible to reads (their ExpiresAt is checked on the
// store's clock, the engine's TTL on the real one) and removed by the
// engine: Badger's compactions, PostgreSQL's purge (kv_postgres.go). They
// are reached through OIDCFlows (the Store's method count is at its limit).
const (
	prefixOIDCRequest    = "oidcreq/"
	prefixOIDCCode       = "oidccode/"
	prefixOIDCAccess     = "oidcat/"
	prefixOIDCAccessUser = "idx/oidcatu/"
	prefixOIDCAccessSess = "idx/oidcats/"
	oidcCodeKeptAfterUse = 2 * time.Minute
	oidcRevokeChunk      = 500
)

// ErrCodeReused is returned when an authorization code is presented again
// after its first exchange: what was issued from it has been revoked.
var ErrCodeReused = errors.New("store: authorization code reused")

// OIDCAuthRequest is an authorization request from /authorize until its
// code is made.
type OIDCAuthRequest struct {
	ID       string `json:"-"`
	ClientID string `json:"client_id"`
	// Done is set once the user has signed in for it (the portal's
	// Complete).
	Done      bool      `json:"done,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	// Data is the provider's own encoding of the request.
	Data json.RawMessage `json:"data"`
}

// OIDCCode is an authorization code, stored under a hash of the code. It
// is kept a while after its first exchange, so that a second one finds it
// used and revokes what the first was issued.
type OIDCCode struct {
	ClientID string `json:"client_id"`
	// ExpiresAt ends its exchange.
	ExpiresAt time.Time `json:"expires_at"`
	// Data is the auth request's Data.
	Data json.RawMessage `json:"data"`
	// Used is set by its first exchange, Revoked by a second one.
	Used    bool `json:"used,omitempty"`
	Revoked bool `json:"revoked,omitempty"`
	// Tokens (hex hashes) and Families are what was issued from it.
	Tokens   []string `json:"tokens,omitempty"`
	Families []string `json:"families,omitempty"`
}

// OIDCAccess is an access token, stored under a hash of the token.
type OIDCAccess struct {
	UserID   string   `json:"user_id"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes,omitempty"`
	// SessionID is the portal session (hex) it was issued through: ending
	// the session on purpose revokes it.
	SessionID string    `json:"session_id,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	// Family is the refresh token family it came with, if any.
	Family string `json:"family,omitempty"`
}

// OIDCFlows is the part of the store that keeps the provider's auth
// requests, codes and access tokens.
type OIDCFlows struct{ s *Store }

// OIDCFlowsOf returns the OIDC flow records of s.
func OIDCFlowsOf(s *Store) OIDCFlows { return OIDCFlows{s} }

func oidcRequestKey(id string) []byte     { return cat(prefixOIDCRequest, id) }
func oidcCodeKey(hash []byte) []byte      { return cat(prefixOIDCCode, hex.EncodeToString(hash)) }
func oidcAccessKey(hexHash string) []byte { return cat(prefixOIDCAccess, hexHash) }
func oidcAccessUserKey(user, client, hexHash string) []byte {
	return cat(prefixOIDCAccessUser, user, string([]byte{sep}), client, string([]byte{sep}), hexHash)
}
func oidcAccessSessKey(sess, hexHash string) []byte {
	return cat(prefixOIDCAccessSess, sess, string([]byte{sep}), hexHash)
}

// PutRequest stores a new auth request (ErrConflict when its id is taken)
// until its ExpiresAt.
func (f OIDCFlows) PutRequest(r *OIDCAuthRequest) error {
	s := f.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.update(func(txn kvTxn) error {
		if err := claim(txn, oidcRequestKey(r.ID), "oidc auth request"); err != nil {
			return err
		}
		return putTTL(txn, oidcRequestKey(r.ID), r, ttlFor(r.ExpiresAt, s.now()))
	})
	if err != nil {
		return fmt.Errorf("store: put oidc auth request: %w", err)
	}
	return nil
}

// Request returns the live auth request id, or ErrNotFound.
func (f OIDCFlows) Request(id string) (*OIDCAuthRequest, error) {
	s := f.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	r := &OIDCAuthRequest{ID: id}
	if err := s.db.View(func(txn kvTxn) error { return get(txn, oidcRequestKey(id), r) }); err != nil {
		return nil, err
	}
	if !s.now().Before(r.ExpiresAt) {
		return nil, ErrNotFound
	}
	return r, nil
}

// UpdateRequest changes the live auth request id with fn, in one
// transaction (fn may run more than once; an error from it changes
// nothing and is returned).
func (f OIDCFlows) UpdateRequest(id string, fn func(*OIDCAuthRequest) error) error {
	s := f.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.update(func(txn kvTxn) error {
		r := &OIDCAuthRequest{ID: id}
		if err := get(txn, oidcRequestKey(id), r); err != nil {
			return err
		}
		if !s.now().Before(r.ExpiresAt) {
			return ErrNotFound
		}
		if err := fn(r); err != nil {
			return err
		}
		return putTTL(txn, oidcRequestKey(id), r, ttlFor(r.ExpiresAt, s.now()))
	})
}

// TakePending deletes and returns the live auth request id that is not
// yet done; ErrNotFound otherwise (a done request stays).
func (f OIDCFlows) TakePending(id string) (*OIDCAuthRequest, error) {
	s := f.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var r *OIDCAuthRequest
	err := s.update(func(txn kvTxn) error {
		r = &OIDCAuthRequest{ID: id}
		if err := get(txn, oidcRequestKey(id), r); err != nil {
			return err
		}
		if r.Done || !s.now().Before(r.ExpiresAt) {
			return ErrNotFound
		}
		return txn.Delete(oidcRequestKey(id))
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// SaveCode turns the done auth request id into the code stored under
// codeHash, exchangeable until expires: the request is gone (a second code
// for it is refused with ErrNotFound). Not synced on Badger: a code lost
// in a crash only fails its exchange.
func (f OIDCFlows) SaveCode(id string, codeHash []byte, expires time.Time) error {
	s := f.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.update(func(txn kvTxn) error {
		r := new(OIDCAuthRequest)
		if err := get(txn, oidcRequestKey(id), r); err != nil {
			return err
		}
		if !r.Done || !s.now().Before(r.ExpiresAt) {
			return ErrNotFound
		}
		if err := claim(txn, oidcCodeKey(codeHash), "oidc code"); err != nil {
			return err
		}
		c := &OIDCCode{ClientID: r.ClientID, ExpiresAt: expires, Data: r.Data}
		if err := putTTL(txn, oidcCodeKey(codeHash), c, ttlFor(expires.Add(oidcCodeKeptAfterUse), s.now())); err != nil {
			return err
		}
		return txn.Delete(oidcRequestKey(id))
	})
	if err != nil {
		return fmt.Errorf("store: save oidc code: %w", err)
	}
	return nil
}

// RedeemCode exchanges the code stored under codeHash, once: the first
// exchange gets it; every later one (on any node, however concurrent)
// gets ErrCodeReused, and the first one revokes the access tokens and
// refresh token families issued from it. ErrNotFound when the code is
// unknown or expired. Durable when it returns.
func (f OIDCFlows) RedeemCode(codeHash []byte) (*OIDCCode, error) {
	s := f.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	// Serialise this process's exchanges of one code, so a burst does not
	// exhaust the transaction retries (the stripes are AddFailure's).
	mu := &s.failMu[keyStripe(string(codeHash), len(s.failMu))]
	mu.Lock()
	defer mu.Unlock()
	var c *OIDCCode
	var revoke bool
	err := s.updateSync(func(txn kvTxn) error {
		c, revoke = new(OIDCCode), false
		if err := get(txn, oidcCodeKey(codeHash), c); err != nil {
			return err
		}
		if !c.Used {
			if !s.now().Before(c.ExpiresAt) {
				return ErrNotFound
			}
			c.Used = true
		} else if !c.Revoked {
			c.Revoked, revoke = true, true
			for _, t := range c.Tokens {
				if err := deleteAccess(txn, t); err != nil {
					return err
				}
			}
		}
		return putTTL(txn, oidcCodeKey(codeHash), c, ttlFor(c.ExpiresAt.Add(oidcCodeKeptAfterUse), s.now()))
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("store: redeem oidc code: %w", err)
	}
	if !c.Revoked {
		return c, nil
	}
	if revoke {
		if err := s.revokeFamilies(c.Families); err != nil {
			return nil, errors.Join(ErrCodeReused, err)
		}
	}
	return nil, ErrCodeReused
}

// PutAccess stores an access token under tokenHash until a.ExpiresAt.
// When it comes from a code (codeHash not nil), it is recorded with the
// code, or refused with ErrCodeReused when a second exchange of the code
// revoked it meanwhile (nothing stored: the caller revokes a.Family).
// Not synced on Badger: a token lost in a crash (with its note in the
// code) is only refused.
func (f OIDCFlows) PutAccess(tokenHash []byte, a *OIDCAccess, codeHash []byte) error {
	s := f.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	h := hex.EncodeToString(tokenHash)
	ttl := ttlFor(a.ExpiresAt, s.now())
	err := s.update(func(txn kvTxn) error {
		if codeHash != nil {
			c := new(OIDCCode)
			if err := get(txn, oidcCodeKey(codeHash), c); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			} else if err != nil || c.Revoked {
				return ErrCodeReused
			}
			c.Tokens = append(c.Tokens, h)
			if a.Family != "" {
				c.Families = append(c.Families, a.Family)
			}
			if err := putTTL(txn, oidcCodeKey(codeHash), c, ttlFor(c.ExpiresAt.Add(oidcCodeKeptAfterUse), s.now())); err != nil {
				return err
			}
		}
		if err := putTTL(txn, oidcAccessKey(h), a, ttl); err != nil {
			return err
		}
		if err := txn.SetTTL(oidcAccessUserKey(a.UserID, a.ClientID, h), nil, ttl); err != nil {
			return err
		}
		if a.SessionID != "" {
			return txn.SetTTL(oidcAccessSessKey(a.SessionID, h), nil, ttl)
		}
		return nil
	})
	if errors.Is(err, ErrCodeReused) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: put oidc access token: %w", err)
	}
	return nil
}

// Access returns the live access token stored under tokenHash, or
// ErrNotFound.
func (f OIDCFlows) Access(tokenHash []byte) (*OIDCAccess, error) {
	s := f.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	a := new(OIDCAccess)
	if err := s.db.View(func(txn kvTxn) error { return get(txn, oidcAccessKey(hex.EncodeToString(tokenHash)), a) }); err != nil {
		return nil, err
	}
	if !s.now().Before(a.ExpiresAt) {
		return nil, ErrNotFound
	}
	return a, nil
}

// RevokeAccess revokes the access token stored under tokenHash when it is
// clientID's ("" any client's); another client's token is left alone.
// Durable when it returns.
func (f OIDCFlows) RevokeAccess(tokenHash []byte, clientID string) error {
	s := f.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	h := hex.EncodeToString(tokenHash)
	var deleted bool
	err := s.update(func(txn kvTxn) error {
		deleted = false
		a := new(OIDCAccess)
		if err := get(txn, oidcAccessKey(h), a); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		if clientID != "" && a.ClientID != clientID {
			return nil
		}
		deleted = true
		return deleteAccess(txn, h)
	})
	if err == nil && deleted {
		err = s.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("store: revoke oidc access token: %w", err)
	}
	return nil
}

// RevokeUser revokes every access token of userID at clientID (at every
// client when clientID is ""). Durable when it returns.
func (f OIDCFlows) RevokeUser(userID, clientID string) error {
	s := f.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	p := cat(prefixOIDCAccessUser, userID, string([]byte{sep}))
	if clientID != "" {
		p = oidcAccessUserKey(userID, clientID, "")
	}
	hashes, err := indexTails(s, p)
	if err == nil {
		err = revokeAccessHashes(s, hashes)
	}
	if err != nil {
		return fmt.Errorf("store: revoke oidc access tokens of %s: %w", userID, err)
	}
	return nil
}

// RevokeClient revokes everything pending or issued for clientID (the app
// was deleted): its auth requests, codes and access tokens. Refresh
// tokens: OIDCActivity.RevokeClient. Durable when it returns.
func (f OIDCFlows) RevokeClient(clientID string) error {
	s := f.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	var keys [][]byte
	var hashes []string
	err := s.db.View(func(txn kvTxn) error {
		for _, p := range []string{prefixOIDCRequest, prefixOIDCCode, prefixOIDCAccess} {
			it := txn.NewIterator(iterOptions{Prefix: []byte(p), PrefetchValues: true})
			for it.Rewind(); it.Valid(); it.Next() {
				var rec struct {
					ClientID string `json:"client_id"`
				}
				if err := it.Item().Value(func(b []byte) error { return decode(b, &rec) }); err != nil {
					it.Close()
					return err
				}
				if rec.ClientID != clientID {
					continue
				}
				if p == prefixOIDCAccess {
					hashes = append(hashes, string(it.Item().Key()[len(p):]))
				} else {
					keys = append(keys, it.Item().KeyCopy(nil))
				}
			}
			it.Close()
		}
		return nil
	})
	if err == nil {
		err = s.deleteKeys(keys)
	}
	if err == nil {
		err = revokeAccessHashes(s, hashes)
	}
	if err != nil {
		return fmt.Errorf("store: revoke oidc flows of client %s: %w", clientID, err)
	}
	return nil
}

// revokeSessionAccess revokes the access tokens issued through the
// sessions ids (ended on purpose). The caller holds enter.
func revokeSessionAccess(s *Store, ids []SessionID) error {
	var hashes []string
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{})
		defer it.Close()
		for _, id := range ids {
			p := oidcAccessSessKey(id.String(), "")
			for it.Seek(p); it.ValidForPrefix(p); it.Next() {
				hashes = append(hashes, string(it.Item().Key()[len(p):]))
			}
		}
		return nil
	})
	if err == nil && len(hashes) > 0 {
		err = revokeAccessHashes(s, hashes)
	}
	if err != nil {
		return fmt.Errorf("store: revoke access tokens of ended sessions: %w", err)
	}
	return nil
}

// indexTails returns what follows prefix p in the keys under it (the
// last part of an index key: a token hash).
func indexTails(s *Store, p []byte) ([]string, error) {
	var out []string
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if i := bytes.LastIndexByte(k, sep); i >= 0 {
				out = append(out, string(k[i+1:]))
			}
		}
		return nil
	})
	return out, err
}

// revokeAccessHashes deletes the access tokens of the hex hashes, a chunk
// per transaction, and syncs.
func revokeAccessHashes(s *Store, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	for len(hashes) > 0 {
		n := min(len(hashes), oidcRevokeChunk/3)
		chunk := hashes[:n]
		hashes = hashes[n:]
		err := s.update(func(txn kvTxn) error {
			for _, h := range chunk {
				if err := deleteAccess(txn, h); err != nil {
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

// deleteAccess deletes the access token of hex hash h and its index
// entries, in txn (a missing token is no error).
func deleteAccess(txn kvTxn, h string) error {
	a := new(OIDCAccess)
	if err := get(txn, oidcAccessKey(h), a); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	if a.SessionID != "" {
		if err := txn.Delete(oidcAccessSessKey(a.SessionID, h)); err != nil {
			return err
		}
	}
	return errors.Join(txn.Delete(oidcAccessUserKey(a.UserID, a.ClientID, h)), txn.Delete(oidcAccessKey(h)))
}

// putTTL encodes v and stores it under key, expiring after ttl.
func putTTL(txn kvTxn, key []byte, v any, ttl time.Duration) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	return txn.SetTTL(key, b, ttl)
}
