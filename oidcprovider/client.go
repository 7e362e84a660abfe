package oidcprovider

import (
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/core"
)

// client is an app's OIDC registration as the library reads it.
type client struct {
	id    string
	c     *core.OIDCClient
	login func(id string) string
}

func (c *client) GetID() string                    { return c.id }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }

// ApplicationType is native for a public client and for one that
// registers a redirect URI with a scheme of its own (a mobile or desktop
// app's, such as Immich's app.immich:///oauth-callback, RFC 8252 §7.1):
// the library refuses such a URI for a web client even when registered.
// The URI is still matched exactly; what "native" adds is the loopback
// rule of RFC 8252 §7.3 (any port for a registered http://127.0.0.1/…) and
// refusing http:// URIs other than loopback.
func (c *client) ApplicationType() op.ApplicationType {
	if c.c.Public || slices.ContainsFunc(c.c.RedirectURIs, customScheme) {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

// customScheme reports whether uri's scheme is neither http nor https.
func customScheme(uri string) bool {
	return !strings.HasPrefix(uri, "http://") && !strings.HasPrefix(uri, "https://")
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string           { return c.login(id) }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return time.Hour }
func (c *client) DevMode() bool                       { return false }

// RestrictAdditionalIdTokenScopes drops the groups scope from the ID token
// of a userinfo_only_claims app: the library leaves out the standard
// scopes' claims itself, not those of a scope of our own.
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string {
		if c.c.UserinfoOnlyClaims {
			return slices.DeleteFunc(slices.Clone(s), func(sc string) bool { return sc == scopeGroups })
		}
		return s
	}
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool     { return scope == scopeGroups }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return !c.c.UserinfoOnlyClaims }
func (c *client) ClockSkew() time.Duration             { return 0 }

// scopeGroups carries the groups claim.
const scopeGroups = "groups"
