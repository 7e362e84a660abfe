package portal

import (
	"encoding/json"
	"net/http"
)

func (s adminAPI) apiGetSettings(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusOK, s.core.Settings(), nil
	})
}

func (s adminAPI) apiPatchSettings(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var raw json.RawMessage
		if err := decode(r, &raw); err != nil {
			return 0, nil, err
		}
		st, err := s.core.UpdateSettings(r.Context(), c, raw)
		return http.StatusOK, st, err
	})
}

type testMailRequest struct {
	To string `json:"to"`
}

func (s adminAPI) apiTestMail(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var req testMailRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.core.Credentials.SendTestMail(r.Context(), c, req.To)
	})
}
