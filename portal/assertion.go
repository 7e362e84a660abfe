package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/oidcprovider"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The signed identity assertion (`headers { jwt NAME }`): every request
// the guard lets through (and every forward-auth 200) also carries, in
// the header Headers.JWT, a JWT signed with ES256 that states who the
// user is for that app: iss the portal URL, aud the app's name, sub the
// user's id (the provider's sub), preferred_username, name, email (a
// confirmed address only) with email_verified, groups, iat, exp (60 s
// later) and, during an impersonation, imp (the administrator's
// username). Apps verify it with the JWKS at
// <portal_url>/.well-known/jwks.json. A client's own copy of the header
// is removed like every identity header. Signing is done once per user,
// app and impersonator and reused until 15 s before expiry
// (oidcprovider.Assertions), so the guard's hot path stays a map lookup.

// reservedHeaders may not carry the assertion: what proxies and apps
// read as something else (credentials, cookies, framing, forwarding).
var reservedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Host",
	"Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Content-Length", "Content-Type", "Content-Encoding", "Accept", "User-Agent",
	"Origin", "Referer", "Forwarded", "X-Real-Ip", "Www-Authenticate",
}

// CheckJWTHeader checks name as the header of the identity assertion
// beside the identity headers h (empty fields take their defaults): a
// header name of letters, digits, '-' and '_', that is none of the
// identity headers (configured or default, in any spelling an upstream
// takes for the same: see sameHeader) and none of the headers proxies and
// apps read as something else (Authorization, Cookie, Host, X-Forwarded-*,
// …).
func CheckJWTHeader(name string, h Headers) error {
	if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		return fmt.Errorf("headers jwt: %q is not a valid header name (letters, digits, '-' and '_', at most 64)", name)
	}
	h = h.withDefaults()
	identity := []string{h.User, h.Email, h.Name, h.Groups, h.Impersonator, h.Role,
		DefaultHeaders.User, DefaultHeaders.Email, DefaultHeaders.Name, DefaultHeaders.Groups,
		DefaultHeaders.Impersonator, DefaultRoleHeader}
	for _, other := range identity {
		if other != "" && sameHeader(name, other) {
			return fmt.Errorf("headers jwt: %q is an identity header; the assertion needs a header of its own (e.g. X-Gatehouse-JWT)", name)
		}
	}
	lower := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name))
	for _, r := range reservedHeaders {
		if sameHeader(name, r) {
			return fmt.Errorf("headers jwt: %q is a header proxies and apps read as something else; choose another (e.g. X-Gatehouse-JWT)", name)
		}
	}
	for _, p := range []string{"x-forwarded-", "proxy-", "sec-"} {
		if strings.HasPrefix(lower, p) {
			return fmt.Errorf("headers jwt: %q is a header proxies and apps read as something else; choose another (e.g. X-Gatehouse-JWT)", name)
		}
	}
	return nil
}

// newAssertions returns the signer of the identity assertions, or nil
// when h.JWT is not set.
func newAssertions(c *core.Core, pu *url.URL, h Headers, rotation time.Duration) (*oidcprovider.Assertions, error) {
	if h.JWT == "" {
		return nil, nil
	}
	if err := CheckJWTHeader(h.JWT, h); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	a, err := oidcprovider.NewAssertions(c, pu.String(), rotation)
	if err != nil {
		return nil, fmt.Errorf("portal: identity assertions: %w", err)
	}
	return a, nil
}

// setAssertion sets on h the identity assertion of u for app, during an
// impersonation by impersonator (""), when assertions are on. It reports
// false when one could not be signed: the request must not go on
// without it. (A function, not a method of Service, which adminAPI would
// inherit.)
func setAssertion(s *Service, h http.Header, u *store.Account, app, impersonator string, now time.Time) bool {
	if s.assertions == nil {
		return true
	}
	t, err := s.assertions.Token(u, app, impersonator, now)
	if err != nil {
		s.log.Error("cannot sign the identity assertion", "app", app, "error", err)
		return false
	}
	h[s.headers.JWT] = []string{t}
	return true
}

// keySet is the handler of the portal's JWKS; it shares the Service.
type keySet struct{ *Service }

// handle answers GET /.well-known/jwks.json: the provider's key set (its
// jwks_uri holds the same), or, when the provider does not run, the
// identity assertion keys alone; 404 when there is neither.
func (s keySet) handle(w http.ResponseWriter, _ *http.Request) {
	p := s.op.Load()
	if p == nil {
		if err := startOIDCProvider(s.Service); err != nil {
			s.log.Error("cannot start the OpenID Connect provider", "error", err)
		}
		p = s.op.Load()
	}
	w.Header().Set("Cache-Control", "no-cache")
	switch {
	case p != nil:
		oidcprovider.WriteJWKS(w, p.JWKS())
	case s.assertions != nil:
		oidcprovider.WriteJWKS(w, s.assertions.JWKS())
	default:
		writeJSONError(w, http.StatusNotFound, "no key set: neither the OpenID Connect provider nor identity assertions (headers { jwt … }) are on")
	}
}
