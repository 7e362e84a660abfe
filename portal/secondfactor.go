package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

func (s secondStepUI) pendingCookieName() string { return cookiePending.name(s.cookie) }

// pending is a half-finished login (core.Pending).
type pending = core.Pending

// beginSecondStep records a pending login for u and sets its cookie.
func (s secondStepUI) beginSecondStep(w http.ResponseWriter, u *store.User, remember, enroll bool, first []string) error {
	secret, err := s.core.Auth.BeginSecondStep(u, remember, enroll, first)
	if err != nil {
		return err
	}
	cookiePending.set(w, s.cookie, secret)
	return nil
}

// pendingOf returns the request's pending login, or core.ErrNoPending.
func (s secondStepUI) pendingOf(r *http.Request) (*pending, error) {
	v, ok := cookiePending.read(r, s.cookie)
	if !ok {
		return nil, core.ErrNoPending
	}
	return s.core.Auth.Pending(v)
}

// stepUpPending turns a signed-in one-factor session into a pending login,
// so a user sent to step up for an app proves a second factor without
// typing the password again.
func (s secondStepUI) stepUpPending(w http.ResponseWriter, r *http.Request) (*pending, error) {
	c, res := s.callerOf(r)
	if res != resolvedOK || c.Session.SecondFactor || c.Impersonating() {
		return nil, core.ErrNoPending
	}
	m, err := s.store.MFA(c.User.ID)
	if err != nil {
		return nil, err
	}
	if !m.Active() {
		return nil, core.ErrNoPending
	}
	if err := s.beginSecondStep(w, c.User, c.Session.Remember, false, c.Session.Methods); err != nil {
		return nil, err
	}
	return &pending{User: c.User, Remember: c.Session.Remember, First: c.Session.Methods}, nil
}

// finishLogin spends the pending login and starts the full session.
func (s secondStepUI) finishLogin(w http.ResponseWriter, r *http.Request, p *pending, method string) (*store.User, error) {
	if p.Hash != ([32]byte{}) {
		if err := s.core.Auth.ConsumePending(p.Hash); err != nil {
			return nil, err
		}
	} else if err := s.consumePendingCookie(r); err != nil {
		return nil, err
	}
	cookiePending.clear(w, s.cookie)
	methods := append(append([]string{}, p.First...), method)
	if _, err := s.startFullSession(w, r, p.User, p.Remember, methods, true); err != nil {
		if errors.Is(err, core.ErrPasswordChanged) {
			return nil, core.ErrNoPending
		}
		return nil, fmt.Errorf("portal: start session: %w", err)
	}
	// The sign-in is complete: only now do the failures of whoever judged
	// it (this trusted device, or the account) stop counting, and only now
	// does the browser become a trusted device of the user.
	s.core.Auth.ClearFailures(p.User, s.core.Auth.TrustedDevice(s.clientActor(r), p.User))
	s.trustDevice(w, r, p.User)
	attemptSucceeded(r.Context())
	s.core.Metrics().SecondFactor(method, "success")
	s.core.Audit(s.requestActor(r), store.Event{Actor: p.User.Username, Action: core.ActionLogin, Resource: "user:" + p.User.Username,
		Outcome: outcomeSuccess, Reason: strings.Join(methods, " + ")})
	return p.User, nil
}

// consumePendingCookie spends the pending login named by the request's
// cookie (for a pending made by stepUpPending in the same request chain).
func (s secondStepUI) consumePendingCookie(r *http.Request) error {
	v, ok := cookiePending.read(r, s.cookie)
	if !ok {
		return core.ErrNoPending
	}
	hash, ok := core.LinkHash(v)
	if !ok {
		return core.ErrNoPending
	}
	return s.core.Auth.ConsumePending(hash)
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
	if p.Enroll {
		return nil, core.ErrEnrollRequired
	}
	device, locked, err := s.secondStepJudge(s.clientActor(r), p.User)
	if err != nil {
		return nil, err
	}
	if !locked {
		switch method {
		case core.MethodTOTP:
			err = s.core.Auth.CheckTOTP(p.User, code)
		case core.MethodBackupCode:
			err = s.core.Auth.UseBackupCode(s.requestActor(r), p.User, code)
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
			if err := s.core.Auth.RecordFailureFor(s.requestActor(r), p.User, device, s.now()); err != nil {
				return nil, err
			}
		}
		if device != "" {
			reason += " (trusted " + core.DeviceLabel(device) + ")"
		}
		s.core.Audit(s.requestActor(r), store.Event{Actor: p.User.Username, Action: core.ActionSecondFactor, Resource: "user:" + p.User.Username,
			Outcome: outcomeFailure, Reason: reason})
		s.core.Metrics().SecondFactor(method, "failure")
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
