package store

import (
	"fmt"
	"strings"
	"time"
)

// LDAPClient is a bind account of the directory server (cn=<Name>,
// ou=system,<base>): an app that lists users and checks their passwords
// over LDAP. Only an HMAC of its secret is stored.
type LDAPClient struct {
	// Name is unique, case-insensitively; it is the cn of the bind DN.
	Name string `json:"name"`
	// App, when set, limits the client to the users that app's access
	// rules let in.
	App string `json:"app,omitempty"`
	// Hash is the HMAC-SHA256 of the secret under the server key.
	Hash []byte `json:"hash"`
	// CreatedAt is set by CreateLDAPClient; CreatedBy names the admin.
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	// LastUsedAt and LastUsedIP are the latest successful bind, written
	// at most once a minute (see TouchLDAPClient).
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	LastUsedIP string    `json:"last_used_ip,omitempty"`
}

// ldapClientTouchEvery is how stale LastUsedAt may be: a client binding
// many times a second costs one write a minute.
const ldapClientTouchEvery = time.Minute

// CreateLDAPClient stores a new bind account, setting CreatedAt;
// ErrConflict when the name is taken. Durable when it returns.
func (s *Store) CreateLDAPClient(c *LDAPClient) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if !validName(c.Name) || strings.TrimSpace(c.Name) == "" {
		return fmt.Errorf("store: create ldap client %q: invalid name", c.Name)
	}
	c.CreatedAt = s.now()
	rec := *c
	err := s.updateSync(func(txn kvTxn) error {
		if err := claim(txn, ldapClientKey(rec.Name), "ldap client"); err != nil {
			return err
		}
		return put(txn, ldapClientKey(rec.Name), &rec)
	})
	if err != nil {
		return fmt.Errorf("store: create ldap client %q: %w", c.Name, err)
	}
	return nil
}

// LDAPClient returns the bind account called name (case-insensitive), or
// ErrNotFound.
func (s *Store) LDAPClient(name string) (*LDAPClient, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	c := new(LDAPClient)
	if err := s.db.View(func(txn kvTxn) error { return get(txn, ldapClientKey(name), c) }); err != nil {
		return nil, fmt.Errorf("store: ldap client %q: %w", name, err)
	}
	return c, nil
}

// ListLDAPClients returns every bind account, sorted by lowercase name.
func (s *Store) ListLDAPClients() ([]*LDAPClient, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*LDAPClient
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte(prefixLDAPClient), func(_, v []byte) error {
			c := new(LDAPClient)
			if err := decode(v, c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list ldap clients: %w", err)
	}
	return out, nil
}

// DeleteLDAPClient removes the bind account called name; ErrNotFound when
// there is none. Durable when it returns.
func (s *Store) DeleteLDAPClient(name string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.updateSync(func(txn kvTxn) error {
		if ok, err := exists(txn, ldapClientKey(name)); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return txn.Delete(ldapClientKey(name))
	})
	if err != nil {
		return fmt.Errorf("store: delete ldap client %q: %w", name, err)
	}
	return nil
}

// TouchLDAPClient records a successful bind of the client from ip at t,
// unless the stored use is less than a minute older (so a busy client
// costs one write a minute). A failure to record is returned, never fatal
// to the bind.
func (s *Store) TouchLDAPClient(c *LDAPClient, ip string, t time.Time) error {
	if t.Sub(c.LastUsedAt) < ldapClientTouchEvery && c.LastUsedIP == ip {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.update(func(txn kvTxn) error {
		rec := new(LDAPClient)
		if err := get(txn, ldapClientKey(c.Name), rec); err != nil {
			return err
		}
		rec.LastUsedAt, rec.LastUsedIP = t, ip
		return put(txn, ldapClientKey(c.Name), rec)
	})
	if err != nil {
		return fmt.Errorf("store: touch ldap client %q: %w", c.Name, err)
	}
	return nil
}
