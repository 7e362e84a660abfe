package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The provider's paths, under the issuer (the portal URL).
const (
	DiscoveryPath  = "/.well-known/openid-configuration"
	prefix         = "/oidc/"
	authorizePath  = "/oidc/authorize"
	callbackPath   = "/oidc/authorize/callback"
	tokenPath      = "/oidc/token"
	userinfoPath   = "/oidc/userinfo"
	keysPath       = "/oidc/keys"
	revokePath     = "/oidc/revoke"
	introspectPath = "/oidc/introspect"
	// ContinuePath is the portal page the provider sends a browser to with
	// ?id=<auth request id>: the portal signs the user in and calls Complete.
	ContinuePath = "/oidc/continue"
)

// Config configures a Provider.
type Config struct {
	// Issuer is the portal URL (scheme and host).
	Issuer *url.URL
	// Algorithm signs ID tokens: RS256 (default) or ES256, used when the
	// first key is made, and at the next start after a change (the key
	// of the other algorithm stays in the JWKS as the previous key).
	Algorithm jose.SignatureAlgorithm
	// KeyRotation, when positive, rotates the signing key once the current
	// one is that old (checked as tokens are signed and the JWKS served).
	// Zero: rotation by RotateKeys only.
	KeyRotation time.Duration
	// ClientIP returns a request's client address, for the audit log.
	ClientIP func(*http.Request) string
	// ClientAuthenticated, when set, is called with a token, introspection
	// or revocation request's context once its client is authenticated (or
	// is a public client that needs no secret), so a throttle on failures
	// can give the attempt back.
	ClientAuthenticated func(context.Context)
	// Logger receives the provider library's log lines (see LogHandler).
	// Default: they go wherever slog's default handler sends them.
	Logger *slog.Logger
	// Assertions, when set, signs the guard's identity assertions: its
	// keys are published in the JWKS beside the ID-token keys (see
	// assertion.go).
	Assertions *Assertions
	// ErrorPage shows an /authorize error that must not be sent to the
	// client's redirect URI (unknown client, unregistered redirect_uri).
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int, title, msg string)
}

// Provider is the OpenID Connect provider of one core.
type Provider struct {
	core    *core.Core
	cfg     Config
	issuer  string
	budget  requestBudget
	handoff accessHandoff
	act     *activity
	handler http.Handler

	// keys are the signing keys, newest (current) first; keysMu is held
	// while they rotate, retryAt (under keysMu) delays the next scheduled
	// try after a failed one.
	keys    atomic.Pointer[[]*signingKey]
	keysMu  sync.Mutex
	retryAt time.Time
}

// New loads (or makes) the signing keys and builds the provider.
func New(c *core.Core, cfg Config) (*Provider, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("oidcprovider: no issuer")
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = jose.RS256
	}
	if _, err := ParseAlgorithm(string(cfg.Algorithm)); err != nil {
		return nil, fmt.Errorf("oidcprovider: %w", err)
	}
	if cfg.KeyRotation < 0 {
		return nil, fmt.Errorf("oidcprovider: key rotation %s: want a positive duration, or 0 for manual rotation", cfg.KeyRotation)
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(r *http.Request) string { return r.RemoteAddr }
	}
	if cfg.ErrorPage == nil {
		cfg.ErrorPage = func(w http.ResponseWriter, _ *http.Request, status int, title, msg string) {
			http.Error(w, title+": "+msg, status)
		}
	}
	p := &Provider{core: c, cfg: cfg, issuer: strings.TrimSuffix(cfg.Issuer.String(), "/"), act: newActivity()}
	keys, err := loadKeys(c, "", cfg.Algorithm)
	if err != nil {
		return nil, err
	}
	p.keys.Store(&keys)
	conf := &op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, scopeGroups, oidc.ScopeOfflineAccess},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "at_hash", "c_hash", "azp",
			"preferred_username", "name", "given_name", "family_name", "email", "email_verified", "groups"},
	}
	opts := []op.Option{
		op.WithCrypto(accessCrypto{p}),
		op.WithCustomEndpoints(op.NewEndpoint(authorizePath), op.NewEndpoint(tokenPath), op.NewEndpoint(userinfoPath),
			op.NewEndpoint(revokePath), op.NewEndpoint("/oidc/end_session"), op.NewEndpoint(keysPath)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(introspectPath)),
		op.WithCustomDeviceAuthorizationEndpoint(op.NewEndpoint("/oidc/device_authorization")),
		op.WithCORSOptions(nil),
	}
	if cfg.Issuer.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	prov, err := op.NewProvider(conf, storage{p}, op.StaticIssuer(p.issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidcprovider: %w", err)
	}
	p.handler = prov
	p.startActivity()
	return p, nil
}

