package portal

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/store"
)

// currentUser returns the signed-in user of a portal request, or nil.
func (s *Service) currentUser(r *http.Request) (*store.User, resolution) {
	now := s.now()
	si, res := s.resolve(r.Header, now)
	if res != resolvedOK {
		return nil, res
	}
	return s.wholeUser(si, now)
}

func (s *Service) handleHome(w http.ResponseWriter, r *http.Request) {
	c := s.pageCaller(w, r, "", false)
	if c == nil {
		return
	}
	p := s.basePage(w, r, c, "Home", "home")
	for _, a := range s.appsFor(c.user) {
		p.Apps = append(p.Apps, pageApp{Name: a.Name, Title: a.Title, URL: a.URL})
	}
	s.render(w, http.StatusOK, "home", p)
}

func (s *Service) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	rd := r.URL.Query().Get("rd")
	if u, res := s.currentUser(r); res == resolvedOK && u != nil {
		http.Redirect(w, r, s.cleanReturn(rd), http.StatusFound)
		return
	}
	if _, ok := s.redirectPolicy().Clean(rd); !ok {
		rd = ""
	}
	s.render(w, http.StatusOK, "login", page{Title: "Sign in", Form: map[string]string{"rd": rd}})
}

func (s *Service) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	login, rd := r.PostForm.Get("username"), r.PostForm.Get("rd")
	_, err := s.signIn(w, r, login, r.PostForm.Get("password"), r.PostForm.Get("remember") != "")
	switch {
	case errors.Is(err, errSecondFactor):
		http.Redirect(w, r, "/login/2fa?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		return
	case errors.Is(err, errEnrollRequired):
		http.Redirect(w, r, "/login/enroll?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		return
	}
	if err != nil {
		status, msg := http.StatusUnauthorized, "Incorrect username or password."
		switch {
		case errors.Is(err, ErrBusy):
			status, msg = http.StatusServiceUnavailable, "Too many sign-in attempts right now. Try again in a moment."
		case !errors.Is(err, errBadCredentials):
			s.log.Error("login", "error", err)
			status, msg = http.StatusInternalServerError, "Something went wrong. Try again."
		}
		if _, ok := s.redirectPolicy().Clean(rd); !ok {
			rd = ""
		}
		s.render(w, status, "login", page{Title: "Sign in", Error: msg, Form: map[string]string{"username": login, "rd": rd}})
		return
	}
	s.redirectAfterForm(w, r, s.cleanReturn(rd))
}

// handleLogoutPage asks to confirm the sign-out. An rd (from the guard's
// "Sign in as someone else") rides along, so the signed-out page offers to
// sign in again to it.
func (s *Service) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	rd := s.cleanRD(r.URL.Query().Get("rd"))
	if c, res := s.callerOf(r); res == resolvedOK {
		p := s.basePage(w, r, c, "Sign out", "")
		p.Form["rd"] = rd
		s.render(w, http.StatusOK, "logout", p)
		return
	}
	s.render(w, http.StatusOK, "logout", page{Title: "Signed out", Form: map[string]string{"rd": rd}})
}

func (s *Service) handleLogoutForm(w http.ResponseWriter, r *http.Request) {
	s.signOut(w, r)
	rd := s.cleanRD(r.PostFormValue("rd"))
	s.render(w, http.StatusOK, "logout", page{Title: "Signed out", Form: map[string]string{"rd": rd}})
}

func (s *Service) handleSetupPage(w http.ResponseWriter, r *http.Request) {
	if has, err := s.store.HasUsers(); err != nil || has {
		s.renderError(w, r, http.StatusNotFound, "Setup is complete",
			"Gatehouse already has an owner. Sign in instead.", nil)
		return
	}
	token := r.URL.Query().Get("token")
	if !s.setupTokenValid(token) {
		s.renderError(w, r, http.StatusForbidden, "Link not valid", setupLinkHelp, nil)
		return
	}
	s.render(w, http.StatusOK, "setup", page{
		Title:         "Create the owner account",
		Form:          map[string]string{"token": token},
		PasswordRules: s.passwordRules().Describe(),
	})
}

func (s *Service) handleSetupForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	f := r.PostForm
	nu := NewUser{Username: f.Get("username"), Email: f.Get("email"), FullName: f.Get("full_name"), Password: f.Get("password")}
	form := map[string]string{"token": f.Get("token"), "username": nu.Username, "email": nu.Email, "full_name": nu.FullName}
	again := func(status int, msg string) {
		s.render(w, status, "setup", page{Title: "Create the owner account", Error: msg, Form: form, PasswordRules: s.passwordRules().Describe()})
	}
	if nu.Password != f.Get("password2") {
		again(http.StatusBadRequest, "The two passwords do not match.")
		return
	}
	u, err := s.setupOwner(r, f.Get("token"), nu)
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		again(http.StatusBadRequest, sentence(ie.Error()))
		return
	case errors.Is(err, errSetupLink):
		s.renderError(w, r, http.StatusForbidden, "Link not valid", setupLinkHelp, nil)
		return
	case errors.Is(err, ErrBusy):
		again(http.StatusServiceUnavailable, "The server is busy. Try again in a moment.")
		return
	case err != nil:
		s.log.Error("setup", "error", err)
		again(http.StatusInternalServerError, "Something went wrong. Try again.")
		return
	}
	if _, err := s.startSession(w, r, u, false); err != nil {
		s.log.Error("setup: start session", "error", err)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Service) handleNotFound(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		writeJSONError(w, http.StatusNotFound, "no such endpoint")
		return
	}
	u, _ := s.currentUser(r)
	s.renderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.", u)
}
