package oidcprovider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// storage is op.Storage over core and the store's OIDC flows.
type storage struct{ p *Provider }

var errNotFound = errors.New("not found")

func (s storage) now() time.Time { return s.p.core.Now() }

// CreateAuthRequest keeps a validated request; PKCE is S256 only, and
// required for public clients.
func (s storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	_, c, err := s.p.core.Access.OIDCClient(r.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client")
	}
	if r.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("only the code flow is supported")
	}
	if err := checkPKCE(r.CodeChallenge, r.CodeChallengeMethod, c.Public); err != nil {
		s.p.refuse(ctx, r.ClientID, "", "PKCE: "+err.Error())
		return nil, oidc.ErrInvalidRequest().WithDescription("%s", err.Error())
	}
	now := s.now()
	a := &authRequest{authRecord: authRecord{ID: randomID(), Received: now, Req: *r}}
	if r.CodeChallenge != "" {
		a.Challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	if !s.p.budget.take(now) {
		return nil, oidc.ErrServerError().WithDescription("too many sign-ins in progress")
	}
	data, err := json.Marshal(&a.authRecord)
	if err == nil {
		err = s.p.flows().PutRequest(&store.OIDCAuthRequest{ID: a.ID, ClientID: r.ClientID, ExpiresAt: now.Add(authRequestLifetime), Data: data})
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return a, nil
}

func (s storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	a, err := s.p.request(id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// AuthRequestByCode consumes code: the first exchange gets the request,
// every later one (on any node) finds it used and revokes what the first
// was issued.
func (s storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	c, err := s.p.flows().RedeemCode(s.p.codeHash(code))
	if errors.Is(err, store.ErrCodeReused) {
		s.p.refuse(ctx, "", "", "authorization code reused: the tokens issued from it are revoked")
		return nil, errNotFound
	}
	if err != nil {
		return nil, errNotFound
	}
	a, err := decodeRequest(c.Data, true)
	if err != nil {
		return nil, err
	}
	a.code = code
	note(ctx, a.Req.ClientID, a.UserID)
	// The user may have been disabled, or lost the app, since the code
	// was made: no tokens then.
	if reason := s.p.admits(a.UserID, a.Req.ClientID); reason != "" {
		s.p.refuse(ctx, a.Req.ClientID, a.UserID, "code exchange refused: "+reason)
		return nil, errNotFound
	}
	return a, nil
}

// SaveAuthCode turns the done request id into code (once: the request
// record becomes the code's).
func (s storage) SaveAuthCode(_ context.Context, id, code string) error {
	if !isRandomID(id) {
		return errNotFound
	}
	err := s.p.flows().SaveCode(id, s.p.codeHash(code), s.now().Add(codeLifetime))
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err == nil {
		s.p.budget.release()
	}
	return err
}

// DeleteAuthRequest does nothing: the library calls it once the code is
// exchanged, and the request's record went when its code was saved.
func (s storage) DeleteAuthRequest(context.Context, string) error { return nil }

// grant is what a token request carries, from a code or a refresh token.
type grant struct {
	userID, clientID, sessionID string
	scopes, amr                 []string
	authTime                    time.Time
	code                        string // the code exchanged, if any
	family                      string // the refresh family, if any
}

func grantOf(req op.TokenRequest) grant {
	switch r := req.(type) {
	case *authRequest:
		return grant{userID: r.UserID, clientID: r.Req.ClientID, sessionID: r.SessionID, scopes: r.Req.Scopes, amr: r.AMR, authTime: r.AuthTime, code: r.code}
	case *refreshRequest:
		return grant{userID: r.rec.UserID, clientID: r.rec.ClientID, sessionID: r.rec.SessionID, scopes: r.scopes, amr: r.rec.AMR, authTime: r.rec.AuthTime, family: r.rec.Family}
	}
	return grant{userID: req.GetSubject()}
}

// issueAccess records a new access token for g.
func (s storage) issueAccess(g grant, family string) (string, time.Time, error) {
	id, exp, dead, err := s.issue(g, family)
	if dead && family != "" {
		// Revoked by a concurrent reuse of the code before it existed.
		_ = s.p.core.Store().RevokeOIDCFamily(family)
	}
	return id, exp, err
}

// issue records the access token; dead reports a code already revoked.
func (s storage) issue(g grant, family string) (string, time.Time, bool, error) {
	_, c, err := s.p.core.Access.OIDCClient(g.clientID)
	if err != nil {
		return "", time.Time{}, false, errNotFound
	}
	id := randomID()
	exp := s.now().Add(c.AccessTokenLifetime)
	var code []byte
	if g.code != "" {
		code = s.p.codeHash(g.code)
	}
	err = s.p.flows().PutAccess(s.p.accessHash(id), &store.OIDCAccess{UserID: g.userID, ClientID: g.clientID, Scopes: slices.Clone(g.scopes),
		SessionID: g.sessionID, ExpiresAt: exp, Family: family}, code)
	if errors.Is(err, store.ErrCodeReused) {
		// A concurrent reuse revoked this code: the token is dead at birth.
		return id, exp, true, nil
	}
	if err != nil {
		return "", time.Time{}, false, err
	}
	return id, exp, false, nil
}

func (s storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g := grantOf(req)
	id, exp, err := s.issueAccess(g, "")
	if err == nil {
		s.p.issued(ctx, g, false)
	}
	return id, exp, err
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token:
// a new family for a code, a rotation for a refresh token.
func (s storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	g := grantOf(req)
	now := s.now()
	next := randomID()
	rec := &store.OIDCRefresh{UserID: g.userID, ClientID: g.clientID, Scopes: g.scopes, AMR: g.amr, AuthTime: g.authTime,
		SessionID: g.sessionID, IssuedAt: now, ExpiresAt: now.Add(refreshLifetime)}
	if current == "" {
		rec.Family = randomID()
		if err := s.p.core.Store().PutOIDCRefresh(s.p.tokenHash(next), rec); err != nil {
			return "", "", time.Time{}, err
		}
	} else {
		rec.Family = g.family
		if err := s.p.core.Store().RotateOIDCRefresh(s.p.tokenHash(current), s.p.tokenHash(next), rec); err != nil {
			if errors.Is(err, store.ErrRefreshReused) {
				s.p.refuse(ctx, g.clientID, g.userID, "refresh token reused: its family is revoked")
			}
			return "", "", time.Time{}, oidc.ErrInvalidGrant()
		}
	}
	id, exp, err := s.issueAccess(g, rec.Family)
	if err != nil {
		return "", "", time.Time{}, err
	}
	s.p.issued(ctx, g, current != "")
	return id, next, exp, nil
}

// refreshRequest is a stored refresh token as the library reads it.
type refreshRequest struct {
	rec    *store.OIDCRefresh
	scopes []string
}

func (r *refreshRequest) GetAMR() []string             { return r.rec.AMR }
func (r *refreshRequest) GetAudience() []string        { return []string{r.rec.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time       { return r.rec.AuthTime }
func (r *refreshRequest) GetClientID() string          { return r.rec.ClientID }
func (r *refreshRequest) GetScopes() []string          { return r.scopes }
func (r *refreshRequest) GetSubject() string           { return r.rec.UserID }
func (r *refreshRequest) SetCurrentScopes(sc []string) { r.scopes = sc }

// TokenRequestByRefreshToken finds a live refresh token whose user is
// still active and still admitted by the app.
func (s storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	rec, err := s.p.core.Store().OIDCRefresh(s.p.tokenHash(token))
	if errors.Is(err, store.ErrRefreshReused) {
		s.p.refuse(ctx, "", "", "refresh token reused: its family is revoked")
	}
	if err != nil {
		return nil, op.ErrInvalidRefreshToken
	}
	note(ctx, rec.ClientID, rec.UserID)
	if reason := s.p.admits(rec.UserID, rec.ClientID); reason != "" {
		_ = s.p.core.Store().RevokeOIDCFamily(rec.Family)
		s.p.refuse(ctx, rec.ClientID, rec.UserID, "refresh refused: "+reason)
		return nil, op.ErrInvalidRefreshToken
	}
	return &refreshRequest{rec: rec, scopes: rec.Scopes}, nil
}

// TerminateSession ends the user's access tokens for the client (RP-initiated
// logout); the portal session is ended by the portal's sign-out page.
func (s storage) TerminateSession(_ context.Context, userID, clientID string) error {
	return s.p.flows().RevokeUser(userID, clientID)
}

// refreshTokenIDPrefix marks a refresh token's id (its keyed hash) for
// RevokeToken.
const refreshTokenIDPrefix = "rt:"

func (s storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	h := s.p.tokenHash(token)
	rec, err := s.p.core.Store().OIDCRefresh(h)
	if err != nil || rec.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rec.UserID, refreshTokenIDPrefix + hex.EncodeToString(h), nil
}

// RevokeToken revokes an access token (by id) or a refresh token's family;
// a token of another client is left alone (RFC 7009: no error either).
func (s storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	if h, ok := strings.CutPrefix(tokenOrID, refreshTokenIDPrefix); ok {
		hash, err := hex.DecodeString(h)
		if err != nil {
			return nil
		}
		if rec, err := s.p.core.Store().OIDCRefresh(hash); err == nil && rec.ClientID == clientID {
			if err := s.p.core.Store().RevokeOIDCFamily(rec.Family); err != nil {
				return oidc.ErrServerError()
			}
		}
		return nil
	}
	s.p.handoff.take(tokenOrID, s.now())
	if err := s.p.flows().RevokeAccess(s.p.accessHash(tokenOrID), clientID); err != nil {
		return oidc.ErrServerError()
	}
	return nil
}

// SigningKey is the current key.
func (s storage) SigningKey(context.Context) (op.SigningKey, error) { return s.p.signingKeys()[0], nil }

func (s storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{s.p.signingKeys()[0].alg}, nil
}

// KeySet is the JWKS: the current key and the previous one, so that the
// tokens signed before a rotation still verify.
func (s storage) KeySet(context.Context) ([]op.Key, error) {
	var out []op.Key
	for i, k := range s.p.signingKeys() {
		if i < 2 {
			out = append(out, publicKey{k})
		}
	}
	return out, nil
}

func (s storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	_, c, err := s.p.core.Access.OIDCClient(id)
	if err != nil {
		return nil, errNotFound
	}
	return &client{id: id, c: c, login: s.p.loginURL}, nil
}

func (s storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	if _, err := s.p.core.Access.CheckClientSecret(ctx, id, secret); err != nil {
		return core.ErrClientAuth
	}
	return nil
}

// SetUserinfoFromScopes fills the claims of an ID token.
func (s storage) SetUserinfoFromScopes(_ context.Context, ui *oidc.UserInfo, userID, _ string, scopes []string) error {
	return s.p.userinfo(ui, userID, scopes)
}

// SetUserinfoFromToken answers UserInfo for a live access token.
func (s storage) SetUserinfoFromToken(_ context.Context, ui *oidc.UserInfo, token, _, _ string) error {
	t, err := s.p.liveAccess(token)
	if err != nil {
		return err
	}
	if reason := s.p.admits(t.UserID, t.ClientID); reason != "" {
		return errNotFound
	}
	return s.p.userinfo(ui, t.UserID, t.Scopes)
}

// SetIntrospectionFromToken answers introspection for a client's own
// live access token; anything else is inactive.
func (s storage) SetIntrospectionFromToken(_ context.Context, r *oidc.IntrospectionResponse, token, _, clientID string) error {
	t, err := s.p.liveAccess(token)
	if err != nil {
		return err
	}
	if t.ClientID != clientID || s.p.admits(t.UserID, t.ClientID) != "" {
		return errNotFound
	}
	ui := new(oidc.UserInfo)
	if err := s.p.userinfo(ui, t.UserID, t.Scopes); err != nil {
		return err
	}
	r.SetUserInfo(ui)
	r.Active = true
	r.Scope = t.Scopes
	r.ClientID = t.ClientID
	r.Subject = t.UserID
	r.Expiration = oidc.FromTime(t.ExpiresAt)
	r.Audience = []string{t.ClientID}
	r.TokenType = oidc.BearerToken
	return nil
}

func (s storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, fmt.Errorf("oidcprovider: JWT client authentication is not supported")
}

func (s storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, fmt.Errorf("oidcprovider: the JWT profile grant is not supported")
}

func (s storage) Health(context.Context) error { return nil }

// tokenHash is the keyed hash a refresh token is stored under.
func (p *Provider) tokenHash(token string) []byte {
	m := hmac.New(sha256.New, p.core.KeyMAC())
	m.Write([]byte("gatehouse oidc refresh token\x00"))
	m.Write([]byte(token))
	return m.Sum(nil)
}

var _ op.Storage = storage{}
