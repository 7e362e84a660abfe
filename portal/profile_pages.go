package portal

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/i18n"
)

// The self-service pages: the caller's profile, password and sessions. The
// public pages behind the links Gatehouse sends are in passwords_pages.go
// (forgotten password, reset) and invitations_pages.go (invitation).

// profileData is the content of /profile.
type profileData struct {
	// MailPrefs are the security e-mail preferences (nil: mail is not
	// configured, so there are none to show).
	MailPrefs         *core.MailPrefsView
	Locked            bool
	Sessions          []SessionView
	PasswordChangedAt time.Time
	ExpiresAt         time.Time
	LastLoginAt       time.Time
	CreatedAt         time.Time
	PasswordRules     string
	Factors           FactorsView
	Keys              []APIKeyView
	AppPasswords      []core.AppPasswordView
	SSHKeys           []core.SSHKeyView
	// ConnectedApps are the OpenID Connect apps the user allowed or is
	// signed in to with refresh tokens.
	ConnectedApps []core.ConnectedAppView
	// PendingEmail is the new address waiting for confirmation.
	PendingEmail string
	// Reauth: the session signed in more than core.FreshWindow ago, so the
	// forms that change a factor ask for the current password
	// (HasPassword) or for signing in again (freshProof). Changing the
	// address always asks for the password when there is one.
	Reauth, HasPassword bool
	// Directory: the password is the external directory's, changed there.
	Directory bool
	// Languages are the languages the user may choose.
	Languages []string
}

func (s accountUI) handleProfile(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderProfile(w, r, c, http.StatusOK, "", nil)
}

// renderProfile shows /profile; form, when not nil, holds the submitted
// values to show again after a failure.
func (s accountUI) renderProfile(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	u := c.User
	if fresh, err := s.store.User(u.ID); err == nil {
		u = fresh
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "msg.profile.your_profile"), "profile")
	p.User = pageUserOf(u)
	p.Error = errMsg
	p.Form = map[string]string{"full_name": u.FullName, "email": u.Email}
	for k, v := range form {
		p.Form[k] = v
	}
	sessions, err := s.core.Sessions.UserSessions(u, c.SessionID)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	factors, _, err := s.core.Auth.Factors(u)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	keys, err := s.core.Credentials.ListKeys(c, false)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	appPasswords, err := s.core.Credentials.ListAppPasswords(c)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	sshKeys, err := s.core.Credentials.SSHKeys(c)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	connected, err := s.core.Access.ConnectedApps(c)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	for _, a := range s.core.Access.Apps() {
		p.Apps = append(p.Apps, pageApp{Name: a.Name, Title: a.Title, URL: a.URL})
	}
	p.Data = profileData{
		MailPrefs:         s.mailPrefs(u),
		Keys:              keys,
		AppPasswords:      appPasswords,
		SSHKeys:           sshKeys,
		ConnectedApps:     connected,
		Factors:           factors,
		Locked:            s.core.Settings().LockProfile,
		Sessions:          sessions,
		PasswordChangedAt: u.PasswordChangedAt,
		ExpiresAt:         u.ExpiresAt,
		LastLoginAt:       u.LastLoginAt,
		CreatedAt:         u.CreatedAt,
		PasswordRules:     s.core.PasswordRules().Describe(),
		PendingEmail:      u.PendingEmail,
		Reauth:            s.now().Sub(c.Session.CreatedAt) >= core.FreshWindow,
		HasPassword:       u.PasswordHash != "" || s.core.Directory.Manages(u),
		Directory:         s.core.Directory.Manages(u),
		Languages:         i18n.Supported,
	}
	s.render(w, r, status, "profile", p)
}

// handleProfileForm changes the caller's own name and email address.
func (s accountUI) handleProfileForm(w http.ResponseWriter, r *http.Request, c *caller) {
	name, email := r.PostForm.Get("full_name"), r.PostForm.Get("email")
	in := ProfileInput{FullName: &name, CurrentPassword: r.PostForm.Get("current_password")}
	if r.PostForm.Has("email") {
		in.Email = &email
	}
	res, err := s.core.Users.UpdateProfile(r.Context(), c, in)
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), map[string]string{"full_name": name, "email": email})
		return
	}
	if res.Requested {
		s.done(w, r, c, "/profile", s.pages.emailSentMessage(c, res.User, res.Mailed))
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.profile.your_details_were_saved"))
}

