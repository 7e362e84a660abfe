package portal

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

type codeRequest struct {
	Code string `json:"code"`
}

type backupCodesResponse struct {
	BackupCodes []string `json:"backup_codes"`
}

// sessionResponse answers a finished sign-in.
type sessionResponse struct {
	User        UserView `json:"user"`
	BackupCodes []string `json:"backup_codes,omitempty"`
}

// apiPending runs fn for the request's pending login; 401 without one.
func (s secondStepUI) apiPending(w http.ResponseWriter, r *http.Request, fn func(p *pending) (int, any, error)) {
	p, err := s.pendingOf(r)
	if err != nil {
		writeJSONError(w, http.StatusUnauthorized, core.ErrNoPending.Error())
		return
	}
	status, v, err := fn(p)
	switch {
	case errors.Is(err, core.ErrBadCode):
		writeJSONError(w, http.StatusUnauthorized, core.ErrBadCode.Error())
	case errors.Is(err, core.ErrNoPending):
		writeJSONError(w, http.StatusUnauthorized, core.ErrNoPending.Error())
	case errors.Is(err, core.ErrEnrollRequired):
		writeJSONError(w, http.StatusForbidden, core.ErrEnrollRequired.Error())
	case err != nil:
		s.writeAPIError(w, err)
	default:
		writeJSON(w, status, v)
	}
}

// apiLoginCode completes a pending login with a TOTP or backup code.
func (s secondStepUI) apiLoginCode(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.apiPending(w, r, func(p *pending) (int, any, error) {
			var req codeRequest
			if err := decode(r, &req); err != nil {
				return 0, nil, err
			}
			u, err := s.secondStep(w, r, p, method, req.Code)
			if err != nil {
				return 0, nil, err
			}
			return http.StatusOK, sessionResponse{User: s.core.Users.View(u)}, nil
		})
	}
}

// apiLoginEnrollTOTP starts the enrollment a mandatory-2FA login needs.
func (s secondStepUI) apiLoginEnrollTOTP(w http.ResponseWriter, r *http.Request) {
	s.apiPending(w, r, func(p *pending) (int, any, error) {
		if !p.Enroll {
			return 0, nil, inputErr("", "this sign-in needs a second factor, not an enrollment")
		}
		e, err := s.core.Auth.BeginTOTP(p.User)
		if err == nil {
			attemptSucceeded(r.Context()) // the pending login was right; no code was checked
		}
		return http.StatusOK, e, err
	})
}

// apiLoginEnrollConfirm activates TOTP and finishes the login.
func (s secondStepUI) apiLoginEnrollConfirm(w http.ResponseWriter, r *http.Request) {
	s.apiPending(w, r, func(p *pending) (int, any, error) {
		if !p.Enroll {
			return 0, nil, inputErr("", "this sign-in needs a second factor, not an enrollment")
		}
		var req codeRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		codes, err := s.core.Auth.ConfirmTOTP(s.requestActor(r), p.User, req.Code)
		if err != nil {
			return 0, nil, err
		}
		u, err := s.finishLogin(w, r, p, core.MethodTOTP)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, sessionResponse{User: s.core.Users.View(u), BackupCodes: codes}, nil
	})
}

func (s secondStepUI) apiMyFactors(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		v, _, err := s.core.Auth.Factors(c.User)
		return http.StatusOK, v, err
	})
}

func (s secondStepUI) apiBeginTOTP(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		e, err := s.core.Auth.BeginTOTP(c.User)
		return http.StatusOK, e, err
	})
}

func (s secondStepUI) apiConfirmTOTP(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var req codeRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		codes, err := s.core.Auth.ConfirmTOTP(s.requestActor(r), c.User, req.Code)
		return http.StatusOK, backupCodesResponse{BackupCodes: codes}, err
	})
}

func (s secondStepUI) apiRemoveTOTP(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Auth.RemoveTOTP(s.requestActor(r), c.User.Username, c.User)
	})
}

func (s secondStepUI) apiRegenerateBackupCodes(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		codes, err := s.core.Auth.RegenerateBackupCodes(s.requestActor(r), c.User)
		return http.StatusOK, backupCodesResponse{BackupCodes: codes}, err
	})
}

func (s secondStepUI) apiResetFactors(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Auth.ResetFactors(c, r.PathValue("user"))
	})
}
