package core

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"slices"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-auth/gatehouse/core/factor"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit actions of second factors.
const (
	ActionTOTPEnroll     = "2fa.totp_enroll"
	ActionTOTPRemove     = "2fa.totp_remove"
	ActionBackupRegen    = "2fa.backup_codes_regenerate"
	ActionBackupUsed     = "2fa.backup_code_used"
	ActionSecondFactor   = "login.second_factor"
	ActionFactorsRemoved = "2fa.reset"
)

// Backup codes per set, and the purpose TOTP secrets are sealed for.
const (
	BackupCodeCount = factor.BackupCodes
	sealTOTP        = "totp"
)

var (
	ErrBadCode  = errors.New("that code is not valid")
	ErrNoFactor = errors.New("no second factor of that kind is set up")
)

// TOTPEnrollment is what a user needs to add Gatehouse to an authenticator
// app: the secret for typing in, the otpauth:// URI and a QR code of it
// (a PNG as a data: URL).
type TOTPEnrollment struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
	QR     string `json:"qr"`
}

// Pending enrollments: the secret of an enrollment not confirmed yet is
// kept — a mistyped code does not make the entry already in the phone app
// useless — until it is confirmed, cancelled (DELETE /api/v1/me/totp),
// older than totpPendingLifetime, or confirmed wrongly TotpPendingTries
// times.
const (
	totpPendingLifetime = time.Hour
	TotpPendingTries    = 5
)

// ErrTOTPTries: the pending enrollment was discarded after too many wrong
// codes.
var ErrTOTPTries = Input("code", "that code is not valid, %d times in a row: the setup was cancelled; start again and scan the new code", TotpPendingTries)

// BeginTOTP starts TOTP enrollment for u, or gives back the one under way:
// the secret is kept encrypted as pending until confirmTOTP.
func (s *Auth) BeginTOTP(u *store.User) (TOTPEnrollment, error) {
	now := s.now()
	fresh, err := factor.NewSecret()
	if err != nil {
		return TOTPEnrollment{}, err
	}
	var secret string
	_, err = s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		if len(m.TOTPPending) > 0 && now.Sub(m.TOTPPendingSince) < totpPendingLifetime {
			if b, err := s.Open(m.TOTPPending, sealTOTP); err == nil {
				secret = string(b)
				return nil
			}
		}
		secret = fresh
		m.TOTPPending, m.TOTPPendingSince, m.TOTPPendingFails = s.Seal([]byte(fresh), sealTOTP), now, 0
		return nil
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("core: store totp enrollment: %w", err)
	}
	return s.totpEnrollment(u, secret)
}

// totpEnrollment describes the secret for u's authenticator app.
func (s *Auth) totpEnrollment(u *store.User, secret string) (TOTPEnrollment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("core: totp secret: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.BrandName() + " (" + s.portal.Hostname() + ")",
		AccountName: u.Username,
		Period:      factor.Period,
		Digits:      factor.Digits,
		Algorithm:   otp.AlgorithmSHA1,
		Secret:      raw,
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("core: make totp secret: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("core: totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("core: totp qr code: %w", err)
	}
	return TOTPEnrollment{Secret: key.Secret(), URI: key.URL(),
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// ConfirmTOTP activates the pending secret when code matches it, and
// returns a fresh set of backup codes (shown once). A wrong code keeps the
// pending secret; the TotpPendingTries-th discards it (ErrTOTPTries).
func (s *Auth) ConfirmTOTP(a *Actor, u *store.User, code string) ([]string, error) {
	codes, hashes := factor.NewBackupCodes()
	now := s.now()
	var wrong error
	_, err := s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		wrong = nil
		if len(m.TOTPPending) == 0 || now.Sub(m.TOTPPendingSince) >= totpPendingLifetime && !m.TOTPPendingSince.IsZero() {
			m.TOTPPending, m.TOTPPendingFails = nil, 0
			return Input("", "start the authenticator setup first")
		}
		secret, err := s.Open(m.TOTPPending, sealTOTP)
		if err != nil {
			return err
		}
		step := factor.Match(string(secret), code, now)
		if step < 0 {
			// Count the failure and keep the secret (return nil so that
			// the count is stored), up to the last try.
			m.TOTPPendingFails++
			wrong = Input("code", "%v: check the time on your device and try the current code (%d tries left)", ErrBadCode, TotpPendingTries-m.TOTPPendingFails)
			if m.TOTPPendingFails >= TotpPendingTries {
				m.TOTPPending, m.TOTPPendingSince, m.TOTPPendingFails = nil, time.Time{}, 0
				wrong = ErrTOTPTries
			}
			return nil
		}
		m.TOTPSecret, m.TOTPPending, m.TOTPLastStep, m.TOTPSince = m.TOTPPending, nil, step, now
		m.TOTPPendingSince, m.TOTPPendingFails = time.Time{}, 0
		m.BackupCodes = hashes
		return nil
	})
	if err == nil {
		err = wrong
	}
	if err != nil {
		if errors.Is(err, ErrTOTPTries) {
			s.Audit(a, store.Event{Actor: u.Username, Action: ActionTOTPEnroll, Resource: "user:" + u.Username, Outcome: OutcomeFailure,
				Reason: "too many wrong codes: setup cancelled"})
		}
		return nil, err
	}
	s.Audit(a, store.Event{Actor: u.Username, Action: ActionTOTPEnroll, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	s.Notify(a, u, NoticeFactorAdded, Say("mail.detail.totp_added"))
	return codes, nil
}

// CheckTOTP accepts code once: the step it belongs to must be later than
// the last accepted one, so a replayed code fails.
func (s *Auth) CheckTOTP(u *store.User, code string) error {
	now := s.now()
	_, err := s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		if len(m.TOTPSecret) == 0 {
			return ErrNoFactor
		}
		secret, err := s.Open(m.TOTPSecret, sealTOTP)
		if err != nil {
			return err
		}
		step := factor.Match(string(secret), code, now)
		if step < 0 || step <= m.TOTPLastStep {
			return ErrBadCode
		}
		m.TOTPLastStep = step
		return nil
	})
	return err
}

// RemoveTOTP turns TOTP off for u (backup codes go with it unless a
// security key remains).
func (s *Auth) RemoveTOTP(a *Actor, actor string, u *store.User) error {
	_, err := s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		if len(m.TOTPSecret) == 0 && len(m.TOTPPending) == 0 {
			return ErrNoFactor
		}
		m.TOTPSecret, m.TOTPPending, m.TOTPLastStep, m.TOTPPendingFails = nil, nil, 0, 0
		if len(m.WebAuthn) == 0 {
			m.BackupCodes = nil
		}
		return nil
	})
	if errors.Is(err, ErrNoFactor) {
		return NotFoundf("authenticator app")
	}
	if err != nil {
		return fmt.Errorf("core: remove totp: %w", err)
	}
	s.Audit(a, store.Event{Actor: actor, Action: ActionTOTPRemove, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	s.Notify(a, u, NoticeFactorRemoved, Say("mail.detail.totp_removed"))
	return nil
}

// UseBackupCode spends one backup code of u.
func (s *Auth) UseBackupCode(a *Actor, u *store.User, code string) error {
	h := factor.HashBackupCode(code)
	left := 0
	_, err := s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		i := slices.Index(m.BackupCodes, h)
		if i < 0 {
			return ErrBadCode
		}
		m.BackupCodes = slices.Delete(slices.Clone(m.BackupCodes), i, i+1)
		left = len(m.BackupCodes)
		return nil
	})
	if err != nil {
		return err
	}
	s.Audit(a, store.Event{Actor: u.Username, Action: ActionBackupUsed, Resource: "user:" + u.Username, Outcome: OutcomeSuccess,
		Reason: fmt.Sprintf("%d left", left)})
	return nil
}

