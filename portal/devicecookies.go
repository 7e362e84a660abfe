package portal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Device cookies keep the account lockout from becoming a denial of
// service (OWASP, "Slow Down Online Guessing Attacks with Device
// Cookies"). A browser that completed a sign-in of a user — password and,
// when the user has one, second factor — gets a device cookie for that
// username: a random nonce and the username, signed with a key derived
// from the server key. A later sign-in attempt of that user presenting a
// valid device cookie comes from a trusted device: it is judged only by
// that device's own failures (after the lockout threshold of failures
// from it, that device is locked for the lockout duration) and is not
// blocked by the account lock. Attempts without one — an attacker, or the
// user on a new device — are untrusted: they count toward the account
// lockout and are refused while the account is locked, as before.
//
// So a stranger who keeps failing on purpose locks only untrusted clients
// out; the owner of the account still signs in from her usual browser. A
// cookie copied to another username or altered does not verify; a stolen
// one gives its thief no more than one device's failure budget.
//
// The cookie is issued only after a full sign-in: a password alone does
// not make a device trusted for a user with a second factor, or a thief of
// the password could mint a fresh device (and its fresh failure budget)
// for every few guesses of the code.
const (
	// deviceCookieSuffix follows the session cookie's name:
	// gatehouse_session_device by default.
	deviceCookieSuffix = "_device"
	// deviceCookieLifetime is the cookie's Max-Age: a device stays trusted
	// for a year after its latest sign-in.
	deviceCookieLifetime = 365 * 24 * time.Hour
	// maxDeviceEntries is how many users one browser is trusted for
	// (a shared family computer); the oldest is dropped beyond it.
	maxDeviceEntries = 5
	// deviceNonceLen is the nonce's length in bytes.
	deviceNonceLen = 16
	// deviceEntrySep separates the entries of the cookie, deviceFieldSep
	// the fields of one entry (username, nonce, signature).
	deviceEntrySep = "~"
	deviceFieldSep = ":"
)

// deviceCookiePaths are the sign-in paths the device cookie is sent to:
// the form (and its second steps under /login/) and the API login (and
// its second steps under /api/v1/login/). One cookie is set per path, with
// the same value; it never goes to other portal pages or to apps.
var deviceCookiePaths = []string{"/login", "/api/v1/login"}

// deviceCookieName names the device cookie.
func (s *Service) deviceCookieName() string { return cookieDevice.name(s.cookie) }

// deviceEntry is one signed entry of a device cookie.
type deviceEntry = core.Device

// deviceEntries returns the well-formed entries of the request's device
// cookies, signatures unchecked, at most maxDeviceEntries.
func (s *Service) deviceEntries(r *http.Request) []deviceEntry {
	var out []deviceEntry
	for _, ck := range r.Cookies() {
		if ck.Name != s.deviceCookieName() {
			continue
		}
		for _, raw := range strings.Split(ck.Value, deviceEntrySep) {
			f := strings.Split(raw, deviceFieldSep)
			if len(f) != 3 || f[0] == "" || len(f[0]) > 64 {
				continue
			}
			nonce, err1 := base64.RawURLEncoding.DecodeString(f[1])
			mac, err2 := base64.RawURLEncoding.DecodeString(f[2])
			if err1 != nil || err2 != nil || len(nonce) != deviceNonceLen || len(mac) != sha256.Size {
				continue
			}
			out = append(out, deviceEntry{Username: f[0], Nonce: nonce, MAC: mac})
			if len(out) == maxDeviceEntries {
				return out
			}
		}
	}
	return out
}

// trustDevice sets the device cookie for u after a full sign-in: the
// request's device keeps its nonce for u (and so its failure count), a new
// one gets a fresh nonce; entries for other users are kept, newest first.
func (s *Service) trustDevice(w http.ResponseWriter, r *http.Request, u *store.User) {
	var nonce []byte
	if id := s.core.Auth.TrustedDevice(s.clientActor(r), u); id != "" {
		nonce, _ = hex.DecodeString(id)
	} else {
		nonce = make([]byte, deviceNonceLen)
		_, _ = rand.Read(nonce)
		// No valid device cookie for u: a sign-in from a new device.
		s.core.Notify(s.clientActor(r), u, core.NoticeNewDevice, core.Detail{})
	}
	enc := base64.RawURLEncoding.EncodeToString
	entries := []string{u.Username + deviceFieldSep + enc(nonce) + deviceFieldSep + enc(s.core.Auth.DeviceMAC(u, nonce))}
	for _, e := range s.deviceEntries(r) {
		if e.Username == u.Username || len(entries) == maxDeviceEntries {
			continue
		}
		// Other users' entries are kept as they are; each is checked when
		// it is used.
		entries = append(entries, e.Username+deviceFieldSep+enc(e.Nonce)+deviceFieldSep+enc(e.MAC))
	}
	cookieDevice.set(w, s.cookie, strings.Join(entries, deviceEntrySep))
}
