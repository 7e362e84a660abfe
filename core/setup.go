package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

const (
	tokenKindSetup = "setup"
	// setupLifetime bounds how long a first-owner link works. Every start
	// with an empty store makes a new link and kills the older ones.
	setupLifetime = 24 * time.Hour
)

// OfferSetup makes a one-time first-owner link when the store has no user
// and logs it at WARN; with users it removes any leftover link.
func (s *Credentials) OfferSetup() error {
	has, err := s.store.HasUsers()
	if err != nil {
		return fmt.Errorf("core: look for users: %w", err)
	}
	if err := s.store.DeleteTokens(tokenKindSetup); err != nil {
		return fmt.Errorf("core: clear setup links: %w", err)
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	s.setupURL = ""
	if has {
		return nil
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	if err := s.store.PutToken(&store.Token{
		Kind:      tokenKindSetup,
		Hash:      sha256.Sum256([]byte(secret)),
		CreatedAt: now,
		ExpiresAt: now.Add(setupLifetime),
	}); err != nil {
		return fmt.Errorf("core: store setup link: %w", err)
	}
	s.setupURL = s.portal.String() + "/setup?token=" + url.QueryEscape(secret)
	s.log.Warn("no users yet: open this one-time link to create the first owner (or use `caddy gatehouse user add`)",
		"setup_url", s.setupURL, "expires", now.Add(setupLifetime).Format(time.RFC3339))
	return nil
}

// SetupURL returns the current first-owner link, or "" when there is none.
func (s *Credentials) SetupURL() string {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	return s.setupURL
}

// ErrSetupLink refuses a setup link that is invalid, used or expired.
var ErrSetupLink = errors.New("this setup link is invalid, expired or already used")

// SetupLinkHelp tells how to get a new setup link.
const SetupLinkHelp = "This setup link is invalid, expired or already used. Restart Gatehouse for a new one, " +
	"or create the owner with `caddy gatehouse user add --role owner`."

// SetupTokenValid reports whether token is a live first-owner link.
func (s *Credentials) SetupTokenValid(token string) bool {
	if token == "" || len(token) > 128 {
		return false
	}
	_, err := s.store.Token(tokenKindSetup, sha256.Sum256([]byte(token)))
	return err == nil
}

// SetupOwner creates the first owner with the one-time token. Input is
// validated before the token is spent, so bad input can be corrected.
func (s *Credentials) SetupOwner(ctx context.Context, a *Actor, token string, nu NewUser) (*store.User, error) {
	nu.Role = policies.RoleOwner
	u, err := s.Users.validate(nu)
	if err != nil {
		return nil, err
	}
	if has, err := s.store.HasUsers(); err != nil {
		return nil, fmt.Errorf("core: look for users: %w", err)
	} else if has {
		return nil, ErrSetupLink
	}
	tok, err := s.store.ConsumeToken(tokenKindSetup, sha256.Sum256([]byte(token)))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.Audit(a, store.Event{Action: ActionSetup, Outcome: OutcomeFailure, Reason: "invalid setup token"})
			return nil, ErrSetupLink
		}
		return nil, fmt.Errorf("core: use setup link: %w", err)
	}
	created, err := s.Users.CreateValidated(ctx, a, u.Username, u, nu.Password)
	if err != nil {
		// Give the link back: nothing was created.
		if perr := s.store.PutToken(tok); perr != nil {
			s.log.Error("restore setup link", "error", perr)
		}
		return nil, err
	}
	s.setupMu.Lock()
	s.setupURL = ""
	s.setupMu.Unlock()
	s.Audit(a, store.Event{Actor: created.Username, Action: ActionSetup, Resource: "user:" + created.Username, Outcome: OutcomeSuccess})
	return created, nil
}
