package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Outcome is what the guard must do with a request (core.Outcome).
type Outcome = core.Outcome

// The outcomes of Check.
const (
	Allow          = core.Allow
	SignIn         = core.SignIn
	Deny           = core.Deny
	Unavailable    = core.Unavailable
	ChangePassword = core.ChangePassword
	StepUp         = core.StepUp
	Throttled      = core.Throttled
)

// Verdict is the result of Check (core.Verdict).
type Verdict = core.Verdict

// Check is the guard's hot path for one request to app. It removes every
// identity header the client sent, resolves the session from memory, asks
// policies for the decision and, when allowed, sets the identity headers on
// r and removes every cookie of ours (apps never see a token). It does no
// disk I/O on a cache hit. The decision is counted for the
// gatehouse_guard_decisions_total metric (one atomic add on app).
func (s *Service) Check(r *http.Request, app *App) Verdict {
	return s.check(r.Header, r, r.Host, app)
}

// check is Check on the header h of the request r, which gives only the
// client's address (s.clientIP): forward-auth checks the header of the
// original request its proxy describes (forwardauth.go). host is the
// request's host for an app on another domain's host cookie
// (crossdomain.go); forward-auth passes "", as no guard there hands one
// out.
func (s *Service) check(h http.Header, r *http.Request, host string, app *App) (v Verdict) {
	defer func() { app.CountDecision(v.Outcome) }() // open-coded: no allocation
	s.stripIdentityHeaders(h)
	now := s.now()
	si, res := s.resolve(h, now)
	if res == resolvedNone && host != "" {
		// An app on another domain: its host cookie (crossdomain.go).
		si, res = hostSession(s, h, host, r.TLS != nil, now)
	}
	switch res {
	case resolvedUnavailable:
		return Verdict{Outcome: Unavailable}
	case resolvedNone:
		k := bearerKey(h)
		if k == "" {
			if app.TakesAppPasswords() && !fromBrowser(h) {
				return appPasswordGate{s}.check(h, s.clientIP(r), app, now)
			}
			return Verdict{Outcome: SignIn}
		}
		// An API key instead of a session: neither the key nor any cookie
		// of ours reaches the app.
		a := core.Actor{IP: s.clientIP(r), UserAgent: firstValue(h, "User-Agent"), Via: core.ViaGuard}
		v = s.core.Credentials.CheckKeyAccess(&a, k, app, now)
		if v.Outcome == Allow {
			delete(h, "Authorization")
			s.setIdentityHeaders(h, &v.User)
			if !setAssertion(s, h, &v.User, app.Name, "", now) {
				return Verdict{Outcome: Unavailable}
			}
			s.cookie.strip(h)
		}
		return v
	}
	s.store.TouchSession(si.id, now)
	v = s.core.Access.Decide(&si.acct, app, si.auth.SecondFactor)
	if v.Outcome != Allow {
		return v
	}
	s.setIdentityHeaders(h, &si.acct)
	if app.TakesAppPasswords() {
		stripBasic(h)
	}
	if si.impersonator != "" {
		h[s.headers.Impersonator] = []string{si.impersonator}
	}
	if !setAssertion(s, h, &si.acct, app.Name, si.impersonator, now) {
		return Verdict{Outcome: Unavailable}
	}
	s.cookie.strip(h)
	return v
}

// stripIdentityHeaders deletes every identity header the client sent,
// including spellings that upstreams (CGI, PHP, some frameworks) treat as
// the same name: any case, and '_' or '.' in place of '-'.
func (s *Service) stripIdentityHeaders(h http.Header) {
	for k := range h {
		if s.identity.has(k) {
			delete(h, k)
		}
	}
}

// identityHeaderSet is the names stripIdentityHeaders removes, folded
// (fold), with a mask of their lengths: most of a request's header names
// are passed over after one test, the rest compared with the few names of
// their length. It runs for every request the guard sees.
type identityHeaderSet struct {
	// names are the names as configured (canonical), folded the same
	// folded.
	names, folded []string
	// lens has bit n set for a name of n bytes (63 for any longer).
	lens uint64
}

