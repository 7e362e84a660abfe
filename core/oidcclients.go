package core

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
)

// OIDCClientConfig declares an app as a client of Gatehouse's OpenID
// Connect provider (`oidc { … }` in a global `app` block, or the "oidc"
// object of POST /api/v1/apps). The client id is the app's name.
type OIDCClientConfig struct {
	// RedirectURIs are the exact redirect URIs the client may use (no
	// prefix match, no wildcard). At least one.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may return.
	PostLogoutRedirectURIs []string
	// Public marks a client that cannot keep a secret (a mobile or
	// single-page app): it has no secret and must use PKCE.
	Public bool
	// Secret is a confidential client's secret in clear, from the
	// Caddyfile (usually a placeholder such as {env.GRAFANA_SECRET}). It is
	// held in memory only, as a keyed hash.
	Secret string
	// SecretHash is an argon2id PHC string of the secret
	// (`client_secret_hash`), for a Caddyfile that should not hold it.
	SecretHash string
	// AccessTokenLifetime is how long an access token lives. Default: 10
	// minutes.
	AccessTokenLifetime time.Duration
	// UserinfoOnlyClaims keeps the profile, email and groups claims out of
	// the ID token (UserInfo only). Default: off, they are in both, as
	// most self-hosted clients read only the ID token.
	UserinfoOnlyClaims bool
	// BackchannelLogoutURI receives OIDC Back-Channel Logout tokens when a
	// session the client got tokens through ends. Optional.
	BackchannelLogoutURI string
	// Consent marks a third-party app: the user is asked to allow it (and
	// the scopes it wants) before it gets anything, and may revoke that on
	// the profile page. Default: off, a first-party app (declared in the
	// Caddyfile or made by an administrator) asks no consent.
	Consent bool
}

// DefaultAccessTokenLifetime is an access token's lifetime unless the
// client says otherwise.
const DefaultAccessTokenLifetime = 10 * time.Minute

// maxRedirectURIs bounds a client's redirect URI list.
const maxRedirectURIs = 32

// OIDCClient is an app's registration with the OpenID Connect provider, as
// the provider reads it on every request: checked and immutable. A new
// secret replaces the whole OIDCClient.
type OIDCClient struct {
	// RedirectURIs, PostLogoutRedirectURIs, Public, AccessTokenLifetime,
	// UserinfoOnlyClaims and BackchannelLogoutURI are as in
	// OIDCClientConfig, checked, defaults filled in.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool
	AccessTokenLifetime    time.Duration
	UserinfoOnlyClaims     bool
	BackchannelLogoutURI   string
	// Consent is as in OIDCClientConfig.
	Consent bool

	// secretMAC is the keyed hash of the secret: set from a secret in clear
	// at load, or after the first successful check against secretHash.
	secretMAC  atomic.Pointer[[]byte]
	secretHash string
	// hashSlot lets one argon2id check of secretHash run at a time.
	hashSlot chan struct{}
	// maker names who made the secret of an app made in the portal: the
	// secret works only while they may make it (apps_edit.go). "" for a
	// Caddyfile secret.
	maker string
}

// CheckOIDCClientConfig checks c and returns the client it declares;
// keyMAC is the server's hash key. Errors name the field (as the JSON API
// does: "oidc.redirect_uris[1]").
func CheckOIDCClientConfig(c OIDCClientConfig, keyMAC []byte) (*OIDCClient, error) {
	if len(c.RedirectURIs) == 0 {
		return nil, Input("oidc.redirect_uris", "needs at least one redirect URI")
	}
	if len(c.RedirectURIs) > maxRedirectURIs || len(c.PostLogoutRedirectURIs) > maxRedirectURIs {
		return nil, Input("oidc.redirect_uris", "may list at most %d URIs", maxRedirectURIs)
	}
	for i, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return nil, Input(fmt.Sprintf("oidc.redirect_uris[%d]", i), "%v", err)
		}
	}
	for i, u := range c.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return nil, Input(fmt.Sprintf("oidc.post_logout_redirect_uris[%d]", i), "%v", err)
		}
	}
	if c.BackchannelLogoutURI != "" {
		u, err := url.Parse(c.BackchannelLogoutURI)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			return nil, Input("oidc.backchannel_logout_uri", "must be an absolute http(s) URL without a fragment")
		}
	}
	switch {
	case c.Public && (c.Secret != "" || c.SecretHash != ""):
		return nil, Input("oidc.public", "a public client has no secret: remove client_secret or public")
	case c.Secret != "" && c.SecretHash != "":
		return nil, Input("oidc.client_secret", "give client_secret or client_secret_hash, not both")
	case c.Secret != "" && len(c.Secret) < 16:
		return nil, Input("oidc.client_secret", "must be at least 16 characters (a generated one: openssl rand -base64 32)")
	case c.SecretHash != "" && !strings.HasPrefix(c.SecretHash, "$argon2id$"):
		return nil, Input("oidc.client_secret_hash", "must be an argon2id PHC string ($argon2id$v=19$…)")
	}
	if c.AccessTokenLifetime < 0 || c.AccessTokenLifetime > 24*time.Hour {
		return nil, Input("oidc.access_token_lifetime", "must be between 1 second and 24 hours")
	}
	cl := &OIDCClient{
		RedirectURIs:           append([]string(nil), c.RedirectURIs...),
		PostLogoutRedirectURIs: append([]string(nil), c.PostLogoutRedirectURIs...),
		Public:                 c.Public,
		AccessTokenLifetime:    c.AccessTokenLifetime,
		UserinfoOnlyClaims:     c.UserinfoOnlyClaims,
		BackchannelLogoutURI:   c.BackchannelLogoutURI,
		Consent:                c.Consent,
		secretHash:             c.SecretHash,
		hashSlot:               make(chan struct{}, 1),
	}
	if cl.AccessTokenLifetime == 0 {
		cl.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.Secret != "" {
		m := clientSecretMAC(keyMAC, c.Secret)
		cl.secretMAC.Store(&m)
	}
	return cl, nil
}

