package caddymodule

import (
	"fmt"

	"github.com/gatehouse-auth/gatehouse/portal"
)

// checkJWTHeader checks `headers { jwt NAME }`, the signed identity
// assertion: with every request the guard lets through, and in every
// forward-auth answer, a JWT (ES256) valid for 60 s, with iss the portal
// URL, aud the app, sub (the user's id, as the OpenID Connect provider's
// sub), preferred_username, name, email (a confirmed address only),
// groups, iat, exp and, during an impersonation, imp (the administrator's
// username). Apps verify it with the JWKS at
// <portal_url>/.well-known/jwks.json (the provider's jwks_uri serves the
// same set). A client's own copy of NAME is always removed, as the
// identity headers are. NAME must be a header of its own: none of the
// identity headers (configured or default), nor Authorization, Cookie,
// Host, X-Forwarded-* and the like (portal.CheckJWTHeader).
func checkJWTHeader(h HeaderNames) error {
	if h.JWT == "" {
		return nil
	}
	err := portal.CheckJWTHeader(h.JWT, portal.Headers{User: h.User, Email: h.Email, Name: h.Name,
		Groups: h.Groups, Impersonator: h.Impersonator, Role: h.Role})
	if err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	return nil
}
