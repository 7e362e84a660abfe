package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// Single sign-on for apps outside the cookie domain.
//
// The session cookie reaches the portal's host and the hosts under the
// cookie domain; a browser never sends it to an app on another root domain
// (photos.home.example.org beside example.com). Such an app's guard sends
// the browser to the portal, which, once the person is signed in there,
// sends it back with a one-time code to a path the guard answers itself
// (HandoffPath). The guard exchanges the code for the portal session's id
// and sets a cookie of that host only (a host cookie) naming the same
// session, sealed for that host (HostCookie). So the app's host holds no
// session of its own: signing out at the portal, disabling the user or
// revoking the session ends it there on the next request too, and the
// guard checks it in memory like any session.
//
// A code is 256 random bits, stored hashed as a store token (kind
// "handoff", which the shared store of several nodes keeps like the other
// one-time tokens), works once, for HandoffLifetime, on the host and for
// the app it was made for, and only from the browser that began the
// sign-in: the guard keeps a random state in a cookie of the app's host
// and the code's record holds the state's hash, so a code made for
// someone else's account (login CSRF) is refused. The return URL is kept
// in the record, not in the link, so it cannot be swapped.

// HandoffPath is the path on an app's host that the guard answers itself
// with the sign-in code.
const HandoffPath = "/.gatehouse/session"

// HandoffLifetime is how long a sign-in code works.
const HandoffLifetime = 30 * time.Second

// tokenKindHandoff is the store token kind of sign-in codes.
const tokenKindHandoff = "handoff"

// ActionHandoff is the audit action of a sign-in on an app's host through
// the portal session (the single sign-on across root domains).
const ActionHandoff = "login.handoff"

// ErrHandoff refuses a sign-in code: unknown, used, expired, made for
// another host, app or browser, or its session has ended. The refusal says
// no more (the audit log does).
var ErrHandoff = errors.New("this sign-in link is not valid: it was already used, it expired, or it was made for another browser")

// Handoff is what a sign-in code stands for.
type Handoff struct {
	// Session is the portal session the app's host joins.
	Session store.SessionID
	// UserID is the session's user.
	UserID string
	// Host is the app's hostname (lower case, no port).
	Host string
	// App is the app's name.
	App string
	// ReturnURL is where the guard sends the browser once the host cookie
	// is set: an absolute URL on Host.
	ReturnURL string
	// StateHash is the unpadded base64url SHA-256 of the state the guard
	// keeps in the browser.
	StateHash string
}

// HandoffOrigin returns the scheme and authority (no path) of app's URL
// when app is guarded and its host lies outside the reach of the session
// cookie (neither the portal's host nor under the cookie domain): the
// origin a guard answers HandoffPath on. ok is false for every other app.
func (s *Access) HandoffOrigin(app *App) (origin *url.URL, ok bool) {
	if app == nil || !app.Guarded() || app.URL == "" {
		return nil, false
	}
	u, err := url.Parse(app.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	host := HostName(u.Host)
	rp := s.RedirectPolicy()
	if host == "" || host == HostName(rp.Portal.Host) {
		return nil, false
	}
	if d := strings.TrimPrefix(strings.ToLower(rp.CookieDomain), "."); d != "" && (host == d || strings.HasSuffix(host, "."+d)) {
		return nil, false
	}
	return &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}, true
}

// HostName is the hostname of an authority ("App.Example.org:8443" →
// "app.example.org"): lower case, without port, brackets or a trailing
// dot. It allocates only when it must lower the case.
func HostName(authority string) string {
	h := authority
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
	}
	h = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// HandoffTarget checks a return URL for app's single sign-on: app must
