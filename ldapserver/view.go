package ldapserver

import (
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// view is what one bound connection may see of the users.
type view struct {
	all    bool      // every active user (bind clients, user readers)
	self   string    // else only this user id
	app    *core.App // and, when set, only the users this app lets in
	client string    // the bind client's own entry, in ou=system
	// now is when the view was made: one search judges every account
	// at the same instant (and reads the clock once).
	now time.Time
}

// visible reports whether the account a is in the view at now.
func (v *view) visible(a *store.Account, c *core.Core) bool {
	if !a.Active(v.now) || (!v.all && a.ID != v.self) {
		return false
	}
	if v.app == nil {
		return true
	}
	return c.Access.Admits(v.app, a)
}

// live checks that the connection's binding still holds (the client still
// exists with its secret, the user is still active) and drops it when not:
// revocation takes effect at the next operation.
func (c *conn) live() bool {
	b := c.bound
	switch {
	case b.client != nil:
		if c.s.core.Credentials.LDAPClientLive(b.client) {
			return true
		}
	case b.userID != "":
		if a, err := c.s.core.Store().Account(b.userID); err == nil && a.Active(c.s.core.Now()) {
			return true
		}
	default:
		return false
	}
	c.bound = binding{}
	return false
}

// view returns what c may see, or nil for an anonymous connection.
func (c *conn) view() *view {
	if !c.live() {
		return nil
	}
	v := &view{now: c.s.core.Now()}
	if c.bound.client != nil {
		v.all, v.client = true, c.bound.client.Name
	} else {
		v.self = c.bound.userID
		if a, err := c.s.core.Store().Account(c.bound.userID); err == nil {
			if perms, _ := c.s.core.PermsOf(a.Role); perms.Has(policies.PermUsersRead) {
				v.all = true
			}
		}
	}
	if c.scopeApp != "" {
		app, err := c.s.core.Access.AppNamed(c.scopeApp)
		if err != nil {
			app = &core.App{Name: c.scopeApp} // gone: only those who reach every app
		}
		v.app = app
	}
	return v
}
