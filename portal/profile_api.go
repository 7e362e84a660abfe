package portal

import (
	"net/http"
)

// The caller's own account.

func (s *Service) apiPatchMe(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		var in ProfileInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		res, err := s.updateProfile(c, r, in)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, s.view(res.user), nil
	})
}
