package portal

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/gatehouse-auth/gatehouse/core"
)

// HTTP Basic with app passwords on gated apps. An app whose guard says
// app_passwords (or whose portal setting does) lets a client that is not
// a browser in with `Authorization: Basic <login:app password>`: DAV
// clients, git, calendar and mobile apps, which can send only a username
// and a password. The rules:
//
//   - Only app passwords: the account password is never taken over Basic
//     (it would bypass the second factor, and it would cost an argon2id
//     hash per request). Anything that is not a valid app password for
//     this app is refused as a wrong one: audited and counted by the
//     address's throttle; a wrong app password also counts toward the
//     account's lockout, a secret that is not one at all does not.
//   - Only clients that are not browsers (fromBrowser): a browser keeps
//     Basic credentials and sends them to the site on every request, from
//     any page, like a cookie without SameSite; browsers sign in at the
//     portal. A browser is never sent a Basic challenge either.
//   - The app's rules, as for a session (allow lists, expired passwords);
//     an app that requires a second factor does not take them (an app
//     password is not one: core.Credentials.CheckAppPasswordAccess).
//   - Each request with Basic credentials spends one attempt of the
//     client address's sign-in throttle (throttle.go) and gives it back
//     when the password was right, so only failures count; past the
//     allowance the answer is 429 without a check.
//   - The Authorization header never reaches the app: it is removed when
//     the request is let in, and any Basic header is removed from a
//     request let in on a session of such an app.
//
// A check costs one HMAC and a lookup in memory: no argon2id.

// appPasswordGate checks the Basic credentials of a request to an app that
// takes app passwords. It is made where it is used (appPasswordGate{s}),
// not by a method of Service, which adminAPI would inherit.
type appPasswordGate struct{ *Service }

// check is Check's answer for a request without a session or API key to
// app, which takes app passwords, from a client that is not a browser: h
// is the request's header and ip its client address. Allowed, the
// identity headers are set on h and the Authorization header and our
// cookies are removed.
func (g appPasswordGate) check(h http.Header, ip string, app *App, now time.Time) Verdict {
	login, secret, ok := basicCredentials(h)
	if !ok {
		return Verdict{Outcome: SignIn, Realm: app.Title}
	}
	key := throttleKey(ip)
	if wait, first := g.throttle.take(key, now); wait > 0 {
		if first {
			g.log.Warn("too many failed app passwords from one address: throttled", "ip", ip, "app", app.Name)
		}
		countGuardThrottle(g.core.Metrics())
		return Verdict{Outcome: Throttled}
	}
	a := core.Actor{IP: ip, UserAgent: core.Truncate(firstValue(h, "User-Agent"), 256), Via: core.ViaGuard, Credential: core.CredAppPassword}
	v := g.core.Credentials.CheckAppPasswordAccess(&a, login, secret, app, now)
	switch v.Outcome {
	case SignIn:
		v.Realm = app.Title
		return v
	case Unavailable:
		return v
	}
	// The password was right: the attempt is given back.
	g.throttle.refund(key, now)
	if v.Outcome == Allow {
		delete(h, "Authorization")
		g.setIdentityHeaders(h, &v.User)
		if !setAssertion(g.Service, h, &v.User, app.Name, "", now) {
			return Verdict{Outcome: Unavailable}
		}
		g.cookie.strip(h)
	}
	return v
}

// basicCredentials returns the login and password of an
// `Authorization: Basic` header in h; ok is false without one, or when it
// is not base64 of "login:password".
func basicCredentials(h http.Header) (login, password string, ok bool) {
	v := firstValue(h, "Authorization")
	const prefix = "basic "
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) || len(v) > 1024 {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[len(prefix):]))
	if err != nil || len(b) == 0 {
		return "", "", false
	}
	// b is new and never written again: it backs the strings without a
	// copy (as strings.Builder does).
	login, password, ok = strings.Cut(unsafe.String(&b[0], len(b)), ":")
	if !ok {
		return "", "", false
	}
	return login, password, true
}

// stripBasic removes the Authorization header from h when any of its
// values is Basic credentials: on an app that takes app passwords, Basic
// credentials are Gatehouse's, never the app's.
func stripBasic(h http.Header) {
	for _, v := range h["Authorization"] {
		if len(v) >= 6 && strings.EqualFold(v[:6], "basic ") {
			delete(h, "Authorization")
			return
		}
	}
}

// fromBrowser reports whether the request with header h comes from a
// browser: one that accepts text/html, or sends the Sec-Fetch-* headers
// every current browser sends on every request (fetch and XHR included).
func fromBrowser(h http.Header) bool {
	if len(h["Sec-Fetch-Mode"]) > 0 || len(h["Sec-Fetch-Site"]) > 0 {
		return true
	}
	for _, a := range h["Accept"] {
		if strings.Contains(a, "text/html") {
			return true
		}
	}
	return false
}

// basicChallenge is the WWW-Authenticate value of a Basic challenge for
// the realm title: quoted, without control characters.
func basicChallenge(title string) string {
	var b strings.Builder
	b.WriteString(`Basic realm="`)
	for _, c := range title {
		switch {
		case c < 0x20 || c == 0x7f:
			continue
		case c == '"' || c == '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteString(`", charset="UTF-8"`)
	return b.String()
}

// firstValue is the first value of h[name] (a canonical key), or "".
func firstValue(h http.Header, name string) string {
	if vs := h[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}
