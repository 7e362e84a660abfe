package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/text/unicode/norm"

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
	if n := len([]rune(p.DisplayName)); n > 64 || strings.ContainsFunc(p.DisplayName, isControl) {
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
	// oidcMaxGroups bounds how many external groups are looked at.
	oidcMaxGroups = 256

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
func (s *Service) newOIDCProviders(list []OIDCProvider) ([]*oidcProvider, error) {
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
func (s *Service) oidcProvider(name string) *oidcProvider {
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

func (s *Service) oidcCookieName() string { return s.cookie.name + "_oidc" }

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
func (s *Service) beginOIDC(w http.ResponseWriter, p *oidcProvider, purpose string, u *store.User, rd string) (string, error) {
	d, err := p.discover()
	if err != nil {
		return "", err
	}
	secret, hash := newLinkSecret()
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
	http.SetCookie(w, &http.Cookie{Name: s.oidcCookieName(), Value: secret, Path: "/login/oidc/",
		MaxAge: int(oidcFlowLifetime.Seconds()), HttpOnly: true, Secure: s.cookie.secure, SameSite: http.SameSiteLaxMode})
	return p.oauth2Config(d).AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)), nil
}

// errOIDCState: the callback does not belong to a flow of this browser.
var errOIDCState = errors.New("invalid or expired sign-in state")

// takeOIDCFlow spends the flow named by the request's cookie and checks
// that it belongs to p and to the state the provider sent back. The flow
// is single-use whatever the outcome.
func (s *Service) takeOIDCFlow(w http.ResponseWriter, r *http.Request, p *oidcProvider) (*oidcFlow, error) {
	http.SetCookie(w, &http.Cookie{Name: s.oidcCookieName(), Value: "", Path: "/login/oidc/", MaxAge: -1,
		HttpOnly: true, Secure: s.cookie.secure, SameSite: http.SameSiteLaxMode})
	ck, err := r.Cookie(s.oidcCookieName())
	if err != nil {
		return nil, fmt.Errorf("%w: no flow cookie", errOIDCState)
	}
	hash, ok := linkHash(ck.Value)
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

// externalIdentity is what a provider says about the account that signed
// in, from a verified ID token (and the userinfo endpoint for what the
// token lacks).
type externalIdentity struct {
	Subject           string
	Email             string
	EmailVerified     bool
	Name              string
	PreferredUsername string
	Groups            []string
	// hasGroups: the groups claim was present (possibly empty).
	hasGroups bool
}

// identify exchanges code for tokens, verifies the ID token and returns
// the account it names.
func (p *oidcProvider) identify(ctx context.Context, f *oidcFlow, code string) (*externalIdentity, error) {
	d, err := p.discover()
	if err != nil {
		return nil, err
	}
	if code == "" {
		return nil, errors.New("no authorization code in the answer")
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), oidcTimeout)
	defer cancel()
	tok, err := p.oauth2Config(d).Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token answer holds no ID token")
	}
	idt, err := d.Verifier(&oidc.Config{ClientID: p.ClientID, Now: p.now}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify the ID token: %w", err)
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return nil, errors.New("verify the ID token: nonce does not match")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("verify the ID token: %w", err)
		}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("read the ID token's claims: %w", err)
	}
	id := identityFromClaims(claims, p.GroupsClaim)
	if id.Subject == "" || id.Subject != idt.Subject {
		return nil, errors.New("the ID token has no subject")
	}
	if p.needsUserInfo(id) && d.UserInfoEndpoint() != "" {
		if err := p.addUserInfo(ctx, d, tok, id); err != nil {
			// The ID token was enough to sign in; the extra claims are
			// best effort.
			return id, fmt.Errorf("%w (userinfo: %v)", errPartialIdentity, err)
		}
	}
	return id, nil
}

// errPartialIdentity marks an identity that was verified but whose
// userinfo lookup failed: the sign-in goes on with the ID token's claims.
var errPartialIdentity = errors.New("userinfo unavailable")

// needsUserInfo reports whether the ID token lacks claims the userinfo
// endpoint may have.
func (p *oidcProvider) needsUserInfo(id *externalIdentity) bool {
	return id.Email == "" || (p.GroupsClaim != "" && !id.hasGroups) || (id.Name == "" && id.PreferredUsername == "")
}

