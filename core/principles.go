package core

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// FreshWindow is how long after signing in a session counts as freshly
// proven: within it, factor changes Need no current password.
const FreshWindow = 10 * time.Minute

// ActionCredentialRefused is the audit action of a credential change
// refused by a route policy.
const ActionCredentialRefused = "credential.refused"

// Self-service routes the admin credential routes point the caller to.
const (
	SelfPassword = "to change your own password, use POST /api/v1/me/password (the Password form on your profile page)"
	SelfFactors  = "to change your own second factors, use /api/v1/me/totp and /api/v1/me/webauthn (your profile page)"
)

// mayChangeCredentials is principle 2 inside the service, behind the
// route table: c may set u's password or second factors, or make u a reset
// link or temporary password, only as a person (no API key), acting as
// themselves (no impersonation), on someone else (self names the
// self-service call).
func mayChangeCredentials(c *Actor, u *store.User, self string) error {
	switch {
	case c.Key != nil:
		return fmt.Errorf("%w: API keys cannot change passwords, second factors or keys: sign in to the portal to do this", ErrForbidden)
	case c.Impersonating():
		return ErrImpersonating
	case c.User.ID != "" && c.User.ID == u.ID:
		return fmt.Errorf("%w: this is your own account: %s", ErrForbidden, self)
	}
	return nil
}

var (
	ErrNotFresh = errors.New("confirm your current password: send current_password (or a code from your authenticator app as code), or sign in again")
	ErrBadProof = errors.New("confirm your current password: the password or code is not correct")
)