// Handles reports whether path is one of the provider's (the portal's
// ContinuePath is not).
func Handles(path string) bool {
	return path == DiscoveryPath || (strings.HasPrefix(path, prefix) && path != ContinuePath)
}

// loginURL is where the library sends a browser to sign in.
func (p *Provider) loginURL(id string) string {
	return p.issuer + ContinuePath + "?id=" + url.QueryEscape(id)
}

// CallbackURL is where the portal sends the browser once Complete is done.
func (p *Provider) CallbackURL(id string) string {
	return p.issuer + callbackPath + "?id=" + url.QueryEscape(id)
}

// Pending returns the app of a pending auth request id, or an error when
// there is no such request (or it expired).
func (p *Provider) Pending(id string) (*core.App, error) {
	a, err := p.pending(id)
	if err != nil {
		return nil, err
	}
	app, _, err := p.core.Access.OIDCClient(a.Req.ClientID)
	return app, err
}

// Complete marks the auth request id as signed in by the session sess
// (id sid): the portal has checked the app admits the user and its
// second-factor rule.
func (p *Provider) Complete(id string, sid store.SessionID, sess store.Session) error {
	if !isRandomID(id) {
		return core.ErrNotFound
	}
	err := p.flows().UpdateRequest(id, func(r *store.OIDCAuthRequest) error {
		a, err := decodeRequest(r.Data, r.Done)
		if err != nil {
			return err
		}
		if a.done {
			return core.ErrNotFound
		}
		a.UserID, a.AMR, a.AuthTime, a.SessionID = sess.UserID, amrOf(sess.Methods), sess.CreatedAt, sid.String()
		data, err := json.Marshal(&a.authRecord)
		if err != nil {
			return err
		}
		r.Done, r.Data = true, data
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return core.ErrNotFound
	}
	return err
}

// admits returns "" when userID may still get tokens for clientID, or why
// not. Memory only.
func (p *Provider) admits(userID, clientID string) string {
	acct, err := p.core.Store().Account(userID)
	if err != nil {
		return "the user no longer exists"
	}
	if !acct.Active(p.core.Now()) {
		return "the user is disabled or expired"
	}
	app, _, err := p.core.Access.OIDCClient(clientID)
	if err != nil {
		return "the app is no longer a client"
	}
	if !p.core.Access.Admits(app, &acct) {
		return "the app does not admit the user"
	}
	return ""
}

// userinfo fills ui with the claims the scopes carry.
func (p *Provider) userinfo(ui *oidc.UserInfo, userID string, scopes []string) error {
	acct, err := p.core.Store().Account(userID)
	if err != nil || !acct.Active(p.core.Now()) {
		return errNotFound
	}
	ui.Subject = acct.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			ui.PreferredUsername = acct.Username
			ui.Name = acct.FullName
			if first, last, ok := strings.Cut(acct.FullName, " "); ok {
				ui.GivenName, ui.FamilyName = first, last
			}
		case oidc.ScopeEmail:
			if acct.Email != "" { // User.Email is a verified address only
				ui.Email, ui.EmailVerified = acct.Email, true
			}
		case scopeGroups:
			ui.AppendClaims("groups", append([]string{}, acct.Groups...))
		}
	}
	return nil
}

// amrOf maps the session's sign-in methods to RFC 8176 values.
func amrOf(methods []string) []string {
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, m := range methods {
		switch m {
		case core.MethodPassword, core.MethodTempPassword:
			add("pwd")
		case core.MethodTOTP, core.MethodBackupCode:
			add("otp")
		case core.MethodWebAuthn, core.MethodPasskey:
			add("hwk")
		}
	}
	if len(out) > 1 {
		add("mfa")
	}
	return out
}

