package core

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// ErrBadCredentials is the one answer to every failed sign-in, whatever the
// cause (unknown user, wrong password, disabled or expired account), so the
// answer tells an attacker nothing.
var ErrBadCredentials = errors.New("incorrect username or password")

// maxPasswordLen bounds what is hashed at login, whatever the rules say.
const maxPasswordLen = 1024

// Authenticate checks a username (or email address) and password. A
// directory user's password is checked by the external directory, and a
// login no account answers to is tried there too (directory_signin.go):
// the answer is then ErrDirectoryUnavailable when the directory cannot be
// reached. Local accounts never reach the directory. The
// password may also be one of the user's temporary passwords
// (temppassword.go), which is then spent and whose maker is returned as
// tempBy ("" for the user's own password). Every failure costs at least one
// password verification and returns ErrBadCredentials; the audit log keeps
// the real reason.
//
// The attempt is judged by the request's trusted device for the user
// (device, see devicecookies.go) when it has one, else by the account: a
// locked device or, for an untrusted client, a locked account is refused,
// and a wrong password counts against the one that judged it. A right
// password clears no failures (a second step may still fail); signIn and
// finishLogin clear them once the sign-in is complete.
func (s *Auth) Authenticate(ctx context.Context, a *Actor, login, pw string) (u *store.User, tempBy, device string, err error) {
	method, locked := MethodPassword, false
	defer func() { s.metrics.SignIn(signInMetric(a, method, tempBy), signInResult(err, locked)) }()
	login = strings.TrimSpace(login)
	if len(pw) > maxPasswordLen {
		pw = pw[:maxPasswordLen]
	}
	fail := func(reason string) (*store.User, string, string, error) {
		if device != "" {
			reason += " (trusted " + DeviceLabel(device) + ")"
		}
		s.Audit(a, store.Event{Actor: policies.NormalizeUsername(login), Action: ActionLogin,
			Outcome: OutcomeFailure, Reason: reason})
		return nil, "", "", ErrBadCredentials
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
			return nil, "", "", storeDown("look up user", err)
		}
		if s.Directory.Enabled() {
			method = metricDirectory
			return s.Directory.authenticateNew(ctx, a, login, pw, fail)
		}
		if _, err := s.hasher.VerifyUnknown(ctx, pw); err != nil {
			return nil, "", "", s.BusyOr(err)
		}
		return fail("unknown user")
	}
	device = s.TrustedDevice(a, u)
	if s.Directory.Manages(u) {
		method = metricDirectory
	}
	if locked, err = s.LockedFor(u, device); err != nil {
		return nil, "", "", err
	} else if locked {
		if _, err := s.hasher.VerifyUnknown(ctx, pw); err != nil {
			locked = false
			return nil, "", "", s.BusyOr(err)
		}
		if device != "" {
			return fail("device locked")
		}
		return fail("account locked")
	}
	if s.Directory.Manages(u) {
		// The directory checks the password; no local password or
		// temporary password works for a directory user.
		return s.Directory.authenticate(ctx, a, u, device, pw, fail)
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
			return nil, "", "", s.BusyOr(err)
		}
	}
	var temp *store.Token
	if !ok {
		var n int
		temp, n, err = s.Credentials.matchTempPassword(ctx, a, u, pw)
		verified += n
		if err != nil {
			return nil, "", "", s.BusyOr(err)
		}
		ok = temp != nil
	}
	if verified == 0 {
		// No password and no temporary one: cost the same as a check.
		if _, err := s.hasher.VerifyUnknown(ctx, pw); err != nil {
			return nil, "", "", s.BusyOr(err)
		}
		return fail("no password set")
	}
	switch now := s.now(); {
	case !ok && malformed:
		return fail("unusable password hash")
	case !ok:
		if err := s.RecordFailureFor(a, u, device, now); err != nil {
			return nil, "", "", err
		}
		return fail("wrong password")
	case u.Disabled:
		return fail("account disabled")
	case !UserActive(u, now):
		return fail("account expired")
	}
	var newHash string
	if temp != nil {
		// Spend it: of two sign-ins racing with it, only one gets in.
		if _, err := s.store.ConsumeToken(tokenKindTempPassword, temp.Hash); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fail("temporary password already used")
			}
			return nil, "", "", fmt.Errorf("core: use temporary password: %w", err)
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
		if err := SamePassword(u)(x); err != nil {
			return err
		}
		x.LastLoginAt = s.now()
		if newHash != "" && x.PasswordHash == u.PasswordHash {
			x.PasswordHash = newHash
		}
		return nil
	})
	if errors.Is(err, ErrPasswordChanged) {
		return fail("the password was changed during sign-in")
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("core: record login: %w", err)
	}
	return updated, tempBy, device, nil
}

// metricDirectory is the sign-in method of gatehouse_sign_ins_total for a
// password checked by the external directory.
const metricDirectory = "directory"

// signInMetric is the method label of a password sign-in: ldap for a
// bind to the directory server, temp_password when a temporary password
// was used (tempBy set), else method.
func signInMetric(a *Actor, method, tempBy string) string {
	switch {
	case a != nil && a.Via == ViaLDAP:
		return "ldap"
	case tempBy != "":
		return MethodTempPassword
	}
	return method
}

// signInResult is the result label of a sign-in that ended with err:
// success, locked (refused because the account or device is locked),
// busy (the hashing pool was full), failure (bad credentials) or other
// (an internal error).
func signInResult(err error, locked bool) string {
	switch {
	case err == nil:
		return "success"
	case locked:
		return "locked"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrBadCredentials):
		return "failure"
	}
	return "other"
}

// BusyOr maps a full hashing pool to ErrBusy and wraps anything else.
func (s *Auth) BusyOr(err error) error {
	if errors.Is(err, password.ErrBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ErrBusy
	}
	return fmt.Errorf("core: password hashing: %w", err)
}
