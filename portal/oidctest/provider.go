package oidctest

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// Provider is a running mockoidc provider. The embedded MockOIDC gives
// the rest of mockoidc's API: Issuer, Config, the endpoints, the signing
// Keypair.
type Provider struct {
	*mockoidc.MockOIDC
}

// Option configures a Provider.
type Option func(*options)

type options struct {
	middleware []func(http.Handler) http.Handler
}

// WithMiddleware wraps every endpoint of the provider in mw, for tests
// that play a rogue provider or a man in the middle (rewrite the token
// endpoint's answer, for instance). Several are applied in order.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(o *options) { o.middleware = append(o.middleware, mw) }
}

// NewProvider starts a provider on 127.0.0.1 and shuts it down when the
// test ends. It calls t.Fatal if the provider cannot start.
func NewProvider(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatalf("oidctest: new provider: %v", err)
	}
	for _, mw := range o.middleware {
		if err := m.AddMiddleware(mw); err != nil {
			t.Fatalf("oidctest: add middleware: %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("oidctest: listen: %v", err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatalf("oidctest: start provider: %v", err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return &Provider{MockOIDC: m}
}

// ClientID is the client ID the provider knows the relying party by.
func (p *Provider) ClientID() string { return p.Config().ClientID }

// ClientSecret is the relying party's client secret.
func (p *Provider) ClientSecret() string { return p.Config().ClientSecret }

// User is an account at the provider, for QueueUser and SignIn.
type User struct {
	// Subject is the "sub" claim.
	Subject string
	// Claims are put in the ID token beside mockoidc's standard ones
	// (iss, aud, exp, nonce...), e.g. "email", "email_verified",
	// "preferred_username", "name", "groups".
	Claims map[string]any
	// Userinfo are the claims of the userinfo endpoint's answer, which
	// always has the subject too. Nil means the same as Claims, as most
	// providers answer; set it (even empty) to give the ID token and the
	// userinfo endpoint different claims.
	Userinfo map[string]any
}

// QueueUser makes u the user the provider signs in at the next
// authorization request. Users queued are signed in in order.
func (p *Provider) QueueUser(u User) {
	p.MockOIDC.QueueUser(mockUser{u})
}

// mockUser is a User as mockoidc wants it.
type mockUser struct{ u User }

// ID implements mockoidc.User.
func (m mockUser) ID() string { return m.u.Subject }

// Userinfo implements mockoidc.User: the userinfo endpoint's answer.
func (m mockUser) Userinfo([]string) ([]byte, error) {
	src := m.u.Userinfo
	if src == nil {
		src = m.u.Claims
	}
	c := maps.Clone(src)
	if c == nil {
		c = map[string]any{}
	}
	c["sub"] = m.u.Subject
	return json.Marshal(c)
}

// Claims implements mockoidc.User: the ID token's claims.
func (m mockUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return claims{base, m.u.Claims}, nil
}

// claims are mockoidc's standard claims plus extra ones.
type claims struct {
	*mockoidc.IDTokenClaims
	extra map[string]any
}

// MarshalJSON writes the standard claims and the extra ones in one
// object, the extra ones winning.
func (c claims) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(c.IDTokenClaims)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	maps.Copy(m, c.extra)
	return json.Marshal(m)
}
