package portal

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/core"
)

func (s signInUI) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	rd := r.URL.Query().Get("rd")
	// reauth: an app asked for a fresh sign-in (OpenID Connect prompt=login
	// or max_age); the form is shown even to a signed-in user.
	if u, res := s.currentUser(r); res == resolvedOK && u != nil && r.URL.Query().Get("reauth") == "" {
		http.Redirect(w, r, s.cleanReturn(rd), http.StatusFound)
		return
	}
	if _, ok := s.core.Access.RedirectPolicy().Clean(rd); !ok {
		rd = ""
	}
	s.render(w, r, http.StatusOK, "login", page{Title: s.pages.lang(r.Header, nil).S("login.title"), Form: map[string]string{"rd": rd}})
}

func (s signInUI) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	login, rd := r.PostForm.Get("username"), r.PostForm.Get("rd")
	_, err := s.signIn(w, r, login, r.PostForm.Get("password"), r.PostForm.Get("remember") != "")
	switch {
	case errors.Is(err, core.ErrSecondFactor):
		http.Redirect(w, r, "/login/2fa?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		return
	case errors.Is(err, core.ErrEnrollRequired):
		http.Redirect(w, r, "/login/enroll?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		return
	}
	if err != nil {
		status, msg := http.StatusUnauthorized, s.pages.lang(r.Header, nil).S("msg.login.incorrect_username_or_password")
		switch {
		case errors.Is(err, ErrBusy):
			status, msg = http.StatusServiceUnavailable, s.pages.lang(r.Header, nil).S("msg.login.too_many_sign_in")
		case errors.Is(err, core.ErrDirectoryUnavailable):
			status, msg = http.StatusServiceUnavailable, s.pages.lang(r.Header, nil).S("msg.login.the_directory_that_checks")
		case !errors.Is(err, core.ErrBadCredentials):
			s.log.Error("login", "error", err)
			status, msg = http.StatusInternalServerError, s.pages.lang(r.Header, nil).S("js.went_wrong")
		}
		if _, ok := s.core.Access.RedirectPolicy().Clean(rd); !ok {
			rd = ""
		}
		s.render(w, r, status, "login", page{Title: s.pages.lang(r.Header, nil).S("login.title"), Error: msg, Form: map[string]string{"username": login, "rd": rd}})
		return
	}
	s.redirectAfterForm(w, r, s.cleanReturn(rd))
}

// handleLogoutPage asks to confirm the sign-out. An rd (from the guard's
// "Sign in as someone else") rides along, so the signed-out page offers to
// sign in again to it.
func (s signInUI) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	rd := s.secondStepUI().cleanRD(r.URL.Query().Get("rd"))
	if c, res := s.callerOf(r); res == resolvedOK {
		p := s.basePage(w, r, c, s.pages.lang(r.Header, nil).S("layout.sign_out"), "")
		p.Form["rd"] = rd
		s.render(w, r, http.StatusOK, "logout", p)
		return
	}
	s.render(w, r, http.StatusOK, "logout", page{Title: s.pages.lang(r.Header, nil).S("msg.login.signed_out"), Form: map[string]string{"rd": rd}})
}

func (s signInUI) handleLogoutForm(w http.ResponseWriter, r *http.Request) {
	s.signOut(w, r)
	rd := s.secondStepUI().cleanRD(r.PostFormValue("rd"))
	s.render(w, r, http.StatusOK, "logout", page{Title: s.pages.lang(r.Header, nil).S("msg.login.signed_out"), Form: map[string]string{"rd": rd}})
}
