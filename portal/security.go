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

// setPageSecurityHeaders sets the headers every portal answer carries.
// The values share one allocation, each header with its own one-element
// slice capped at one, so no later edit of one reaches another.
func setPageSecurityHeaders(h http.Header) {
	v := [...]string{contentSecurityPolicy, "nosniff", "DENY", "no-referrer", "no-store"}
	h["Content-Security-Policy"] = v[0:1:1]
	h["X-Content-Type-Options"] = v[1:2:2]
	h["X-Frame-Options"] = v[2:3:3]
	h["Referrer-Policy"] = v[3:4:4]
	h["Cache-Control"] = v[4:5:5]
}

// setSecurityHeaders is setPageSecurityHeaders, plus HSTS for a request
// that came over TLS (tls): only the portal's own host, as the cookie
// domain's other hosts may still serve plain http (no includeSubDomains).
func setSecurityHeaders(h http.Header, tls bool) {
	setPageSecurityHeaders(h)
	if tls {
		h["Strict-Transport-Security"] = []string{hstsValue}
	}
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
		l := s.pages.lang(r.Header, nil)
		s.renderError(w, r, http.StatusForbidden, l.S("error.csrf.title"), l.S("error.cross_site"), nil)
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header(), r.TLS != nil)
		protected.ServeHTTP(w, r)
	})
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