// Confidential reports whether the client authenticates with a secret.
func (c *OIDCClient) Confidential() bool { return !c.Public }

// HasSecret reports whether a confidential client has a secret set (an app
// made in the portal has one from its creation; a Caddyfile client must
// declare one).
func (c *OIDCClient) HasSecret() bool { return c.secretMAC.Load() != nil || c.secretHash != "" }

// AllowsRedirect reports whether uri is one of the client's redirect URIs,
// compared exactly.
func (c *OIDCClient) AllowsRedirect(uri string) bool {
	for _, u := range c.RedirectURIs {
		if subtle.ConstantTimeCompare([]byte(u), []byte(uri)) == 1 {
			return true
		}
	}
	return false
}

// checkRedirectURI accepts an absolute URI without a fragment: http(s)
// with a host, or a private-use scheme for native apps (RFC 8252 §7.1,
// e.g. app.immich:///oauth-callback).
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || raw == "" || len(raw) > 2048:
		return errors.New("is not a valid URI")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment")
	case u.Scheme == "":
		return errors.New("must be absolute")
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return errors.New("needs a host")
	case strings.Contains(raw, "*"):
		return errors.New("must not hold a wildcard: list each URI")
	}
	return nil
}

// clientSecretMAC is the keyed hash a client secret is compared by.
func clientSecretMAC(keyMAC []byte, secret string) []byte {
	m := hmac.New(sha256.New, keyMAC)
	m.Write([]byte("gatehouse oidc client secret\x00"))
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// ErrClientAuth is a failed client authentication: unknown client, wrong
// secret, or a public client that sent none of what it must. One error for
// all, so a caller cannot tell which.
var ErrClientAuth = errors.New("client authentication failed")

// OIDCClient returns the app named clientID and its client registration,
// or ErrNotFound when there is no such app or it is not an OIDC client.
func (s *Access) OIDCClient(clientID string) (*App, *OIDCClient, error) {
	s.apps.mu.RLock()
	a := s.apps.apps[clientID]
	s.apps.mu.RUnlock()
	if a == nil {
		return nil, nil, ErrNotFound
	}
	c := a.OIDC()
	if c == nil {
		return nil, nil, ErrNotFound
	}
	return a, c, nil
}

// CheckClientSecret authenticates a confidential client. The answer for
// an unknown client, a public client and a wrong secret is the same
// ErrClientAuth. A client's secret is checked by its keyed hash (a
// microsecond); only a `client_secret_hash` client that has not yet
// succeeded since the start costs an argon2id check, one at a time per
// client, so a flood of wrong secrets for it takes one hashing worker, not
// the pool the people signing in share. (That first check is slower than an
// unknown client's answer: client ids are public, so this tells nothing.)
func (s *Access) CheckClientSecret(ctx context.Context, clientID, secret string) (*App, error) {
	got := clientSecretMAC(s.keyMAC, secret)
	a, c, err := s.OIDCClient(clientID)
	if err != nil || c.Public || secret == "" {
		subtle.ConstantTimeCompare(got, got)
		return nil, ErrClientAuth
	}
	if c.secretMAC.Load() == nil && c.secretHash != "" {
		if err := s.firstClientSecretCheck(ctx, c, secret, got); err != nil {
			return nil, err
		}
	}
	want := c.secretMAC.Load()
	if want == nil || subtle.ConstantTimeCompare(got, *want) != 1 {
		return nil, ErrClientAuth
	}
	if c.maker != "" && !s.appMakerMay(c.maker) {
		s.log.Warn("oidc client secret refused: its maker may no longer make it; make a new secret", "app", a.Name, "maker", c.maker)
		return nil, ErrClientAuth
	}
	return a, nil
}

// firstClientSecretCheck checks secret against c's argon2id hash, one
// check at a time for c; on success c keeps got, its keyed hash, for every
// later check. A wrong secret is not an error here: the caller's
// comparison refuses it.
func (s *Access) firstClientSecretCheck(ctx context.Context, c *OIDCClient, secret string, got []byte) error {
	select {
	case c.hashSlot <- struct{}{}:
	case <-ctx.Done():
		return ErrBusy
	}
	defer func() { <-c.hashSlot }()
	if c.secretMAC.Load() != nil {
		return nil // another check succeeded while this one waited
	}
	ok, err := s.hasher.Verify(ctx, secret, c.secretHash)
	if errors.Is(err, password.ErrBusy) {
		return ErrBusy
	}
	if err == nil && ok {
		c.secretMAC.Store(&got)
	}
	return nil
}
