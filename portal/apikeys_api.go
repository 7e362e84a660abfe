package portal

import (
	"net/http"
)

func (s adminAPI) apiCreateKey(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in KeyInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.Credentials.CreateKey(c, in)
		return http.StatusCreated, v, err
	})
}

func (s adminAPI) apiListKeys(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Credentials.ListKeys(c, r.URL.Query().Get("all") == "1")
		return http.StatusOK, list[APIKeyView]{Items: items}, err
	})
}

func (s adminAPI) apiRevokeKey(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Credentials.RevokeKey(c, r.PathValue("id"))
	})
}