// take it (HandoffOrigin) and rd, an allowed return URL, must lie on the
// app's origin. It returns the cleaned return URL and the origin, or an
// *InputError naming the field.
func (s *Access) HandoffTarget(appName, rd string) (returnURL string, origin *url.URL, err error) {
	app, err := s.AppNamed(appName)
	if err != nil {
		return "", nil, Input("app", "no app of this name signs in through the portal")
	}
	origin, ok := s.HandoffOrigin(app)
	if !ok {
		return "", nil, Input("app", "the app %s does not sign in across domains (its url is within the cookie domain, it has none, or no guard protects it)", app.Name)
	}
	clean, ok := s.RedirectPolicy().Clean(rd)
	if !ok {
		return "", nil, Input("rd", "the return address is not an address of a registered app")
	}
	u, err := url.Parse(clean)
	if err != nil || u.Scheme != origin.Scheme || !sameAuthority(u, origin) {
		return "", nil, Input("rd", "the return address is not on the app's host %s", origin.Host)
	}
	if u.Path == HandoffPath {
		clean = origin.String() + "/"
	}
	return clean, origin, nil
}

// sameAuthority compares the hosts and ports of two URLs of the same
// scheme, a missing port being the scheme's default.
func sameAuthority(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if u.Scheme == "https" {
			return "443"
		}
		return "80"
	}
	return HostName(a.Host) == HostName(b.Host) && port(a) == port(b)
}

// IssueHandoff makes a one-time sign-in code for the portal session of c
// (Credential must be CredSession), for h's host, app, return URL and
// state hash, and returns it. Only its SHA-256 is stored, with the Badger
// TTL of HandoffLifetime.
func (s *Sessions) IssueHandoff(c *Actor, h Handoff) (string, error) {
	if c == nil || c.User == nil || c.Credential != CredSession {
		return "", fmt.Errorf("%w: a sign-in code is made for a signed-in browser only", ErrForbidden)
	}
	if !wellFormedStateHash(h.StateHash) {
		return "", Input("state", "is not a SHA-256 in base64url")
	}
	code, hash := NewToken()
	now := s.now()
	t := &store.Token{Kind: tokenKindHandoff, Hash: hash, UserID: c.User.ID, CreatedAt: now, ExpiresAt: now.Add(HandoffLifetime),
		Data: map[string]string{"session": c.SessionID.String(), "host": h.Host, "app": h.App, "rd": h.ReturnURL, "state": h.StateHash}}
	if err := s.store.PutToken(t); err != nil {
		return "", fmt.Errorf("core: sign-in code: %w", err)
	}
	return code, nil
}

// TakeHandoff uses up the sign-in code for a request to app on host from
// a browser whose state cookie holds state (a: the guard's anonymous
// actor). Every refusal is ErrHandoff; a code that was found and did not
// fit (another host, app or browser, or its session ended) is burnt all
// the same and audited. On success the sign-in is audited with the
// session's user (and impersonator) and the handoff and the session are
// returned.
func (s *Sessions) TakeHandoff(a *Actor, code, host, app, state string) (Handoff, store.Session, error) {
	if !WellFormedToken(code) {
		return Handoff{}, store.Session{}, ErrHandoff
	}
	t, err := s.store.ConsumeToken(tokenKindHandoff, SessionIDOf(code))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return Handoff{}, store.Session{}, fmt.Errorf("core: sign-in code: %w", err)
		}
		return Handoff{}, store.Session{}, ErrHandoff
	}
	h := Handoff{UserID: t.UserID, Host: t.Data["host"], App: t.Data["app"], ReturnURL: t.Data["rd"], StateHash: t.Data["state"]}
	sid, okID := ParseSessionID(t.Data["session"])
	h.Session = sid
	sess, serr := s.store.Session(sid)
	username := ""
	if u, err := s.store.User(t.UserID); err == nil {
		username = u.Username
	}
	fail := func(why string) (Handoff, store.Session, error) {
		s.Audit(a, store.Event{Actor: username, Impersonator: sess.ImpersonatorName, Action: ActionHandoff, Resource: "app:" + app,
			Outcome: OutcomeFailure, Reason: why + " (host " + host + ")"})
		return Handoff{}, store.Session{}, ErrHandoff
	}
	switch {
	case !s.now().Before(t.ExpiresAt):
		return fail("the sign-in code had expired")
	case h.Host != host:
		return fail("the sign-in code was made for the host " + h.Host)
	case h.App != app:
		return fail("the sign-in code was made for the app " + h.App)
	case !stateMatches(state, h.StateHash):
		return fail("the browser did not hold the state of the sign-in it began (a link from someone else?)")
	case !okID || serr != nil || sess.UserID != t.UserID || sess.Expired(s.now()):
		return fail("the portal session had ended")
	}
	u, err := s.store.User(t.UserID)
	if err != nil || !UserActive(u, s.now()) {
		return fail("the account is not active")
	}
	ret, err := url.Parse(h.ReturnURL)
	if err != nil || !ret.IsAbs() || HostName(ret.Host) != host {
		return fail("the return address is not on the host")
	}
	s.Audit(a, store.Event{Actor: u.Username, Impersonator: sess.ImpersonatorName, Action: ActionHandoff, Resource: "app:" + app,
		Outcome: OutcomeSuccess, Reason: "signed in on " + host + " with the portal session"})
	return h, sess, nil
}

