package portal

import (
	"net/http"
)

func (s *Service) apiListRoles(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.ListRoles()
		return http.StatusOK, list[RoleView]{Items: items}, err
	})
}

func (s *Service) apiGetRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		v, err := s.core.Role(r.PathValue("role"))
		return http.StatusOK, v, err
	})
}

func (s *Service) apiCreateRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in RoleInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.CreateRole(c, in)
		return http.StatusCreated, v, err
	})
}

func (s *Service) apiPatchRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in RoleInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.UpdateRole(c, r.PathValue("role"), in)
		return http.StatusOK, v, err
	})
}

func (s *Service) apiDeleteRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.DeleteRole(c, r.PathValue("role"))
	})
}
