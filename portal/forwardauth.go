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

// serveForwardAuth answers a GET or HEAD of the forward-auth endpoints
// ahead of the portal's route chain (ServeHTTP) and reports whether r was
// one. A proxy asks them once per request it proxies, so they skip what
// none of their answers needs: the CSRF check (they are safe methods),
// the note of an impersonator for the portal's audit (the check audits
// with an actor of its own), the body limit (they read no body) and the
// route lookup. The answer is the same as through the route table, whose
// entries stay for other methods and the route table's tests; serve sets
// the security headers on a refusal itself.
func (s *Service) serveForwardAuth(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case forwardAuthPath:
		forwardAuth{s}.serve(w, r, true)
	case authRequestPath:
		forwardAuth{s}.serve(w, r, false)
	default:
		return false
	}
	return true
}

// The forward-auth endpoints' paths.
const (
	forwardAuthPath = "/api/authz/forward-auth"
	authRequestPath = "/api/authz/auth-request"
)

// forwardAuthHeaders are the headers of the original request that the
// check and the refusals read: the client's cookies, an API key or app
// password, what kind of client it is. Only these are checked, so no
// identity header the client sent can be in the request checked.
var forwardAuthHeaders = [...]string{"Cookie", "Authorization", "Accept", "Sec-Fetch-Mode", "User-Agent"}

// serve checks the original request behind r for the app the query
// names, and answers for a redirecting proxy (forward-auth) or for nginx
// (auth-request). A 200 carries Cache-Control: no-store, the identity
// headers and the client's cookies without ours, for the proxy only;
// every refusal also carries the portal's security headers, as Traefik and
// Caddy's forward_auth pass it on to the client.
func (f forwardAuth) serve(w http.ResponseWriter, r *http.Request, redirect bool) {
	w.Header()["Cache-Control"] = []string{"no-store"}
	if f.trustedProxy == nil || !f.trustedProxy(r) {
		f.refusing(w, r)
		writeJSONError(w, http.StatusBadRequest, "forward-auth: this request does not come from a trusted proxy, so its X-Forwarded-* headers cannot be believed: "+
			"add the proxy's address to Caddy's trusted_proxies (global option: servers { trusted_proxies static <address> })")
		return
	}
	name, ok := strings.CutPrefix(r.URL.RawQuery, "app=")
	if !ok || strings.ContainsAny(name, "&;%+") {
		name = r.URL.Query().Get("app")
	}
	if name == "" {
		f.refusing(w, r)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "forward-auth: the app parameter is required (?app=<name>)", "field": "app"})
		return
	}
	app, err := f.core.Access.AppNamed(name)
	if err != nil {
		f.refusing(w, r)
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "forward-auth: no app is called " + strconv.Quote(core.Truncate(name, 64)), "field": "app"})
		return
	}
	fw, err := forwardedRequest(r.Header)
	if err != nil {
		f.refusing(w, r)
		f.writeAPIError(w, err)
		return
	}
	// The original request's header: only forwardAuthHeaders. The check
	// edits the cookies in place, so they are copied; it only replaces or
	// deletes the others. r gives the client's address.
	h := make(http.Header, 8)
	for _, k := range forwardAuthHeaders {
		if vs := r.Header[k]; len(vs) > 0 {
			if k == "Cookie" {
				vs = append([]string(nil), vs...)
			}
			h[k] = vs
		}
	}
	v := f.check(h, r, "", app)
	if v.Outcome == Allow {
		out := w.Header()
		for _, k := range [...]string{f.headers.User, f.headers.Email, f.headers.Name, f.headers.Groups, f.headers.Impersonator, f.headers.Role, f.headers.JWT} {
			if vs := h[k]; k != "" && len(vs) > 0 {
				out[k] = vs
			}
		}
		// The client's cookies without ours, for a proxy that replaces the
		// app's Cookie header with it (apps never see a session token).
		if vs := h["Cookie"]; len(vs) > 0 && vs[0] != "" {
			out["Cookie"] = vs[:1:1]
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	f.refusing(w, r)
	if v.Outcome == Unavailable {
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, "the sign-in service is unavailable, try again shortly")
		return
	}
	// The original request, for the refusal.
	o := r.WithContext(r.Context())
	o.Method, o.Host, o.RequestURI, o.Header = fw.method, fw.host, fw.uri, h
	target, err := url.Parse(fw.proto + "://" + fw.host + fw.uri)
	if err != nil || target.Host != fw.host || target.User != nil {
		f.writeAPIError(w, inputErr("X-Forwarded-Host", "forward-auth: X-Forwarded-Host and X-Forwarded-Uri do not make a URL"))
		return
	}
	o.URL = target
	returnURL := ""
	if u, ok := f.core.Access.RedirectPolicy().Clean(target.String()); ok {
		returnURL = u
	}
	if redirect {
		f.WriteRefusal(w, o, v, returnURL)
		return
	}
	// nginx: 401 or 403 only; where a browser should go in Location.
	navigate := wantsHTML(h) && (fw.method == http.MethodGet || fw.method == http.MethodHead)
	base := f.portal.String()
	switch v.Outcome {
	case SignIn:
		if navigate {
			w.Header().Set("Location", f.LoginURL(returnURL))
		}
		if v.Realm != "" {
			w.Header().Add("WWW-Authenticate", basicChallenge(v.Realm))
		}
		w.Header().Add("WWW-Authenticate", `Bearer realm="gatehouse"`)
		writeJSONError(w, http.StatusUnauthorized, "not signed in: sign in at "+base+"/login")
	case Throttled:
		// nginx passes on 401 and 403 only.
		writeJSONError(w, http.StatusForbidden, "too many failed attempts from your address, try again shortly")
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

// refusing sets the portal's security headers (and HSTS over TLS) on a
// refusal, which a proxy may pass on to the client.
func (f forwardAuth) refusing(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), r.TLS != nil)
}