// StateHash is the unpadded base64url SHA-256 of a state (what the guard
// sends to the portal instead of the state itself).
func StateHash(state string) string {
	sum := sha256.Sum256([]byte(state))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// stateMatches compares a state with the hash in a code's record in
// constant time; an empty or malformed state never matches.
func stateMatches(state, hash string) bool {
	if !WellFormedToken(state) || !wellFormedStateHash(hash) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(StateHash(state)), []byte(hash)) == 1
}

// wellFormedStateHash reports whether h could be a StateHash.
func wellFormedStateHash(h string) bool { return WellFormedToken(h) }

// hostMACLen is how many bytes of the HMAC a host cookie keeps (128 bits).
const hostMACLen = 16

// HostCookieLen is the length of a host cookie's value: a session id and
// its MAC, in unpadded base64url.
var HostCookieLen = base64.RawURLEncoding.EncodedLen(len(store.SessionID{}) + hostMACLen)

// hostSessions keys the host cookies: an HMAC key derived from the server
// key, and a pool of HMAC states so that checking a cookie on the hot path
// allocates nothing.
type hostSessions struct {
	once sync.Once
	key  []byte
	macs sync.Pool
}

// hostMAC is the MAC of session id on host.
func (s *Sessions) hostMAC(id store.SessionID, host string) [32]byte {
	hs := &s.hosts
	hs.once.Do(func() {
		m := hmac.New(sha256.New, s.keyMAC)
		m.Write([]byte("gatehouse host cookies"))
		hs.key = m.Sum(nil)
	})
	m := pooledKeyMAC(&hs.macs, hs.key)
	m.in = append(append(append(m.in[:0], host...), 0), id[:]...)
	out := m.sum()
	hs.macs.Put(m)
	return out
}

// HostCookie is the value of the cookie that names session id on host:
// the id and its MAC under the server key, bound to host, so the value
// works on no other host and cannot be made for another session.
func (s *Sessions) HostCookie(id store.SessionID, host string) string {
	var b [len(store.SessionID{}) + hostMACLen]byte
	copy(b[:], id[:])
	mac := s.hostMAC(id, host)
	copy(b[len(id):], mac[:hostMACLen])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HostCookieSession returns the session a host cookie names on host, when
// its MAC holds. It does not allocate. Whether the session is live is the
// caller's to check, as for a session token.
func (s *Sessions) HostCookieSession(v, host string) (store.SessionID, bool) {
	var id store.SessionID
	var b [len(store.SessionID{}) + hostMACLen]byte
	if len(v) != HostCookieLen {
		return id, false
	}
	var src [64]byte
	n := copy(src[:], v)
	if k, err := base64.RawURLEncoding.Decode(b[:], src[:n]); err != nil || k != len(b) {
		return id, false
	}
	copy(id[:], b[:len(id)])
	mac := s.hostMAC(id, host)
	if subtle.ConstantTimeCompare(mac[:hostMACLen], b[len(id):]) != 1 {
		return store.SessionID{}, false
	}
	return id, true
}