// addUserInfo fills what id lacks from the userinfo endpoint. The answer
// must be about the same subject (OpenID Connect Core 5.3.2).
func (p *oidcProvider) addUserInfo(ctx context.Context, d *oidc.Provider, tok *oauth2.Token, id *externalIdentity) error {
	ui, err := d.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return err
	}
	var claims map[string]any
	if err := ui.Claims(&claims); err != nil {
		return err
	}
	more := identityFromClaims(claims, p.GroupsClaim)
	if more.Subject != id.Subject {
		return fmt.Errorf("answer about subject %q, not the ID token's", more.Subject)
	}
	if id.Email == "" {
		id.Email, id.EmailVerified = more.Email, more.EmailVerified
	}
	if id.Name == "" {
		id.Name = more.Name
	}
	if id.PreferredUsername == "" {
		id.PreferredUsername = more.PreferredUsername
	}
	if !id.hasGroups && more.hasGroups {
		id.Groups, id.hasGroups = more.Groups, true
	}
	return nil
}

// identityFromClaims reads the standard claims and the groups claim.
func identityFromClaims(c map[string]any, groupsClaim string) *externalIdentity {
	str := func(k string) string { v, _ := c[k].(string); return strings.TrimSpace(v) }
	id := &externalIdentity{Subject: str("sub"), Email: str("email"), Name: str("name"), PreferredUsername: str("preferred_username")}
	switch v := c["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string: // some providers send "true"
		id.EmailVerified = v == "true"
	}
	if id.Name == "" {
		id.Name = strings.TrimSpace(str("given_name") + " " + str("family_name"))
	}
	if groupsClaim != "" {
		switch v := c[groupsClaim].(type) {
		case []any:
			id.hasGroups = true
			for _, g := range v {
				if s, ok := g.(string); ok && s != "" && len(id.Groups) < oidcMaxGroups {
					id.Groups = append(id.Groups, s)
				}
			}
		case string:
			id.hasGroups = true
			if v != "" {
				id.Groups = []string{v}
			}
		}
	}
	return id
}

// Usernames of new users.

// usernameBase derives a username from the provider's preferred_username
// (its local part when it is an email address) or else the email
// address's local part: lowercased, accents removed, other characters
// dropped or turned into "-", at most 32 characters. "" when neither gives
// two usable characters.
func usernameBase(preferred, email string) string {
	for _, cand := range []string{preferred, email} {
		if at := strings.LastIndexByte(cand, '@'); at >= 0 {
			cand = cand[:at]
		}
		if b := sanitizeUsername(cand); len(b) >= policies.MinNameLength {
			return b
		}
	}
	return ""
}

// sanitizeUsername keeps what a username may hold.
func sanitizeUsername(s string) string {
	var b strings.Builder
	sep := true // no separator at the start or twice in a row
	for _, r := range norm.NFKD.String(strings.ToLower(strings.TrimSpace(s))) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
			sep = false
		case r == '.' || r == '-' || r == '_' || r == '+' || unicode.IsSpace(r):
			if !sep {
				if r == '+' || unicode.IsSpace(r) {
					r = '-'
				}
				b.WriteRune(r)
				sep = true
			}
		}
	}
	out := b.String()
	if len(out) > policies.MaxNameLength {
		out = out[:policies.MaxNameLength]
	}
	return strings.TrimRight(out, ".-_")
}

// usernameCandidate is the n-th username tried for base: base itself,
// then base2, base3… (base shortened to keep 32 characters).
func usernameCandidate(base string, n int) string {
	if n <= 1 {
		return base
	}
	suffix := strconv.Itoa(n)
	if len(base)+len(suffix) > policies.MaxNameLength {
		base = strings.TrimRight(base[:policies.MaxNameLength-len(suffix)], ".-_")
	}
	return base + suffix
}

// maxUsernameTries bounds the numeric suffixes tried for a new user.
const maxUsernameTries = 100

// The HTTP handlers.

// oidcErrorData fills oidc_error.html.
type oidcErrorData struct {
	// LoginURL goes back to the login page; RetryURL starts the provider
	// again (empty when retrying cannot help).
	LoginURL, RetryURL string
	Provider           string
}

