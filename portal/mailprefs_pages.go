package portal

import (
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// handleProfileMailPrefs saves the caller's security e-mail preferences
// from the profile page's form.
func (s accountUI) handleProfileMailPrefs(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	newDevice, newCredential := f.Get("new_device") != "", f.Get("new_credential") != ""
	in := core.MailPrefsInput{NewDevice: &newDevice, NewCredential: &newCredential}
	if f.Has("time_zone") { // the form of older pages; the zone is now the profile's (handleProfileLanguage)
		zone := strings.TrimSpace(f.Get("time_zone"))
		if strings.EqualFold(zone, "UTC") {
			zone = ""
		}
		in.TimeZone = &zone
	}
	if _, err := s.core.Users.SetMailPrefs(c, in); err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "profile.mailprefs.saved"))
}

// handleProfileLanguage saves the caller's language and time zone from
// the profile page's form; the confirmation is in the new language.
func (s accountUI) handleProfileLanguage(w http.ResponseWriter, r *http.Request, c *caller) {
	lang := r.PostForm.Get("language")
	zone := strings.TrimSpace(r.PostForm.Get("time_zone"))
	if strings.EqualFold(zone, "UTC") {
		zone = ""
	}
	res, err := s.core.Users.UpdateProfile(r.Context(), c, ProfileInput{Language: &lang, TimeZone: &zone})
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	c.User = res.User
	s.done(w, r, c, "/profile", s.pages.tr(c, "profile.language.saved"))
}

// mailPrefs returns u's security e-mail preferences for the profile page,
// nil when mail is not configured (no notices are sent) or unreadable.
func (s accountUI) mailPrefs(u *store.User) *core.MailPrefsView {
	if !s.core.Mail().Enabled() {
		return nil
	}
	p, err := s.core.Users.MailPrefs(u)
	if err != nil {
		return nil
	}
	return &p
}
