package portal

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

func (s signInUI) handleSetupPage(w http.ResponseWriter, r *http.Request) {
	if has, err := s.store.HasUsers(); err != nil || has {
		s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.setup.setup_is_complete"),
			s.pages.lang(r.Header, nil).S("msg.setup.gatehouse_already_has_an"), nil)
		return
	}
	token := r.URL.Query().Get("token")
	if !s.core.Credentials.SetupTokenValid(token) {
		s.renderError(w, r, http.StatusForbidden, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"), s.pages.lang(r.Header, nil).S("msg.setup.link_help"), nil)
		return
	}
	s.render(w, r, http.StatusOK, "setup", page{
		Title:         s.pages.lang(r.Header, nil).S("msg.setup.create_the_owner_account"),
		Form:          map[string]string{"token": token},
		PasswordRules: s.core.PasswordRules().Describe(),
	})
}

func (s signInUI) handleSetupForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	f := r.PostForm
	nu := NewUser{Username: f.Get("username"), Email: f.Get("email"), FullName: f.Get("full_name"), Password: f.Get("password")}
	form := map[string]string{"token": f.Get("token"), "username": nu.Username, "email": nu.Email, "full_name": nu.FullName}
	again := func(status int, msg string) {
		s.render(w, r, status, "setup", page{Title: s.pages.lang(r.Header, nil).S("msg.setup.create_the_owner_account"), Error: msg, Form: form, PasswordRules: s.core.PasswordRules().Describe()})
	}
	if nu.Password != f.Get("password2") {
		again(http.StatusBadRequest, s.pages.lang(r.Header, nil).S("msg.invitations.the_two_passwords_do"))
		return
	}
	u, err := s.core.Credentials.SetupOwner(r.Context(), s.requestActor(r), f.Get("token"), nu)
	var ie *InputError
	if !errors.Is(err, core.ErrSetupLink) && !errors.As(err, &ie) {
		attemptSucceeded(r.Context()) // the link was right
	}
	switch {
	case errors.As(err, &ie):
		_, msg := s.failMsg(ie)
		again(http.StatusBadRequest, msg)
		return
	case errors.Is(err, core.ErrSetupLink):
		s.renderError(w, r, http.StatusForbidden, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"), s.pages.lang(r.Header, nil).S("msg.setup.link_help"), nil)
		return
	case errors.Is(err, ErrBusy):
		again(http.StatusServiceUnavailable, s.pages.lang(r.Header, nil).S("msg.setup.the_server_is_busy"))
		return
	case err != nil:
		s.log.Error("setup", "error", err)
		again(http.StatusInternalServerError, s.pages.lang(r.Header, nil).S("js.went_wrong"))
		return
	}
	if _, err := s.startSession(w, r, u, false); err != nil {
		s.log.Error("setup: start session", "error", err)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
