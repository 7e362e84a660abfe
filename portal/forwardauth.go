package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// Forward-auth: the guard's decision for proxies other than this Caddy.
// A proxy in front of an app (nginx auth_request, Traefik forwardAuth,
// another Caddy's forward_auth, HAProxy) asks the portal, for every
// request, whether to let it through, and passes the identity headers of
// the answer on to the app:
//
//   - GET /api/authz/forward-auth?app=<name> (Traefik, Caddy, HAProxy):
//     200 with the identity headers (and Cookie: the client's cookies
//     without Gatehouse's, for the proxy to pass on instead); not signed in: a browser navigation
//     is sent to the login page (302, the original URL as rd when it is an
//     allowed return target), other clients get 401; forbidden 403; a
//     second factor or a password change needed: as the guard answers.
//   - GET /api/authz/auth-request?app=<name> (nginx): 200 with the
//     identity headers, 401 or 403 only (nginx turns any other status into
//     500, and cannot pass a redirect on); the 401 of a browser navigation
//     carries the login URL in Location, which the nginx snippet reads
//     with auth_request_set and sends the browser to (error_page 401).
//     503 when the session store is unavailable (nginx answers 500).
//
// The original request comes from X-Forwarded-Method, -Proto, -Host and
// -Uri, honoured only when the request comes from one of Caddy's
// trusted_proxies (anyone else could name any host and path); otherwise
// 400. The decision is the guard's own: Service.Check on the original
// request (session cookie or API key, the same rules, headers and audit),
// with the same answers for the refusals (WriteRefusal).

// forwardAuthMaxValue bounds each X-Forwarded-* value.
const forwardAuthMaxValue = 8192

// handleForwardAuth answers GET /api/authz/forward-auth.
func (f forwardAuth) handleForwardAuth(w http.ResponseWriter, r *http.Request) { f.serve(w, r, true) }

// handleAuthRequest answers GET /api/authz/auth-request.
func (f forwardAuth) handleAuthRequest(w http.ResponseWriter, r *http.Request) { f.serve(w, r, false) }

// serve checks the original request behind r for the app the query
// names, and answers for a redirecting proxy (forward-auth) or for nginx
// (auth-request).
func (f forwardAuth) serve(w http.ResponseWriter, r *http.Request, redirect bool) {
	w.Header().Set("Cache-Control", "no-store")
	if f.trustedProxy == nil || !f.trustedProxy(r) {
		writeJSONError(w, http.StatusBadRequest, "forward-auth: this request does not come from a trusted proxy, so its X-Forwarded-* headers cannot be believed: "+
			"add the proxy's address to Caddy's trusted_proxies (global option: servers { trusted_proxies static <address> })")
		return
	}
	name := r.URL.Query().Get("app")
	if name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "forward-auth: the app parameter is required (?app=<name>)", "field": "app"})
		return
	}
	app, err := f.core.Access.AppNamed(name)
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "forward-auth: no app is called " + strconv.Quote(core.Truncate(name, 64)), "field": "app"})
		return
	}
	method, target, err := forwardedTarget(r.Header)
	if err != nil {
		f.writeAPIError(w, err)
		return
	}
	// The original request: the proxy's headers (the client's cookies,
	// Authorization, Accept) with the client's method and URL. Check strips
	// the client's identity headers from it and sets ours.
	o := r.Clone(r.Context())
	o.Method, o.Host, o.RequestURI = method, target.Host, target.RequestURI()
	o.URL = target
	v := f.Check(o, app)
	switch v.Outcome {
	case Allow:
		for _, k := range [...]string{f.headers.User, f.headers.Email, f.headers.Name, f.headers.Groups, f.headers.Impersonator, f.headers.Role} {
			if vs := o.Header[k]; k != "" && len(vs) > 0 {
				w.Header()[k] = vs
			}
		}
		// The client's cookies without ours, for a proxy that replaces the
		// app's Cookie header with it (apps never see a session token).
		if c := o.Header.Get("Cookie"); c != "" {
			w.Header().Set("Cookie", c)
		}
		w.WriteHeader(http.StatusOK)
		return
	case Unavailable:
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, "the sign-in service is unavailable, try again shortly")
		return
	}
	returnURL := ""
	if u, ok := f.core.Access.RedirectPolicy().Clean(target.String()); ok {
		returnURL = u
	}
	if redirect {
		f.WriteRefusal(w, o, v, returnURL)
		return
	}
	// nginx: 401 or 403 only; where a browser should go in Location.
	navigate := wantsHTML(o) && (method == http.MethodGet || method == http.MethodHead)
	base := f.portal.String()
	switch v.Outcome {
	case SignIn:
		if navigate {
			w.Header().Set("Location", f.LoginURL(returnURL))
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		writeJSONError(w, http.StatusUnauthorized, "not signed in: sign in at "+base+"/login")
	case StepUp:
		if navigate {
			w.Header().Set("Location", base+"/login/2fa?rd="+url.QueryEscape(returnURL))
		}
		writeJSONError(w, http.StatusForbidden, "this app requires a second factor: sign in with one at "+base+"/login")
	case ChangePassword:
		if navigate {
			w.Header().Set("Location", base+"/profile/password?rd="+url.QueryEscape(returnURL))
		}
		writeJSONError(w, http.StatusForbidden, "your password has expired: change it at "+base+"/profile/password")
	default:
		writeJSONError(w, http.StatusForbidden, "access to this app is not allowed")
	}
}