// acrOf is "mfa" for a multi-factor sign-in, "pwd" or "" otherwise.
func acrOf(amr []string) string {
	switch {
	case slices.Contains(amr, "mfa") || slices.Contains(amr, "hwk"):
		return "mfa"
	case len(amr) > 0:
		return "pwd"
	}
	return ""
}

// actorKey carries the request's actor to the storage calls.
type actorKey struct{}

func actorOf(ctx context.Context) *core.Actor {
	if a, ok := ctx.Value(actorKey{}).(*core.Actor); ok {
		return a
	}
	return &core.Actor{Via: core.ViaOIDC}
}

func (p *Provider) username(userID string) string {
	if a, err := p.core.Store().Account(userID); err == nil {
		return a.Username
	}
	return ""
}

// issued audits tokens issued (never the tokens).
func (p *Provider) issued(ctx context.Context, g grant, refresh bool) {
	p.noteIssued(g)
	action, grant := "oidc.token", "authorization_code"
	if refresh {
		action, grant = "oidc.refresh", "refresh_token"
	}
	p.core.Metrics().OIDCToken(grant)
	p.core.Audit(actorOf(ctx), store.Event{Actor: p.username(g.userID), Action: action, Resource: "app:" + g.clientID,
		Outcome: core.OutcomeSuccess, Reason: "scopes: " + strings.Join(g.scopes, " ")})
}

// refuse audits a refusal with its reason.
func (p *Provider) refuse(ctx context.Context, clientID, userID, reason string) {
	noted(ctx)
	e := store.Event{Action: "oidc.refused", Outcome: core.OutcomeFailure, Reason: reason}
	if clientID != "" {
		e.Resource = "app:" + clientID
	}
	if userID != "" {
		e.Actor = p.username(userID)
	}
	p.core.Audit(actorOf(ctx), e)
}

// accessCrypto makes access tokens opaque: the token is its random id
// (stored under a keyed hash), and "decrypting" it looks it up in the
// store. The record read is handed to the storage call the library makes
// next in the same request (UserInfo, introspection, revocation), so a
// token costs one read.
type accessCrypto struct{ p *Provider }

func (c accessCrypto) Encrypt(s string) (string, error) {
	id, _, ok := strings.Cut(s, ":")
	if !ok {
		// An authorization code (the library "encrypts" the auth request
		// id): a fresh random value, mapped to the request in the store.
		return randomID(), nil
	}
	return id, nil
}

func (c accessCrypto) Decrypt(token string) (string, error) {
	if !isRandomID(token) {
		return "", errNotFound
	}
	t, err := c.p.flows().Access(c.p.accessHash(token))
	if err != nil {
		return "", errNotFound
	}
	c.p.handoff.put(token, t, c.p.core.Now())
	return token + ":" + t.UserID, nil
}

// liveAccess returns the live access token token: the record Decrypt has
// just read, or errNotFound when it is unknown, expired or revoked.
func (p *Provider) liveAccess(token string) (*store.OIDCAccess, error) {
	if t := p.handoff.take(token, p.core.Now()); t != nil {
		return t, nil
	}
	t, err := p.flows().Access(p.accessHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound
	}
	return t, err
}

// accessHandoff passes access token records from Decrypt to the storage
// call that follows it; an entry is good for handoffLife only.
type accessHandoff struct {
	mu sync.Mutex
	m  map[string]handoffEntry
}

type handoffEntry struct {
	t  *store.OIDCAccess
	at time.Time
}

const (
	handoffLife = time.Second
	maxHandoffs = 4096
)

func (h *accessHandoff) put(token string, t *store.OIDCAccess, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxHandoffs {
		h.m = map[string]handoffEntry{}
	}
	h.m[token] = handoffEntry{t, now}
}

func (h *accessHandoff) take(token string, now time.Time) *store.OIDCAccess {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[token]
	if !ok {
		return nil
	}
	delete(h.m, token)
	if d := now.Sub(e.at); d < 0 || d > handoffLife || !now.Before(e.t.ExpiresAt) {
		return nil
	}
	return e.t
}