// newIdentityHeaderSet is the set of h's identity headers, the role
// header (the configured one, or DefaultRoleHeader, only removed, never
// set, when none is) and the identity assertion's header when one is
// named.
func newIdentityHeaderSet(h Headers) identityHeaderSet {
	role := h.Role
	if role == "" {
		role = DefaultRoleHeader
	}
	var set identityHeaderSet
	for _, name := range []string{h.User, h.Email, h.Name, h.Groups, h.Impersonator, role, h.JWT} {
		if name == "" {
			continue
		}
		b := []byte(name)
		for i := range b {
			b[i] = fold(b[i])
		}
		set.names = append(set.names, name)
		set.folded = append(set.folded, string(b))
		set.lens |= 1 << min(len(b), 63)
	}
	return set
}

// has reports whether k is one of the set's names in any case, with '_'
// or '.' for '-'.
func (set *identityHeaderSet) has(k string) bool {
	if set.lens&(1<<min(len(k), 63)) == 0 {
		return false
	}
	for _, n := range set.names {
		if k == n { // the usual spelling: one comparison
			return true
		}
	}
	for _, f := range set.folded {
		if len(f) == len(k) && foldedEqual(k, f) {
			return true
		}
	}
	return false
}

// sameHeader compares header names case-insensitively, treating '-', '_'
// and '.' as equal. It does not allocate.
func sameHeader(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldTable[a[i]] != foldTable[b[i]] {
			return false
		}
	}
	return true
}

// foldedEqual reports whether k folds (fold) to f, which is folded and as
// long as k.
func foldedEqual(k, f string) bool {
	for i := 0; i < len(f); i++ {
		if foldTable[k[i]] != f[i] {
			return false
		}
	}
	return true
}

// foldTable is fold of every byte.
var foldTable = func() (t [256]byte) {
	for i := range t {
		t[i] = fold(byte(i))
	}
	return t
}()

// fold folds a byte of a header name: upper case to lower case, '_' and
// '.' to '-', as upstreams (CGI, PHP, some frameworks) read them.
func fold(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + ('a' - 'A')
	case c == '_' || c == '.':
		return '-'
	}
	return c
}

// setIdentityHeaders sets the identity of u on h (after stripping).
//
// The values share one allocation: each header gets its own one-element
// slice of it, capped at one (v[i:i+1:i+1]), so an Add by a later handler
// appends to a copy and never writes into another header's value.
func (s *Service) setIdentityHeaders(h http.Header, u *store.Account) {
	v := make([]string, 0, 5)
	one := func(name, value string) {
		i := len(v)
		v = append(v, value)
		h[name] = v[i : i+1 : i+1]
	}
	one(s.headers.User, u.Username)
	if u.Email != "" {
		one(s.headers.Email, u.Email)
	}
	if u.FullName != "" {
		one(s.headers.Name, u.FullName)
	}
	if g := u.GroupsHeader; g != "" {
		one(s.headers.Groups, g)
	}
	if s.headers.Role != "" && u.Role != "" {
		one(s.headers.Role, u.Role)
	}
}

