package core

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/store"
)

// BindPassword is a sign-in with the account password through a surface
// that has no second step: the directory server's binds (and, later, HTTP
// Basic). It is Authenticate — the same argon2id check, lockout and audit
// — and then refuses what a password alone must not open there:
//   - a user with a second factor, or anyone while two-factor
//     authentication is mandatory (the password alone would bypass it:
//     such users bind with an app password);
//   - a temporary password (made for signing in to the portal once and
//     choosing a password there);
//   - an expired password;
//   - when app is not nil, a user that app's access rules keep out.
//
// Every refusal is ErrBadCredentials, the same as a wrong password, with
// the reason in the audit log. A successful bind clears the account's
// failures and is audited as a login.
func (s *Auth) BindPassword(ctx context.Context, a *Actor, login, pw string, app *App) (*store.User, error) {
	u, tempBy, _, err := s.Authenticate(ctx, a, login, pw)
	if err != nil {
		return nil, err
	}
	fail := func(reason string) (*store.User, error) {
		s.Audit(a, store.Event{Actor: u.Username, Action: ActionLogin, Resource: "user:" + u.Username,
			Outcome: OutcomeFailure, Reason: reason})
		return nil, ErrBadCredentials
	}
	if tempBy != "" {
		return fail("a temporary password cannot be used here: sign in to the portal and choose a password")
	}
	m, err := s.store.MFA(u.ID)
	if err != nil {
		return nil, fmt.Errorf("core: read second factors: %w", err)
	}
	switch {
	case m.Active():
		return fail("the account has a second factor: a password alone does not sign in here (use an app password)")
	case s.Settings().Require2FA:
		return fail("two-factor authentication is mandatory: a password alone does not sign in here (use an app password)")
	case s.PasswordExpired(u.PasswordChangedAt):
		return fail("the password has expired: change it in the portal")
	}
	if app != nil {
		if acct := store.AccountOf(u); !s.Access.Admits(app, &acct) {
			return fail("not allowed into app " + app.Name)
		}
	}
	s.ClearFailures(u, "")
	s.Audit(a, store.Event{Actor: u.Username, Action: ActionLogin, Resource: "user:" + u.Username,
		Outcome: OutcomeSuccess, Reason: "password (bind)"})
	return u, nil
}

// BindAppPassword is a bind with an app password instead of the account
// password: CheckAppPassword (a keyed hash, no argon2id; a password made
// for one app works only where app is that app), then app's access rules
// when the bind is for an app (nil: none). It is how users with a second
// factor bind. Every refusal is ErrBadCredentials, audited with its
// reason; a right password does not clear the account's failures (see
// CheckAppPassword).
func (s *Auth) BindAppPassword(a *Actor, login, secret string, app *App) (*store.User, error) {
	appName := ""
	if app != nil {
		appName = app.Name
	}
	u, err := s.Credentials.CheckAppPassword(a, login, secret, appName)
	if err != nil {
		return nil, err
	}
	if app != nil {
		if acct := store.AccountOf(u); !s.Access.Admits(app, &acct) {
			s.Audit(a, store.Event{Actor: u.Username, Action: ActionLogin, Resource: "user:" + u.Username,
				Outcome: OutcomeFailure, Reason: "app password: not allowed into app " + app.Name})
			return nil, ErrBadCredentials
		}
	}
	return u, nil
}
