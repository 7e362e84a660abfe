package portal

import (
	"net/http"
)

func (s adminAPI) apiListRoles(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Access.ListRoles()
		return http.StatusOK, list[RoleView]{Items: items}, err
	})
}

func (s adminAPI) apiGetRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		v, err := s.core.Access.Role(r.PathValue("role"))
		return http.StatusOK, v, err
	})
}

func (s adminAPI) apiCreateRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in RoleInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.Access.CreateRole(c, in)
		return http.StatusCreated, v, err
	})
}

func (s adminAPI) apiPatchRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in RoleInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.Access.UpdateRole(c, r.PathValue("role"), in)
		return http.StatusOK, v, err
	})
}

func (s adminAPI) apiDeleteRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Access.DeleteRole(c, r.PathValue("role"))
	})
}
