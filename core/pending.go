package core

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// A pending login is the state between a correct password and the second
// step: a single-use token in the store, whose secret the surface keeps
// for the client (the portal: in its own short-lived cookie). It is not a
// session, so it opens nothing: not the portal, not an app, not the API.
const (
	tokenKindPending = "pending_login"
	PendingLifetime  = 5 * time.Minute
)

// Errors of the login flow.
var (
	// ErrSecondFactor: the password was right; a second step must follow.
	ErrSecondFactor = errors.New("a second factor is required")
	// ErrEnrollRequired: the password was right, 2FA is mandatory and the
	// user has no second factor yet: they must set one up first.
	ErrEnrollRequired = errors.New("two-factor authentication is required: set up a second factor to continue")
	// ErrNoPending: no (live) pending login.
	ErrNoPending = errors.New("no sign-in in progress: start again with your password")
)

// Pending is a half-finished login.
type Pending struct {
	// Hash is the stored token's hash; zero for a step-up of a session,
	// which has no pending token of its own.
	Hash     [32]byte
	User     *store.User
	Remember bool
	// Enroll: the user must set up a second factor before finishing.
	Enroll bool
	// First lists the methods already passed (e.g. password).
	First []string
}

// passwordStamp ties a pending login to the password it was begun with.
func passwordStamp(u *store.User) string {
	return u.PasswordChangedAt.UTC().Format(time.RFC3339Nano)
}

// BeginSecondStep records a pending login of u, which passed first, and
// returns its secret for the client.
func (s *Auth) BeginSecondStep(u *store.User, remember, enroll bool, first []string) (string, error) {
	secret, hash := NewLinkSecret()
	now := s.now()
	t := &store.Token{Kind: tokenKindPending, Hash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(PendingLifetime),
		Data: map[string]string{"remember": strconv.FormatBool(remember), "enroll": strconv.FormatBool(enroll),
			"first": strings.Join(first, ","), "password": passwordStamp(u)}}
	if err := s.store.PutToken(t); err != nil {
		return "", fmt.Errorf("core: store pending login: %w", err)
	}
	return secret, nil
}

// Pending returns the live pending login of secret: ErrNoPending when
// there is none, its user is gone or disabled, or the password changed
// since the first step.
func (s *Auth) Pending(secret string) (*Pending, error) {
	hash, ok := LinkHash(secret)
	if !ok {
		return nil, ErrNoPending
	}
	t, err := s.store.Token(tokenKindPending, hash)
	if err != nil {
		return nil, ErrNoPending
	}
	u, err := s.store.User(t.UserID)
	if err != nil || !UserActive(u, s.now()) || t.Data["password"] != passwordStamp(u) {
		return nil, ErrNoPending
	}
	p := &Pending{Hash: hash, User: u, Remember: t.Data["remember"] == "true", Enroll: t.Data["enroll"] == "true"}
	if f := t.Data["first"]; f != "" {
		p.First = strings.Split(f, ",")
	}
	return p, nil
}

// ConsumePending spends the pending login whose token hashes to hash, once.
func (s *Auth) ConsumePending(hash [32]byte) error {
	if _, err := s.store.ConsumeToken(tokenKindPending, hash); err != nil {
		return ErrNoPending
	}
	return nil
}

// AfterPassword is the step after u passed first (a password): "" and nil
// when a session may start; otherwise the secret of a pending login, with
// ErrSecondFactor when u has a second factor, or ErrEnrollRequired when
// two-factor authentication is mandatory and u has none yet.
func (s *Auth) AfterPassword(u *store.User, remember bool, first []string) (string, error) {
	m, err := s.store.MFA(u.ID)
	if err != nil {
		return "", fmt.Errorf("core: read second factors: %w", err)
	}
	enroll := false
	switch {
	case m.Active():
	case s.Settings().Require2FA:
		enroll = true
	default:
		return "", nil
	}
	secret, err := s.BeginSecondStep(u, remember, enroll, first)
	if err != nil {
		return "", err
	}
	if enroll {
		return secret, ErrEnrollRequired
	}
	return secret, ErrSecondFactor
}
