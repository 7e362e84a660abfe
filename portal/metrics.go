package portal

import (
	"errors"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/metrics"
)

// countPortalThrottle counts a portal request refused by the per-address
// throttle; a refused password sign-in (POST /login, /api/v1/login) is a
// sign-in with result "throttled" too.
func countPortalThrottle(m *metrics.Metrics, path string) {
	m.Throttled("portal")
	if path == "/login" || path == "/api/v1/login" {
		m.SignIn(core.MethodPassword, "throttled")
	}
}

// countGuardThrottle counts an app password refused at the guard by the
// per-address throttle.
func countGuardThrottle(m *metrics.Metrics) {
	m.Throttled("guard")
	m.AppPasswordUse("throttled")
}

// countSignIn counts a sign-in of method that ended with err; refused
// says the account or device was locked.
func countSignIn(m *metrics.Metrics, method string, err error, locked bool) {
	switch {
	case err == nil:
		m.SignIn(method, "success")
	case locked:
		m.SignIn(method, "locked")
	case errors.Is(err, ErrBusy):
		m.SignIn(method, "busy")
	default:
		m.SignIn(method, "failure")
	}
}