// RegenerateBackupCodes replaces u's backup codes; the old ones die.
func (s *Auth) RegenerateBackupCodes(a *Actor, u *store.User) ([]string, error) {
	codes, hashes := factor.NewBackupCodes()
	_, err := s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		if !m.Active() {
			return Input("", "set up an authenticator app or a security key first")
		}
		m.BackupCodes = hashes
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Audit(a, store.Event{Actor: u.Username, Action: ActionBackupRegen, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	return codes, nil
}

// FactorsView is the second-factor state of a user.
type FactorsView struct {
	TOTP        bool      `json:"totp"`
	BackupCodes int       `json:"backup_codes_left"`
	WebAuthn    []KeyView `json:"webauthn"`
	Methods     []string  `json:"methods"`
	Required    bool      `json:"required"`
}

// KeyView is a registered security key or passkey.
type KeyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Passkey    bool       `json:"passkey"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// Factors describes u's second factors.
func (s *Auth) Factors(u *store.User) (FactorsView, *store.MFA, error) {
	m, err := s.store.MFA(u.ID)
	if err != nil {
		return FactorsView{}, nil, fmt.Errorf("core: second factors: %w", err)
	}
	v := FactorsView{TOTP: len(m.TOTPSecret) > 0, BackupCodes: len(m.BackupCodes), WebAuthn: []KeyView{},
		Methods: MethodsOf(m), Required: s.Settings().Require2FA}
	for _, c := range m.WebAuthn {
		v.WebAuthn = append(v.WebAuthn, KeyViewOf(c))
	}
	return v, m, nil
}

// MethodsOf lists the second-step methods m offers, in the order the login
// page shows them.
func MethodsOf(m *store.MFA) []string {
	out := []string{}
	if len(m.WebAuthn) > 0 {
		out = append(out, MethodWebAuthn)
	}
	if len(m.TOTPSecret) > 0 {
		out = append(out, MethodTOTP)
	}
	if len(m.BackupCodes) > 0 {
		out = append(out, MethodBackupCode)
	}
	return out
}

// ResetFactors removes every second factor of the user ref on behalf of c;
// the user signs in with the password and may (or must) enroll again.
func (s *Auth) ResetFactors(c *Actor, ref string) error {
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return err
	}
	if err := s.Users.MayManage(c, u); err != nil {
		return err
	}
	if err := mayChangeCredentials(c, u, SelfFactors); err != nil {
		return err
	}
	if err := s.store.DeleteMFA(u.ID); err != nil {
		return fmt.Errorf("core: remove second factors: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionFactorsRemoved, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	s.Notify(c, u, NoticeFactorRemoved, Say("mail.detail.admin_factors", "Admin", c.User.Username))
	return nil
}

// KeyID is how the API names a key: its credential id in unpadded base64url.
func KeyID(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// KeyViewOf describes a stored key.
func KeyViewOf(c store.WebAuthnCredential) KeyView {
	return KeyView{ID: KeyID(c.ID), Name: c.Name, Passkey: c.Discoverable, CreatedAt: c.CreatedAt, LastUsedAt: TimeOrNil(c.LastUsedAt)}
}
