package portal

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Impersonation lets an administrator with the impersonate permission act
// as another user, to see the portal and the apps as they do.
//
// Starting one makes a NEW session (new token, new cookie value) whose
// UserID is the target and which records the impersonator and the id of
// the impersonator's own session (store.Session.ImpersonatorID,
// ImpersonatorName, ActorSession). That own session is not ended: its token
// moves to a second HttpOnly cookie, <cookie name>_actor, so that stopping
// can put it back. The server never stores tokens, only their hashes, so
// the browser has to keep it; stopping checks that the cookie's token
// hashes to ActorSession and is still a live session of the impersonator
// before restoring it, so a planted cookie restores nothing.
//
// While it lasts, the session is the target's in every way that decides
// access (role, permissions, groups, app rules); the guard also sends the
// impersonator's username in the Impersonator header, and every audit
// event the target's session causes names the impersonator too. It ends at
// the impersonation lifetime (setting impersonation_lifetime), or earlier
// with the impersonator's own session, and dies on the next request once
// the impersonator's session ends, their account stops being active, or
// they lose the right to impersonate the target.
//
// An impersonation session cannot impersonate further, change the target's
// password, second factors, linked identities or API keys, or make
// temporary passwords: the route table declares those routes (ownCredential,
// adminCredential in routepolicy.go), and c.impersonating() checks too.
// Signing out while impersonating ends both sessions.

// actorCookieSuffix names the cookie that keeps the impersonator's own
// session token during an impersonation: <cookie name>_actor.
const actorCookieSuffix = "_actor"

func (s usersUI) actorCookieName() string { return s.cookie.name + actorCookieSuffix }

// actorCookie returns the cookie that keeps the impersonator's own session
// token, with the attributes of the session cookie.
func (s usersUI) actorCookie(tok string, expires, now time.Time) *http.Cookie {
	ck := s.cookie.issue(tok, expires, now)
	ck.Name = s.actorCookieName()
	return ck
}

// clearActorCookie returns a cookie that deletes the actor cookie.
func (s usersUI) clearActorCookie() *http.Cookie {
	ck := s.cookie.clear()
	ck.Name = s.actorCookieName()
	return ck
}

// dropActorCookie deletes the actor cookie when the request has one (a new
// sign-in in a browser that was impersonating).
func (s usersUI) dropActorCookie(w http.ResponseWriter, r *http.Request) {
	if len(r.CookiesNamed(s.actorCookieName())) > 0 {
		http.SetCookie(w, s.clearActorCookie())
	}
}

// tokenOf returns the token in the request's session cookies whose id is
// id.
func (s usersUI) tokenOf(h http.Header, id store.SessionID) string {
	var found string
	s.cookie.eachToken(h, func(tok string) bool {
		if core.SessionIDOf(tok) == id {
			found = tok
			return true
		}
		return false
	})
	return found
}

// impersonationOf returns, when the request comes with a live
// impersonation session, the impersonator's and the target's usernames.
func (s usersUI) impersonationOf(r *http.Request) (impersonator, target string) {
	if len(r.Header["Cookie"]) == 0 {
		return "", ""
	}
	si, res := s.resolve(r.Header, s.now())
	if res != resolvedOK || si.impersonator == "" {
		return "", ""
	}
	return si.impersonator, si.acct.Username
}

// startImpersonation makes c act as the user ref: it checks the rules,
// stores the impersonation session and sets its cookie and the actor
// cookie. It returns the target and the new session's caller.
func (s usersUI) startImpersonation(w http.ResponseWriter, r *http.Request, c *caller, ref string) (*store.User, *caller, error) {
	u, err := s.core.Sessions.MayImpersonateUser(c, ref)
	if err != nil {
		return nil, nil, err
	}
	actorTok := s.tokenOf(r.Header, c.SessionID)
	if actorTok == "" {
		return nil, nil, fmt.Errorf("%w: impersonation needs the session cookie", ErrForbidden)
	}
	tok, sess, err := s.core.Sessions.Impersonate(c, u)
	if err != nil {
		return nil, nil, err
	}
	// Both cookies are persistent only when the impersonator's own cookie
	// is (a "keep me signed in" session); else they end with the browser.
	var cookieExpires time.Time
	if c.Session.Remember {
		cookieExpires = sess.ExpiresAt
	}
	http.SetCookie(w, s.cookie.issue(tok, cookieExpires, sess.CreatedAt))
	http.SetCookie(w, s.actorCookie(actorTok, cookieExpires, sess.CreatedAt))
	return u, s.signedInAs(s.clientActor(r), u, sess.ID, sess), nil
}

