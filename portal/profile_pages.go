package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// The self-service pages: the caller's profile, password and sessions, and
// the public pages behind the links Gatehouse sends (forgotten password,
// reset, invitation).

// profileData is the content of /profile.
type profileData struct {
	Locked            bool
	Sessions          []SessionView
	PasswordChangedAt time.Time
	ExpiresAt         time.Time
	LastLoginAt       time.Time
	CreatedAt         time.Time
	PasswordRules     string
	Factors           FactorsView
	Keys              []APIKeyView
	// PendingEmail is the new address waiting for confirmation.
	PendingEmail string
	// Reauth: the session signed in more than freshWindow ago, so the
	// forms that change a factor ask for the current password
	// (HasPassword) or for signing in again (freshProof). Changing the
	// address always asks for the password when there is one.
	Reauth, HasPassword bool
}

func (s *Service) handleProfile(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderProfile(w, r, c, http.StatusOK, "", nil)
}

// renderProfile shows /profile; form, when not nil, holds the submitted
// values to show again after a failure.
func (s *Service) renderProfile(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	u := c.user
	if fresh, err := s.store.User(u.ID); err == nil {
		u = fresh
	}
	p := s.basePage(w, r, c, "Your profile", "profile")
	p.User = pageUserOf(u)
	p.Error = errMsg
	p.Form = map[string]string{"full_name": u.FullName, "email": u.Email}
	for k, v := range form {
		p.Form[k] = v
	}
	sessions, err := s.userSessions(u, c.sid)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	factors, _, err := s.factors(u)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	keys, err := s.listKeys(c, false)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	for _, a := range s.Apps() {
		p.Apps = append(p.Apps, pageApp{Name: a.Name, Title: a.Title, URL: a.URL})
	}
	p.Data = profileData{
		Keys:              keys,
		Factors:           factors,
		Locked:            s.cfg().LockProfile,
		Sessions:          sessions,
		PasswordChangedAt: u.PasswordChangedAt,
		ExpiresAt:         u.ExpiresAt,
		LastLoginAt:       u.LastLoginAt,
		CreatedAt:         u.CreatedAt,
		PasswordRules:     s.passwordRules().Describe(),
		PendingEmail:      u.PendingEmail,
		Reauth:            s.now().Sub(c.sess.CreatedAt) >= freshWindow,
		HasPassword:       u.PasswordHash != "",
	}
	s.render(w, status, "profile", p)
}

// handleProfileForm changes the caller's own name and email address.
func (s *Service) handleProfileForm(w http.ResponseWriter, r *http.Request, c *caller) {
	name, email := r.PostForm.Get("full_name"), r.PostForm.Get("email")
	in := ProfileInput{FullName: &name, CurrentPassword: r.PostForm.Get("current_password")}
	if r.PostForm.Has("email") {
		in.Email = &email
	}
	res, err := s.updateProfile(c, r, in)
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), map[string]string{"full_name": name, "email": email})
		return
	}
	if res.requested {
		s.done(w, r, c, "/profile", emailSentMessage(res.user, res.mailed))
		return
	}
	s.done(w, r, c, "/profile", "Your details were saved.")
}

// passwordData is the content of /profile/password.
type passwordData struct {
	Expired       bool
	RD            string
	PasswordRules string
	// NoCurrent: the session signed in with a temporary password, so the
	// current password is not asked for.
	NoCurrent bool
}

func (s *Service) handlePasswordPage(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderPassword(w, r, c, http.StatusOK, "", r.URL.Query().Get("rd"))
}

func (s *Service) renderPassword(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg, rd string) {
	if _, ok := s.redirectPolicy().Clean(rd); !ok {
		rd = ""
	}
	p := s.basePage(w, r, c, "Change your password", "profile")
	p.Error = errMsg
	p.Data = passwordData{Expired: s.passwordExpired(c.user.PasswordChangedAt), RD: rd, PasswordRules: s.passwordRules().Describe(),
		NoCurrent: signedInWithTempPassword(c)}
	s.render(w, status, "password", p)
}

// handlePasswordForm changes the caller's password, then returns to rd
// when the redirect policy allows it, else to the portal home.
func (s *Service) handlePasswordForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	current, pw, rd := f.Get("current_password"), f.Get("password"), f.Get("rd")
	fail := func(status int, msg string) {
		if f.Get("from") == "profile" && !s.passwordExpired(c.user.PasswordChangedAt) {
			s.renderProfile(w, r, c, status, msg, nil)
			return
		}
		s.renderPassword(w, r, c, status, msg, rd)
	}
	if pw != f.Get("password2") {
		fail(http.StatusBadRequest, "The two new passwords do not match.")
		return
	}
	if err := s.changeOwnPassword(r.Context(), c, r, current, pw); err != nil {
		status, msg := s.statusOf(err)
		if strings.HasPrefix(msg, "current_password:") {
			msg = "Your current password is not correct."
		}
		fail(status, sentence(msg))
		return
	}
	const msg = "Your password was changed. Your other sessions were signed out."
	if to, ok := s.redirectPolicy().Clean(rd); ok {
		// rd may be an app on another origin: redirectAfterForm gets
		// there despite the CSP form-action directive.
		s.setFlash(w, c, msg)
		s.redirectAfterForm(w, r, to)
		return
	}
	s.done(w, r, c, "/", msg)
}

// handleRevokeOwnSession ends one of the caller's sessions.
func (s *Service) handleRevokeOwnSession(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.revokeOwnSession(c, r, r.PathValue("id")); err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.done(w, r, c, "/profile", "The session was signed out.")
}

