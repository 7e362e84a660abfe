package portal

import (
	"net/http"
)

func (s adminAPI) apiListSessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Sessions.OnlineSessions(c.SessionID)
		return http.StatusOK, list[SessionView]{Items: items}, err
	})
}

func (s adminAPI) apiRevokeSession(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Sessions.RevokeSession(c, r.PathValue("id"))
	})
}

func (s adminAPI) apiMySessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Sessions.UserSessions(c.User, c.SessionID)
		return http.StatusOK, list[SessionView]{Items: items}, err
	})
}

func (s adminAPI) apiRevokeMyOtherSessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		_, err := s.core.Sessions.RevokeUserSessions(c, c.User, c.SessionID)
		return http.StatusNoContent, nil, err
	})
}