// renderOIDCError shows a failed sign-in through p.
func (s *Service) renderOIDCError(w http.ResponseWriter, status int, p *oidcProvider, rd, title, msg string, retry bool) {
	rd = s.cleanRD(rd)
	d := oidcErrorData{LoginURL: "/login", Provider: p.DisplayName}
	if rd != "" {
		d.LoginURL += "?rd=" + url.QueryEscape(rd)
	}
	if retry {
		d.RetryURL = "/login/oidc/" + p.Name
		if rd != "" {
			d.RetryURL += "?rd=" + url.QueryEscape(rd)
		}
	}
	s.render(w, status, "oidc_error", page{Title: title, Status: status, Message: msg, Data: d})
}

// oidcFail shows a failed flow: the sign-in error page, or for a link the
// error page of the signed-in user (who goes back to their profile).
func (s *Service) oidcFail(w http.ResponseWriter, r *http.Request, p *oidcProvider, f *oidcFlow, status int, title, msg string) {
	if f.purpose == oidcPurposeLink {
		u, _ := s.store.User(f.userID)
		s.renderError(w, r, status, title, msg, u)
		return
	}
	s.renderOIDCError(w, status, p, f.rd, title, msg, true)
}

// handleOIDCStart sends the browser to the provider to sign in.
func (s *Service) handleOIDCStart(w http.ResponseWriter, r *http.Request) {
	p := s.oidcProvider(r.PathValue("provider"))
	if p == nil {
		s.handleNotFound(w, r)
		return
	}
	rd := s.cleanRD(r.URL.Query().Get("rd"))
	to, err := s.beginOIDC(w, p, oidcPurposeLogin, nil, rd)
	if err != nil {
		s.log.Error("oidc: start sign-in", "provider", p.Name, "error", err)
		s.renderOIDCError(w, http.StatusServiceUnavailable, p, rd, "Sign-in unavailable",
			fmt.Sprintf("Sign-in with %s is unavailable right now. Try again shortly, or sign in with your password.", p.DisplayName), false)
		return
	}
	attemptSucceeded(r) // starting a sign-in checks no secret
	http.Redirect(w, r, to, http.StatusFound)
}

// handleOIDCCallback receives the provider's answer, for a sign-in or a
// link.
func (s *Service) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	p := s.oidcProvider(r.PathValue("provider"))
	if p == nil {
		s.handleNotFound(w, r)
		return
	}
	reason := "oidc " + p.Name + ": "
	f, err := s.takeOIDCFlow(w, r, p)
	if err != nil && !errors.Is(err, errOIDCState) {
		s.log.Error("oidc: callback", "provider", p.Name, "error", err)
		s.renderOIDCError(w, http.StatusInternalServerError, p, "", "Something went wrong", "Your sign-in could not be completed. Try again.", true)
		return
	}
	if err != nil {
		s.audit(r, store.Event{Action: actionLogin, Outcome: outcomeFailure, Reason: reason + err.Error()})
		s.renderOIDCError(w, http.StatusBadRequest, p, "", "Sign-in not valid",
			"This sign-in was not started in this browser, has expired or was already used. Start again.", true)
		return
	}
	action := actionLogin
	if f.purpose == oidcPurposeLink {
		action = actionIdentityLink
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		desc := truncate(strings.Map(printableOnly, q.Get("error_description")), 200)
		s.audit(r, store.Event{Action: action, Outcome: outcomeFailure,
			Reason: reason + "provider answered " + truncate(strings.Map(printableOnly, e), 64) + " " + desc})
		msg := fmt.Sprintf("%s did not sign you in (%s).", p.DisplayName, truncate(strings.Map(printableOnly, e), 64))
		s.oidcFail(w, r, p, f, http.StatusUnauthorized, "Sign-in cancelled", msg)
		return
	}
	id, err := p.identify(r.Context(), f, q.Get("code"))
	if errors.Is(err, errPartialIdentity) {
		s.log.Warn("oidc: userinfo lookup failed; using the ID token's claims", "provider", p.Name, "error", err)
		err = nil
	}
	if err != nil {
		s.log.Error("oidc: sign-in answer refused", "provider", p.Name, "error", err)
		s.audit(r, store.Event{Action: action, Outcome: outcomeFailure, Reason: truncate(reason+err.Error(), 300)})
		status, title := http.StatusUnauthorized, "Sign-in failed"
		msg := fmt.Sprintf("The answer of %s could not be verified, so you are not signed in. Try again.", p.DisplayName)
		if errors.Is(err, errOIDCUnavailable) {
			status, title = http.StatusServiceUnavailable, "Sign-in unavailable"
			msg = fmt.Sprintf("Sign-in with %s is unavailable right now. Try again shortly, or sign in with your password.", p.DisplayName)
		}
		s.oidcFail(w, r, p, f, status, title, msg)
		return
	}
	attemptSucceeded(r) // the provider vouched for the answer
	if f.purpose == oidcPurposeLink {
		s.finishOIDCLink(w, r, p, f, id)
		return
	}
	s.finishOIDCLogin(w, r, p, f, id)
}

