package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

// SSH public keys (core/sshkeys.go): the caller's own under
// /api/v1/me/ssh-keys. GET lists them; PUT {"keys":[…]} replaces the whole
// list (an empty list removes every key) and answers with it as stored.

func (s adminAPI) apiMySSHKeys(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Credentials.SSHKeys(c)
		return http.StatusOK, list[core.SSHKeyView]{Items: items}, err
	})
}

func (s adminAPI) apiSetSSHKeys(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in core.SSHKeysInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		items, err := s.core.Credentials.SetSSHKeys(c, in)
		return http.StatusOK, list[core.SSHKeyView]{Items: items}, err
	})
}
