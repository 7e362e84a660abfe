package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Sign-in with external OpenID Connect providers ("Sign in with Google").
//
// GET /login/oidc/{provider}?rd= starts the authorization code flow with
// PKCE (S256), a state and a nonce. The three secrets, the return target
// and the purpose (sign-in, or linking the signed-in user's account) are
// kept server-side in a short-lived store.Token, found again through an
// HttpOnly cookie, so the answer is accepted only in the browser that
// asked. The provider sends the browser back to
// <portal_url>/login/oidc/{provider}/callback, where the code is exchanged
// (with the PKCE verifier) and the ID token verified: signature against
// the provider's keys, issuer, audience (the client id), expiry, then the
// nonce.
//
// The verified account (provider, sub) finds its local user through a
// stored link (store.Identity). A new account is linked by verified
// email address (link_by_email), or gets a new local user (auto_create),
// or is refused. Local rules still hold: disabled, expired and locked
// users are refused, and a user with a second factor (or under mandatory
// 2FA) must still pass it unless the provider is trusted for MFA.

// OIDCProvider configures sign-in with one external OpenID Connect
// provider (Options.OIDC).
type OIDCProvider struct {
	// Name identifies the provider in URLs (/login/oidc/{name}), the audit
	// log and session methods ("oidc:<name>"). It follows the rules of
	// group names: 2–32 lowercase letters, digits, ".", "-" and "_".
	Name string
	// DisplayName is shown on the buttons ("Sign in with <DisplayName>").
	// Default: Name.
	DisplayName string
	// Issuer is the provider's issuer URL; its discovery document is
	// Issuer + "/.well-known/openid-configuration". It must be https,
	// except on a loopback host.
	Issuer string
	// ClientID is the client registered at the provider; ID tokens must
	// name it as their audience.
	ClientID string
	// ClientSecret is the client's secret; empty for a public client.
	ClientSecret string
	// Scopes are requested at the provider; "openid" is added when
	// missing. Default: DefaultOIDCScopes.
	Scopes []string
	// GroupsClaim names the claim (of the ID token, else of the userinfo
	// answer) that lists the account's groups. Empty: groups are not
	// taken from the provider.
	GroupsClaim string
	// GroupMap maps external group names (exactly as the provider sends
	// them) to local group names. With a map, only mapped groups are
	// given; without one, every external group whose lowercased name is a
	// valid group name is given as it is. Groups are added at each
	// sign-in, never removed.
	GroupMap map[string]string
	// AutoCreate makes a local user (role user, no password) for an
	// account that is not linked yet.
	AutoCreate bool
	// LinkByEmail links an account that is not linked yet to the local
	// user with the same email address, when the provider says the
	// address is verified.
	LinkByEmail bool
	// TrustedMFA: the provider enforces multi-factor authentication, so a
	// sign-in through it counts as two factors. Otherwise it is the first
	// factor only, and users with a second factor (or under mandatory
	// 2FA) must still pass it.
	TrustedMFA bool
}

// DefaultOIDCScopes are the scopes requested when a provider names none.
var DefaultOIDCScopes = []string{oidc.ScopeOpenID, "email", "profile"}

// Validate checks the configuration of p and says what is wrong.
func (p *OIDCProvider) Validate() error {
	if err := policies.ValidateGroupName(p.Name); err != nil {
		return fmt.Errorf("oidc provider name %q: %s", p.Name, strings.TrimPrefix(err.Error(), fmt.Sprintf("group name %q: ", p.Name)))
	}
	if err := checkIssuer(p.Issuer); err != nil {
		return fmt.Errorf("oidc %s: %w", p.Name, err)
	}
	if strings.TrimSpace(p.ClientID) == "" {
		return fmt.Errorf("oidc %s: client_id is required", p.Name)
	}
	if n := len([]rune(p.DisplayName)); n > 64 || strings.ContainsFunc(p.DisplayName, core.IsControl) {
		return fmt.Errorf("oidc %s: display_name must be at most 64 printable characters", p.Name)
	}
	for _, sc := range p.Scopes {
		if sc == "" || strings.ContainsFunc(sc, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r == 0x7f }) {
			return fmt.Errorf("oidc %s: scope %q is not a valid scope name", p.Name, sc)
		}
	}
	if strings.ContainsFunc(p.GroupsClaim, unicode.IsSpace) {
		return fmt.Errorf("oidc %s: groups_claim %q must not contain spaces", p.Name, p.GroupsClaim)
	}
	if len(p.GroupMap) > 0 && p.GroupsClaim == "" {
		return fmt.Errorf("oidc %s: group_map needs groups_claim", p.Name)
	}
	for ext, local := range p.GroupMap {
		if ext == "" {
			return fmt.Errorf("oidc %s: group_map: empty external group name", p.Name)
		}
		if err := policies.ValidateGroupName(local); err != nil {
			return fmt.Errorf("oidc %s: group_map %s: %w", p.Name, ext, err)
		}
	}
	return nil
}

