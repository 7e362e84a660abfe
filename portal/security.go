package portal

import (
	"net/http"
	"strings"
)

// maxBodyBytes bounds every request body the portal reads, unless its
// route declares more (s.bodyLimit in the route table).
const maxBodyBytes = 64 << 10

// maxImportBytes bounds a user import (about 10000 rows).
const maxImportBytes = 4 << 20

// contentSecurityPolicy allows only our own assets; no inline script or
// style, no framing, forms only to ourselves.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// hstsValue is the Strict-Transport-Security header of the portal when it
// is reached over https: one year, this host only.
const hstsValue = "max-age=31536000"

func setPageSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// secure wraps the portal's routes: security headers on every response
// (HSTS too when the request came over TLS),
// bounded bodies, and CSRF protection on every state-changing request
// (cross-origin and same-site browser requests are refused: sibling app
// subdomains share the session cookie, so same-site is not safe).
func (s *Service) secure(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPI(r) {
			writeJSONError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		s.renderError(w, r, http.StatusForbidden, "Request refused",
			"This request came from another site and was refused to protect your account.", nil)
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageSecurityHeaders(w.Header())
		if r.TLS != nil {
			// Only the portal's own host: the cookie domain's other
			// hosts may still serve plain http, so no includeSubDomains.
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		protected.ServeHTTP(w, r)
	})
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
