package caddymodule

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/portal"
)

// HeaderNames renames the identity headers. Empty fields keep the defaults.
type HeaderNames struct {
	// User carries the username. Default: Remote-User.
	User string `json:"user,omitempty"`
	// Email carries the email address. Default: Remote-Email.
	Email string `json:"email,omitempty"`
	// Name carries the full name. Default: Remote-Name.
	Name string `json:"name,omitempty"`
	// Groups carries the groups, comma-separated. Default: Remote-Groups.
	Groups string `json:"groups,omitempty"`
	// Impersonator carries the username of the administrator acting as
	// the user, sent only during an impersonation. Default:
	// Remote-Impersonator.
	Impersonator string `json:"impersonator,omitempty"`
	// Role carries the user's Gatehouse role (owner, admin, user or a
	// custom role's name). Default: empty, no role header is sent (a
	// client's Remote-Role is removed all the same).
	Role string `json:"role,omitempty"`
	// JWT, when set, names the header of a signed identity assertion sent
	// with every request let through and every forward-auth answer (see
	// checkJWTHeader). Default: empty, no assertion.
	JWT string `json:"jwt,omitempty"`
}

// checkHeaderNames checks that every identity header name is valid and
// that no two headers share a name.
func checkHeaderNames(h HeaderNames) error {
	seen := map[string]string{}
	fields := map[string]string{"user": h.User, "email": h.Email, "name": h.Name, "groups": h.Groups, "impersonator": h.Impersonator}
	if h.Role != "" { // no default: off unless named
		fields["role"] = h.Role
	}
	defaults := map[string]string{"user": portal.DefaultHeaders.User, "email": portal.DefaultHeaders.Email,
		"name": portal.DefaultHeaders.Name, "groups": portal.DefaultHeaders.Groups, "impersonator": portal.DefaultHeaders.Impersonator}
	// Names left empty take their defaults, which must not collide with a
	// name given to another header either.
	for field, name := range fields {
		if name == "" {
			name = defaults[field]
		}
		if strings.ContainsFunc(name, func(r rune) bool {
			return !(r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
		}) {
			return fmt.Errorf("gatehouse: headers %s: %q is not a valid header name", field, name)
		}
		k := http.CanonicalHeaderKey(name)
		if other, dup := seen[k]; dup {
			return fmt.Errorf("gatehouse: headers %s and %s both use %q", other, field, name)
		}
		seen[k] = field
	}
	return checkJWTHeader(h)
}

// canonicalHeaders fills in the default header names of h and puts every
// name in canonical form, as the portal does: the keys Check sets on a
// request.
func canonicalHeaders(h portal.Headers) portal.Headers {
	or := func(name, def string) string {
		if name == "" {
			name = def
		}
		return http.CanonicalHeaderKey(name)
	}
	h.User = or(h.User, portal.DefaultHeaders.User)
	h.Email = or(h.Email, portal.DefaultHeaders.Email)
	h.Name = or(h.Name, portal.DefaultHeaders.Name)
	h.Groups = or(h.Groups, portal.DefaultHeaders.Groups)
	h.Impersonator = or(h.Impersonator, portal.DefaultHeaders.Impersonator)
	h.Role = http.CanonicalHeaderKey(h.Role)
	h.JWT = http.CanonicalHeaderKey(h.JWT)
	return h
}
