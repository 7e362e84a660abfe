package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// serveHandoff answers the single sign-on path of an app on another
// domain (portal.HostSignIn.ServeHandoff) and reports whether the request
// was for it. Caddy's access log records the request's URI before any
// handler runs, so a line for this request would hold the one-time code:
// it is left out of the access log (the audit log records the sign-in,
// with its user, host and outcome, and the code nowhere).
func (g *Guard) serveHandoff(w http.ResponseWriter, r *http.Request) bool {
	if !g.sso.ServeHandoff(w, r) {
		return false
	}
	caddyhttp.SetVar(r.Context(), caddyhttp.LogSkipVar, true)
	return true
}
