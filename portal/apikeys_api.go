package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/store"
)

func (s *Service) apiCreateKey(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in KeyInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.createKey(c, in)
		return http.StatusCreated, v, err
	})
}

func (s *Service) apiListKeys(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.listKeys(c, r.URL.Query().Get("all") == "1")
		return http.StatusOK, list[APIKeyView]{Items: items}, err
	})
}

func (s *Service) apiRevokeKey(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.revokeKey(c, r.PathValue("id"))
	})
}

// revokeAllKeys ends every API key of u (when u is disabled or deleted).
func (s *Service) revokeAllKeys(a *caller, actor string, u *store.User) {
	n, err := s.store.DeleteUserAPIKeys(u.ID)
	if err != nil {
		s.log.Error("revoke api keys", "user", u.Username, "error", err)
		return
	}
	if n > 0 {
		s.core.Audit(a, store.Event{Actor: actor, Action: actionKeyRevoke, Resource: "user:" + u.Username, Outcome: outcomeSuccess,
			Reason: "all keys of a disabled or deleted user"})
	}
}