// revokeOwnSession is revokeSession limited to the caller's own sessions,
// so that the profile page never acts on anyone else's.
func (s *Service) revokeOwnSession(c *caller, r *http.Request, id string) error {
	sid, ok := parseSessionID(id)
	if !ok {
		return fmt.Errorf("session: %w", ErrNotFound)
	}
	if sess, err := s.store.Session(sid); err != nil || sess.UserID != c.user.ID {
		return fmt.Errorf("session: %w", ErrNotFound)
	}
	return s.revokeSession(c, r, id)
}

// handleRevokeOtherSessions signs the caller out everywhere else.
func (s *Service) handleRevokeOtherSessions(w http.ResponseWriter, r *http.Request, c *caller) {
	n, err := s.revokeUserSessions(c, r, c.user, c.sid)
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.done(w, r, c, "/profile", plural(n, "other session was", "other sessions were")+" signed out.")
}

// Public pages.

// forgotData is the content of /forgot.
type forgotData struct{ MailEnabled bool }

func (s *Service) handleForgotPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "forgot", page{Title: "Forgot your password?",
		Form: map[string]string{"login": r.URL.Query().Get("login")}, Data: forgotData{MailEnabled: s.mail.Enabled()}})
}

// handleForgotForm always answers with the same page, whether or not the
// account exists, so the page tells nobody who has an account.
func (s *Service) handleForgotForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	s.forgotPassword(r.Context(), r, r.PostForm.Get("login"))
	s.render(w, http.StatusOK, "forgot_sent", page{Title: "Check your email", Data: forgotData{MailEnabled: s.mail.Enabled()}})
}

// resetData is the content of /reset/{token}.
type resetData struct {
	Token    string
	Username string
	Welcome  bool
}

const linkHelp = "This link is invalid, has expired or was already used. Ask for a new one."

func (s *Service) handleResetPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	t, u, err := s.resetToken(tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, "Link not valid", linkHelp, nil)
		return
	}
	s.renderReset(w, http.StatusOK, "", tok, t, u)
}

func (s *Service) renderReset(w http.ResponseWriter, status int, errMsg, tok string, t *store.Token, u *store.User) {
	welcome := t.Data["welcome"] == "1"
	title := "Choose a new password"
	if welcome {
		title = "Choose your password"
	}
	s.render(w, status, "reset", page{Title: title, Error: errMsg, PasswordRules: s.passwordRules().Describe(),
		Data: resetData{Token: tok, Username: u.Username, Welcome: welcome}})
}

func (s *Service) handleResetForm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	t, u, err := s.resetToken(tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, "Link not valid", linkHelp, nil)
		return
	}
	attemptSucceeded(r)
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password2") {
		s.renderReset(w, http.StatusBadRequest, "The two passwords do not match.", tok, t, u)
		return
	}
	if _, err := s.resetPassword(r.Context(), r, tok, pw); err != nil {
		if errors.Is(err, errLink) {
			s.renderError(w, r, http.StatusNotFound, "Link not valid", linkHelp, nil)
			return
		}
		status, msg := s.statusOf(err)
		s.renderReset(w, status, sentence(msg), tok, t, u)
		return
	}
	s.render(w, http.StatusOK, "reset_done", page{Title: "Password changed", Data: resetData{Username: u.Username}})
}

// inviteData is the content of /invite/{token}.
type inviteData struct {
	Token, Email, Role, InvitedBy string
	Groups                        []string
	ExpiresAt                     time.Time
}

func (s *Service) handleInvitePage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	t, err := s.invitation(tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, "Invitation not valid",
			"This invitation is invalid, has expired or was already used. Ask the person who invited you for a new one.", nil)
		return
	}
	s.renderInvite(w, http.StatusOK, "", tok, t, map[string]string{})
}

func (s *Service) renderInvite(w http.ResponseWriter, status int, errMsg, tok string, t *store.Token, form map[string]string) {
	v := invitationView(t)
	s.render(w, status, "invite", page{Title: "Accept your invitation", Error: errMsg, Form: form,
		PasswordRules: s.passwordRules().Describe(),
		Data:          inviteData{Token: tok, Email: v.Email, Role: v.Role, InvitedBy: v.InvitedBy, Groups: v.Groups, ExpiresAt: v.ExpiresAt}})
}

// handleInviteForm creates the invitee's account, signs them in and sends
// them to the portal home.
func (s *Service) handleInviteForm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	bad := func() {
		s.renderError(w, r, http.StatusNotFound, "Invitation not valid",
			"This invitation is invalid, has expired or was already used. Ask the person who invited you for a new one.", nil)
	}
	t, err := s.invitation(tok)
	if err != nil {
		bad()
		return
	}
	attemptSucceeded(r)
	f := r.PostForm
	nu := NewUser{Username: f.Get("username"), FullName: f.Get("full_name"), Password: f.Get("password")}
	form := map[string]string{"username": nu.Username, "full_name": nu.FullName}
	if nu.Password != f.Get("password2") {
		s.renderInvite(w, http.StatusBadRequest, "The two passwords do not match.", tok, t, form)
		return
	}
	u, err := s.acceptInvitation(r.Context(), r, tok, nu)
	if err != nil {
		if errors.Is(err, errLink) {
			bad()
			return
		}
		status, msg := s.statusOf(err)
		s.renderInvite(w, status, sentence(msg), tok, t, form)
		return
	}
	if _, err := s.startSession(w, r, u, false); err != nil {
		s.log.Error("invitation: start session", "error", err)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// plural writes "1 thing was" or "3 things were".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