func printableOnly(r rune) rune {
	if isControl(r) {
		return -1
	}
	return r
}

// oidcRefusal is a sign-in (or link) refused with a message for the
// person.
type oidcRefusal struct {
	status       int
	title, msg   string
	auditReason  string
	actor        string
	genericLogin bool // answer like the login page: nothing about the account
}

func (e *oidcRefusal) Error() string { return e.auditReason }

// finishOIDCLogin signs in the user of the verified account id.
func (s *Service) finishOIDCLogin(w http.ResponseWriter, r *http.Request, p *oidcProvider, f *oidcFlow, id *externalIdentity) {
	u, how, err := s.oidcUser(r, p, id)
	if err != nil {
		var ref *oidcRefusal
		if !errors.As(err, &ref) {
			s.log.Error("oidc: sign-in", "provider", p.Name, "error", err)
			s.audit(r, store.Event{Action: actionLogin, Outcome: outcomeFailure, Reason: "oidc " + p.Name + ": internal error"})
			s.renderOIDCError(w, http.StatusInternalServerError, p, f.rd, "Something went wrong", "Your sign-in could not be completed. Try again.", true)
			return
		}
		s.audit(r, store.Event{Actor: ref.actor, Action: actionLogin, Resource: resourceOf(ref.actor), Outcome: outcomeFailure,
			Reason: "oidc " + p.Name + ": " + ref.auditReason})
		if ref.genericLogin {
			s.render(w, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: sentence(errBadCredentials.Error()),
				Form: map[string]string{"rd": s.cleanRD(f.rd)}})
			return
		}
		s.renderOIDCError(w, ref.status, p, f.rd, ref.title, ref.msg, false)
		return
	}
	s.oidcSignIn(w, r, p, f, id, u, how)
}

func resourceOf(username string) string {
	if username == "" {
		return ""
	}
	return "user:" + username
}

// oidcUser finds (or links, or creates) the local user of the account id,
// and checks that the user may sign in. how says which way it went.
func (s *Service) oidcUser(r *http.Request, p *oidcProvider, id *externalIdentity) (*store.User, string, error) {
	refuse := func(u *store.User, reason string) error {
		return &oidcRefusal{actor: u.Username, auditReason: reason, genericLogin: true}
	}
	check := func(u *store.User) error {
		// From a trusted device only that device's lock applies (lockout.go).
		locked, err := s.lockedFor(u, s.trustedDevice(r, u))
		switch now := s.now(); {
		case err != nil:
			return err
		case locked:
			return refuse(u, "account locked")
		case u.Disabled:
			return refuse(u, "account disabled")
		case !userActive(u, now):
			return refuse(u, "account expired")
		}
		return nil
	}

	// A linked account.
	link, err := s.store.Identity(p.Name, id.Subject)
	switch {
	case err == nil:
		// Deleting a user deletes their links in the same transaction,
		// so the user exists.
		u, err := s.store.User(link.UserID)
		if err != nil {
			return nil, "", fmt.Errorf("portal: user of a linked identity: %w", err)
		}
		if err := check(u); err != nil {
			return nil, "", err
		}
		return u, "linked account", nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, "", fmt.Errorf("portal: look up identity: %w", err)
	}

	noAccount := &oidcRefusal{status: http.StatusForbidden, title: "No linked account",
		msg:         fmt.Sprintf("No Gatehouse account is linked to this %s account. Sign in with your password and link it from your profile.", p.DisplayName),
		auditReason: "no linked account for subject " + truncate(id.Subject, 64)}

	// A new account with the verified address of a local user.
	if p.LinkByEmail && id.EmailVerified && id.Email != "" {
		u, err := s.store.UserByEmail(id.Email)
		switch {
		case err == nil:
			if err := check(u); err != nil {
				return nil, "", err
			}
			if err := s.linkIdentity(r, p, u, id, "linked by verified email address"); err != nil {
				return nil, "", err
			}
			return u, "linked by email", nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, "", fmt.Errorf("portal: look up user by email: %w", err)
		}
	}

	if !p.AutoCreate {
		return nil, "", noAccount
	}
	u, err := s.createOIDCUser(r, p, id)
	if err != nil {
		return nil, "", err
	}
	return u, "new account", nil
}

