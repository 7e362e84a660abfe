package portal

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Public pages.

// forgotData is the content of /forgot.
type forgotData struct{ MailEnabled bool }

func (s signInUI) handleForgotPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "forgot", page{Title: s.pages.lang(r.Header, nil).S("forgot.forgot_your_password"),
		Form: map[string]string{"login": r.URL.Query().Get("login")}, Data: forgotData{MailEnabled: s.mail.Enabled()}})
}

// handleForgotForm always answers with the same page, whether or not the
// account exists, so the page tells nobody who has an account.
func (s signInUI) handleForgotForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	s.core.Credentials.ForgotPassword(r.Context(), s.requestActor(r), r.PostForm.Get("login"))
	s.render(w, r, http.StatusOK, "forgot_sent", page{Title: s.pages.lang(r.Header, nil).S("forgot_sent.check_your_email"), Data: forgotData{MailEnabled: s.mail.Enabled()}})
}

// resetData is the content of /reset/{token}.
type resetData struct {
	Token    string
	Username string
	Welcome  bool
}

func (s signInUI) handleResetPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	t, u, err := s.core.Credentials.ResetToken(s.requestActor(r), tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"), s.pages.lang(r.Header, nil).S("msg.passwords.link_help"), nil)
		return
	}
	s.renderReset(w, r, http.StatusOK, "", tok, t, u)
}

func (s signInUI) renderReset(w http.ResponseWriter, r *http.Request, status int, errMsg, tok string, t *store.Token, u *store.User) {
	welcome := t.Data["welcome"] == "1"
	title := s.pages.lang(r.Header, nil).S("msg.passwords.choose_a_new_password")
	if welcome {
		title = s.pages.lang(r.Header, nil).S("msg.passwords.choose_your_password")
	}
	s.render(w, r, status, "reset", page{Title: title, Error: errMsg, PasswordRules: s.core.PasswordRules().Describe(),
		Data: resetData{Token: tok, Username: u.Username, Welcome: welcome}})
}

func (s signInUI) handleResetForm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	t, u, err := s.core.Credentials.ResetToken(s.requestActor(r), tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"), s.pages.lang(r.Header, nil).S("msg.passwords.link_help"), nil)
		return
	}
	attemptSucceeded(r.Context())
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password2") {
		s.renderReset(w, r, http.StatusBadRequest, s.pages.lang(r.Header, nil).S("msg.invitations.the_two_passwords_do"), tok, t, u)
		return
	}
	if _, err := s.core.Credentials.ResetPassword(r.Context(), s.requestActor(r), tok, pw); err != nil {
		if errors.Is(err, core.ErrLink) {
			s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"), s.pages.lang(r.Header, nil).S("msg.passwords.link_help"), nil)
			return
		}
		status, msg := s.statusOf(err)
		s.renderReset(w, r, status, sentence(msg), tok, t, u)
		return
	}
	s.render(w, r, http.StatusOK, "reset_done", page{Title: s.pages.lang(r.Header, nil).S("reset_done.password_changed"), Data: resetData{Username: u.Username}})
}