// forwarded is the original request a proxy describes.
type forwarded struct{ method, proto, host, uri string }

// forwardedRequest is the original request a proxy describes in h:
// X-Forwarded-Method (default GET), -Proto (http or https), -Host and -Uri
// (default /). A missing or malformed value is an *InputError naming the
// header. It checks the values as strings (the hot path parses no URL).
func forwardedRequest(h http.Header) (forwarded, error) {
	var fw forwarded
	get := func(name string) (string, error) {
		vs := h[name] // the names below are canonical
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
	var err error
	if fw.method, err = get("X-Forwarded-Method"); err != nil {
		return fw, err
	}
	if fw.method == "" {
		fw.method = http.MethodGet
	}
	for _, c := range fw.method {
		if c < 'A' || c > 'Z' {
			return fw, inputErr("X-Forwarded-Method", "forward-auth: X-Forwarded-Method %q is not a method", fw.method)
		}
	}
	if fw.proto, err = get("X-Forwarded-Proto"); err != nil {
		return fw, err
	}
	if fw.proto != "http" && fw.proto != "https" {
		return fw, inputErr("X-Forwarded-Proto", "forward-auth: X-Forwarded-Proto must be http or https (the proxy sets it to the client's scheme)")
	}
	if fw.host, err = get("X-Forwarded-Host"); err != nil {
		return fw, err
	}
	if fw.host == "" || strings.ContainsAny(fw.host, "/?#@%") {
		return fw, inputErr("X-Forwarded-Host", "forward-auth: X-Forwarded-Host must be the host the client asked for (the proxy sets it)")
	}
	if fw.uri, err = get("X-Forwarded-Uri"); err != nil {
		return fw, err
	}
	if fw.uri == "" {
		fw.uri = "/"
	}
	if !strings.HasPrefix(fw.uri, "/") || strings.HasPrefix(fw.uri, "//") {
		return fw, inputErr("X-Forwarded-Uri", "forward-auth: X-Forwarded-Uri must be the request's path and query, starting with one /")
	}
	return fw, nil
}
