package portal

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// impersonationRoutes adds the impersonation and temporary-password calls
// and pages.
func (s adminAPI) impersonationRoutes(mux *routeMux) {
	mux.Handle("POST /api/v1/users/{user}/impersonate", s.api("", s.apiStartImpersonation))
	mux.Handle("DELETE /api/v1/impersonation", s.ownSession(s.apiStopImpersonation))
	mux.Handle("POST /api/v1/users/{user}/temp-password", s.adminCredential(core.SelfPassword, s.apiTempPassword).api(policies.PermUsersWrite))
	mux.HandleFunc("POST /admin/users/{user}/impersonate", s.signedIn(policies.PermImpersonate, s.usersUI().handleUserImpersonate))
	mux.Handle("POST /admin/users/{user}/temp-password", s.adminCredential(core.SelfPassword, s.signedIn(policies.PermUsersWrite, s.handleUserTempPassword)))
	mux.HandleFunc("POST /impersonation/stop", s.signedInExpired(s.usersUI().handleStopImpersonation))
}

// impersonationResponse answers POST /api/v1/users/{user}/impersonate.
type impersonationResponse struct {
	// User is the impersonated user, whom the session now acts as.
	User UserView `json:"user"`
	// Impersonator is the username of who acts.
	Impersonator string `json:"impersonator"`
	// ExpiresAt is when the impersonation ends at the latest.
	ExpiresAt time.Time `json:"expires_at"`
}

// stopResponse answers DELETE /api/v1/impersonation.
type stopResponse struct {
	// User is the impersonator, signed in again with their own session;
	// absent when that session had ended and the browser was signed out.
	User *UserView `json:"user,omitempty"`
	// SignedOut: the impersonator's own session had ended.
	SignedOut bool `json:"signed_out,omitempty"`
}

func (s adminAPI) apiStartImpersonation(w http.ResponseWriter, r *http.Request) {
	c := routeCaller(r.Context())
	u, ic, err := s.usersUI().startImpersonation(w, r, c, r.PathValue("user"))
	if err != nil {
		s.writeAPIError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, impersonationResponse{User: s.core.Users.View(u), Impersonator: c.User.Username, ExpiresAt: ic.Session.ExpiresAt})
}

func (s adminAPI) apiStopImpersonation(w http.ResponseWriter, r *http.Request) {
	c, res := s.callerOf(r)
	switch res {
	case resolvedUnavailable:
		writeJSONError(w, http.StatusServiceUnavailable, "the sign-in service is unavailable")
		return
	case resolvedNone:
		if s.usersUI().endDeadImpersonation(w, r) {
			writeJSON(w, http.StatusOK, stopResponse{SignedOut: true})
			return
		}
		writeJSONError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	actor, _, err := s.usersUI().stopImpersonation(w, r, c)
	switch {
	case err != nil:
		s.writeAPIError(w, err)
	case actor == nil:
		writeJSON(w, http.StatusOK, stopResponse{SignedOut: true})
	default:
		v := s.core.Users.View(actor)
		writeJSON(w, http.StatusOK, stopResponse{User: &v})
	}
}
