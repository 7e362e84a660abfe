package portal

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/oidcprovider"
)

// serveOIDCEndSession is the provider's RP-initiated logout: an app's
// request with an ID token hint for this browser's session ends it and
// returns to the app's registered post_logout_redirect_uri (with its
// state); any other request asks first ("Sign out of Gatehouse?", a POST
// with the session's CSRF token), so a bare link cannot sign anyone out.
// An unregistered post_logout_redirect_uri is never redirected to.
func serveOIDCEndSession(s *Service, p *oidcprovider.Provider, w http.ResponseWriter, r *http.Request) {
	setPageSecurityHeaders(w.Header())
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, s.pages.lang(r.Header, nil).S("msg.oidclogout.bad_sign_out_request"), s.pages.lang(r.Header, nil).S("msg.oidclogout.the_app_sent_a"), nil)
		return
	}
	l, err := p.ParseLogout(r.Context(), r.Form)
	if err != nil {
		msg := s.pages.lang(r.Header, nil).S("msg.oidclogout.the_app_sent_a_2")
		if errors.Is(err, oidcprovider.ErrLogoutRedirect) {
			msg = s.pages.lang(r.Header, nil).S("msg.oidclogout.the_app_asked_to")
		}
		s.renderError(w, r, http.StatusBadRequest, s.pages.lang(r.Header, nil).S("error.sign_out_refused.title"), msg, nil)
		return
	}
	done := func() {
		if l.Return != "" {
			http.Redirect(w, r, l.Return, http.StatusFound)
			return
		}
		s.render(w, r, http.StatusOK, "logout", page{Title: s.pages.lang(r.Header, nil).S("msg.login.signed_out"), Form: map[string]string{}})
	}
	c, res := s.callerOf(r)
	switch {
	case res == resolvedUnavailable:
		s.renderError(w, r, http.StatusServiceUnavailable, s.pages.lang(r.Header, nil).S("msg.oidcconsent.try_again"), s.pages.lang(r.Header, nil).S("msg.oidcconsent.the_sign_in_service"), nil)
		return
	case res != resolvedOK:
		// Nobody is signed in here: nothing to end.
		done()
		return
	}
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "1"
	if confirmed && !s.csrfValid(c, r.PostForm.Get("csrf")) {
		s.renderError(w, r, http.StatusForbidden, s.pages.lang(r.Header, nil).S("error.csrf.title"),
			s.pages.lang(r.Header, nil).S("error.csrf"), nil)
		return
	}
	hinted := l.UserID != "" && l.UserID == c.User.ID && l.SID != "" && l.SID == p.SessionSID(c.SessionID)
	if confirmed || hinted && c.Impersonator == "" {
		s.signInUI().signOut(w, r)
		done()
		return
	}
	pg := s.basePage(w, r, c, s.pages.lang(r.Header, nil).S("layout.sign_out"), "")
	pg.Form["action"] = oidcprovider.EndSessionPath
	pg.Form["confirm"] = "1"
	for k := range l.Params {
		pg.Form[k] = l.Params.Get(k)
	}
	s.render(w, r, http.StatusOK, "logout", pg)
}
