package portal

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Remember bool   `json:"remember"`
}

type loginResponse struct {
	User                 UserView `json:"user"`
	SecondFactorRequired bool     `json:"second_factor_required"`
	// Methods lists the second steps the user can take: "webauthn",
	// "totp", "backup_code" (when SecondFactorRequired).
	Methods []string `json:"methods,omitempty"`
	// EnrollmentRequired: 2FA is mandatory and the user has no second
	// factor: set one up with /api/v1/login/enroll/totp first.
	EnrollmentRequired bool `json:"enrollment_required,omitempty"`
}

func (s signInUI) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		writeJSONError(w, bodyErrorStatus(err), err.Error())
		return
	}
	u, err := s.signIn(w, r, req.Username, req.Password, req.Remember)
	switch {
	case errors.Is(err, core.ErrSecondFactor):
		m, err := s.store.MFA(u.ID)
		if err != nil {
			s.writeAPIError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, loginResponse{User: s.core.Users.View(u), SecondFactorRequired: true, Methods: core.MethodsOf(m)})
		return
	case errors.Is(err, core.ErrEnrollRequired):
		writeJSON(w, http.StatusOK, loginResponse{User: s.core.Users.View(u), SecondFactorRequired: true, EnrollmentRequired: true, Methods: []string{}})
		return
	case errors.Is(err, core.ErrBadCredentials):
		writeJSONError(w, http.StatusUnauthorized, core.ErrBadCredentials.Error())
		return
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, ErrBusy.Error())
		return
	case errors.Is(err, core.ErrDirectoryUnavailable):
		w.Header().Set("Retry-After", "60")
		writeJSONError(w, http.StatusServiceUnavailable, core.ErrDirectoryUnavailable.Error())
		return
	case err != nil:
		s.log.Error("api login", "error", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, loginResponse{User: s.core.Users.View(u)})
}

func (s signInUI) apiLogout(w http.ResponseWriter, r *http.Request) {
	s.signOut(w, r)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