// WriteRefusal answers a request that Check did not allow. Browsers
// navigating with GET or HEAD are redirected: to the login page with
// returnURL as rd (SignIn), to the second step (StepUp), to the password
// change (ChangePassword). Browsers sending anything else get a page that
// says why, with links to the portal (a form POST after the session ended
// must not show raw JSON); other clients get JSON, 401 with
// WWW-Authenticate for SignIn. Deny is 403, Unavailable 503.
func (s *Service) WriteRefusal(w http.ResponseWriter, r *http.Request, v Verdict, returnURL string) {
	setPageSecurityHeaders(w.Header())
	html := wantsHTML(r.Header)
	navigate := html && (r.Method == http.MethodGet || r.Method == http.MethodHead)
	base := s.portal.String()
	switch v.Outcome {
	case SignIn:
		switch {
		case navigate:
			http.Redirect(w, r, s.LoginURL(returnURL), http.StatusFound)
		case html:
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
			s.renderGuardPage(w, r, http.StatusUnauthorized, s.pages.lang(r.Header, nil).S("msg.access.your_session_has_ended"),
				s.pages.lang(r.Header, nil).S("msg.access.you_are_no_longer"),
				nil, pageLink{Label: s.pages.lang(r.Header, nil).S("logout.sign_in_again"), Href: s.LoginURL(returnURL)})
		default:
			if v.Realm != "" {
				// Native clients (DAV, git) prompt for a Basic challenge.
				w.Header().Add("WWW-Authenticate", basicChallenge(v.Realm))
			}
			w.Header().Add("WWW-Authenticate", `Bearer realm="gatehouse"`)
			writeJSONError(w, http.StatusUnauthorized, "not signed in: sign in at "+base+"/login")
		}
	case Deny:
		if html {
			u, _ := s.store.User(v.User.ID) // the page header shows who is signed in
			s.renderGuardPage(w, r, http.StatusForbidden, s.pages.lang(r.Header, nil).S("error.no_access"),
				"You are signed in as "+v.User.Username+", but this account has no access to this app. Ask an administrator for access.", u,
				pageLink{Label: s.pages.lang(r.Header, nil).S("errorpage.go_to_the_portal"), Href: base + "/"},
				pageLink{Label: s.pages.lang(r.Header, nil).S("errorpage.sign_in_as_someone"), Href: base + "/logout?rd=" + url.QueryEscape(returnURL)})
			return
		}
		writeJSONError(w, http.StatusForbidden, "access to this app is not allowed")
	case StepUp:
		target := base + "/login/2fa?rd=" + url.QueryEscape(returnURL)
		switch {
		case navigate:
			http.Redirect(w, r, target, http.StatusFound)
		case html:
			u, _ := s.store.User(v.User.ID)
			s.renderGuardPage(w, r, http.StatusForbidden, s.pages.lang(r.Header, nil).S("msg.access.second_factor_needed"),
				s.pages.lang(r.Header, nil).S("msg.access.this_app_needs_a"), u,
				pageLink{Label: s.pages.lang(r.Header, nil).S("msg.access.confirm_your_second_factor"), Href: target})
		default:
			writeJSONError(w, http.StatusForbidden, "this app requires a second factor: sign in with one at "+base+"/login")
		}
	case ChangePassword:
		target := base + "/profile/password?rd=" + url.QueryEscape(returnURL)
		switch {
		case navigate:
			http.Redirect(w, r, target, http.StatusFound)
		case html:
			u, _ := s.store.User(v.User.ID)
			s.renderGuardPage(w, r, http.StatusForbidden, s.pages.lang(r.Header, nil).S("msg.access.your_password_has_expired"),
				s.pages.lang(r.Header, nil).S("msg.access.the_app_did_not"), u,
				pageLink{Label: s.pages.lang(r.Header, nil).S("password.change_your_password"), Href: target})
		default:
			writeJSONError(w, http.StatusForbidden, "your password has expired: change it at "+base+"/profile/password")
		}
	case Throttled:
		s.throttle.hold(r)
		w.Header().Set("Retry-After", strconv.Itoa(int(throttleEvery/time.Second)))
		writeJSONError(w, http.StatusTooManyRequests, "too many failed attempts from your address, try again shortly")
	default:
		writeJSONError(w, http.StatusServiceUnavailable, "the sign-in service is unavailable, try again shortly")
	}
}

// pageLink is one action of a page the guard serves: an absolute link to
// the portal.
type pageLink struct{ Label, Href string }

// renderGuardPage renders the error page on an app's host, where relative
// URLs would resolve against the app: every link and asset is an absolute
// portal URL, there are no forms (a POST from the app's origin to the
// portal is refused as cross-origin), and the CSP allows the portal's
// stylesheet and images and nothing else. The first link is the primary
// action. u, when not nil, is the signed-in user shown in the page header.
func (s *Service) renderGuardPage(w http.ResponseWriter, r *http.Request, status int, title, msg string, u *store.User, links ...pageLink) {
	s.render(w, r, status, "error", page{Title: title, Status: status, Message: msg, User: pageUserOf(u),
		Portal: s.portal.String(), Data: links})
}

// guardPageCSP is the Content-Security-Policy of the pages the guard serves
// on an app's host: the portal's stylesheet and images, nothing else.
func guardPageCSP(portalOrigin string) string {
	return "default-src 'none'; style-src " + portalOrigin + "; img-src " + portalOrigin +
		"; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
}

// LoginURL returns the portal's login page that returns to returnURL.
func (s *Service) LoginURL(returnURL string) string {
	u := s.portal.String() + "/login"
	if returnURL != "" {
		u += "?rd=" + url.QueryEscape(returnURL)
	}
	return u
}

// wantsHTML reports whether the request with header h comes from a browser
// that shows pages: it accepts text/html, or it is a navigation
// (Sec-Fetch-Mode: navigate).
func wantsHTML(h http.Header) bool {
	return strings.Contains(h.Get("Accept"), "text/html") || h.Get("Sec-Fetch-Mode") == "navigate"
}
