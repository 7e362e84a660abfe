package core

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// TestProfileLanguageAndZone: the profile's language and time zone are
// validated (400 naming the field, nothing changed), may be changed while
// profiles are locked, and choose the language of the user's e-mails;
// a time zone kept with the e-mail preferences by an older version is
// used until the profile names one, which replaces it; the old
// security_emails.time_zone sets the profile's zone.
func TestProfileLanguageAndZone(t *testing.T) {
	c, st := newTestCore(t)
	u := mustUser(t, c, "lena", policies.RoleUser)
	ctx := context.Background()
	str := func(s string) *string { return &s }

	for _, tc := range []struct {
		in    ProfileInput
		field string
	}{
		{ProfileInput{Language: str("xx")}, "language"},
		{ProfileInput{TimeZone: str("Mars/Olympus")}, "time_zone"},
		{ProfileInput{Language: str("de"), TimeZone: str("Local")}, "time_zone"},
	} {
		_, err := c.Users.UpdateProfile(ctx, sessionActor(c, u), tc.in)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%+v: %v, want an input error on %s", tc.in, err, tc.field)
		}
	}
	if got, _ := st.User(u.ID); got.Language != "" || got.TimeZone != "" {
		t.Fatalf("a refused change was stored: %q %q", got.Language, got.TimeZone)
	}

	// An older version kept the zone with the e-mail preferences.
	if _, err := st.MailQueue().SetPrefs(u.ID, func(p *store.MailPrefs) { p.TimeZone = "Asia/Tokyo" }); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Users.MailPrefs(u); v.TimeZone != "Asia/Tokyo" || c.mailZone(u) != "Asia/Tokyo" {
		t.Fatalf("the older zone is not used: %q", v.TimeZone)
	}
	if c.LangOf(u).Tag() != "en" {
		t.Fatalf("no profile language: %s, want the default en", c.LangOf(u).Tag())
	}

	// Locked profiles still let the user choose language and zone.
	st2 := *c.Settings()
	st2.LockProfile, st2.DefaultLanguage = true, "fr"
	if err := c.SaveSettings(&st2); err != nil {
		t.Fatal(err)
	}
	if c.LangOf(u).Tag() != "fr" {
		t.Fatalf("default_language fr: %s", c.LangOf(u).Tag())
	}
	res, err := c.Users.UpdateProfile(ctx, sessionActor(c, u), ProfileInput{Language: str("de"), TimeZone: str("Europe/Berlin")})
	if err != nil || res.User.Language != "de" || res.User.TimeZone != "Europe/Berlin" {
		t.Fatalf("set language and zone: %+v %v", res.User, err)
	}
	u = res.User
	if p, _ := st.MailQueue().Prefs(u.ID); p.TimeZone != "" {
		t.Errorf("the older zone was kept beside the profile's: %q", p.TimeZone)
	}
	if c.LangOf(u).Tag() != "de" || c.mailZone(u) != "Europe/Berlin" {
		t.Errorf("e-mails: %s %s", c.LangOf(u).Tag(), c.mailZone(u))
	}

	// The old field is another name for the profile's zone.
	if _, err := c.Users.SetMailPrefs(sessionActor(c, u), MailPrefsInput{TimeZone: str("America/New_York")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.User(u.ID); got.TimeZone != "America/New_York" {
		t.Errorf("security_emails.time_zone set %q on the profile", got.TimeZone)
	}
}
