package portal

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// signIn authenticates and starts a session; it is shared by the login form
// and POST /api/v1/login.
//
// When the user has a second factor, or 2FA is mandatory and they have
// none yet, no session starts: a pending login is recorded and signIn
// returns the user with core.ErrSecondFactor or core.ErrEnrollRequired.
func (s signInUI) signIn(w http.ResponseWriter, r *http.Request, login, pw string, remember bool) (*store.User, error) {
	u, tempBy, device, err := s.core.Auth.Authenticate(r.Context(), s.requestActor(r), login, pw)
	if err != nil {
		if errors.Is(err, ErrBusy) {
			// Held like a throttled attempt: under a flood from many
			// addresses each connection then costs a busy answer a second,
			// not hundreds, and the proxy keeps the CPU.
			s.throttle.hold(r)
		}
		return nil, err
	}
	attemptSucceeded(r.Context())
	first, reason := []string{core.MethodPassword}, "password"
	if tempBy != "" {
		first, reason = []string{core.MethodTempPassword}, "temporary password made by "+tempBy
	}
	secret, err := s.core.Auth.AfterPassword(u, remember, first)
	switch {
	case errors.Is(err, core.ErrSecondFactor), errors.Is(err, core.ErrEnrollRequired):
		cookiePending.set(w, s.cookie, secret)
		s.endSessions(r) // an older session in this browser does not survive a new sign-in
		return u, err
	case err != nil:
		return nil, err
	}
	if _, err := s.startSessionWith(w, r, u, remember, func(sess *store.Session) { sess.Methods = first }); err != nil {
		if errors.Is(err, core.ErrPasswordChanged) {
			s.core.Audit(s.requestActor(r), store.Event{Actor: u.Username, Action: core.ActionLogin, Resource: "user:" + u.Username,
				Outcome: outcomeFailure, Reason: "the password was changed during sign-in"})
			return nil, core.ErrBadCredentials
		}
		return nil, fmt.Errorf("portal: start session: %w", err)
	}
	s.core.Auth.ClearFailures(u, device)
	s.trustDevice(w, r, u)
	if remember {
		reason += ", remember me"
	}
	s.core.Audit(s.requestActor(r), store.Event{Actor: u.Username, Action: core.ActionLogin, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: reason})
	return u, nil
}

// signOut ends the request's sessions and clears the cookie.
func (s signInUI) signOut(w http.ResponseWriter, r *http.Request) {
	for _, sess := range s.endSessions(r) {
		actor := ""
		if u, err := s.store.User(sess.UserID); err == nil {
			actor = u.Username
		}
		s.core.Audit(s.requestActor(r), store.Event{Actor: actor, Impersonator: sess.ImpersonatorName, Action: core.ActionLogout, Resource: "user:" + actor, Outcome: outcomeSuccess})
	}
	s.usersUI().endActorSession(w, r)
	http.SetCookie(w, s.cookie.clear())
}

// cleanReturn returns where to go after sign-in: rd when it is an allowed
// target, the portal home otherwise.
func (s signInUI) cleanReturn(rd string) string {
	if rd == "" {
		return s.portal.String() + "/"
	}
	if u, ok := s.core.Access.RedirectPolicy().Clean(rd); ok {
		return u
	}
	return s.portal.String() + "/"
}
