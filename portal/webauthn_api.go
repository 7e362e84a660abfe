package portal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

// keyNameRequest renames a security key or passkey.
type keyNameRequest struct {
	Name string `json:"name"`
}

// apiBeginKeyRegistration: POST /api/v1/me/webauthn/register/begin
// {"name","passkey"} → the options for navigator.credentials.create.
func (s accountUI) apiBeginKeyRegistration(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var req RegisterKeyRequest
		if err := decodeOptional(r, &req); err != nil {
			return 0, nil, err
		}
		creation, err := s.beginRegistration(w, c.User, req)
		return http.StatusOK, creation, err
	})
}

// apiFinishKeyRegistration: POST /api/v1/me/webauthn/register/finish with
// the browser's PublicKeyCredential → 201 and the new key.
func (s accountUI) apiFinishKeyRegistration(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		k, err := s.finishRegistration(w, r, c.User)
		return http.StatusCreated, k, err
	})
}

// apiRenameKey: PATCH /api/v1/me/webauthn/{id} {"name"}.
func (s accountUI) apiRenameKey(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var req keyNameRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		k, err := s.core.Auth.RenameKey(s.requestActor(r), c.User, r.PathValue("id"), req.Name)
		return http.StatusOK, k, err
	})
}

// apiRemoveKey: DELETE /api/v1/me/webauthn/{id}.
func (s accountUI) apiRemoveKey(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Auth.RemoveKey(s.requestActor(r), c.User, r.PathValue("id"))
	})
}

// apiBeginKeyLogin: POST /api/v1/login/webauthn/begin, optionally
// {"passkey": true} → the options for navigator.credentials.get. No
// session is needed: it is the second step of the pending login, or a
// passkey sign-in.
func (s accountUI) apiBeginKeyLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginKeyRequest
	if err := decodeOptional(r, &req); err != nil {
		s.writeAPIError(w, err)
		return
	}
	assertion, err := s.secondStepUI().beginLoginCeremony(w, r, req.Passkey)
	if err != nil {
		s.writeKeyLoginError(w, err)
		return
	}
	attemptSucceeded(r.Context()) // a ceremony begun is no guess
	writeJSON(w, http.StatusOK, assertion)
}

// apiFinishKeyLogin: POST /api/v1/login/webauthn/finish with the
// browser's PublicKeyCredential → 200 {"user"} and the session cookie;
// 401 when the key is refused.
func (s accountUI) apiFinishKeyLogin(w http.ResponseWriter, r *http.Request) {
	u, err := s.secondStepUI().finishLoginCeremony(w, r)
	if err != nil {
		s.writeKeyLoginError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionResponse{User: s.core.Users.View(u)})
}

// writeKeyLoginError answers a failed key sign-in step.
func (s accountUI) writeKeyLoginError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errKeyRefused):
		writeJSONError(w, http.StatusUnauthorized, errKeyRefused.Error())
	case errors.Is(err, core.ErrNoPending):
		writeJSONError(w, http.StatusUnauthorized, core.ErrNoPending.Error())
	case errors.Is(err, errNoCeremony):
		writeJSONError(w, http.StatusBadRequest, errNoCeremony.Error())
	case errors.Is(err, core.ErrEnrollRequired):
		writeJSONError(w, http.StatusForbidden, core.ErrEnrollRequired.Error())
	default:
		s.writeAPIError(w, err)
	}
}

// decodeOptional is decode for a body that may be left out: an empty body
// keeps v's zero value.
func decodeOptional(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &bodyTooLargeError{limit: mbe.Limit}
		}
		return fmt.Errorf("portal: read request body: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decode(r, v)
}
