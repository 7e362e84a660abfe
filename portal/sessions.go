package portal

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

type cookieConfig struct {
	name   string
	domain string
	secure bool
}

// eachToken calls fn with every well-formed session token in the request's
// cookies, in order, until fn returns true. It does not allocate.
func (c cookieConfig) eachToken(h http.Header, fn func(tok string) bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name != c.name {
				continue
			}
			val = strings.Trim(val, `"`)
			if core.WellFormedToken(val) && fn(val) {
				return
			}
		}
	}
}

// strip removes every cookie of ours from the request's Cookie headers:
// the session cookie and every cookie named <name>_… (the impersonator's
// session token, see actorCookieSuffix; the pending second step; the OIDC
// and WebAuthn ceremonies; the flash message; any added later), so the apps
// behind the guard never see a token that would let them act as the user
// elsewhere. The app's own cookies stay. Headers without ours are left as
// they are (no allocation); a header that held only ours is deleted.
func (c cookieConfig) strip(h http.Header) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	for i, line := range lines {
		if !strings.Contains(line, c.name) {
			continue
		}
		var b strings.Builder
		b.Grow(len(line))
		for rest := line; rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ";")
			part = strings.TrimSpace(part)
			// net/http trims the name: "gh_session =tok" is the cookie too.
			if name, _, _ := strings.Cut(part, "="); c.isOurCookie(strings.TrimSpace(name)) || part == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
		lines[i] = b.String()
	}
	kept := lines[:0]
	for _, line := range lines {
		if line != "" {
			kept = append(kept, line)
		}
	}
	if len(kept) == 0 {
		h.Del("Cookie")
	} else {
		h["Cookie"] = kept
	}
}

// isOurCookie reports whether the portal sets a cookie of this name: the
// session cookie or one named <name>_…, with or without the __Host- prefix
// (the guard's cookies on an app's host outside the cookie domain,
// crossdomain.go). It does not allocate.
func (c cookieConfig) isOurCookie(name string) bool {
	if c.ourName(name) {
		return true
	}
	rest, ok := strings.CutPrefix(name, hostPrefix)
	return ok && c.ourName(rest)
}

// ourName reports whether name is the session cookie's or <name>_….
func (c cookieConfig) ourName(name string) bool {
	rest, ok := strings.CutPrefix(name, c.name)
	return ok && (rest == "" || rest[0] == '_')
}

// issue returns the cookie carrying tok; a zero expires makes it a browser
// session cookie.
func (c cookieConfig) issue(tok string, expires time.Time, now time.Time) *http.Cookie {
	ck := &http.Cookie{
		Name:     c.name,
		Value:    tok,
		Path:     "/",
		Domain:   c.domain,
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	}
	if !expires.IsZero() {
		ck.Expires = expires.UTC()
		ck.MaxAge = int(expires.Sub(now).Seconds())
	}
	return ck
}

