package core

import (
	"fmt"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// MailPrefsInput changes a user's security e-mail preferences: the
// optional notices (true: send them) and the time zone their e-mails show
// times in (an IANA name such as "Europe/Berlin"; "" for UTC). Absent
// fields keep their value. The critical notices cannot be turned off.
type MailPrefsInput struct {
	NewDevice     *bool   `json:"new_device"`
	NewCredential *bool   `json:"new_credential"`
	TimeZone      *string `json:"time_zone"`
	// Digest is "daily", "weekly" or "" (none): the security digest, for
	// users who may read the audit log.
	Digest *string `json:"digest"`
}

// MailPrefsView is a user's security e-mail preferences as the API shows
// them.
type MailPrefsView struct {
	// NewDevice: mail a sign-in from a new device or browser.
	NewDevice bool `json:"new_device"`
	// NewCredential: mail a new API key or app password.
	NewCredential bool `json:"new_credential"`
	// TimeZone of the times in the e-mails; "" is UTC. It is the
	// profile's time_zone (one setting), shown here too for older clients.
	TimeZone string `json:"time_zone"`
	// Digest is the security digest: "daily", "weekly" or "".
	Digest string `json:"digest"`
}

// MailPrefs returns u's security e-mail preferences.
func (s *Users) MailPrefs(u *store.User) (MailPrefsView, error) {
	p, err := s.store.MailQueue().Prefs(u.ID)
	if err != nil {
		return MailPrefsView{}, fmt.Errorf("core: security e-mail preferences: %w", err)
	}
	p.TimeZone = userZone(u, p)
	return mailPrefsView(p), nil
}

// mailPrefsView is the API's form of p.
func mailPrefsView(p store.MailPrefs) MailPrefsView {
	return MailPrefsView{NewDevice: !p.NoNewDevice, NewCredential: !p.NoNewCredential, TimeZone: p.TimeZone, Digest: p.Digest}
}

// SetMailPrefs changes c's own security e-mail preferences. Only the
// account's owner, signed in, may: not an API key, not an administrator
// impersonating them (who could otherwise silence the notices of what
// they do).
func (s *Users) SetMailPrefs(c *Actor, in MailPrefsInput) (MailPrefsView, error) {
	if c.Key != nil {
		return MailPrefsView{}, fmt.Errorf("%w: an API key cannot change the security e-mail preferences; sign in", ErrForbidden)
	}
	if c.Impersonating() {
		return MailPrefsView{}, ErrImpersonating
	}
	if err := checkLanguage("security_emails.", nil, in.TimeZone); err != nil {
		return MailPrefsView{}, err
	}
	if in.Digest != nil && *in.Digest != "" {
		if _, ok := digestPeriods[*in.Digest]; !ok {
			return MailPrefsView{}, Input("security_emails.digest", `must be "daily", "weekly" or "" (none)`)
		}
		if err := Need(c, policies.PermAuditRead); err != nil {
			return MailPrefsView{}, err
		}
	}
	p, err := s.store.MailQueue().SetPrefs(c.User.ID, func(p *store.MailPrefs) {
		if in.Digest != nil {
			p.Digest = *in.Digest
		}
		if in.NewDevice != nil {
			p.NoNewDevice = !*in.NewDevice
		}
		if in.NewCredential != nil {
			p.NoNewCredential = !*in.NewCredential
		}
		if in.TimeZone != nil {
			p.TimeZone = "" // moved to the profile (User.TimeZone) below
		}
	})
	if err != nil {
		return MailPrefsView{}, fmt.Errorf("core: security e-mail preferences: %w", err)
	}
	if in.TimeZone != nil {
		u, err := s.setLanguage(c, nil, in.TimeZone)
		if err != nil {
			return MailPrefsView{}, err
		}
		c.User = u
	}
	p.TimeZone = userZone(c.User, p)
	if in.Digest != nil {
		s.digestNow.Store(true)
		s.wakeMailer()
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionProfileUpdate, Resource: "user:" + c.User.Username,
		Outcome: OutcomeSuccess, Reason: fmt.Sprintf("security e-mails: new device %t, new key or app password %t, time zone %q, digest %q",
			!p.NoNewDevice, !p.NoNewCredential, p.TimeZone, p.Digest)})
	return mailPrefsView(p), nil
}
