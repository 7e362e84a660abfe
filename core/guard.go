package core

import (
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Outcome is what the guard must do with a request.
type Outcome uint8

// The outcomes of the guard's check.
const (
	// Allow: identity headers are set; pass the request on.
	Allow Outcome = iota
	// SignIn: no usable session; send browsers to the login page, 401 others.
	SignIn
	// Deny: signed in but not allowed into this app: 403.
	Deny
	// Unavailable: the store failed; fail closed with 503.
	Unavailable
	// ChangePassword: the user's password is older than the password
	// expiry setting; send browsers to the portal to change it, 403 others.
	ChangePassword
	// StepUp: the app requires a second factor and the session has none;
	// send browsers to the portal's second step, 403 others.
	StepUp
	// Throttled: too many failed attempts from the client's address (an
	// app password over HTTP Basic): 429.
	Throttled
)

// Verdict is the result of the guard's check.
type Verdict struct {
	Outcome Outcome
	// User is the signed-in user's account (Allow, Deny, StepUp and
	// ChangePassword); zero otherwise.
	User store.Account
	// Reason explains an Allow or Deny.
	Reason policies.Reason
	// Realm, on a SignIn for a client that is not a browser, names the
	// app whose guard takes app passwords over HTTP Basic: the refusal
	// carries a Basic challenge with it. "" otherwise.
	Realm string
}

// Decide is the guard's decision for the account u reaching app, from a
// session that did (secondFactor) or did not use a second factor, or from
// an API key (never a second factor). It reads only memory: the front
// doors that protect apps (the Caddy guard, forward-auth) call it on every
// request.
func (s *Access) Decide(u *store.Account, app *App, secondFactor bool) Verdict {
	if s.PasswordExpired(u.PasswordChangedAt) {
		return Verdict{Outcome: ChangePassword, User: *u}
	}
	d := app.Access().Decide(s.SubjectOf(u))
	if !d.Allow {
		return Verdict{Outcome: Deny, User: *u, Reason: d.Reason}
	}
	if !secondFactor && app.RequiresSecondFactor() {
		return Verdict{Outcome: StepUp, User: *u, Reason: d.Reason}
	}
	return Verdict{Outcome: Allow, User: *u, Reason: d.Reason}
}

// CheckKeyAccess is Decide for a request of a carrying the API key k
// instead of a session: the key's owner is let in when the key is live,
// its scope includes app and the owner may use app. Apps that require a
// second factor do not take keys.
func (s *Credentials) CheckKeyAccess(a *Actor, k string, app *App, now time.Time) Verdict {
	key, owner, err := s.CheckKey(a, k, now)
	if err != nil {
		if errors.Is(err, ErrBadKey) {
			return Verdict{Outcome: SignIn}
		}
		return Verdict{Outcome: Unavailable}
	}
	acct := store.AccountOf(owner)
	if !KeyReachesApp(&key, app.Name) {
		return Verdict{Outcome: Deny, User: acct}
	}
	return s.Access.Decide(&acct, app, false)
}

// CheckAppPasswordAccess is Decide for a request of a carrying an app
// password over HTTP Basic (login and secret) at now instead of a session: the
// password's owner is let in when CheckAppPassword takes the password for
// app (every refusal there is SignIn, audited with its reason and counted
// toward the account's lockout) and app's rules let the owner in. The
// caller checks first that app takes app passwords.
//
// An app password is not a second factor: it is a standing secret made
// once from a portal session, so an app that requires a second factor
// answers StepUp, as it does for API keys (the guard tells the client so
// with a 403). A right password kept out (Deny, StepUp, ChangePassword) is
// audited too.
//
// A secret that is not shaped like an app password (the account password,
// most likely) is never checked — HTTP Basic takes app passwords only —
// and is audited but not counted toward the account's lockout: it cannot
// be a guess at an app password, and a client set up with the account
// password must not lock its owner out of the portal (the guard's
// per-address throttle still counts it).
func (s *Credentials) CheckAppPasswordAccess(a *Actor, login, secret string, app *App, now time.Time) Verdict {
	if !LooksLikeAppPassword(secret) {
		s.notAnAppPassword(a, login, app)
		return Verdict{Outcome: SignIn}
	}
	acct, err := s.checkAppPassword(a, login, secret, app.Name, now)
	if err != nil {
		if errors.Is(err, ErrBadCredentials) {
			return Verdict{Outcome: SignIn}
		}
		return Verdict{Outcome: Unavailable}
	}
	v := s.Access.Decide(&acct, app, false)
	reason := ""
	switch v.Outcome {
	case Deny:
		reason = "not allowed into app " + app.Name
	case StepUp:
		reason = "app " + app.Name + " requires a second factor, which an app password is not"
	case ChangePassword:
		reason = "the account password has expired (app " + app.Name + ")"
	}
	if reason != "" {
		s.Audit(a, store.Event{Actor: acct.Username, Action: ActionAppPasswordUse, Resource: "user:" + acct.Username,
			Outcome: OutcomeFailure, Reason: reason})
	}
	return v
}

// notAnAppPassword audits a secret sent over HTTP Basic to app that is not
// an app password, naming the account login names when there is one.
func (s *Credentials) notAnAppPassword(a *Actor, login string, app *App) {
	actor := policies.NormalizeUsername(Truncate(login, 320))
	switch {
	case LooksLikeAppPassword(login):
		actor = "(an app password as the login)"
	case strings.Contains(login, "@"):
		if u, err := s.store.UserByEmail(login); err == nil {
			actor = u.Username
		}
	}
	s.Audit(a, store.Event{Actor: actor, Action: ActionAppPasswordUse, Outcome: OutcomeFailure,
		Reason: "not an app password: HTTP Basic takes app passwords only, never the account password (app " + app.Name + ")"})
	s.metrics.AppPasswordUse("failure")
}
