package portal

import (
	"net/http"
)

func (s adminAPI) apiListInvitations(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Credentials.ListInvitations()
		return http.StatusOK, list[InvitationView]{Items: items}, err
	})
}

func (s adminAPI) apiCreateInvitation(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in InvitationInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.Credentials.CreateInvitation(r.Context(), c, in)
		return http.StatusCreated, v, err
	})
}

func (s adminAPI) apiRevokeInvitation(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Credentials.RevokeInvitation(c, r.PathValue("id"))
	})
}
