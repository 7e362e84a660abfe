package portal

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
)

// flowCookie is one kind of short-lived cookie the portal sets besides the
// session cookie, named <cookie name><suffix>: it carries the secret of a
// single-use store token (a pending login, a WebAuthn ceremony, an OIDC
// flow) or a small signed value (a flash message, the trusted devices).
//
// Every flow cookie is HttpOnly, SameSite=Lax, Secure when the portal is
// served over https, and host-only (no Domain attribute): only the portal
// reads it, unlike the session cookie, which apps under the cookie domain
// receive too. The guard strips every <cookie name>_… cookie before a
// request reaches an app (cookieConfig.isOurCookie), so each suffix starts
// with "_".
type flowCookie struct {
	// suffix is appended to the session cookie's name.
	suffix string
	// paths are the cookie's Path attributes; set and clear write one
	// cookie per path, with the same value.
	paths []string
	// maxAge is the cookie's Max-Age when set.
	maxAge time.Duration
}

// flashLifetime is how long a flash message waits for the next page.
const flashLifetime = 2 * time.Minute

// The flow cookies: every cookie the portal sets, with its path and
// lifetime, except the session cookie itself (cookieConfig.issue) and the
// impersonator's <cookie name>_actor (actorCookie), which share the
// session's domain and expiry.
var (
	// cookiePending names the pending login between the password and the
	// second step: <cookie name>_2fa.
	cookiePending = flowCookie{suffix: "_2fa", paths: []string{"/"}, maxAge: core.PendingLifetime}
	// cookieCeremony names the WebAuthn ceremony between its two
	// requests: <cookie name>_wa.
	cookieCeremony = flowCookie{suffix: "_wa", paths: []string{"/"}, maxAge: ceremonyLifetime}
	// cookieOIDC names the OIDC flow while the browser is at the
	// provider; only the callback under /login/oidc/ receives it.
	cookieOIDC = flowCookie{suffix: "_oidc", paths: []string{"/login/oidc/"}, maxAge: oidcFlowLifetime}
	// cookieFlash carries a signed message to the next page.
	cookieFlash = flowCookie{suffix: "_flash", paths: []string{"/"}, maxAge: flashLifetime}
	// cookieDevice carries the signed entries of the trusted-device list,
	// sent only to the sign-in paths (see deviceCookiePaths).
	cookieDevice = flowCookie{suffix: deviceCookieSuffix, paths: deviceCookiePaths, maxAge: deviceCookieLifetime}
)

// flowCookies lists every flow cookie kind (for tests and reviewers).
var flowCookies = []flowCookie{cookiePending, cookieCeremony, cookieOIDC, cookieFlash, cookieDevice}

// name is the cookie's name under the portal's cookie configuration c.
func (k flowCookie) name(c cookieConfig) string { return c.name + k.suffix }

// cookie returns the cookie for path with value and Max-Age maxAge (in
// seconds; negative deletes it).
func (k flowCookie) cookie(c cookieConfig, path, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: k.name(c), Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode}
}

// set sets the cookie to value on every path, for maxAge.
func (k flowCookie) set(w http.ResponseWriter, c cookieConfig, value string) {
	for _, p := range k.paths {
		http.SetCookie(w, k.cookie(c, p, value, int(k.maxAge.Seconds())))
	}
}

// clear deletes the cookie on every path (Max-Age<0).
func (k flowCookie) clear(w http.ResponseWriter, c cookieConfig) {
	for _, p := range k.paths {
		http.SetCookie(w, k.cookie(c, p, "", -1))
	}
}

// read returns the value of the request's first cookie of this kind, and
// whether there is one.
func (k flowCookie) read(r *http.Request, c cookieConfig) (string, bool) {
	ck, err := r.Cookie(k.name(c))
	if err != nil {
		return "", false
	}
	return ck.Value, true
}
