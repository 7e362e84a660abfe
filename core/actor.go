package core

import (
	"strings"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Via names the surface an action came through.
type Via string

// The surfaces.
const (
	ViaPortal Via = "portal" // the portal's pages
	ViaAPI    Via = "api"    // the portal's JSON API
	ViaCLI    Via = "cli"    // the Caddy admin API (caddy gatehouse …)
	ViaLDAP   Via = "ldap"   // the directory server
	ViaOIDC   Via = "oidc"   // the OpenID Connect provider
	ViaGuard  Via = "guard"  // the access check in front of an app
)

// Credential names what proved an actor.
type Credential string

// The credentials.
const (
	CredNone        Credential = ""             // nothing yet: an anonymous actor
	CredSession     Credential = "session"      // a portal session
	CredKey         Credential = "key"          // an API key
	CredAppPassword Credential = "app_password" // an app password
	CredLocal       Credential = "local"        // the server's own administrator (the CLI)
)

// Actor is who performs an action, as the audit log and the permission
// checks see it. The surface builds it once per request or bind; the core
// reads it and never the request.
type Actor struct {
	// User is the signed-in user; nil for an anonymous actor (someone
	// signing in, following a reset link, …).
	User *store.User
	// Perms are the permissions of User's role.
	Perms policies.PermissionSet
	// Via is the surface the action came through.
	Via Via
	// Credential is what proved the actor.
	Credential Credential
	// SessionID and Session are the session the actor came with, when
	// Credential is CredSession.
	SessionID store.SessionID
	Session   store.Session
	// Key is the API key the actor came with, when Credential is CredKey.
	Key *store.APIKey
	// IP and UserAgent describe the client, for the audit log.
	IP        string
	UserAgent string
	// AcceptLanguage is the client's Accept-Language header: the language
	// of what the actor is shown when their profile names none.
	AcceptLanguage string
	// Impersonator is the administrator acting as Impersonated, when the
	// actor's session is an impersonation (Impersonated is then User's
	// name, or, for an anonymous actor, the impersonated user the
	// client's session cookie names).
	Impersonator string
	Impersonated string
	// Devices are the entries of the client's device cookie, signatures
	// unchecked (see the portal's devicecookies.go); a surface without
	// device cookies leaves it empty.
	Devices []Device
}

// Device is one entry of a device cookie: a browser that completed a
// sign-in of Username keeps Nonce, signed with MAC.
type Device struct {
	Username string
	Nonce    []byte
	MAC      []byte
}

// Can reports whether the actor's role grants p.
func (a *Actor) Can(p policies.Permission) bool { return a.Perms.Has(p) }

// Principal is the actor as the grant rules of package policies see it.
func (a *Actor) Principal() policies.Principal {
	return policies.Principal{Role: a.User.Role, Perms: a.Perms}
}

// Impersonating reports whether the actor's session is an impersonation.
func (a *Actor) Impersonating() bool { return a != nil && a.Session.ImpersonatorID != "" }

// Anonymous reports whether nobody is signed in.
func (a *Actor) Anonymous() bool { return a == nil || a.User == nil }

// impersonatorOf returns the administrator behind the actor when the
// audit event's actor name is the impersonated user.
func (a *Actor) impersonatorOf(name string) string {
	if a == nil || a.Impersonator == "" || !strings.EqualFold(a.Impersonated, name) {
		return ""
	}
	return a.Impersonator
}

// Need refuses with a *ForbiddenError unless c holds perm; read
// permissions never imply write.
func Need(c *Actor, perm policies.Permission) error {
	if !c.Can(perm) {
		return &ForbiddenError{perm}
	}
	return nil
}

// ForbiddenError refuses an actor whose role lacks Perm.
type ForbiddenError struct{ Perm policies.Permission }

// Error names the missing permission.
func (e *ForbiddenError) Error() string { return "this needs the " + string(e.Perm) + " permission" }

// Unwrap makes a ForbiddenError an ErrForbidden.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }
