package core

import (
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// impersonatingError refuses what an impersonation session may not do.
type impersonatingError struct{ msg string }

var (
	// ErrImpersonating refuses credential changes while impersonating
	// (403 "not while impersonating").
	ErrImpersonating error = &impersonatingError{"not while impersonating"}
	// ErrNestedImpersonation refuses starting a second impersonation.
	ErrNestedImpersonation error = &impersonatingError{"not while impersonating: stop first"}
	// ErrNotImpersonating: a stop without an impersonation (409).
	ErrNotImpersonating = Conflictf("you are not impersonating anyone")
)

// Error is the refusal's message.
func (e *impersonatingError) Error() string { return e.msg }

// Unwrap makes the refusal an ErrForbidden.
func (e *impersonatingError) Unwrap() error { return ErrForbidden }

// Audit actions of impersonation.
const (
	ActionImpersonationStart = "impersonation.start"
	ActionImpersonationStop  = "impersonation.stop"
)

// MethodImpersonation is the store.Session.Methods of an impersonation.
const MethodImpersonation = "impersonation"

// ImpersonationLifetime is the longest an impersonation lasts.
func (s *Sessions) ImpersonationLifetime() time.Duration {
	if d := time.Duration(s.Settings().ImpersonationLifetime); d > 0 {
		return d
	}
	return DefaultImpersonationLifetime
}

// MayImpersonate checks that p may act as an account with role role: p
// needs the impersonate permission; only owners impersonate owners, and
// nobody impersonates an account holding a permission p lacks.
func (s *Sessions) MayImpersonate(p policies.Principal, role string) error {
	if !p.Perms.Has(policies.PermImpersonate) {
		return &ForbiddenError{Perm: policies.PermImpersonate}
	}
	if role == policies.RoleOwner && p.Role != policies.RoleOwner {
		return fmt.Errorf("%w: only owners can impersonate an owner", ErrForbidden)
	}
	return policies.Outranks(p, s.Users.Target(role))
}

// ImpersonationLive reports whether the impersonation session sess (of
// target) may still be used at now: the impersonator's own session is live
// and theirs, their account is active and they may still impersonate the
// target. It keeps the impersonator's session from going idle meanwhile.
// On the hot path of resolve: no disk I/O and no allocation on cache hits.
func (s *Sessions) ImpersonationLive(sess *store.Session, target *store.Account, now time.Time) bool {
	aid, ok := HexSessionID(sess.ActorSession)
	if !ok || sess.ImpersonatorID == "" {
		return false
	}
	as, err := s.store.SessionAuth(aid)
	if err != nil || as.UserID != sess.ImpersonatorID || as.Impersonation {
		return false
	}
	actor, err := s.store.User(as.UserID)
	if err != nil || !UserActive(actor, now) {
		return false
	}
	perms, _ := s.PermsOf(actor.Role)
	if s.MayImpersonate(policies.Principal{Role: actor.Role, Perms: perms}, target.Role) != nil {
		return false
	}
	s.store.TouchSession(aid, now)
	return true
}

// HexSessionID is ParseSessionID without allocating, for the hot path.
func HexSessionID(h string) (id store.SessionID, ok bool) {
	if len(h) != 2*len(id) {
		return id, false
	}
	for i := range id {
		hi, ok1 := unhex(h[2*i])
		lo, ok2 := unhex(h[2*i+1])
		if !ok1 || !ok2 {
			return store.SessionID{}, false
		}
		id[i] = hi<<4 | lo
	}
	return id, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// MayImpersonateUser finds the user ref and checks that c may impersonate
// them now: c is signed in with a session (not a key, not already
// impersonating), holds the impersonate permission, and outranks an
// active target. A refusal on the target's account is audited.
func (s *Sessions) MayImpersonateUser(c *Actor, ref string) (*store.User, error) {
	if c.Impersonating() {
		return nil, ErrNestedImpersonation
	}
	if c.SessionID == (store.SessionID{}) {
		return nil, fmt.Errorf("%w: impersonation needs a signed-in session, not an API key", ErrForbidden)
	}
	if err := Need(c, policies.PermImpersonate); err != nil {
		return nil, err
	}
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return nil, err
	}
	refuse := func(err error, why string) (*store.User, error) {
		s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionImpersonationStart, Resource: "user:" + u.Username,
			Outcome: OutcomeFailure, Reason: c.User.Username + " may not impersonate " + u.Username + ": " + why})
		return nil, err
	}
	switch {
	case u.ID == c.User.ID:
		return nil, Input("", "you cannot impersonate yourself")
	case !UserActive(u, s.now()):
		return refuse(Conflictf("%s is disabled or expired and cannot be impersonated", u.Username), "account inactive")
	}
	if err := s.MayImpersonate(c.Principal(), u.Role); err != nil {
		return refuse(err, "role "+u.Role)
	}
	return u, nil
}

// Impersonate starts a session of u, checked by MayImpersonateUser, for
// c: it lasts the impersonation lifetime (never beyond c's own session)
// and remembers c's session to go back to. It returns the new session's
// token, for the client, and the session.
func (s *Sessions) Impersonate(c *Actor, u *store.User) (string, store.Session, error) {
	now := s.now()
	expires := now.Add(s.ImpersonationLifetime())
	if c.Session.ExpiresAt.Before(expires) {
		expires = c.Session.ExpiresAt
	}
	tok, id := NewToken()
	sess := store.Session{
		ID:               id,
		UserID:           u.ID,
		CreatedAt:        now,
		LastSeen:         now,
		ExpiresAt:        expires,
		IdleTimeout:      c.Session.IdleTimeout,
		Remember:         c.Session.Remember,
		Methods:          []string{MethodImpersonation},
		SecondFactor:     c.Session.SecondFactor,
		IP:               c.IP,
		UserAgent:        truncate(c.UserAgent, 512),
		ImpersonatorID:   c.User.ID,
		ImpersonatorName: c.User.Username,
		ActorSession:     c.SessionID.String(),
	}
	if err := s.store.CreateSession(&sess); err != nil {
		return "", store.Session{}, fmt.Errorf("core: start impersonation: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionImpersonationStart, Resource: "user:" + u.Username,
		Outcome: OutcomeSuccess, Reason: c.User.Username + " started impersonating " + u.Username +
			" until " + expires.UTC().Format(time.RFC3339)})
	s.notifyImpersonated(c, u)
	return tok, sess, nil
}
