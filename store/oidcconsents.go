package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A user's grants to the OpenID Connect provider's clients ("connected
// apps"):
//
//	oidcconsent/<user id>\x00<client id>              OIDCConsent
//	idx/oidcuser/<user id>\x00<client id>\x00<family>  OIDCFamilyUse (Badger TTL)
//
// The second is written with every refresh token of a family (putRefresh),
// so a user's live refresh families can be listed and revoked per app.
const (
	prefixOIDCConsent = "oidcconsent/"
	prefixOIDCUser    = "idx/oidcuser/"
)

// OIDCConsent is a user's consent to a third-party app: the scopes they
// allowed it.
type OIDCConsent struct {
	UserID   string   `json:"user_id"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
	// GrantedAt is the first consent, UpdatedAt the last (more scopes).
	GrantedAt time.Time `json:"granted_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OIDCFamilyUse is what the user index keeps of a refresh token family.
type OIDCFamilyUse struct {
	Scopes []string `json:"scopes,omitempty"`
	// FirstUse is when the family began (the code exchange), LastUse its
	// latest rotation.
	FirstUse  time.Time `json:"first_use"`
	LastUse   time.Time `json:"last_use"`
	ExpiresAt time.Time `json:"expires_at"`
}

// OIDCConnection is one app a user is connected to: their consent (nil
// for a first-party app) and their live refresh token families.
type OIDCConnection struct {
	ClientID string
	Consent  *OIDCConsent
	// Families are the live (unrevoked, unexpired) refresh families.
	Families []OIDCFamilyUse
}

// OIDCGrants is the part of the store that keeps users' grants to the
// provider's clients: consents, and refresh families by user and client.
type OIDCGrants struct{ s *Store }

// OIDCGrants returns the store's grants part.
func (s *Store) OIDCGrants() OIDCGrants { return OIDCGrants{s} }

func oidcConsentKey(userID, clientID string) []byte {
	return cat(prefixOIDCConsent, userID, string([]byte{sep}), clientID)
}

func oidcUserKey(userID, clientID, family string) []byte {
	return cat(prefixOIDCUser, userID, string([]byte{sep}), clientID, string([]byte{sep}), family)
}

// putFamilyUse indexes r's family under its user and client, keeping the
// family's first use. Called by putRefresh in its transaction.
func putFamilyUse(txn kvTxn, r *OIDCRefresh, ttl time.Duration) error {
	key := oidcUserKey(r.UserID, r.ClientID, r.Family)
	var u OIDCFamilyUse
	switch err := get(txn, key, &u); {
	case errors.Is(err, ErrNotFound):
		u.FirstUse = r.IssuedAt
	case err != nil:
		return err
	}
	u.Scopes, u.LastUse, u.ExpiresAt = r.Scopes, r.IssuedAt, r.ExpiresAt
	b, err := encode(&u)
	if err != nil {
		return err
	}
	return txn.SetTTL(key, b, ttl)
}

// Consent returns the user's consent to the client, or ErrNotFound.
func (g OIDCGrants) Consent(userID, clientID string) (*OIDCConsent, error) {
	s := g.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	c := new(OIDCConsent)
	if err := s.db.View(func(txn kvTxn) error { return get(txn, oidcConsentKey(userID, clientID), c) }); err != nil {
		return nil, err
	}
	return c, nil
}

// Grant adds scopes to the user's consent to the client (making
// it when there is none, or when the one there was given before notBefore)
// and returns the consent. Durable when it returns.
func (g OIDCGrants) Grant(userID, clientID string, scopes []string, notBefore time.Time) (*OIDCConsent, error) {
	s := g.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	c := new(OIDCConsent)
	now := s.now()
	err := s.updateSync(func(txn kvTxn) error {
		*c = OIDCConsent{}
		switch err := get(txn, oidcConsentKey(userID, clientID), c); {
		case errors.Is(err, ErrNotFound), err == nil && c.GrantedAt.Before(notBefore):
			*c = OIDCConsent{UserID: userID, ClientID: clientID, GrantedAt: now}
		case err != nil:
			return err
		}
		for _, sc := range scopes {
			if !slices.Contains(c.Scopes, sc) {
				c.Scopes = append(c.Scopes, sc)
			}
		}
		slices.Sort(c.Scopes)
		c.UpdatedAt = now
		return put(txn, oidcConsentKey(userID, clientID), c)
	})
	if err != nil {
		return nil, fmt.Errorf("store: grant oidc consent: %w", err)
	}
	return c, nil
}

// Connections returns the apps the user has consented to or holds live
// refresh tokens for, by client id.
func (g OIDCGrants) Connections(userID string) ([]OIDCConnection, error) {
	s := g.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	byClient := map[string]*OIDCConnection{}
	conn := func(id string) *OIDCConnection {
		if byClient[id] == nil {
			byClient[id] = &OIDCConnection{ClientID: id}
		}
		return byClient[id]
	}
	now := s.now()
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(defaultIterOptions)
		defer it.Close()
		p := cat(prefixOIDCConsent, userID, string([]byte{sep}))
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			c := new(OIDCConsent)
			if err := it.Item().Value(func(b []byte) error { return decode(b, c) }); err != nil {
				return err
			}
			conn(c.ClientID).Consent = c
		}
		p = cat(prefixOIDCUser, userID, string([]byte{sep}))
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			client, family, ok := bytes.Cut(it.Item().Key()[len(p):], []byte{sep})
			if !ok {
				continue
			}
			var fam OIDCFamily
			if err := get(txn, oidcFamilyKey(string(family)), &fam); err != nil || fam.Revoked {
				continue
			}
			var u OIDCFamilyUse
			if err := it.Item().Value(func(b []byte) error { return decode(b, &u) }); err != nil {
				return err
			}
			if !now.Before(u.ExpiresAt) {
				continue
			}
			c := conn(string(client))
			c.Families = append(c.Families, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: oidc connections: %w", err)
	}
	out := make([]OIDCConnection, 0, len(byClient))
	for _, c := range byClient {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b OIDCConnection) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

// Revoke removes the user's consent to the client and
// revokes every refresh token family of the user at the client; found
// reports whether there was anything to revoke. Durable when it returns.
func (g OIDCGrants) Revoke(userID, clientID string) (found bool, err error) {
	s := g.s
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	var families []string
	p := oidcUserKey(userID, clientID, "")
	err = s.updateSync(func(txn kvTxn) error {
		families, found = nil, false
		var keys [][]byte
		it := txn.NewIterator(iterOptions{PrefetchValues: false})
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			k := it.Item().KeyCopy(nil)
			keys = append(keys, k)
			families = append(families, string(k[len(p):]))
		}
		it.Close()
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		switch ok, err := exists(txn, oidcConsentKey(userID, clientID)); {
		case err != nil:
			return err
		case ok:
			found = true
			if err := txn.Delete(oidcConsentKey(userID, clientID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = s.revokeFamilies(families)
	}
	if err != nil {
		return false, fmt.Errorf("store: revoke oidc connection: %w", err)
	}
	return found || len(families) > 0, nil
}

// deleteOIDCGrants deletes a deleted user's consents and family index
// entries (the families themselves die with the user's sessions).
func deleteOIDCGrants(txn kvTxn, userID string) error {
	var keys [][]byte
	it := txn.NewIterator(iterOptions{PrefetchValues: false})
	for _, p := range [][]byte{cat(prefixOIDCConsent, userID, string([]byte{sep})), cat(prefixOIDCUser, userID, string([]byte{sep}))} {
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
	}
	it.Close()
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
