package portal

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

func (s usersUI) handleUserImpersonate(w http.ResponseWriter, r *http.Request, c *caller) {
	_, ic, err := s.startImpersonation(w, r, c, r.PathValue("user"))
	if err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	// No flash message: the impersonation banner on every page says it all.
	s.done(w, r, ic, "/", "")
}

func (s usersUI) handleStopImpersonation(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.Impersonating() {
		s.done(w, r, c, "/", s.pages.tr(c, "msg.impersonation.you_are_not_impersonating"))
		return
	}
	target := c.User
	actor, ac, err := s.stopImpersonation(w, r, c)
	switch {
	case err != nil:
		s.pageFail(w, r, c, err)
	case actor == nil:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	default:
		to := "/"
		if ac.Can(policies.PermUsersRead) {
			to = userPath(target)
		}
		s.done(w, r, ac, to, "You stopped acting as "+target.Username+".")
	}
}

// pageImpersonation is the banner of every page of an impersonation.
type pageImpersonation struct {
	// Target is who the session acts as; Actor is who is acting.
	Target, Actor string
	// Until is when the impersonation ends by itself.
	Until time.Time
}

// impersonationBanner returns the banner data for c, nil when c is not
// impersonating.
func impersonationBanner(c *caller) *pageImpersonation {
	if !c.Impersonating() {
		return nil
	}
	return &pageImpersonation{Target: c.User.Username, Actor: c.Session.ImpersonatorName, Until: c.Session.ExpiresAt}
}

// canImpersonate reports whether the user page should offer c to
// impersonate u (the server checks again).
func (s usersUI) canImpersonate(c *caller, u *store.User) bool {
	return !c.Impersonating() && c.SessionID != (store.SessionID{}) && u.ID != c.User.ID &&
		core.UserActive(u, s.now()) && s.core.Sessions.MayImpersonate(c.Principal(), u.Role) == nil
}
