package core

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gatehouse-auth/gatehouse/store"
)

const actionSettingsUpdate = "settings.update"

// UpdateSettings applies a JSON patch of settings fields. Fields absent
// from patch keep their value.
func (s *Core) UpdateSettings(ctx context.Context, c *Actor, patch []byte) (Settings, error) {
	st := *s.Settings()
	dec := json.NewDecoder(strings.NewReader(string(patch)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return Settings{}, Input("", "bad settings: %v", err)
	}
	st.normalizeBrand()
	if err := st.Validate(); err != nil {
		return Settings{}, err
	}
	if st.Require2FA && !s.Settings().Require2FA {
		if err := s.mayRequire2FA(c); err != nil {
			return Settings{}, err
		}
	}
	was := s.Settings().Require2FA
	if err := s.SaveSettings(&st); err != nil {
		return Settings{}, err
	}
	if st.Require2FA && !was {
		n, err := s.Auth.enforce2FA(ctx)
		if err != nil {
			return Settings{}, fmt.Errorf("core: end sessions without 2FA: %w", err)
		}
		s.Audit(c, store.Event{Actor: c.User.Username, Action: "2fa.required", Resource: "settings", Outcome: OutcomeSuccess,
			Reason: fmt.Sprintf("%d sessions without a second factor ended", n)})
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionSettingsUpdate, Resource: "settings", Outcome: OutcomeSuccess,
		Reason: truncate(string(patch), 200)})
	return st, nil
}

// errSignInWith2FA refuses turning on mandatory 2FA from a password-only
// session of someone who has a second factor: the switch would end that
// very session (409).
var errSignInWith2FA = conflictMsg("sign in again with your second factor first: turning on mandatory two-factor authentication ends every session that did not use one, including this one")

// mayRequire2FA refuses turning mandatory 2FA on when it would sign c out
// although c has a second factor. A caller without any keeps the old
// behaviour: signed out, they set one up at the next sign-in.
func (s *Core) mayRequire2FA(c *Actor) error {
	if c.User.ID == "" || c.Session.SecondFactor || c.Key != nil {
		return nil
	}
	m, err := s.store.MFA(c.User.ID)
	if err != nil {
		return fmt.Errorf("core: second factors: %w", err)
	}
	if m.Active() {
		return errSignInWith2FA
	}
	return nil
}