// stopImpersonation ends c's impersonation session and puts the
// impersonator's own session back in the session cookie. When that session
// is gone (or the actor cookie does not match it), the browser is signed
// out and actor is nil.
func (s usersUI) stopImpersonation(w http.ResponseWriter, r *http.Request, c *caller) (actor *store.User, actorCaller *caller, err error) {
	if !c.Impersonating() {
		return nil, nil, core.ErrNotImpersonating
	}
	if err := s.store.DeleteSession(c.SessionID); err != nil {
		return nil, nil, fmt.Errorf("portal: stop impersonation: %w", err)
	}
	http.SetCookie(w, s.clearActorCookie())
	now := s.now()
	reason := c.Session.ImpersonatorName + " stopped impersonating " + c.User.Username
	tok, aid, asess, actor := s.actorToRestore(r.CookiesNamed(s.actorCookieName()), c.Session, now)
	if actor == nil {
		http.SetCookie(w, s.cookie.clear())
		s.core.Audit(s.requestActor(r), store.Event{Actor: c.Session.ImpersonatorName, Action: core.ActionImpersonationStop, Resource: "user:" + c.User.Username,
			Outcome: outcomeSuccess, Reason: reason + "; their own session had ended, so the browser was signed out"})
		return nil, nil, nil
	}
	var cookieExpires time.Time
	if asess.Remember {
		cookieExpires = asess.ExpiresAt
	}
	http.SetCookie(w, s.cookie.issue(tok, cookieExpires, now))
	s.store.TouchSession(aid, now)
	s.core.Audit(s.requestActor(r), store.Event{Actor: actor.Username, Action: core.ActionImpersonationStop, Resource: "user:" + c.User.Username,
		Outcome: outcomeSuccess, Reason: reason})
	return actor, s.signedInAs(s.clientActor(r), actor, aid, asess), nil
}

// actorToRestore finds the impersonator's own session in the actor cookie:
// its token must hash to sess.ActorSession and name a live session of the
// (active) impersonator. actor is nil when there is none.
func (s usersUI) actorToRestore(cookies []*http.Cookie, sess store.Session, now time.Time) (tok string, id store.SessionID, asess store.Session, actor *store.User) {
	want, ok := core.HexSessionID(sess.ActorSession)
	if !ok {
		return "", id, asess, nil
	}
	for _, ck := range cookies {
		v := strings.Trim(ck.Value, `"`)
		if !core.WellFormedToken(v) {
			continue
		}
		cid := core.SessionIDOf(v)
		if subtle.ConstantTimeCompare(cid[:], want[:]) != 1 {
			continue
		}
		as, err := s.store.Session(cid)
		if err != nil || as.UserID != sess.ImpersonatorID || as.ActorSession != "" {
			return "", id, asess, nil
		}
		u, err := s.store.User(as.UserID)
		if err != nil || !core.UserActive(u, now) {
			return "", id, asess, nil
		}
		return v, cid, as, u
	}
	return "", id, asess, nil
}

// endDeadImpersonation cleans up after an impersonation that can no longer
// be used (expired, or its impersonator's session ended): it deletes the
// sessions the request's cookies name, clears both cookies and reports
// whether there was an impersonation to end.
func (s usersUI) endDeadImpersonation(w http.ResponseWriter, r *http.Request) bool {
	had := len(r.CookiesNamed(s.actorCookieName())) > 0
	for _, sess := range s.endSessions(r) {
		if sess.ImpersonatorID == "" {
			continue
		}
		had = true
		target := ""
		if u, err := s.store.User(sess.UserID); err == nil {
			target = u.Username
		}
		s.core.Audit(s.requestActor(r), store.Event{Actor: sess.ImpersonatorName, Action: core.ActionImpersonationStop, Resource: "user:" + target,
			Outcome: outcomeSuccess, Reason: sess.ImpersonatorName + " stopped impersonating " + target +
				"; their own session had ended, so the browser was signed out"})
	}
	if had {
		http.SetCookie(w, s.clearActorCookie())
		http.SetCookie(w, s.cookie.clear())
	}
	return had
}

// endActorSession is part of signing out: a browser that signs out while
// impersonating also ends the impersonator's own session kept in the actor
// cookie, and loses that cookie.
func (s usersUI) endActorSession(w http.ResponseWriter, r *http.Request) {
	cks := r.CookiesNamed(s.actorCookieName())
	if len(cks) == 0 {
		return
	}
	for _, ck := range cks {
		v := strings.Trim(ck.Value, `"`)
		if !core.WellFormedToken(v) {
			continue
		}
		id := core.SessionIDOf(v)
		sess, err := s.store.Session(id)
		if err != nil {
			continue
		}
		if err := s.store.DeleteSession(id); err != nil {
			s.log.Error("end impersonator session", "error", err)
			continue
		}
		actor := ""
		if u, err := s.store.User(sess.UserID); err == nil {
			actor = u.Username
		}
		s.core.Audit(s.requestActor(r), store.Event{Actor: actor, Action: core.ActionLogout, Resource: "user:" + actor, Outcome: outcomeSuccess,
			Reason: "signed out while impersonating"})
	}
	http.SetCookie(w, s.clearActorCookie())
}