// passwordData is the content of /profile/password.
type passwordData struct {
	Expired       bool
	RD            string
	PasswordRules string
	// NoCurrent: the session signed in with a temporary password, so the
	// current password is not asked for.
	NoCurrent bool
	// AppPasswords is how many app passwords the caller has: the form
	// then asks whether to revoke them.
	AppPasswords int
}

func (s accountUI) handlePasswordPage(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderPassword(w, r, c, http.StatusOK, "", r.URL.Query().Get("rd"))
}

func (s accountUI) renderPassword(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg, rd string) {
	if _, ok := s.core.Access.RedirectPolicy().Clean(rd); !ok {
		rd = ""
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "password.change_your_password"), "profile")
	p.Error = errMsg
	appPasswords, _ := s.core.Credentials.ListAppPasswords(c)
	p.Data = passwordData{Expired: s.core.PasswordExpired(c.User.PasswordChangedAt), RD: rd, PasswordRules: s.core.PasswordRules().Describe(),
		NoCurrent: core.SignedInWithTempPassword(c), AppPasswords: len(appPasswords)}
	s.render(w, r, status, "password", p)
}

// handlePasswordForm changes the caller's password, then returns to rd
// when the redirect policy allows it, else to the portal home.
func (s accountUI) handlePasswordForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	current, pw, rd := f.Get("current_password"), f.Get("password"), f.Get("rd")
	fail := func(status int, msg string) {
		if f.Get("from") == "profile" && !s.core.PasswordExpired(c.User.PasswordChangedAt) {
			s.renderProfile(w, r, c, status, msg, nil)
			return
		}
		s.renderPassword(w, r, c, status, msg, rd)
	}
	if pw != f.Get("password2") {
		fail(http.StatusBadRequest, s.pages.tr(c, "msg.profile.the_two_new_passwords"))
		return
	}
	if err := s.core.Credentials.ChangeOwnPassword(r.Context(), c, current, pw); err != nil {
		status, msg := s.statusOf(err)
		if strings.HasPrefix(msg, "current_password:") {
			msg = s.pages.tr(c, "msg.profile.your_current_password_is")
		}
		fail(status, sentence(msg))
		return
	}
	msg := s.revokeAppPasswordsWithPassword(r, c, s.pages.tr(c, "msg.profile.your_password_was_changed"))
	if to, ok := s.core.Access.RedirectPolicy().Clean(rd); ok {
		// rd may be an app on another origin: redirectAfterForm gets
		// there despite the CSP form-action directive.
		s.setFlash(w, c, msg)
		s.redirectAfterForm(w, r, to)
		return
	}
	s.done(w, r, c, "/", msg)
}

// handleRevokeOwnSession ends one of the caller's sessions.
func (s accountUI) handleRevokeOwnSession(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.revokeOwnSession(c, r.PathValue("id")); err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.profile.the_session_was_signed"))
}

// revokeOwnSession is revokeSession limited to the caller's own sessions,
// so that the profile page never acts on anyone else's.
func (s accountUI) revokeOwnSession(c *caller, id string) error {
	sid, ok := core.ParseSessionID(id)
	if !ok {
		return core.NotFoundf("session")
	}
	if sess, err := s.store.Session(sid); err != nil || sess.UserID != c.User.ID {
		return core.NotFoundf("session")
	}
	return s.core.Sessions.RevokeSession(c, id)
}

// handleRevokeOtherSessions signs the caller out everywhere else.
func (s accountUI) handleRevokeOtherSessions(w http.ResponseWriter, r *http.Request, c *caller) {
	n, err := s.core.Sessions.RevokeUserSessions(c, c.User, c.SessionID)
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.profile.other_sessions_signed_out", "Count", n))
}
