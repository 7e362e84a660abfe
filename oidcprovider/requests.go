package oidcprovider

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Lifetimes of what lives in memory.
const (
	authRequestLifetime = 10 * time.Minute // from /authorize to the code
	codeLifetime        = 60 * time.Second
	refreshLifetime     = 30 * 24 * time.Hour
	maxAuthRequests     = 10000
)

// authRequest is an authorization request from /authorize until its code
// is exchanged (op.AuthRequest).
type authRequest struct {
	id      string
	created time.Time // moved on by SaveAuthCode: the code's lifetime counts from it
	// received is when the request came (prompt=login wants a sign-in
	// after it).
	received  time.Time
	req       oidc.AuthRequest
	challenge *oidc.CodeChallenge

	// Set by Complete, once the portal has signed the user in.
	done      bool
	userID    string
	amr       []string
	authTime  time.Time
	sessionID string
	code      string
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return acrOf(a.amr) }
func (a *authRequest) GetAMR() []string                      { return a.amr }
func (a *authRequest) GetAudience() []string                 { return []string{a.req.ClientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.req.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string                { return a.req.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.req.ResponseMode }
func (a *authRequest) GetScopes() []string                   { return a.req.Scopes }
func (a *authRequest) GetState() string                      { return a.req.State }
func (a *authRequest) GetSubject() string                    { return a.userID }
func (a *authRequest) Done() bool                            { return a.done }

// usedCode remembers an exchanged code until it would have expired, with
// what was issued from it, so a second exchange revokes it all.
type usedCode struct {
	expires  time.Time
	revoked  bool
	tokens   []string // access token ids
	families []string // refresh token families
}

// accessToken is an issued access token (opaque; its id is the token).
type accessToken struct {
	userID, clientID string
	scopes           []string
	expires          time.Time
	family           string // refresh family it came with, if any
}

// memory holds the provider's short-lived state.
type memory struct {
	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]string // code -> auth request id
	used     map[string]*usedCode
	access   map[string]*accessToken
	lastGC   time.Time
}

func newMemory() *memory {
	return &memory{requests: map[string]*authRequest{}, codes: map[string]string{}, used: map[string]*usedCode{}, access: map[string]*accessToken{}}
}

// gc drops expired entries, at most once a minute; called with mu held.
func (m *memory) gc(now time.Time) {
	if now.Sub(m.lastGC) < time.Minute {
		return
	}
	m.lastGC = now
	for id, a := range m.requests {
		if now.Sub(a.created) > authRequestLifetime+codeLifetime {
			delete(m.requests, id)
			if a.code != "" {
				delete(m.codes, a.code)
			}
		}
	}
	for c, u := range m.used {
		if now.After(u.expires) {
			delete(m.used, c)
		}
	}
	for t, a := range m.access {
		if now.After(a.expires) {
			delete(m.access, t)
		}
	}
}

// randomID is 32 random bytes, base64url: an id that is also a secret.
func randomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("oidcprovider: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