// clear returns a cookie that deletes the session cookie.
func (c cookieConfig) clear() *http.Cookie {
	return &http.Cookie{
		Name:     c.name,
		Value:    "",
		Path:     "/",
		Domain:   c.domain,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// resolution is the outcome of looking up the request's session.
type resolution uint8

const (
	resolvedNone        resolution = iota // no usable session
	resolvedOK                            // a live session of an active user
	resolvedUnavailable                   // the store failed: fail closed
)

// signedIn is the live session a request came with.
type signedIn struct {
	id   store.SessionID
	auth store.SessionAuth
	acct store.Account
	// impersonator is the impersonator's username when the session is a
	// live impersonation, "" otherwise.
	impersonator string
}

// resolve finds the live session in the request's cookies and its user's
// account. This is the hot path: no disk I/O for an ordinary session (the
// store's session index and user directory answer) and no allocation. Only
// an impersonation session's whole record is read, to check its actor.
func (s *Service) resolve(h http.Header, now time.Time) (si signedIn, res resolution) {
	s.cookie.eachToken(h, func(tok string) bool {
		var stop bool
		stop, res = liveSession(s, core.SessionIDOf(tok), now, &si)
		return stop
	})
	return si, res
}

// liveSession looks up the session cid for resolve (and for the host
// cookies of apps on other domains, crossdomain.go): on a live session of
// an active user it fills si and returns (true, resolvedOK); otherwise
// stop says whether to give up (a store failure) rather than try the
// request's next token.
func liveSession(s *Service, cid store.SessionID, now time.Time, si *signedIn) (stop bool, res resolution) {
	cs, err := s.store.SessionAuth(cid)
	if err != nil {
		return lookupFailed(err)
	}
	cu, err := s.store.Account(cs.UserID)
	if err != nil {
		return lookupFailed(err)
	}
	if !cu.Active(now) || (!cs.SecondFactor && s.core.Settings().Require2FA) {
		return false, resolvedNone
	}
	var impersonator string
	if cs.Impersonation {
		full, err := s.store.Session(cid)
		if err != nil {
			return lookupFailed(err)
		}
		if !s.core.Sessions.ImpersonationLive(&full, &cu, now) {
			return false, resolvedNone
		}
		impersonator = full.ImpersonatorName
	}
	*si = signedIn{id: cid, auth: cs, acct: cu, impersonator: impersonator}
	return true, resolvedOK
}

// wholeUser reads the whole user record of a resolved portal request,
// checks again that the account is active (it may have been disabled since
// resolve looked at its account) and records the session's activity.
func (s *Service) wholeUser(si signedIn, now time.Time) (*store.User, resolution) {
	u, err := s.store.User(si.acct.ID)
	if err != nil {
		_, res := lookupFailed(err)
		return nil, res
	}
	if !core.UserActive(u, now) {
		return nil, resolvedNone
	}
	s.store.TouchSession(si.id, now)
	return u, resolvedOK
}

// lookupFailed is what resolve does after a failed lookup: a missing record
// means trying the next token, anything else is a store failure (fail
// closed).
func lookupFailed(err error) (stop bool, res resolution) {
	if errors.Is(err, store.ErrNotFound) {
		return false, resolvedNone
	}
	return true, resolvedUnavailable
}

// startSession signs u in: it ends the session the client already had (a new
// token at every login, so a planted token is never adopted), stores a new
// one and sets its cookie.
func (s *Service) startSession(w http.ResponseWriter, r *http.Request, u *store.User, remember bool) (store.Session, error) {
	return s.startSessionWith(w, r, u, remember, func(sess *store.Session) { sess.Methods = []string{core.MethodPassword} })
}

// startSessionWith is startSession letting set fill in how the user
// authenticated before the session is stored. A session whose methods
// include a password (the user's own or a temporary one) is stored only if
// u's password is still the user's (core.SamePassword): core.ErrPasswordChanged
// otherwise.
func (s *Service) startSessionWith(w http.ResponseWriter, r *http.Request, u *store.User, remember bool, set func(*store.Session)) (store.Session, error) {
	s.endSessions(r)
	s.usersUI().dropActorCookie(w, r)
	tok, sess, err := s.core.Sessions.Start(s.clientActor(r), u, remember, set)
	if err != nil {
		return store.Session{}, err
	}
	var cookieExpires time.Time
	if remember {
		cookieExpires = sess.ExpiresAt
	}
	http.SetCookie(w, s.cookie.issue(tok, cookieExpires, sess.CreatedAt))
	return sess, nil
}

// endSessions deletes every session named by the request's cookies.
func (s *Service) endSessions(r *http.Request) (ended []store.Session) {
	s.cookie.eachToken(r.Header, func(tok string) bool {
		id := core.SessionIDOf(tok)
		if sess, err := s.store.Session(id); err == nil {
			ended = append(ended, sess)
		}
		if err := s.store.DeleteSession(id); err != nil {
			s.log.Error("end session", "error", err)
		}
		return false
	})
	return ended
}

func truncate(s string, n int) string { return core.Truncate(s, n) }

// validCookieName accepts names made of letters, digits, '-' and '_'.
func validCookieName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