// linkIdentity links the account id to u and audits it; a conflict is
// refused with a message for the person.
func (s *Service) linkIdentity(r *http.Request, p *oidcProvider, u *store.User, id *externalIdentity, why string) error {
	err := s.store.LinkIdentity(&store.Identity{Provider: p.Name, Subject: id.Subject, UserID: u.ID, Email: id.Email})
	if errors.Is(err, store.ErrConflict) {
		// Either the account is someone else's, or u has another account
		// of this provider.
		msg := fmt.Sprintf("Your Gatehouse account is already linked to another %s account. Unlink it on your profile first.", p.DisplayName)
		if other, err := s.store.Identity(p.Name, id.Subject); err == nil && other.UserID != u.ID {
			msg = fmt.Sprintf("This %s account is already linked to another Gatehouse account.", p.DisplayName)
		}
		s.audit(r, store.Event{Actor: u.Username, Action: actionIdentityLink, Resource: "user:" + u.Username, Outcome: outcomeFailure,
			Reason: "oidc " + p.Name + ": conflict"})
		return &oidcRefusal{status: http.StatusConflict, title: "Account already linked", msg: msg, actor: u.Username,
			auditReason: "link conflict"}
	}
	if err != nil {
		return fmt.Errorf("portal: link identity: %w", err)
	}
	s.audit(r, store.Event{Actor: u.Username, Action: actionIdentityLink, Resource: "user:" + u.Username, Outcome: outcomeSuccess,
		Reason: "oidc " + p.Name + ": " + why})
	return nil
}

// createOIDCUser makes the local user of a new account id (auto_create)
// and links it. The username comes from the account's preferred username
// or email address, with a numeric suffix when taken. The email address
// is kept only when the provider says it is verified, so nobody claims
// someone else's address in Gatehouse (or in the headers apps trust).
func (s *Service) createOIDCUser(r *http.Request, p *oidcProvider, id *externalIdentity) (*store.User, error) {
	email := ""
	if id.EmailVerified {
		if e, err := checkEmail("email", id.Email); err == nil {
			email = e
		}
	}
	emailTaken := func() error {
		if email == "" {
			return nil
		}
		_, err := s.store.UserByEmail(email)
		switch {
		case err == nil:
			return &oidcRefusal{status: http.StatusConflict, title: "Account already exists",
				msg: fmt.Sprintf("A Gatehouse account with the email address of this %s account already exists. Sign in with your password and link %s from your profile.",
					p.DisplayName, p.DisplayName),
				auditReason: "email address of another user"}
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("portal: look up user by email: %w", err)
		}
		return nil
	}
	if err := emailTaken(); err != nil {
		return nil, err
	}
	name, err := checkFullName(id.Name)
	if err != nil {
		name = ""
	}
	base := usernameBase(id.PreferredUsername, id.Email)
	if base == "" {
		base = "user"
	}
	for n := 1; n <= maxUsernameTries; n++ {
		nu := NewUser{Username: usernameCandidate(base, n), Email: email, FullName: name, Role: policies.RoleUser}
		u, err := s.validateNew(nu, true)
		if err != nil {
			continue // e.g. a reserved name: try the next suffix
		}
		if _, err := s.store.UserByUsername(u.Username); err == nil {
			continue
		}
		u, err = s.createValidated(r.Context(), u.Username, r, u, "")
		if errors.Is(err, ErrConflict) {
			if err := emailTaken(); err != nil {
				return nil, err
			}
			continue // the username was taken meanwhile
		}
		if err != nil {
			return nil, err
		}
		if err := s.linkIdentity(r, p, u, id, "account created at first sign-in"); err != nil {
			// Another sign-in of the same account won the race: the new
			// user must not stay behind, unlinked.
			if derr := s.store.DeleteUser(u.ID); derr != nil {
				s.log.Error("oidc: remove the user of a lost race", "user", u.Username, "error", derr)
			}
			return nil, err
		}
		return u, nil
	}
	return nil, fmt.Errorf("portal: no free username for %q after %d tries", base, maxUsernameTries)
}

