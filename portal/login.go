package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/portal/password"
	"github.com/gatehouse-auth/gatehouse/store"
)

// errBadCredentials is the one answer to every failed sign-in, whatever the
// cause (unknown user, wrong password, disabled or expired account), so the
// answer tells an attacker nothing.
var errBadCredentials = errors.New("incorrect username or password")

// maxPasswordLen bounds what is hashed at login, whatever the rules say.
const maxPasswordLen = 1024

// authenticate checks a username (or email address) and password. The
// password may also be one of the user's temporary passwords
// (temppassword.go), which is then spent and whose maker is returned as
// tempBy ("" for the user's own password). Every failure costs at least one
// password verification and returns errBadCredentials; the audit log keeps
// the real reason.
//
// The attempt is judged by the request's trusted device for the user
// (device, see devicecookies.go) when it has one, else by the account: a
// locked device or, for an untrusted client, a locked account is refused,
// and a wrong password counts against the one that judged it. A right
// password clears no failures (a second step may still fail); signIn and
// finishLogin clear them once the sign-in is complete.
func (s *Service) authenticate(ctx context.Context, a *caller, login, pw string) (u *store.User, tempBy, device string, err error) {
	login = strings.TrimSpace(login)
	if len(pw) > maxPasswordLen {
		pw = pw[:maxPasswordLen]
	}
	fail := func(reason string) (*store.User, string, string, error) {
		if device != "" {
			reason += " (trusted " + deviceLabel(device) + ")"
		}
		s.core.Audit(a, store.Event{Actor: policies.NormalizeUsername(login), Action: actionLogin,
			Outcome: outcomeFailure, Reason: reason})
		return nil, "", "", errBadCredentials
	}
	switch {
	case login == "":
		err = store.ErrNotFound
	case strings.Contains(login, "@"):
		u, err = s.store.UserByEmail(login)
	default:
		u, err = s.store.UserByUsername(policies.NormalizeUsername(login))
	}
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, "", "", fmt.Errorf("portal: look up user: %w", err)
		}
		if _, err := s.hasher.VerifyUnknown(ctx, pw); err != nil {
			return nil, "", "", s.busyOr(err)
		}
		return fail("unknown user")
	}
	device = s.trustedDevice(a, u)
	if locked, err := s.lockedFor(u, device); err != nil {
		return nil, "", "", err
	} else if locked {
		if _, err := s.hasher.VerifyUnknown(ctx, pw); err != nil {
			return nil, "", "", s.busyOr(err)
		}
		if device != "" {
			return fail("device locked")
		}
		return fail("account locked")
	}
	ok, verified, malformed := false, 0, false
	if u.PasswordHash != "" {
		ok, err = s.hasher.Verify(ctx, pw, u.PasswordHash)
		verified++
		if errors.Is(err, password.ErrMalformedHash) {
			s.log.Error("stored password hash is malformed", "user", u.Username)
			ok, err, malformed = false, nil, true
		}
		if err != nil {
			return nil, "", "", s.busyOr(err)
		}
	}
	var temp *store.Token
	if !ok {
		var n int
		temp, n, err = s.matchTempPassword(ctx, u, pw)
		verified += n
		if err != nil {
			return nil, "", "", s.busyOr(err)
		}
		ok = temp != nil
	}
	if verified == 0 {
		// No password and no temporary one: cost the same as a check.
		if _, err := s.hasher.VerifyUnknown(ctx, pw); err != nil {
			return nil, "", "", s.busyOr(err)
		}
		return fail("no password set")
	}
	switch now := s.now(); {
	case !ok && malformed:
		return fail("unusable password hash")
	case !ok:
		s.recordFailureFor(a, u, device, now)
		return fail("wrong password")
	case u.Disabled:
		return fail("account disabled")
	case !userActive(u, now):
		return fail("account expired")
	}
	var newHash string
	if temp != nil {
		// Spend it: of two sign-ins racing with it, only one gets in.
		if _, err := s.store.ConsumeToken(tokenKindTempPassword, temp.Hash); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fail("temporary password already used")
			}
			return nil, "", "", fmt.Errorf("portal: use temporary password: %w", err)
		}
		tempBy = temp.Data["by"]
		if tempBy == "" {
			tempBy = "an administrator"
		}
	} else if s.hasher.NeedsRehash(u.PasswordHash) {
		if newHash, err = s.hasher.Hash(ctx, pw); err != nil {
			newHash = ""
		}
	}
	updated, err := s.store.UpdateUser(u.ID, func(x *store.User) error {
		// The password checked above must still be the user's: a change
		// that committed while it was being hashed ends every session,
		// and this sign-in used the old password.
		if err := samePassword(u)(x); err != nil {
			return err
		}
		x.LastLoginAt = s.now()
		if newHash != "" && x.PasswordHash == u.PasswordHash {
			x.PasswordHash = newHash
		}
		return nil
	})
	if errors.Is(err, errPasswordChanged) {
		return fail("the password was changed during sign-in")
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("portal: record login: %w", err)
	}
	return updated, tempBy, device, nil
}

