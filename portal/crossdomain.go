package portal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
)

// Single sign-on for an app on a host outside the session cookie's reach
// (another root domain): the guard's half. The portal's half, which makes
// the one-time code, is crossdomain_pages.go; the rules and the code's
// record are the core's (core/crossdomain.go).
//
// On such a host the guard keeps two cookies of its own, host-only,
// HttpOnly, SameSite=Lax, and over https Secure with the __Host- prefix (a
// sibling host under the same parent domain cannot plant one):
//
//   - <cookie name>_host names the portal session, sealed for this host
//     (core.Sessions.HostCookie). It is no session of its own: it lives
//     exactly as long as the portal session.
//   - <cookie name>_state holds a random state for ten minutes: the guard
//     sets it before it sends the browser to the portal, the portal binds
//     its hash into the code, and the code works only with it.
//
// Both are <cookie name>_…, so the guard strips them from every request
// like its other cookies (cookieConfig.strip): the app never sees them.

// hostPrefix is the cookie-name prefix browsers accept only from a secure
// origin, without Domain and with Path=/, so no other host can set it.
const hostPrefix = "__Host-"

// The guard's cookies on an app's host, after the session cookie's name.
const (
	hostCookieSuffix  = "_host"
	stateCookieSuffix = "_state"
	// stateCookieMaxAge is how long a sign-in begun at the app's host may
	// take at the portal (password, second factor), in seconds.
	stateCookieMaxAge = 10 * 60
)

// HandoffPagePath is the portal page a guard on another domain sends the
// browser to (crossdomain_pages.go).
const HandoffPagePath = "/login/handoff"

// onHost is the name of the guard's cookie with suffix on an app's host,
// over TLS or not.
func (c cookieConfig) onHost(suffix string, tls bool) string {
	if tls {
		return hostPrefix + c.name + suffix
	}
	return c.name + suffix
}

// eachOnHost calls fn with the value of every cookie of the request named
// as onHost(suffix, tls) says, until fn returns true. Over TLS only the
// __Host- cookie counts: a cookie without the prefix may have been set for
// the parent domain by a sibling host. It does not allocate.
func (c cookieConfig) eachOnHost(h http.Header, suffix string, tls bool, fn func(v string) bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			name = strings.TrimSpace(name)
			if tls {
				if name, ok = strings.CutPrefix(name, hostPrefix); !ok {
					continue
				}
			} else if strings.HasPrefix(name, hostPrefix) {
				continue
			}
			if rest, ok := strings.CutPrefix(name, c.name); ok && rest == suffix && fn(strings.Trim(val, `"`)) {
				return
			}
		}
	}
}

