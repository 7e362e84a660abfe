package core

import (
	"fmt"

	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"github.com/gatehouse-auth/gatehouse/store"
)

// checkLanguage validates a profile's language and time zone (each nil
// when not sent); field names the JSON field of the error's prefix.
func checkLanguage(prefix string, lang, zone *string) error {
	if lang != nil && !i18n.Valid(*lang) {
		return Input(prefix+"language", "must be one of %v, or \"\" (from the browser)", i18n.Supported)
	}
	if zone != nil && !i18n.ValidZone(*zone) {
		return Input(prefix+"time_zone", "%q is not a known time zone (use a name such as Europe/Berlin, or \"\" for UTC)", *zone)
	}
	return nil
}

// setLanguage stores c's own language and time zone (each nil when not
// changed), allowed while profiles are locked: they change only how the
// portal and the e-mails speak to the user.
func (s *Users) setLanguage(c *Actor, lang, zone *string) (*store.User, error) {
	if lang == nil && zone == nil {
		return c.User, nil
	}
	before := c.User
	u, err := s.store.UpdateUser(c.User.ID, func(x *store.User) error {
		if lang != nil {
			x.Language = *lang
		}
		if zone != nil {
			x.TimeZone = *zone
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("core: update language and time zone: %w", err)
	}
	if zone != nil { // the profile's zone replaces the one older versions kept with the e-mail preferences
		if _, err := s.store.MailQueue().SetPrefs(u.ID, func(p *store.MailPrefs) { p.TimeZone = "" }); err != nil {
			return nil, fmt.Errorf("core: update time zone: %w", err)
		}
	}
	if before.Language != u.Language || before.TimeZone != u.TimeZone {
		s.Audit(c, store.Event{Actor: u.Username, Action: ActionProfileUpdate, Resource: "user:" + u.Username,
			Outcome: OutcomeSuccess, Reason: fmt.Sprintf("language %q, time zone %q", u.Language, u.TimeZone)})
	}
	return u, nil
}

// userZone is the time zone of u's e-mails: the profile's, else the zone
// an older version kept with the security e-mail preferences.
func userZone(u *store.User, p store.MailPrefs) string {
	if u != nil && u.TimeZone != "" {
		return u.TimeZone
	}
	return p.TimeZone
}

// LangOf is the language of u's e-mails: the profile's, else the portal's
// default language (setting default_language), naming the product by the
// brand name setting.
func (c *Core) LangOf(u *store.User) *i18n.Lang {
	if u != nil && i18n.Valid(u.Language) && u.Language != "" {
		return i18n.Get(u.Language).Branded(c.BrandName())
	}
	return i18n.Get(i18n.Negotiate("", "", c.Settings().DefaultLanguage)).Branded(c.BrandName())
}

// ActorLang is the language of what a is shown: their profile's, else the
// best match of their browser's Accept-Language, else the portal's
// default language.
func (c *Core) ActorLang(a *Actor) *i18n.Lang {
	var profile string
	if a.User != nil {
		profile = a.User.Language
	}
	return i18n.Get(i18n.Negotiate(profile, a.AcceptLanguage, c.Settings().DefaultLanguage)).Branded(c.BrandName())
}

// mailZone is the time zone of u's e-mails (see userZone).
func (c *Core) mailZone(u *store.User) string {
	p, err := c.store.MailQueue().Prefs(u.ID)
	if err != nil {
		c.log.Error("e-mail time zone: read preferences", "user", u.Username, "error", err)
	}
	return userZone(u, p)
}