// forwardedTarget is the method and absolute URL of the original request
// a proxy describes in h: X-Forwarded-Method (default GET), -Proto (http
// or https), -Host and -Uri (default /). A missing or malformed value is
// an *InputError naming the header.
func forwardedTarget(h http.Header) (string, *url.URL, error) {
	get := func(name string) (string, error) {
		vs := h.Values(name)
		if len(vs) > 1 {
			return "", inputErr(name, "forward-auth: %s is sent more than once", name)
		}
		if len(vs) == 0 {
			return "", nil
		}
		v := strings.TrimSpace(vs[0])
		// A comma is a list (a chain of proxies) except in the URI.
		bad := " \t\r\n\\,"
		if name == "X-Forwarded-Uri" {
			bad = " \t\r\n"
		}
		if len(v) > forwardAuthMaxValue || strings.ContainsAny(v, bad) {
			return "", inputErr(name, "forward-auth: %s is not one plain value", name)
		}
		return v, nil
	}
	method, err := get("X-Forwarded-Method")
	if err != nil {
		return "", nil, err
	}
	if method == "" {
		method = http.MethodGet
	}
	for _, c := range method {
		if c < 'A' || c > 'Z' {
			return "", nil, inputErr("X-Forwarded-Method", "forward-auth: X-Forwarded-Method %q is not a method", method)
		}
	}
	proto, err := get("X-Forwarded-Proto")
	if err != nil {
		return "", nil, err
	}
	if proto != "http" && proto != "https" {
		return "", nil, inputErr("X-Forwarded-Proto", "forward-auth: X-Forwarded-Proto must be http or https (the proxy sets it to the client's scheme)")
	}
	host, err := get("X-Forwarded-Host")
	if err != nil {
		return "", nil, err
	}
	if host == "" || strings.ContainsAny(host, "/?#@") {
		return "", nil, inputErr("X-Forwarded-Host", "forward-auth: X-Forwarded-Host must be the host the client asked for (the proxy sets it)")
	}
	uri, err := get("X-Forwarded-Uri")
	if err != nil {
		return "", nil, err
	}
	if uri == "" {
		uri = "/"
	}
	if !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") {
		return "", nil, inputErr("X-Forwarded-Uri", "forward-auth: X-Forwarded-Uri must be the request's path and query, starting with one /")
	}
	u, err := url.Parse(proto + "://" + host + uri)
	if err != nil || u.Host != host || u.User != nil {
		return "", nil, inputErr("X-Forwarded-Host", "forward-auth: X-Forwarded-Host and X-Forwarded-Uri do not make a URL")
	}
	return method, u, nil
}
