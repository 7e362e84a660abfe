package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

// handleProfileAppPasswordCreate makes an app password from the profile
// form and shows it once.
func (s accountUI) handleProfileAppPasswordCreate(w http.ResponseWriter, r *http.Request, c *caller) {
	v, err := s.core.Credentials.CreateAppPassword(c, core.AppPasswordInput{Name: r.PostForm.Get("name"), App: r.PostForm.Get("app")})
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	scope := s.pages.tr(c, "msg.apppasswords.it_works_for_every")
	if v.App != "" {
		scope = s.pages.tr(c, "msg.apppasswords.only_app", "App", v.App)
	}
	s.usersUI().renderLink(w, r, c, "profile", linkData{Heading: s.pages.tr(c, "msg.apppasswords.app_password", "Name", v.Name), Label: s.pages.tr(c, "msg.apppasswords.app_password_2"), Link: v.Password,
		Lede: s.pages.tr(c, "msg.apppasswords.type_it_into_the", "Username", c.User.Username),
		Note: scope + " " + s.pages.tr(c, "msg.apppasswords.dashes"), Back: "/profile", BackLabel: s.pages.tr(c, "msg.apikeys.back_to_your_profile")})
}

// handleProfileAppPasswordRevoke revokes one of the caller's app
// passwords.
func (s accountUI) handleProfileAppPasswordRevoke(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Credentials.RevokeAppPassword(c, r.PathValue("id")); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.apppasswords.the_app_password_is"))
}

// revokeAppPasswordsWithPassword revokes the caller's app passwords after
// a password change when its form asked to (the revoke_app_passwords
// checkbox, checked by default) and says so in msg.
func (s accountUI) revokeAppPasswordsWithPassword(r *http.Request, c *caller, msg string) string {
	if r.PostForm.Get("revoke_app_passwords") != "1" {
		return msg
	}
	n, err := s.core.Credentials.RevokeOwnAppPasswords(c, "revoked with a password change")
	switch {
	case err != nil:
		s.log.Error("revoke app passwords with a password change", "user", c.User.Username, "error", err)
		return msg + " " + s.pages.tr(c, "msg.apppasswords.revoke_failed")
	case n > 0:
		return msg + " " + s.pages.tr(c, "msg.apppasswords.revoked", "Count", n)
	}
	return msg
}

// handleUserAppPasswordRevoke revokes one of the user's app passwords
// from the user's page.
func (s usersUI) handleUserAppPasswordRevoke(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Credentials.RevokeUserAppPassword(c, r.PathValue("user"), r.PathValue("id")); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, s.pages.tr(c, "msg.apppasswords.the_app_password_was"))
}