// checkIssuer accepts an absolute https URL with a host and no query or
// fragment; http only on a loopback host (local testing).
func checkIssuer(raw string) error {
	if raw == "" {
		return errors.New("issuer is required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("issuer %q: must be an absolute https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("issuer %q: must not have a query, fragment or user info", raw)
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Errorf("issuer %q: must be https (http is only allowed on localhost)", raw)
	}
	return nil
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// localGroups returns the local groups that the external groups ext give,
// sorted and without duplicates: through GroupMap when there is one,
// otherwise every name that is a valid group name once lowercased.
func (p *OIDCProvider) localGroups(ext []string) []string {
	var out []string
	for _, g := range ext {
		if len(p.GroupMap) > 0 {
			if local, ok := p.GroupMap[g]; ok {
				out = append(out, local)
			}
			continue
		}
		if n := policies.NormalizeUsername(g); policies.ValidateGroupName(n) == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Constants of the OIDC flow.
const (
	tokenKindOIDC = "oidc_flow"
	// oidcFlowLifetime is how long the browser may take at the provider.
	oidcFlowLifetime = 10 * time.Minute
	// oidcTimeout bounds each call to a provider (discovery, token
	// exchange, keys, userinfo).
	oidcTimeout = 15 * time.Second
	// oidcRetryAfter is how long a failed discovery is remembered before
	// the next sign-in tries again.
	oidcRetryAfter = 30 * time.Second

	methodOIDCPrefix = "oidc:"

	oidcPurposeLogin = "login"
	oidcPurposeLink  = "link"

	actionIdentityLink   = "identity.link"
	actionIdentityUnlink = "identity.unlink"
)

// errOIDCUnavailable: the provider could not be reached or discovered.
var errOIDCUnavailable = errors.New("the provider is unavailable")

// oidcProvider is a configured provider with its lazily discovered
// metadata.
type oidcProvider struct {
	OIDCProvider
	redirectURL string
	client      *http.Client
	now         func() time.Time

	mu       sync.Mutex
	disc     *oidc.Provider
	failedAt time.Time
	failErr  error
}

// newOIDCProviders checks the configured providers and prepares them.
// Nothing is fetched: discovery happens at the first sign-in.
func (s signInUI) newOIDCProviders(list []OIDCProvider) ([]*oidcProvider, error) {
	var out []*oidcProvider
	for _, cfg := range list {
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("portal: %w", err)
		}
		if slices.ContainsFunc(out, func(p *oidcProvider) bool { return p.Name == cfg.Name }) {
			return nil, fmt.Errorf("portal: oidc provider %q is configured twice", cfg.Name)
		}
		p := &oidcProvider{
			OIDCProvider: cfg,
			redirectURL:  s.portal.String() + "/login/oidc/" + cfg.Name + "/callback",
			client:       &http.Client{Timeout: oidcTimeout},
			now:          s.now,
		}
		if p.DisplayName == "" {
			p.DisplayName = p.Name
		}
		if len(p.Scopes) == 0 {
			p.Scopes = DefaultOIDCScopes
		}
		if !slices.Contains(p.Scopes, oidc.ScopeOpenID) {
			p.Scopes = append([]string{oidc.ScopeOpenID}, p.Scopes...)
		}
		p.Scopes = slices.Clone(p.Scopes)
		p.GroupMap = maps.Clone(p.GroupMap)
		out = append(out, p)
	}
	return out, nil
}

// oidcProvider returns the provider called name, or nil.
func (s signInUI) oidcProvider(name string) *oidcProvider {
	for _, p := range s.oidc {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// discover returns the provider's metadata, fetching it on first use.
// A failure is remembered for oidcRetryAfter, so an unreachable provider
// costs one timeout per interval, not one per sign-in.
func (p *oidcProvider) discover() (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, nil
	}
	now := p.now()
	if !p.failedAt.IsZero() && now.Sub(p.failedAt) < oidcRetryAfter && !now.Before(p.failedAt) {
		return nil, p.failErr
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), p.client), oidcTimeout)
	defer cancel()
	d, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		p.failedAt, p.failErr = now, fmt.Errorf("oidc %s: discovery at %s: %w: %v", p.Name, p.Issuer, errOIDCUnavailable, err)
		return nil, p.failErr
	}
	p.disc, p.failedAt, p.failErr = d, time.Time{}, nil
	return d, nil
}

// oauth2Config is the OAuth 2 client of p.
func (p *oidcProvider) oauth2Config(d *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: d.Endpoint(),
		RedirectURL: p.redirectURL, Scopes: p.Scopes}
}

