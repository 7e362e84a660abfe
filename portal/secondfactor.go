package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// A pending login is the state between a correct password and the second
// step: a single-use token in the store and in its own short-lived cookie.
// It is not a session, so it opens nothing: not the portal, not an app,
// not the API.
const (
	tokenKindPending = "pending_login"
	pendingLifetime  = 5 * time.Minute
)

// Errors of the login flow.
var (
	// errSecondFactor: the password was right; a second step must follow.
	errSecondFactor = errors.New("a second factor is required")
	// errEnrollRequired: the password was right, 2FA is mandatory and the
	// user has no second factor yet: they must set one up first.
	errEnrollRequired = errors.New("two-factor authentication is required: set up a second factor to continue")
	// errNoPending: no (live) pending login in the request.
	errNoPending = errors.New("no sign-in in progress: start again with your password")
)

func (s secondStepUI) pendingCookieName() string { return cookiePending.name(s.cookie) }

// pending is a half-finished login.
type pending struct {
	hash     [32]byte
	user     *store.User
	remember bool
	// enroll: the user must set up a second factor before finishing.
	enroll bool
	// first lists the methods already passed (e.g. password).
	first []string
}

// beginSecondStep records a pending login for u and sets its cookie.
func (s secondStepUI) beginSecondStep(w http.ResponseWriter, u *store.User, remember, enroll bool, first []string) error {
	secret, hash := core.NewLinkSecret()
	now := s.now()
	t := &store.Token{Kind: tokenKindPending, Hash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(pendingLifetime),
		Data: map[string]string{"remember": strconv.FormatBool(remember), "enroll": strconv.FormatBool(enroll),
			"first": strings.Join(first, ","), "password": passwordStamp(u)}}
	if err := s.store.PutToken(t); err != nil {
		return fmt.Errorf("portal: store pending login: %w", err)
	}
	cookiePending.set(w, s.cookie, secret)
	return nil
}

// passwordStamp identifies the password a pending login's first step saw:
// when it was last changed. A pending login whose stamp is no longer the
// user's is void.
func passwordStamp(u *store.User) string {
	return u.PasswordChangedAt.UTC().Format(time.RFC3339Nano)
}

// pendingOf returns the request's pending login, or errNoPending.
func (s secondStepUI) pendingOf(r *http.Request) (*pending, error) {
	v, ok := cookiePending.read(r, s.cookie)
	if !ok {
		return nil, errNoPending
	}
	hash, ok := core.LinkHash(v)
	if !ok {
		return nil, errNoPending
	}
	t, err := s.store.Token(tokenKindPending, hash)
	if err != nil {
		return nil, errNoPending
	}
	u, err := s.store.User(t.UserID)
	if err != nil || !core.UserActive(u, s.now()) || t.Data["password"] != passwordStamp(u) {
		// Gone, disabled, or the password changed since the first step.
		return nil, errNoPending
	}
	p := &pending{hash: hash, user: u, remember: t.Data["remember"] == "true", enroll: t.Data["enroll"] == "true"}
	if f := t.Data["first"]; f != "" {
		p.first = strings.Split(f, ",")
	}
	return p, nil
}

// stepUpPending turns a signed-in one-factor session into a pending login,
// so a user sent to step up for an app proves a second factor without
// typing the password again.
func (s secondStepUI) stepUpPending(w http.ResponseWriter, r *http.Request) (*pending, error) {
	c, res := s.callerOf(r)
	if res != resolvedOK || c.Session.SecondFactor || c.Impersonating() {
		return nil, errNoPending
	}
	m, err := s.store.MFA(c.User.ID)
	if err != nil {
		return nil, err
	}
	if !m.Active() {
		return nil, errNoPending
	}
	if err := s.beginSecondStep(w, c.User, c.Session.Remember, false, c.Session.Methods); err != nil {
		return nil, err
	}
	return &pending{user: c.User, remember: c.Session.Remember, first: c.Session.Methods}, nil
}

