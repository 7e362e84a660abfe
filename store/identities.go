package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Identity links an account at an external OpenID Connect provider (the
// provider's subject identifier) to a local user. A user has at most one
// link per provider, and an external account is linked to at most one user.
type Identity struct {
	// Provider names the configured provider, e.g. "google".
	Provider string `json:"provider"`
	// Subject is the provider's stable identifier of the account (the ID
	// token's "sub" claim).
	Subject string `json:"subject"`
	// UserID is the local user the account signs in as.
	UserID string `json:"user_id"`
	// Email is the address the provider reported when the link was made
	// or last used, for display only: it is never used to find the user.
	Email string `json:"email,omitempty"`
	// CreatedAt is set by LinkIdentity (when zero).
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the link last signed the user in.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// validIdentity checks the parts that become key components.
func validIdentity(provider, subject string) error {
	if !validName(provider) || !validName(subject) {
		return fmt.Errorf("invalid provider %q or subject", provider)
	}
	return nil
}

// LinkIdentity stores id, linking (id.Provider, id.Subject) to id.UserID.
// It fails with ErrNotFound when the user does not exist, and with
// ErrConflict when the external account is linked to another user or the
// user already has a different account of that provider. Linking the same
// account to the same user again updates the record. Durable when it
// returns.
func (s *Store) LinkIdentity(id *Identity) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := validIdentity(id.Provider, id.Subject); err != nil {
		return fmt.Errorf("store: link identity: %w", err)
	}
	if !validName(id.UserID) {
		return fmt.Errorf("store: link identity: invalid user id %q", id.UserID)
	}
	// Serialised with DeleteUser, so a link is never made for a user
	// whose deletion is already sweeping away their links.
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	if id.CreatedAt.IsZero() {
		id.CreatedAt = s.now()
	}
	rec := *id
	err := s.updateSync(func(txn kvTxn) error {
		if ok, err := exists(txn, userKey(rec.UserID)); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		var old Identity
		switch err := get(txn, identityKey(rec.Provider, rec.Subject), &old); {
		case err == nil && old.UserID != rec.UserID:
			return fmt.Errorf("%s account linked to another user: %w", rec.Provider, ErrConflict)
		case err == nil:
			rec.CreatedAt = old.CreatedAt
		case !errors.Is(err, ErrNotFound):
			return err
		}
		item, err := txn.Get(userIdentityKey(rec.UserID, rec.Provider))
		switch {
		case err == nil:
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if string(v) != rec.Subject {
				return fmt.Errorf("user already linked to another %s account: %w", rec.Provider, ErrConflict)
			}
		case !errors.Is(err, errKeyNotFound):
			return err
		}
		if err := txn.Set(userIdentityKey(rec.UserID, rec.Provider), []byte(rec.Subject)); err != nil {
			return err
		}
		return put(txn, identityKey(rec.Provider, rec.Subject), &rec)
	})
	if err != nil {
		return fmt.Errorf("store: link %s identity to user %q: %w", id.Provider, id.UserID, err)
	}
	id.CreatedAt = rec.CreatedAt
	return nil
}

// Identity returns the link of the external account (provider, subject);
// ErrNotFound when it is not linked.
func (s *Store) Identity(provider, subject string) (*Identity, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if err := validIdentity(provider, subject); err != nil {
		return nil, fmt.Errorf("store: identity: %w", ErrNotFound)
	}
	id := new(Identity)
	if err := s.db.View(func(txn kvTxn) error { return get(txn, identityKey(provider, subject), id) }); err != nil {
		return nil, fmt.Errorf("store: %s identity: %w", provider, err)
	}
	return id, nil
}

// UserIdentities returns the links of userID, ordered by provider.
func (s *Store) UserIdentities(userID string) ([]*Identity, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*Identity
	err := s.db.View(func(txn kvTxn) error {
		prefix := userIdentitiesPrefix(userID)
		return scan(txn, prefix, func(k, v []byte) error {
			provider := string(k[len(prefix):])
			id := new(Identity)
			if err := get(txn, identityKey(provider, string(v)), id); err != nil {
				return fmt.Errorf("%s identity of the index: %w", provider, err)
			}
			out = append(out, id)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: identities of user %q: %w", userID, err)
	}
	slices.SortFunc(out, func(a, b *Identity) int { return strings.Compare(a.Provider, b.Provider) })
	return out, nil
}

// TouchIdentity records a sign-in through the link (provider, subject) at
// t, and the email address the provider reported (when not empty).
// ErrNotFound when the link does not exist.
func (s *Store) TouchIdentity(provider, subject, email string, t time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := validIdentity(provider, subject); err != nil {
		return fmt.Errorf("store: touch identity: %w", ErrNotFound)
	}
	err := s.update(func(txn kvTxn) error {
		id := new(Identity)
		if err := get(txn, identityKey(provider, subject), id); err != nil {
			return err
		}
		id.LastUsedAt = t
		if email != "" {
			id.Email = email
		}
		return put(txn, identityKey(provider, subject), id)
	})
	if err != nil {
		return fmt.Errorf("store: touch %s identity: %w", provider, err)
	}
	return nil
}

// UnlinkIdentity removes the link of userID to provider and returns it;
// ErrNotFound when there is none. Durable when it returns.
func (s *Store) UnlinkIdentity(userID, provider string) (*Identity, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if !validName(userID) || !validName(provider) {
		return nil, fmt.Errorf("store: unlink %s identity of user %q: %w", provider, userID, ErrNotFound)
	}
	var id *Identity
	err := s.updateSync(func(txn kvTxn) error {
		item, err := txn.Get(userIdentityKey(userID, provider))
		if errors.Is(err, errKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		subject, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		id = new(Identity)
		if err := get(txn, identityKey(provider, string(subject)), id); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		id.Provider, id.Subject, id.UserID = provider, string(subject), userID
		return deleteIdentity(txn, userID, provider, string(subject))
	})
	if err != nil {
		return nil, fmt.Errorf("store: unlink %s identity of user %q: %w", provider, userID, err)
	}
	return id, nil
}

// deleteIdentity removes the link (provider, subject) of userID and its
// index entry. The link record is only removed when it names userID.
func deleteIdentity(txn kvTxn, userID, provider, subject string) error {
	if err := txn.Delete(userIdentityKey(userID, provider)); err != nil {
		return err
	}
	var id Identity
	switch err := get(txn, identityKey(provider, subject), &id); {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	case id.UserID != userID:
		return nil
	}
	return txn.Delete(identityKey(provider, subject))
}

// deleteUserIdentities removes every link of userID, in txn (DeleteUser).
func deleteUserIdentities(txn kvTxn, userID string) error {
	type link struct{ provider, subject string }
	var links []link
	prefix := userIdentitiesPrefix(userID)
	err := scan(txn, prefix, func(k, v []byte) error {
		links = append(links, link{string(k[len(prefix):]), string(v)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list identities: %w", err)
	}
	for _, l := range links {
		if err := deleteIdentity(txn, userID, l.provider, l.subject); err != nil {
			return fmt.Errorf("delete %s identity: %w", l.provider, err)
		}
	}
	return nil
}