// The state of a flow between the portal and the provider.

// oidcFlow is a flow in progress, as kept in its store.Token.
type oidcFlow struct {
	provider, state, nonce, verifier, rd, purpose, userID string
}

// randomString returns 32 random bytes in base64url.
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// beginOIDC records a new flow with p for purpose (u is the user to link,
// for oidcPurposeLink), sets its cookie and returns the provider's
// authorization URL.
func (s signInUI) beginOIDC(w http.ResponseWriter, p *oidcProvider, purpose string, u *store.User, rd string) (string, error) {
	d, err := p.discover()
	if err != nil {
		return "", err
	}
	secret, hash := core.NewLinkSecret()
	f := oidcFlow{provider: p.Name, state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier(),
		rd: rd, purpose: purpose}
	now := s.now()
	t := &store.Token{Kind: tokenKindOIDC, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(oidcFlowLifetime),
		Data: map[string]string{"provider": f.provider, "state": f.state, "nonce": f.nonce, "verifier": f.verifier,
			"rd": f.rd, "purpose": f.purpose}}
	if u != nil {
		t.UserID = u.ID
	}
	if err := s.store.PutToken(t); err != nil {
		return "", fmt.Errorf("portal: store oidc flow: %w", err)
	}
	cookieOIDC.set(w, s.cookie, secret)
	return p.oauth2Config(d).AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)), nil
}

// errOIDCState: the callback does not belong to a flow of this browser.
var errOIDCState = errors.New("invalid or expired sign-in state")

// takeOIDCFlow spends the flow named by the request's cookie and checks
// that it belongs to p and to the state the provider sent back. The flow
// is single-use whatever the outcome.
func (s signInUI) takeOIDCFlow(w http.ResponseWriter, r *http.Request, p *oidcProvider) (*oidcFlow, error) {
	cookieOIDC.clear(w, s.cookie)
	v, ok := cookieOIDC.read(r, s.cookie)
	if !ok {
		return nil, fmt.Errorf("%w: no flow cookie", errOIDCState)
	}
	hash, ok := core.LinkHash(v)
	if !ok {
		return nil, fmt.Errorf("%w: malformed flow cookie", errOIDCState)
	}
	t, err := s.store.ConsumeToken(tokenKindOIDC, hash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("portal: read oidc flow: %w", err)
		}
		return nil, fmt.Errorf("%w: unknown, expired or used flow", errOIDCState)
	}
	f := &oidcFlow{provider: t.Data["provider"], state: t.Data["state"], nonce: t.Data["nonce"],
		verifier: t.Data["verifier"], rd: t.Data["rd"], purpose: t.Data["purpose"], userID: t.UserID}
	if f.provider != p.Name {
		return nil, fmt.Errorf("%w: flow of provider %q", errOIDCState, f.provider)
	}
	if got := r.URL.Query().Get("state"); f.state == "" || subtle.ConstantTimeCompare([]byte(got), []byte(f.state)) != 1 {
		return nil, fmt.Errorf("%w: state does not match", errOIDCState)
	}
	return f, nil
}
