package core

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/store"
)

// enforce2FA ends every session of the users without a second factor; it
// runs when an admin makes 2FA mandatory.
func (s *Auth) enforce2FA(ctx context.Context) (int, error) {
	n := 0
	var firstErr error
	err := s.Users.EachUser(func(u *store.User) {
		if ctx.Err() != nil {
			return
		}
		m, err := s.store.MFA(u.ID)
		if err == nil && m.Active() {
			return
		}
		k, err := s.store.DeleteUserSessions(u.ID)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		n += k
	})
	if err == nil {
		err = firstErr
	}
	return n, err
}

// How a session was authenticated (store.Session.Methods).
const (
	MethodPassword   = "password"
	MethodTOTP       = "totp"
	MethodWebAuthn   = "webauthn"
	MethodPasskey    = "passkey"
	MethodBackupCode = "backup_code"
	MethodOwnerLink  = "owner-login"
)
