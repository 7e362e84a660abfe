package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

const actionSettingsUpdate = "settings.update"

// Defaults of the stored policies that the Caddyfile does not set.
const (
	DefaultLockoutThreshold      = core.DefaultLockoutThreshold
	DefaultLockoutDuration       = core.DefaultLockoutDuration
	DefaultInviteLifetime        = core.DefaultInviteLifetime
	DefaultResetLifetime         = core.DefaultResetLifetime
	DefaultAuditRetention        = core.DefaultAuditRetention
	DefaultImpersonationLifetime = core.DefaultImpersonationLifetime
	DefaultTempPasswordLifetime  = core.DefaultTempPasswordLifetime
)

// Settings are the policies an admin changes in the portal (core.Settings).
type Settings = core.Settings

// Duration is a settings duration (core.Duration).
type Duration = core.Duration

// cfg returns the settings in force.
func (s *Service) cfg() *Settings { return s.core.Settings() }

// passwordRules returns the password rules in force.
func (s *Service) passwordRules() policies.PasswordRules { return s.core.PasswordRules() }

// passwordExpired reports whether a password set at changedAt must be
// changed before its user does anything else.
func (s *Service) passwordExpired(changedAt time.Time) bool { return s.core.PasswordExpired(changedAt) }

// updateSettings applies a JSON patch of settings fields. Fields absent
// from patch keep their value.
func (s *Service) updateSettings(ctx context.Context, c *caller, patch []byte) (Settings, error) {
	st := *s.cfg()
	dec := json.NewDecoder(strings.NewReader(string(patch)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return Settings{}, inputErr("", "bad settings: %v", err)
	}
	if err := st.Validate(); err != nil {
		return Settings{}, err
	}
	if st.Require2FA && !s.cfg().Require2FA {
		if err := s.mayRequire2FA(c); err != nil {
			return Settings{}, err
		}
	}
	was := s.cfg().Require2FA
	if err := s.core.SaveSettings(&st); err != nil {
		return Settings{}, err
	}
	if st.Require2FA && !was {
		n, err := s.enforce2FA(ctx)
		if err != nil {
			return Settings{}, fmt.Errorf("portal: end sessions without 2FA: %w", err)
		}
		s.core.Audit(c, store.Event{Actor: c.User.Username, Action: "2fa.required", Resource: "settings", Outcome: outcomeSuccess,
			Reason: fmt.Sprintf("%d sessions without a second factor ended", n)})
	}
	s.core.Audit(c, store.Event{Actor: c.User.Username, Action: actionSettingsUpdate, Resource: "settings", Outcome: outcomeSuccess,
		Reason: truncate(string(patch), 200)})
	return st, nil
}

// errSignInWith2FA refuses turning on mandatory 2FA from a password-only
// session of someone who has a second factor: the switch would end that
// very session (409).
var errSignInWith2FA = &core.ConflictError{Msg: "sign in again with your second factor first: turning on mandatory two-factor authentication ends every session that did not use one, including this one"}

// mayRequire2FA refuses turning mandatory 2FA on when it would sign c out
// although c has a second factor. A caller without any keeps the old
// behaviour: signed out, they set one up at the next sign-in.
func (s *Service) mayRequire2FA(c *caller) error {
	if c.User.ID == "" || c.Session.SecondFactor || c.Key != nil {
		return nil
	}
	m, err := s.store.MFA(c.User.ID)
	if err != nil {
		return fmt.Errorf("portal: second factors: %w", err)
	}
	if m.Active() {
		return errSignInWith2FA
	}
	return nil
}