// oidcSignIn finishes a sign-in of u through p: groups from the provider,
// then a session, or the second step when one is needed.
func (s *Service) oidcSignIn(w http.ResponseWriter, r *http.Request, p *oidcProvider, f *oidcFlow, id *externalIdentity, u *store.User, how string) {
	fail := func(err error) {
		s.log.Error("oidc: sign-in", "provider", p.Name, "user", u.Username, "error", err)
		s.renderOIDCError(w, http.StatusInternalServerError, p, f.rd, "Something went wrong", "Your sign-in could not be completed. Try again.", true)
	}
	u, err := s.recordOIDCLogin(r, p, id, u)
	if err != nil {
		fail(err)
		return
	}
	method := methodOIDCPrefix + p.Name
	m, err := s.store.MFA(u.ID)
	if err != nil {
		fail(fmt.Errorf("portal: read second factors: %w", err))
		return
	}
	if !p.TrustedMFA && (m.Active() || s.cfg().Require2FA) {
		enroll := !m.Active()
		if err := s.beginSecondStep(w, u, false, enroll, []string{method}); err != nil {
			fail(err)
			return
		}
		s.endSessions(r) // an older session in this browser does not survive a new sign-in
		to := "/login/2fa"
		if enroll {
			to = "/login/enroll"
		}
		http.Redirect(w, r, to+"?rd="+url.QueryEscape(s.cleanRD(f.rd)), http.StatusFound)
		return
	}
	if _, err := s.startFullSession(w, r, u, false, []string{method}, p.TrustedMFA); err != nil {
		fail(fmt.Errorf("portal: start session: %w", err))
		return
	}
	reason := "oidc " + p.Name + ": " + how
	if p.TrustedMFA {
		reason += ", provider trusted for MFA"
	}
	s.audit(r, store.Event{Actor: u.Username, Action: actionLogin, Resource: "user:" + u.Username, Outcome: outcomeSuccess, Reason: reason})
	http.Redirect(w, r, s.cleanReturn(f.rd), http.StatusFound)
}

