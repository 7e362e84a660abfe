package store

import (
	"errors"
	"fmt"
	"time"
)

// MFA holds a user's second factors. Secrets are stored as the portal
// hands them over: the TOTP secret encrypted, backup codes hashed.
type MFA struct {
	// TOTPSecret is the encrypted secret of the active authenticator app;
	// empty when TOTP is not set up.
	TOTPSecret []byte `json:"totp_secret,omitempty"`
	// TOTPPending is the encrypted secret of an enrollment not confirmed
	// yet.
	TOTPPending []byte `json:"totp_pending,omitempty"`
	// TOTPPendingSince is when the pending enrollment started.
	TOTPPendingSince time.Time `json:"totp_pending_since,omitzero"`
	// TOTPPendingFails counts the wrong codes typed to confirm the pending
	// enrollment; too many discard it.
	TOTPPendingFails int `json:"totp_pending_fails,omitempty"`
	// TOTPLastStep is the last 30-second time step whose code was
	// accepted; a code of that step or an earlier one is a replay.
	TOTPLastStep int64 `json:"totp_last_step,omitempty"`
	// TOTPSince is when TOTP was activated.
	TOTPSince time.Time `json:"totp_since,omitzero"`
	// BackupCodes are the SHA-256 (hex) of the unused backup codes.
	BackupCodes []string `json:"backup_codes,omitempty"`
	// WebAuthn lists the registered security keys and passkeys.
	WebAuthn []WebAuthnCredential `json:"webauthn,omitempty"`
}

// WebAuthnCredential is one registered security key or passkey.
type WebAuthnCredential struct {
	// ID is the credential id chosen by the authenticator.
	ID []byte `json:"id"`
	// Name is the user's label for it, e.g. "YubiKey 5".
	Name string `json:"name"`
	// PublicKey is the COSE public key.
	PublicKey []byte `json:"public_key"`
	// AttestationType is as reported at registration.
	AttestationType string `json:"attestation_type,omitempty"`
	// AAGUID identifies the authenticator model.
	AAGUID []byte `json:"aaguid,omitempty"`
	// SignCount is the last signature counter seen.
	SignCount uint32 `json:"sign_count"`
	// Transports are the transports the authenticator reported.
	Transports []string `json:"transports,omitempty"`
	// Discoverable marks a passkey (a resident credential usable without
	// a username).
	Discoverable bool `json:"discoverable,omitempty"`
	// BackupEligible and BackupState are the authenticator's flags.
	BackupEligible bool `json:"backup_eligible,omitempty"`
	BackupState    bool `json:"backup_state,omitempty"`
	// CreatedAt and LastUsedAt are when it was registered and last used.
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Active reports whether m holds any usable second factor.
func (m *MFA) Active() bool {
	return m != nil && (len(m.TOTPSecret) > 0 || len(m.WebAuthn) > 0)
}

// MFA returns the second factors of userID; a user without any gets an
// empty record, not an error.
func (s *Store) MFA(userID string) (*MFA, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	m := new(MFA)
	err := s.db.View(func(txn kvTxn) error { return get(txn, mfaKey(userID), m) })
	if errors.Is(err, ErrNotFound) {
		return new(MFA), nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: mfa of %q: %w", userID, err)
	}
	return m, nil
}

// UpdateMFA runs fn on the user's second factors (an empty record when
// there is none) and stores the result in the same transaction, so
// concurrent uses of one TOTP step or backup code cannot both succeed. An
// error from fn is returned as is and nothing is written. Durable when it
// returns.
func (s *Store) UpdateMFA(userID string, fn func(m *MFA) error) (*MFA, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if !validName(userID) {
		return nil, fmt.Errorf("store: update mfa: invalid user id %q", userID)
	}
	var out *MFA
	var fnErr error
	err := s.updateSync(func(txn kvTxn) error {
		fnErr = nil
		if ok, err := exists(txn, userKey(userID)); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		m := new(MFA)
		if err := get(txn, mfaKey(userID), m); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := fn(m); err != nil {
			fnErr = err
			return err
		}
		out = m
		return put(txn, mfaKey(userID), m)
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, fmt.Errorf("store: update mfa of %q: %w", userID, err)
	}
	return out, nil
}

// DeleteMFA removes every second factor of userID. Durable when it returns.
func (s *Store) DeleteMFA(userID string) error {
	return s.deleteOne(mfaKey(userID), "delete mfa of "+userID)
}
