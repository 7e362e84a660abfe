package oidcprovider

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Lifetimes of the provider's short-lived records (in the store:
// store.OIDCFlows, shared by every node on the database).
const (
	authRequestLifetime = 10 * time.Minute // from /authorize to the code
	codeLifetime        = 60 * time.Second
	refreshLifetime     = 30 * 24 * time.Hour
	// maxAuthRequests bounds the auth requests in progress one node made
	// in an authRequestLifetime (each is a record in the store; see
	// requestBudget).
	maxAuthRequests = 10000
)

// authRequest is an authorization request from /authorize until its code
// is exchanged (op.AuthRequest).
type authRequest struct {
	done bool
	code string // the code it was read by, once it has one
	authRecord
}

// authRecord is what the store keeps of an auth request
// (store.OIDCAuthRequest.Data, then store.OIDCCode.Data).
type authRecord struct {
	ID string `json:"id"`
	// Received is when the request came (prompt=login wants a sign-in
	// after it).
	Received  time.Time           `json:"received"`
	Req       oidc.AuthRequest    `json:"req"`
	Challenge *oidc.CodeChallenge `json:"challenge,omitempty"`

	// Set by Complete, once the portal has signed the user in.
	UserID    string    `json:"user_id,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	SessionID string    `json:"session_id,omitempty"`
}

func (a *authRequest) GetID() string                         { return a.ID }
func (a *authRequest) GetACR() string                        { return acrOf(a.AMR) }
func (a *authRequest) GetAMR() []string                      { return a.AMR }
func (a *authRequest) GetAudience() []string                 { return []string{a.Req.ClientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.AuthTime }
func (a *authRequest) GetClientID() string                   { return a.Req.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.Challenge }
func (a *authRequest) GetNonce() string                      { return a.Req.Nonce }
func (a *authRequest) GetRedirectURI() string                { return a.Req.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.Req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.Req.ResponseMode }
func (a *authRequest) GetScopes() []string                   { return a.Req.Scopes }
func (a *authRequest) GetState() string                      { return a.Req.State }
func (a *authRequest) GetSubject() string                    { return a.UserID }
func (a *authRequest) Done() bool                            { return a.done }

// flows is the store's part for auth requests, codes and access tokens.
func (p *Provider) flows() store.OIDCFlows { return store.OIDCFlowsOf(p.core.Store()) }

// decodeRequest reads an auth request's record.
func decodeRequest(data []byte, done bool) (*authRequest, error) {
	a := &authRequest{done: done}
	if err := json.Unmarshal(data, &a.authRecord); err != nil {
		return nil, fmt.Errorf("oidcprovider: decode auth request: %w", err)
	}
	return a, nil
}

// request returns the live auth request id: core.ErrNotFound when there
// is none (or it expired), another error when the store failed.
func (p *Provider) request(id string) (*authRequest, error) {
	if !isRandomID(id) {
		return nil, core.ErrNotFound
	}
	r, err := p.flows().Request(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeRequest(r.Data, r.Done)
}

// pending is request, for one the user has not yet signed in for.
func (p *Provider) pending(id string) (*authRequest, error) {
	a, err := p.request(id)
	if err == nil && a.done {
		return nil, core.ErrNotFound
	}
	return a, err
}

// requestBudget bounds the auth requests in progress this node made: at
// most maxAuthRequests made in this window and the previous one and not
// yet turned into a code (release). A request finished on another node is
// not released here, so the bound is loose by those; it only has to stop
// a flood of requests nobody signs in for from filling the store.
type requestBudget struct {
	mu      sync.Mutex
	start   time.Time
	n, prev int
}

// take counts one request at now; false when the budget is spent.
func (b *requestBudget) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := now.Sub(b.start); d >= authRequestLifetime || d < 0 {
		b.prev = 0
		if d < 2*authRequestLifetime && d >= 0 {
			b.prev = b.n
		}
		b.start, b.n = now, 0
	}
	if b.n+b.prev >= maxAuthRequests {
		return false
	}
	b.n++
	return true
}

// release gives back one request's place: it became a code.
func (b *requestBudget) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n > 0 {
		b.n--
	} else if b.prev > 0 {
		b.prev--
	}
}

// secretHash is the keyed hash a code or an access token is stored under
// (kind keeps the two apart).
func (p *Provider) secretHash(kind, secret string) []byte {
	m := hmac.New(sha256.New, p.core.KeyMAC())
	m.Write([]byte("gatehouse oidc " + kind + "\x00"))
	m.Write([]byte(secret))
	return m.Sum(nil)
}

func (p *Provider) codeHash(code string) []byte    { return p.secretHash("code", code) }
func (p *Provider) accessHash(token string) []byte { return p.secretHash("access token", token) }

// randomID is 32 random bytes, base64url: an id that is also a secret.
func randomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("oidcprovider: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// isRandomID reports whether s has randomID's shape.
func isRandomID(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