// hostCookie returns one of the guard's cookies on an app's host; maxAge 0
// makes a browser-session cookie, a negative one deletes it.
func (c cookieConfig) hostCookie(suffix, value string, tls bool, maxAge int) *http.Cookie {
	return &http.Cookie{Name: c.onHost(suffix, tls), Value: value, Path: "/", HttpOnly: true, Secure: tls,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

// hostSession finds the live portal session a request to an app on
// another domain names with its host cookie (authority is the request's
// Host). Check calls it when the request has no session cookie. No disk
// I/O, as for the session cookie.
func hostSession(s *Service, h http.Header, authority string, tls bool, now time.Time) (si signedIn, res resolution) {
	host := ""
	s.cookie.eachOnHost(h, hostCookieSuffix, tls, func(v string) bool {
		if host == "" {
			host = core.HostName(authority)
		}
		id, ok := s.core.Sessions.HostCookieSession(v, host)
		if !ok {
			return false
		}
		var stop bool
		stop, res = liveSession(s, id, now, &si)
		return stop
	})
	return si, res
}

// HostSignIn is the single sign-on of a guard whose app's URL is on a host
// outside the session cookie's reach.
type HostSignIn struct {
	s      *Service
	app    *App
	origin *url.URL // the app's scheme and authority
	host   string   // the app's hostname
}

// NewHostSignIn returns the single sign-on across domains of the guarded
// app, or nil when the app needs none: its URL is on the portal's host or
// under the cookie domain, or it has no URL (the portal can only send
// codes to an app's registered URL).
func NewHostSignIn(s *Service, app *App) *HostSignIn {
	origin, ok := s.core.Access.HandoffOrigin(app)
	if !ok {
		return nil
	}
	return &HostSignIn{s: s, app: app, origin: origin, host: core.HostName(origin.Host)}
}

// Refuse answers, instead of WriteRefusal, a browser navigating to the app
// without a session: it keeps a state in a cookie of the app's host and
// sends the browser to the portal, which sends it back with a code (see
// ServeHandoff). It reports whether it answered; every other refusal, and
// a request to another host than the app's, is WriteRefusal's.
func (x *HostSignIn) Refuse(w http.ResponseWriter, r *http.Request, v Verdict, returnURL string) bool {
	if v.Outcome != SignIn || !wantsHTML(r.Header) || (r.Method != http.MethodGet && r.Method != http.MethodHead) ||
		core.HostName(r.Host) != x.host {
		return false
	}
	tls := r.TLS != nil
	state := ""
	x.s.cookie.eachOnHost(r.Header, stateCookieSuffix, tls, func(v string) bool {
		if core.WellFormedToken(v) {
			state = v // a sign-in already under way in another tab
			return true
		}
		return false
	})
	if state == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		state = base64.RawURLEncoding.EncodeToString(b[:])
	}
	h := w.Header()
	setPageSecurityHeaders(h)
	http.SetCookie(w, x.s.cookie.hostCookie(stateCookieSuffix, state, tls, stateCookieMaxAge))
	q := url.Values{"app": {x.app.Name}, "rd": {returnURL}, "state": {core.StateHash(state)}}
	http.Redirect(w, r, x.s.portal.String()+HandoffPagePath+"?"+q.Encode(), http.StatusFound)
	return true
}

// ServeHandoff answers core.HandoffPath on the app's host, and reports
// whether the request was for it (nothing under that path reaches the
// app). With a valid code made for this host, this app and the state in
// the browser's cookie, it sets the host cookie and sends the browser to
// the return URL bound in the code; otherwise it shows a page saying the
// link does not work, and sets nothing. The code is used up either way.
func (x *HostSignIn) ServeHandoff(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != core.HandoffPath {
		return false
	}
	s := x.s
	h := w.Header()
	setPageSecurityHeaders(h)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
		return true
	}
	tls := r.TLS != nil
	state := ""
	s.cookie.eachOnHost(r.Header, stateCookieSuffix, tls, func(v string) bool { state = v; return core.WellFormedToken(v) })
	a := &core.Actor{IP: s.clientIP(r), UserAgent: r.UserAgent(), Via: core.ViaGuard}
	host := core.HostName(r.Host)
	ho, sess, err := s.core.Sessions.TakeHandoff(a, r.URL.Query().Get("code"), host, x.app.Name, state)
	if err != nil {
		status, msg := http.StatusBadRequest, core.ErrHandoff.Error()+"."
		if !errors.Is(err, core.ErrHandoff) {
			s.log.Error("single sign-on: take the sign-in code", "app", x.app.Name, "host", host, "error", err)
			status, msg = http.StatusServiceUnavailable, s.pages.lang(r.Header, nil).S("error.unavailable")
		} else {
			// The access log leaves this request out (it would show the
			// code): say here that a code was refused, without it.
			s.log.Info("single sign-on: sign-in code refused", "app", x.app.Name, "host", host, "ip", a.IP)
		}
		s.renderGuardPage(w, r, status, s.pages.lang(r.Header, nil).S("msg.crossdomain.this_sign_in_link_2"),
			msg+" Open the app again: you will be signed in through the portal.", nil,
			pageLink{Label: s.pages.lang(r.Header, nil).S("msg.crossdomain.open", "Title", x.app.Title), Href: x.origin.String() + "/"},
			pageLink{Label: s.pages.lang(r.Header, nil).S("msg.crossdomain.go_to_the_portal"), Href: s.portal.String() + "/"})
		return true
	}
	maxAge := 0 // a browser-session cookie, as the session cookie of a session not remembered
	if sess.Remember {
		maxAge = int(sess.ExpiresAt.Sub(s.now()).Seconds())
	}
	http.SetCookie(w, s.cookie.hostCookie(hostCookieSuffix, s.core.Sessions.HostCookie(ho.Session, host), tls, maxAge))
	http.Redirect(w, r, ho.ReturnURL, http.StatusFound)
	return true
}
