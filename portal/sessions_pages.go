package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// sessionsData is the content of /admin/sessions.
type sessionsData struct {
	Sessions []SessionView
	Users    int
}

func (s accessUI) handleSessions(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderSessions(w, r, c, http.StatusOK, "")
}

func (s accessUI) renderSessions(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string) {
	items, err := s.core.Sessions.OnlineSessions(c.SessionID)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	users := map[string]bool{}
	for _, it := range items {
		users[it.Username] = true
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.sessions"), "sessions")
	p.Error = errMsg
	p.Data = sessionsData{Sessions: items, Users: len(users)}
	s.render(w, r, status, "sessions", p)
}

func (s accessUI) handleRevokeSession(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Sessions.RevokeSession(c, r.PathValue("id")); err != nil {
		status, msg := s.failMsg(err)
		if c.Can(policies.PermSessionsRead) {
			s.renderSessions(w, r, c, status, msg)
		} else {
			s.pageError(w, r, c, status, http.StatusText(status), msg)
		}
		return
	}
	s.done(w, r, c, "/admin/sessions", s.pages.tr(c, "msg.profile.the_session_was_signed"))
}
