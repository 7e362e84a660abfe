package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

// The directory server's bind clients: POST, GET and DELETE
// /api/v1/ldap/clients (settings.write; see core/ldapclients.go).

func (s adminAPI) apiCreateLDAPClient(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in core.LDAPClientInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.Credentials.CreateLDAPClient(c, in)
		return http.StatusCreated, v, err
	})
}

func (s adminAPI) apiListLDAPClients(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Credentials.ListLDAPClients(c)
		return http.StatusOK, list[core.LDAPClientView]{Items: items}, err
	})
}

func (s adminAPI) apiDeleteLDAPClient(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Credentials.DeleteLDAPClient(c, r.PathValue("name"))
	})
}
