package ldapserver

import (
	"context"
	"errors"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/ratelimit"
	"github.com/gatehouse-auth/gatehouse/store"
)

// bindTimeout bounds one bind (a password check waits for a slot in the
// core's hashing pool).
const bindTimeout = 30 * time.Second

// bind answers a BindRequest. Every bind starts anonymous: a failed bind
// leaves the connection anonymous (RFC 4513, 5.1). Every failure with a
// name and a password — unknown, wrong, disabled, expired, locked, a
// second factor — is the same invalidCredentials (49); the audit log
// keeps the reason.
func (c *conn) bind(req *request) {
	op := req.op
	reply := func(code int, diag string) { c.send(req.id, result(appBindResponse, code, "", diag)) }
	if op.TagType != ber.TypeConstructed || len(op.Children) != 3 {
		reply(resultProtocolError, "malformed bind request")
		return
	}
	version, ok := op.Children[0].Value.(int64)
	if !ok || version != 3 {
		reply(resultProtocolError, "only LDAP version 3 is supported")
		return
	}
	name, ok := octets(op.Children[1])
	auth := op.Children[2]
	if !ok || auth.ClassType != ber.ClassContext {
		reply(resultProtocolError, "malformed bind request")
		return
	}
	c.bound = binding{}
	if auth.Tag != 0 { // SASL (3) or anything else
		reply(resultAuthMethodNotSupported, "only simple binds are supported")
		return
	}
	secret, ok := octets(auth)
	if !ok {
		reply(resultProtocolError, "malformed bind request")
		return
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "" && secret == "":
		reply(resultSuccess, "") // anonymous: the root DSE only
		return
	case secret == "":
		// An "unauthenticated bind" (RFC 4513, 5.1.2) would succeed
		// with any name: refused, as the RFC recommends.
		reply(resultUnwillingToPerform, "a name without a password is not a bind")
		return
	}

	// A password can be guessed: its attempt is charged before it is
	// checked (and given back when right), so parallel guesses cannot
	// outrun the budget. A bind client's secret or an app password cannot
	// be guessed: it is charged only when wrong, so an app's many
	// concurrent binds never spend the budget its failures are bounded by.
	key := ratelimit.Key(c.ip)
	who := c.bindTarget(name)
	cheap := who.kind == nodeClient || core.LooksLikeAppPassword(secret)
	var wait time.Duration
	var first bool
	if cheap {
		wait = c.s.throttle.Wait(key, c.s.core.Now())
	} else {
		wait, first = c.s.throttle.Take(key, c.s.core.Now())
	}
	if wait > 0 {
		if first {
			c.s.log.Warn("too many failed binds from one address: throttled", "ip", c.ip, "retry_after", wait.Round(time.Second))
		}
		c.s.core.Metrics().Throttled("ldap")
		c.s.core.Metrics().LDAP("bind", "throttled")
		c.s.hold()
		reply(resultBusy, "too many failed attempts from your address; try again in "+wait.Round(time.Second).String())
		return
	}
	code, diag := c.checkBind(who, secret)
	c.s.core.Metrics().LDAP("bind", ldapResult(code))
	switch {
	case cheap && code != resultSuccess:
		c.s.throttle.Take(key, c.s.core.Now())
	case !cheap && code == resultSuccess:
		c.s.throttle.Refund(key, c.s.core.Now())
	}
	reply(code, diag)
}

// bindTarget is who a bind name names: a bind client (kind nodeClient),
// or a user (nodeUser with the username of a user DN; any other kind with
// the name itself as the login, a bare username or an e-mail address).
// Any other DN goes on as a login that matches nobody, so it costs a
// password check like an unknown user.
func (c *conn) bindTarget(name string) node {
	if rdns, err := parseDN(name); err == nil && len(rdns) > 0 {
		if n, _ := c.s.tree.locate(rdns); n.kind == nodeClient || n.kind == nodeUser {
			return n
		}
	}
	return node{name: name}
}

// checkBind checks the secret of who (see bindTarget) and binds the
// connection on success.
func (c *conn) checkBind(who node, secret string) (int, string) {
	if who.kind == nodeClient {
		return c.bindClient(who.name, secret)
	}
	return c.bindUser(who.name, secret)
}

// bindClient binds as the bind client called name.
func (c *conn) bindClient(name, secret string) (int, string) {
	rec, err := c.s.core.Credentials.CheckLDAPClient(c.actor(), name, secret)
	if err != nil {
		return c.failure(err)
	}
	c.bound = binding{client: rec, dn: c.s.tree.clientDN(rec.Name)}
	if rec.App != "" && c.scopeApp == "" {
		c.scopeApp = rec.App
	}
	return resultSuccess, ""
}

// bindUser binds as the user called login (a username or an e-mail
// address).
func (c *conn) bindUser(login, secret string) (int, string) {
	var app *core.App
	if c.scopeApp != "" {
		var err error
		if app, err = c.s.core.Access.AppNamed(c.scopeApp); err != nil {
			// The app is gone: only those who reach every app pass.
			app = &core.App{Name: c.scopeApp}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bindTimeout)
	defer cancel()

	// A secret in the form of an app password (gtap_…) is checked as one
	// (a keyed hash, no argon2id), never as the account password. Users
	// with a second factor can bind only that way: BindPassword refuses
	// their account password.
	var u *store.User
	var err error
	if core.LooksLikeAppPassword(secret) {
		u, err = c.s.core.Auth.BindAppPassword(c.actor(), login, secret, app)
	} else {
		u, err = c.s.core.Auth.BindPassword(ctx, c.actor(), login, secret, app)
	}
	if err != nil {
		return c.failure(err)
	}
	c.bound = binding{userID: u.ID, dn: c.s.tree.userDN(u.Username)}
	return resultSuccess, ""
}

// failure maps a core error to a bind result.
func (c *conn) failure(err error) (int, string) {
	switch {
	case errors.Is(err, core.ErrBadCredentials):
		return resultInvalidCredentials, ""
	case errors.Is(err, core.ErrBusy):
		return resultBusy, "busy, try again shortly"
	}
	c.s.log.Error("ldap bind failed", "ip", c.ip, "error", err)
	return resultOther, "internal error"
}

// hold delays a refused bind by bindRefusalHold, unless maxHeld are
// already held: a client hammering past its allowance gets one answer per
// connection a second.
func (s *Server) hold() {
	select {
	case s.held <- struct{}{}:
	default:
		return
	}
	time.Sleep(bindRefusalHold)
	<-s.held
}

// ldapResult is the result label of gatehouse_ldap_operations_total for an
// operation that ended with the LDAP result code: success or failure.
func ldapResult(code int) string {
	if code == resultSuccess {
		return "success"
	}
	return "failure"
}
