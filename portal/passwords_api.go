package portal

import (
	"net/http"
)

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	Password        string `json:"password"`
}

func (s accountUI) apiChangePassword(w http.ResponseWriter, r *http.Request) {
	// The one call a user with an expired password may make.
	c, res := s.callerOf(r)
	if res != resolvedOK {
		writeJSONError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	if c.Key != nil {
		writeJSONError(w, http.StatusForbidden, "an API key cannot change the password")
		return
	}
	var req changePasswordRequest
	if err := decode(r, &req); err != nil {
		s.writeAPIError(w, err)
		return
	}
	if err := s.core.Credentials.ChangeOwnPassword(r.Context(), c, req.CurrentPassword, req.Password); err != nil {
		s.writeAPIError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type forgotRequest struct {
	Login string `json:"login"`
}

// apiForgot always answers 202, whether or not the account exists.
func (s accountUI) apiForgot(w http.ResponseWriter, r *http.Request) {
	var req forgotRequest
	if err := decode(r, &req); err != nil {
		s.writeAPIError(w, err)
		return
	}
	s.core.Credentials.ForgotPassword(r.Context(), s.requestActor(r), req.Login)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "if the account exists and has an email address, a reset link is on its way"})
}
