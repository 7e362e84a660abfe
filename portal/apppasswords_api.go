package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

// App passwords (core/apppasswords.go): the caller's own under
// /api/v1/me/app-passwords, another user's under
// /api/v1/users/{user}/app-passwords for administrators.

func (s adminAPI) apiCreateAppPassword(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in core.AppPasswordInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.Credentials.CreateAppPassword(c, in)
		return http.StatusCreated, v, err
	})
}

func (s adminAPI) apiMyAppPasswords(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Credentials.ListAppPasswords(c)
		return http.StatusOK, list[core.AppPasswordView]{Items: items}, err
	})
}

func (s adminAPI) apiRevokeAppPassword(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Credentials.RevokeAppPassword(c, r.PathValue("id"))
	})
}

func (s adminAPI) apiUserAppPasswords(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Credentials.ListUserAppPasswords(c, r.PathValue("user"))
		return http.StatusOK, list[core.AppPasswordView]{Items: items}, err
	})
}

func (s adminAPI) apiRevokeUserAppPassword(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Credentials.RevokeUserAppPassword(c, r.PathValue("user"), r.PathValue("id"))
	})
}
