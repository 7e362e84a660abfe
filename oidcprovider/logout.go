package oidcprovider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/store"
)

// EndSessionPath is the provider's RP-initiated logout endpoint. The
// portal serves it (it ends the portal session, or asks first) with
// ParseLogout's help.
const EndSessionPath = "/oidc/end_session"

// Logout is a checked RP-initiated logout request.
type Logout struct {
	// ClientID is the app that asked ("" when it did not say).
	ClientID string
	// UserID and SID are the ID token hint's sub and sid; both "" without
	// a hint.
	UserID, SID string
	// Return is the registered post_logout_redirect_uri with the state,
	// "" when the app sent none.
	Return string
	// Params are the request's parameters, to ask again in a form.
	Params url.Values
}

// Errors of ParseLogout.
var (
	// ErrLogoutHint is a hint that is not an ID token this provider
	// signed (an expired one is accepted).
	ErrLogoutHint = errors.New("oidcprovider: id_token_hint is not an ID token of this provider")
	// ErrLogoutClient is an unknown client, or a client_id that is not
	// the hint's.
	ErrLogoutClient = errors.New("oidcprovider: unknown client, or not the one the ID token was issued to")
	// ErrLogoutRedirect is a post_logout_redirect_uri that is not one of
	// the client's (compared exactly), or one sent without naming the
	// client: it is never redirected to.
	ErrLogoutRedirect = errors.New("oidcprovider: post_logout_redirect_uri is not registered for the client")
)

// ParseLogout checks an end_session request's parameters f (of a GET or
// a POST).
func (p *Provider) ParseLogout(ctx context.Context, f url.Values) (*Logout, error) {
	l := &Logout{ClientID: f.Get("client_id"), Params: url.Values{}}
	for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
		if v := f.Get(k); v != "" {
			l.Params.Set(k, v)
		}
	}
	if hint := f.Get("id_token_hint"); hint != "" {
		v := op.NewIDTokenHintVerifier(p.issuer, &op.OpenIDKeySet{Storage: storage{p}},
			op.WithSupportedIDTokenHintSigningAlgorithms(string(jose.RS256), string(jose.ES256)))
		claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, v)
		if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) || claims == nil {
			return nil, ErrLogoutHint
		}
		azp := claims.AuthorizedParty
		if azp == "" && len(claims.Audience) == 1 {
			azp = claims.Audience[0]
		}
		if azp == "" || !slices.Contains(claims.Audience, azp) || l.ClientID != "" && l.ClientID != azp {
			return nil, ErrLogoutClient
		}
		l.ClientID, l.UserID, l.SID = azp, claims.Subject, claims.SessionID
	}
	uri := f.Get("post_logout_redirect_uri")
	if l.ClientID == "" {
		if uri != "" {
			return nil, ErrLogoutRedirect
		}
		return l, nil
	}
	_, c, err := p.core.Access.OIDCClient(l.ClientID)
	if err != nil {
		return nil, ErrLogoutClient
	}
	if uri == "" {
		return l, nil
	}
	if !slices.Contains(c.PostLogoutRedirectURIs, uri) {
		p.refuse(ctx, l.ClientID, l.UserID, "end_session: post_logout_redirect_uri not registered")
		return nil, ErrLogoutRedirect
	}
	ret, err := url.Parse(uri)
	if err != nil {
		return nil, ErrLogoutRedirect
	}
	if st := f.Get("state"); st != "" {
		q := ret.Query()
		q.Set("state", st)
		ret.RawQuery = q.Encode()
	}
	l.Return = ret.String()
	return l, nil
}

// SessionSID is the sid of a portal session as ID and logout tokens carry
// it: a keyed hash of the session's store id, stable for the session and
// useless to find or use it.
func (p *Provider) SessionSID(id store.SessionID) string { return p.sidOf(id.String()) }

// sidOf is SessionSID of a session id in hex ("" for none).
func (p *Provider) sidOf(sessionHex string) string {
	if sessionHex == "" {
		return ""
	}
	m := hmac.New(sha256.New, p.core.KeyMAC())
	m.Write([]byte("gatehouse oidc sid\x00"))
	m.Write([]byte(sessionHex))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// SetUserinfoFromRequest adds the session's sid to an ID token
// (op.CanSetUserinfoFromRequest).
func (s storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	var sess string
	switch r := req.(type) {
	case *authRequest:
		sess = r.SessionID
	case *refreshRequest:
		sess = r.rec.SessionID
	}
	if sid := s.p.sidOf(sess); sid != "" {
		ui.AppendClaims("sid", sid)
	}
	return nil
}

var _ op.CanSetUserinfoFromRequest = storage{}