// signIn authenticates and starts a session; it is shared by the login form
// and POST /api/v1/login.
//
// When the user has a second factor, or 2FA is mandatory and they have
// none yet, no session starts: a pending login is recorded and signIn
// returns the user with errSecondFactor or errEnrollRequired.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request, login, pw string, remember bool) (*store.User, error) {
	u, tempBy, device, err := s.authenticate(r.Context(), s.requestActor(r), login, pw)
	if err != nil {
		if errors.Is(err, ErrBusy) {
			// Held like a throttled attempt: under a flood from many
			// addresses each connection then costs a busy answer a second,
			// not hundreds, and the proxy keeps the CPU.
			s.throttle.hold(r)
		}
		return nil, err
	}
	attemptSucceeded(r)
	first, reason := []string{methodPassword}, "password"
	if tempBy != "" {
		first, reason = []string{methodTempPassword}, "temporary password made by "+tempBy
	}
	m, err := s.store.MFA(u.ID)
	if err != nil {
		return nil, fmt.Errorf("portal: read second factors: %w", err)
	}
	switch {
	case m.Active():
		if err := s.beginSecondStep(w, u, remember, false, first); err != nil {
			return nil, err
		}
		s.endSessions(r) // an older session in this browser does not survive a new sign-in
		return u, errSecondFactor
	case s.cfg().Require2FA:
		if err := s.beginSecondStep(w, u, remember, true, first); err != nil {
			return nil, err
		}
		s.endSessions(r)
		return u, errEnrollRequired
	}
	if _, err := s.startSessionWith(w, r, u, remember, func(sess *store.Session) { sess.Methods = first }); err != nil {
		if errors.Is(err, errPasswordChanged) {
			s.audit(r, store.Event{Actor: u.Username, Action: actionLogin, Resource: "user:" + u.Username,
				Outcome: outcomeFailure, Reason: "the password was changed during sign-in"})
			return nil, errBadCredentials
		}
		return nil, fmt.Errorf("portal: start session: %w", err)
	}
	s.clearFailures(u, device)
	s.trustDevice(w, r, u)
	if remember {
		reason += ", remember me"
	}
	s.audit(r, store.Event{Actor: u.Username, Action: actionLogin, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: reason})
	return u, nil
}

// busyOr maps a full hashing pool to ErrBusy and wraps anything else.
func (s *Service) busyOr(err error) error {
	if errors.Is(err, password.ErrBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ErrBusy
	}
	return fmt.Errorf("portal: password hashing: %w", err)
}

// signOut ends the request's sessions and clears the cookie.
func (s *Service) signOut(w http.ResponseWriter, r *http.Request) {
	for _, sess := range s.endSessions(r) {
		actor := ""
		if u, err := s.store.User(sess.UserID); err == nil {
			actor = u.Username
		}
		s.audit(r, store.Event{Actor: actor, Impersonator: sess.ImpersonatorName, Action: actionLogout, Resource: "user:" + actor, Outcome: outcomeSuccess})
	}
	s.endActorSession(w, r)
	http.SetCookie(w, s.cookie.clear())
}

// cleanReturn returns where to go after sign-in: rd when it is an allowed
// target, the portal home otherwise.
func (s *Service) cleanReturn(rd string) string {
	if rd == "" {
		return s.portal.String() + "/"
	}
	if u, ok := s.redirectPolicy().Clean(rd); ok {
		return u
	}
	return s.portal.String() + "/"
}
