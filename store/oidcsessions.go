package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// More records of the OpenID Connect provider (package oidcprovider):
//
//	oidcbc/<hex session id>\x00<client>  OIDCSessionClient (Badger TTL)
//	oidcuse/<client>                    time.Time: when it last got tokens
//
// They are reached through OIDCActivity (the Store's method count is at
// its limit).
const (
	prefixOIDCSessionClient = "oidcbc/"
	prefixOIDCLastUse       = "oidcuse/"
)

// OIDCSessionClient records that a client with a back-channel logout URI
// got tokens through a portal session.
type OIDCSessionClient struct {
	// SessionID is the portal session (hex); the client and user.
	SessionID string `json:"-"`
	ClientID  string `json:"-"`
	UserID    string `json:"user_id"`
}

// OIDCActivity is the provider's records of who used which session and
// when a client last got tokens.
type OIDCActivity struct{ s *Store }

// OIDCActivityOf returns the OIDC activity records of s.
func OIDCActivityOf(s *Store) OIDCActivity { return OIDCActivity{s} }

// OnSessionsEnded registers f (replacing an earlier one) to receive, in
// its own goroutine, the session clients of sessions ended on purpose
// (never of those that merely expire). Their records are gone when f runs.
func (a OIDCActivity) OnSessionsEnded(f func([]OIDCSessionClient)) {
	a.s.oidcEnded.Store(&f)
}

func oidcSessionClientKey(sess, client string) []byte {
	return cat(prefixOIDCSessionClient, sess, string([]byte{sep}), client)
}

// PutSessionClient records c until expires. Durable when it returns.
func (a OIDCActivity) PutSessionClient(c OIDCSessionClient, expires time.Time) error {
	s := a.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b, err := encode(&c)
	if err != nil {
		return err
	}
	err = s.updateSync(func(txn kvTxn) error {
		return txn.SetTTL(oidcSessionClientKey(c.SessionID, c.ClientID), b, ttlFor(expires, s.now()))
	})
	if err != nil {
		return fmt.Errorf("store: put oidc session client: %w", err)
	}
	return nil
}

// endOIDCSessionClients deletes the session-client records of the
// sessions ids and hands them to the OnSessionsEnded hook. The caller
// holds enter.
func endOIDCSessionClients(s *Store, ids []SessionID) error {
	var ended []OIDCSessionClient
	var keys [][]byte
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{PrefetchValues: true})
		defer it.Close()
		for _, id := range ids {
			p := oidcSessionClientKey(id.String(), "")
			for it.Seek(p); it.ValidForPrefix(p); it.Next() {
				c := OIDCSessionClient{SessionID: id.String(), ClientID: string(bytes.Clone(it.Item().Key()[len(p):]))}
				if err := it.Item().Value(func(b []byte) error { return decode(b, &c) }); err != nil {
					return err
				}
				ended = append(ended, c)
				keys = append(keys, it.Item().KeyCopy(nil))
			}
		}
		return nil
	})
	if err != nil || len(ended) == 0 {
		return err
	}
	err = s.db.Update(func(txn kvTxn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if f := s.oidcEnded.Load(); f != nil {
		go (*f)(ended)
	}
	return err
}

// RevokeClient revokes every refresh token family of a client and
// forgets its session clients and last use (the app was deleted).
func (a OIDCActivity) RevokeClient(client string) error {
	s := a.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	var families []string
	var keys [][]byte
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{Prefix: []byte(prefixOIDCRefresh), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var r OIDCRefresh
			if err := it.Item().Value(func(b []byte) error { return decode(b, &r) }); err != nil {
				return err
			}
			if r.ClientID == client {
				families = append(families, r.Family)
			}
		}
		it2 := txn.NewIterator(iterOptions{Prefix: []byte(prefixOIDCSessionClient)})
		defer it2.Close()
		for it2.Rewind(); it2.Valid(); it2.Next() {
			k := it2.Item().Key()
			if strings.HasSuffix(string(k), string([]byte{sep})+client) {
				keys = append(keys, bytes.Clone(k))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: revoke tokens of client %s: %w", client, err)
	}
	if err := s.revokeFamilies(families); err != nil {
		return fmt.Errorf("store: revoke tokens of client %s: %w", client, err)
	}
	keys = append(keys, cat(prefixOIDCLastUse, client))
	err = s.updateSync(func(txn kvTxn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: forget client %s: %w", client, err)
	}
	return nil
}

// PutLastUse records when a client last got tokens.
func (a OIDCActivity) PutLastUse(client string, t time.Time) error {
	s := a.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.db.Update(func(txn kvTxn) error { return put(txn, cat(prefixOIDCLastUse, client), t) }); err != nil {
		return fmt.Errorf("store: put last use of %s: %w", client, err)
	}
	return nil
}

// LastUse returns when each client last got tokens (as last recorded).
func (a OIDCActivity) LastUse() (map[string]time.Time, error) {
	s := a.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	out := map[string]time.Time{}
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{Prefix: []byte(prefixOIDCLastUse)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var t time.Time
			if err := it.Item().Value(func(b []byte) error { return decode(b, &t) }); err != nil {
				return err
			}
			out[string(it.Item().Key()[len(prefixOIDCLastUse):])] = t
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store: last use of clients: %w", err)
	}
	return out, nil
}