// finishLogin spends the pending login and starts the full session.
func (s secondStepUI) finishLogin(w http.ResponseWriter, r *http.Request, p *pending, method string) (*store.User, error) {
	if p.hash != ([32]byte{}) {
		if _, err := s.store.ConsumeToken(tokenKindPending, p.hash); err != nil {
			return nil, errNoPending
		}
	} else if err := s.consumePendingCookie(r); err != nil {
		return nil, err
	}
	cookiePending.clear(w, s.cookie)
	methods := append(append([]string{}, p.first...), method)
	if _, err := s.startFullSession(w, r, p.user, p.remember, methods, true); err != nil {
		if errors.Is(err, core.ErrPasswordChanged) {
			return nil, errNoPending
		}
		return nil, fmt.Errorf("portal: start session: %w", err)
	}
	// The sign-in is complete: only now do the failures of whoever judged
	// it (this trusted device, or the account) stop counting, and only now
	// does the browser become a trusted device of the user.
	s.core.Auth.ClearFailures(p.user, s.core.Auth.TrustedDevice(s.clientActor(r), p.user))
	s.trustDevice(w, r, p.user)
	attemptSucceeded(r.Context())
	s.core.Audit(s.requestActor(r), store.Event{Actor: p.user.Username, Action: core.ActionLogin, Resource: "user:" + p.user.Username,
		Outcome: outcomeSuccess, Reason: strings.Join(methods, " + ")})
	return p.user, nil
}

// consumePendingCookie spends the pending login named by the request's
// cookie (for a pending made by stepUpPending in the same request chain).
func (s secondStepUI) consumePendingCookie(r *http.Request) error {
	v, ok := cookiePending.read(r, s.cookie)
	if !ok {
		return errNoPending
	}
	hash, ok := core.LinkHash(v)
	if !ok {
		return errNoPending
	}
	if _, err := s.store.ConsumeToken(tokenKindPending, hash); err != nil {
		return errNoPending
	}
	return nil
}

// secondStepJudge returns who judges a second step of u's sign-in: the
// request's trusted device, or the account ("") for an untrusted client,
// and whether that one is locked out (see lockout.go).
func (s secondStepUI) secondStepJudge(a *caller, u *store.User) (device string, locked bool, err error) {
	device = s.core.Auth.TrustedDevice(a, u)
	locked, err = s.core.Auth.LockedFor(u, device)
	return device, locked, err
}

// secondStep checks a TOTP or backup code for a pending login and, when
// right, finishes it. Wrong codes count toward the lockout like wrong
// passwords (the right password before them cleared nothing), and a
// locked account (or trusted device) is refused like a wrong code.
func (s secondStepUI) secondStep(w http.ResponseWriter, r *http.Request, p *pending, method, code string) (*store.User, error) {
	if p.enroll {
		return nil, errEnrollRequired
	}
	device, locked, err := s.secondStepJudge(s.clientActor(r), p.user)
	if err != nil {
		return nil, err
	}
	if !locked {
		switch method {
		case core.MethodTOTP:
			err = s.core.Auth.CheckTOTP(p.user, code)
		case core.MethodBackupCode:
			err = s.core.Auth.UseBackupCode(s.requestActor(r), p.user, code)
		default:
			return nil, inputErr("method", "must be totp or backup_code")
		}
	}
	if locked || err != nil {
		if !locked && !errors.Is(err, core.ErrBadCode) && !errors.Is(err, core.ErrNoFactor) {
			return nil, fmt.Errorf("portal: second step: %w", err)
		}
		reason := method + ": wrong code"
		switch {
		case locked && device != "":
			reason = "device locked"
		case locked:
			reason = "account locked"
		default:
			s.core.Auth.RecordFailureFor(s.requestActor(r), p.user, device, s.now())
		}
		if device != "" {
			reason += " (trusted " + core.DeviceLabel(device) + ")"
		}
		s.core.Audit(s.requestActor(r), store.Event{Actor: p.user.Username, Action: core.ActionSecondFactor, Resource: "user:" + p.user.Username,
			Outcome: outcomeFailure, Reason: reason})
		return nil, core.ErrBadCode
	}
	return s.finishLogin(w, r, p, method)
}

// startFullSession is startSession with how the user signed in.
func (s secondStepUI) startFullSession(w http.ResponseWriter, r *http.Request, u *store.User, remember bool, methods []string, second bool) (store.Session, error) {
	return s.startSessionWith(w, r, u, remember, func(sess *store.Session) {
		sess.Methods, sess.SecondFactor = methods, second
	})
}
