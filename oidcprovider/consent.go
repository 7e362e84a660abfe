package oidcprovider

import (
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// PendingRequest is what the portal shows of a pending auth request on its
// consent page.
type PendingRequest struct {
	// Scopes are the scopes the client asks for.
	Scopes []string
	// RedirectURI is the client's (already checked) redirect URI.
	RedirectURI string
	// Prompt is the request's prompt values (none, login, consent…).
	Prompt []string
	// MaxAge is the request's max_age in seconds, or nil.
	MaxAge *uint
	// Created is when the request reached the provider.
	Created time.Time
}

// Has reports whether the request's prompt holds v.
func (r PendingRequest) Has(v string) bool { return slices.Contains(r.Prompt, v) }

// NeedsSignIn reports whether a sign-in at authTime is too old for the
// request: prompt=login asks for one made after the request, max_age for
// one at most that many seconds old (or made after the request: max_age=0
// is prompt=login).
func (r PendingRequest) NeedsSignIn(authTime, now time.Time) bool {
	if !authTime.Before(r.Created) {
		return false
	}
	return r.Has("login") || r.MaxAge != nil && now.Sub(authTime) > time.Duration(*r.MaxAge)*time.Second
}

// PendingDetails returns the pending auth request id's scopes and redirect
// URI, or core.ErrNotFound.
func (p *Provider) PendingDetails(id string) (PendingRequest, error) {
	a, err := p.pending(id)
	if err != nil {
		return PendingRequest{}, err
	}
	return PendingRequest{Scopes: slices.Clone(a.Req.Scopes), RedirectURI: a.Req.RedirectURI, Prompt: slices.Clone(a.Req.Prompt),
		MaxAge: a.Req.MaxAge, Created: a.Received}, nil
}

// Deny ends the pending auth request id as refused by the user and
// returns where to send the browser: the client's redirect URI (checked
// when the request was made) with error=access_denied, its state and iss.
func (p *Provider) Deny(id string) (string, error) {
	return p.fail(id, "access_denied", "the user denied the request")
}

// ConsentRequired ends the pending auth request id, which asked for no
// page (prompt=none) but needs the user's consent, as OpenID Connect Core
// 3.1.2.6 says: consent_required to the client's redirect URI.
func (p *Provider) ConsentRequired(id string) (string, error) {
	return p.fail(id, "consent_required", "the user has not allowed this app these scopes")
}

// NoInteraction ends the pending auth request id, which asked for no page
// (prompt=none) but needs one, with code (login_required, access_denied,
// else interaction_required; OpenID Connect Core 3.1.2.6) to the client's
// redirect URI (checked when the request came), and returns where to send
// the browser.
func (p *Provider) NoInteraction(id, code string) (string, error) {
	desc := "the user must act on a page first"
	switch code {
	case "login_required":
		desc = "the user must sign in"
	case "access_denied":
		desc = "the app does not admit this user"
	default:
		code = "interaction_required"
	}
	return p.fail(id, code, desc)
}

func (p *Provider) fail(id, code, desc string) (string, error) {
	if !isRandomID(id) {
		return "", core.ErrNotFound
	}
	r, err := p.flows().TakePending(id)
	if errors.Is(err, store.ErrNotFound) {
		return "", core.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	a, err := decodeRequest(r.Data, r.Done)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(a.Req.RedirectURI)
	if err != nil {
		return "", core.ErrNotFound
	}
	q := u.Query()
	q.Set("error", code)
	q.Set("error_description", desc)
	if a.Req.State != "" {
		q.Set("state", a.Req.State)
	}
	q.Set("iss", p.issuer)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// RevokeAccess revokes every access token of userID at clientID at once,
// on every node (refresh tokens: see store.OIDCGrants.Revoke).
func (p *Provider) RevokeAccess(userID, clientID string) error {
	return p.flows().RevokeUser(userID, clientID)
}
