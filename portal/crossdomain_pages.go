package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// handoffUI is the portal's half of the single sign-on for apps on other
// domains (crossdomain.go has the guard's): the page a guard sends the
// browser to, which makes the one-time code for the signed-in session.
type handoffUI struct{ s *Service }

// handleHandoff answers GET /login/handoff?app=&rd=&state= (a top-level
// navigation from the app's guard). The app must sign in across domains
// and rd lie on its URL's origin (core.Access.HandoffTarget), else 400.
// Nobody signed in: the login page, which comes back here. Signed in: a
// one-time code for this session, bound to the app's host, the app, rd and
// the state's hash, and a redirect to the guard's core.HandoffPath with
// the code only. The code is then hidden from the Location header that
// Caddy's access log records.
func (x handoffUI) handleHandoff(w http.ResponseWriter, r *http.Request) {
	s := x.s
	q := r.URL.Query()
	app, state := q.Get("app"), q.Get("state")
	rd, origin, err := s.core.Access.HandoffTarget(app, q.Get("rd"))
	if err == nil && !core.WellFormedToken(state) {
		err = inputErr("state", "the sign-in state is missing or malformed")
	}
	if err != nil {
		s.render(w, r, http.StatusBadRequest, "error", page{Title: s.pages.lang(r.Header, nil).S("msg.crossdomain.this_sign_in_link"), Status: http.StatusBadRequest,
			Message: s.pages.lang(r.Header, nil).S("msg.crossdomain.the_app_sent_you", "Reason", plainMessage(err))})
		return
	}
	c, res := s.callerOf(r)
	switch res {
	case resolvedUnavailable:
		s.render(w, r, http.StatusServiceUnavailable, "error", page{Title: s.pages.lang(r.Header, nil).S("msg.crossdomain.try_again_shortly"), Status: http.StatusServiceUnavailable,
			Message: s.pages.lang(r.Header, nil).S("msg.crossdomain.the_sign_in_service")})
		return
	case resolvedNone:
		setPageSecurityHeaders(w.Header())
		http.Redirect(w, r, "/login?rd="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return
	}
	code, err := s.core.Sessions.IssueHandoff(c, core.Handoff{Host: core.HostName(origin.Host), App: app, ReturnURL: rd, StateHash: state})
	if err != nil {
		status, msg := s.statusOf(err)
		if errors.Is(err, ErrForbidden) {
			msg = s.pages.lang(r.Header, nil).S("msg.crossdomain.sign_in_to_the")
		}
		s.render(w, r, status, "error", page{Title: s.pages.lang(r.Header, nil).S("msg.crossdomain.cannot_sign_you_in"), Status: status, Message: msg})
		return
	}
	setPageSecurityHeaders(w.Header())
	http.Redirect(w, r, origin.String()+core.HandoffPath+"?code="+code, http.StatusFound)
	redactHandoffCode(w.Header())
}

// redactHandoffCode hides the code in the Location header once the
// redirect is written: the browser has it, and Caddy's access log, which
// records the response headers after the handler returns, must not.
func redactHandoffCode(h http.Header) {
	if loc := h.Get("Location"); strings.Contains(loc, core.HandoffPath+"?code=") {
		i := strings.Index(loc, "?code=")
		h.Set("Location", loc[:i]+"?code=REDACTED")
	}
}