// recordOIDCLogin stores the sign-in time and the groups the provider
// gives (creating missing groups), and the link's last use.
func (s *Service) recordOIDCLogin(r *http.Request, p *oidcProvider, id *externalIdentity, u *store.User) (*store.User, error) {
	var add []string
	if p.GroupsClaim != "" {
		for _, g := range p.localGroups(id.Groups) {
			if !slices.Contains(u.Groups, g) {
				add = append(add, g)
			}
		}
	}
	if len(add) > 0 {
		if err := s.store.EnsureGroups(add); err != nil {
			return nil, fmt.Errorf("portal: create groups from %s: %w", p.Name, err)
		}
	}
	before := u.Groups
	updated, err := s.store.UpdateUser(u.ID, func(u *store.User) error {
		u.LastLoginAt = s.now()
		u.Groups = append(u.Groups, add...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("portal: record login: %w", err)
	}
	if len(add) > 0 {
		s.audit(r, store.Event{Actor: methodOIDCPrefix + p.Name, Action: actionUserGroups, Resource: "user:" + updated.Username,
			Outcome: outcomeSuccess, Reason: "[" + strings.Join(before, ",") + "] -> [" + strings.Join(updated.Groups, ",") + "]"})
	}
	if err := s.store.TouchIdentity(p.Name, id.Subject, id.Email, s.now()); err != nil {
		s.log.Error("oidc: record the link's use", "provider", p.Name, "user", updated.Username, "error", err)
	}
	return updated, nil
}

// Linking from the profile.

// oidcContinuePage sends the browser on to the provider after the
// profile's "Link" form (a 303 to another origin would break the CSP
// form-action directive, see continue.go).
var oidcContinuePage = template.Must(template.New("oidc-continue").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0;url={{.URL}}">
<title>Continue to {{.Provider}} · Gatehouse</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
</head>
<body class="is-signed-out">
<main id="main" class="main-auth">
<section class="card card-auth">
<h1>Continue to {{.Provider}}</h1>
<p class="lede">Taking you to <a href="{{.URL}}">{{.Provider}}</a> to link your account…</p>
</section>
</main>
</body>
</html>
`))

// handleOIDCLinkStart starts linking an account of the provider to the
// signed-in caller.
func (s *Service) handleOIDCLinkStart(w http.ResponseWriter, r *http.Request, c *caller) {
	p := s.oidcProvider(r.PathValue("provider"))
	if p == nil {
		s.pageError(w, r, c, http.StatusNotFound, "Not found", "There is no such sign-in provider.")
		return
	}
	if err := s.mayLink(c, p); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	to, err := s.beginOIDC(w, p, oidcPurposeLink, c.user, "")
	if err != nil {
		s.log.Error("oidc: start link", "provider", p.Name, "error", err)
		s.pageError(w, r, c, http.StatusServiceUnavailable, "Unavailable",
			fmt.Sprintf("%s cannot be reached right now. Try again shortly.", p.DisplayName))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	setPageSecurityHeaders(h)
	w.WriteHeader(http.StatusOK)
	if err := oidcContinuePage.Execute(w, struct{ URL, Provider string }{to, p.DisplayName}); err != nil {
		s.log.Error("render oidc continue page", "error", err)
	}
}

// mayLink refuses linking while impersonating, and linking a provider
// trusted for MFA from a session that did not pass the second factor the
// user has: the link would be a way around it.
func (s *Service) mayLink(c *caller, p *oidcProvider) error {
	if c.impersonating() {
		return errImpersonating
	}
	if !p.TrustedMFA || c.sess.SecondFactor {
		return nil
	}
	m, err := s.store.MFA(c.user.ID)
	if err != nil {
		return fmt.Errorf("portal: read second factors: %w", err)
	}
	if m.Active() {
		return fmt.Errorf("sign in again with your second factor before you link %s: %w", p.DisplayName, ErrForbidden)
	}
	return nil
}

// finishOIDCLink links the verified account id to the user who started
// the flow, who must still be the one signed in.
func (s *Service) finishOIDCLink(w http.ResponseWriter, r *http.Request, p *oidcProvider, f *oidcFlow, id *externalIdentity) {
	c, res := s.callerOf(r)
	if res != resolvedOK || c.user.ID != f.userID {
		s.audit(r, store.Event{Action: actionIdentityLink, Outcome: outcomeFailure, Reason: "oidc " + p.Name + ": not signed in as the user who started the link"})
		s.renderError(w, r, http.StatusForbidden, "Link not completed",
			"You are no longer signed in as the person who asked for this link. Sign in and try again from your profile.", nil)
		return
	}
	if err := s.mayLink(c, p); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	if link, err := s.store.Identity(p.Name, id.Subject); err == nil && link.UserID == c.user.ID {
		s.done(w, r, c, "/profile", fmt.Sprintf("This %s account was already linked.", p.DisplayName))
		return
	}
	if err := s.linkIdentity(r, p, c.user, id, "linked from the profile"); err != nil {
		var ref *oidcRefusal
		if errors.As(err, &ref) {
			s.pageError(w, r, c, ref.status, ref.title, ref.msg)
			return
		}
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", fmt.Sprintf("Your %s account is linked: you can sign in with %s.", p.DisplayName, p.DisplayName))
}

// IdentityView is a link to an external account as the API shows it.
type IdentityView struct {
	// Provider is the provider's configured name.
	Provider string `json:"provider"`
	// DisplayName is the provider's display name (its name when it is
	// no longer configured).
	DisplayName string `json:"display_name"`
	// Subject is the provider's identifier of the account ("sub").
	Subject string `json:"subject"`
	// Email is the address the provider last reported, for display.
	Email string `json:"email"`
	// CreatedAt is when the link was made.
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the link last signed in; null when never.
	LastUsedAt *time.Time `json:"last_used_at"`
	// Configured is false for a provider no longer in the configuration:
	// the link cannot sign in until it is configured again.
	Configured bool `json:"configured"`
}

// identitiesOf lists the links of u.
func (s *Service) identitiesOf(u *store.User) ([]IdentityView, error) {
	links, err := s.store.UserIdentities(u.ID)
	if err != nil {
		return nil, fmt.Errorf("portal: list identities: %w", err)
	}
	out := make([]IdentityView, 0, len(links))
	for _, l := range links {
		v := IdentityView{Provider: l.Provider, DisplayName: l.Provider, Subject: l.Subject, Email: l.Email,
			CreatedAt: l.CreatedAt, LastUsedAt: timeOrNil(l.LastUsedAt)}
		if p := s.oidcProvider(l.Provider); p != nil {
			v.DisplayName, v.Configured = p.DisplayName, true
		}
		out = append(out, v)
	}
	return out, nil
}

// unlinkIdentity removes the caller's link to provider. The last way to
// sign in is kept: a user without password or passkey cannot unlink
// their only linked account.
func (s *Service) unlinkIdentity(c *caller, r *http.Request, provider string) error {
	if c.impersonating() {
		return errImpersonating
	}
	u, err := s.store.User(c.user.ID)
	if err != nil {
		return fmt.Errorf("portal: read user: %w", err)
	}
	links, err := s.store.UserIdentities(u.ID)
	if err != nil {
		return fmt.Errorf("portal: list identities: %w", err)
	}
	if !slices.ContainsFunc(links, func(l *store.Identity) bool { return l.Provider == provider }) {
		return fmt.Errorf("linked %s account: %w", provider, ErrNotFound)
	}
	if u.PasswordHash == "" && len(links) == 1 {
		m, err := s.store.MFA(u.ID)
		if err != nil {
			return fmt.Errorf("portal: read second factors: %w", err)
		}
		if !slices.ContainsFunc(m.WebAuthn, func(k store.WebAuthnCredential) bool { return k.Discoverable }) {
			return fmt.Errorf("this linked account is your only way to sign in: set a password first (Forgot password? on the sign-in page): %w", ErrConflict)
		}
	}
	if _, err := s.store.UnlinkIdentity(u.ID, provider); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("linked %s account: %w", provider, ErrNotFound)
		}
		return fmt.Errorf("portal: unlink identity: %w", err)
	}
	s.audit(r, store.Event{Actor: c.user.Username, Action: actionIdentityUnlink, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: "oidc " + provider})
	return nil
}

// handleOIDCUnlink removes one of the caller's links (profile form).
func (s *Service) handleOIDCUnlink(w http.ResponseWriter, r *http.Request, c *caller) {
	provider := r.PathValue("provider")
	if err := s.unlinkIdentity(c, r, provider); err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	name := provider
	if p := s.oidcProvider(provider); p != nil {
		name = p.DisplayName
	}
	s.done(w, r, c, "/profile", fmt.Sprintf("Your %s account is no longer linked.", name))
}

// apiMyIdentities answers GET /api/v1/me/identities.
func (s *Service) apiMyIdentities(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		items, err := s.identitiesOf(c.user)
		return http.StatusOK, list[IdentityView]{Items: items}, err
	})
}

// apiUnlinkIdentity answers DELETE /api/v1/me/identities/{provider}.
func (s *Service) apiUnlinkIdentity(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.unlinkIdentity(c, r, r.PathValue("provider"))
	})
}

// Page helpers: the login page's buttons and the profile's "Linked
// accounts" card. They are template functions (declared in pageFuncs)
// bound to the Service by bindOIDCPages.

// oidcButton is one "Sign in with …" button.
type oidcButton struct{ Name, DisplayName string }

// oidcButtons lists the configured providers, in configuration order.
func (s *Service) oidcButtons() []oidcButton {
	out := make([]oidcButton, 0, len(s.oidc))
	for _, p := range s.oidc {
		out = append(out, oidcButton{Name: p.Name, DisplayName: p.DisplayName})
	}
	return out
}

// linkedAccounts fills the profile's "Linked accounts" card.
type linkedAccounts struct {
	Links []IdentityView
	// Available lists the providers the user has no link with yet.
	Available []oidcButton
}

// linkedAccountsOf returns the card of the user called username, or nil
// when there is nothing to show (no provider configured, no link).
func (s *Service) linkedAccountsOf(username string) (*linkedAccounts, error) {
	u, err := s.store.UserByUsername(username)
	if err != nil {
		return nil, fmt.Errorf("portal: linked accounts of %q: %w", username, err)
	}
	links, err := s.identitiesOf(u)
	if err != nil {
		return nil, err
	}
	la := &linkedAccounts{Links: links}
	for _, b := range s.oidcButtons() {
		if !slices.ContainsFunc(links, func(l IdentityView) bool { return l.Provider == b.Name }) {
			la.Available = append(la.Available, b)
		}
	}
	if len(la.Links) == 0 && len(la.Available) == 0 {
		return nil, nil
	}
	return la, nil
}

// bindOIDCPages points the page templates' OIDC helpers at s.
func (s *Service) bindOIDCPages() {
	fm := template.FuncMap{"oidcProviders": s.oidcButtons, "linkedAccounts": s.linkedAccountsOf}
	for _, t := range s.pages {
		t.Funcs(fm)
	}
}
