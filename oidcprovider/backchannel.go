package oidcprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a
// portal session ends on purpose, every client with a
// BackchannelLogoutURI that got tokens through it is sent a signed
// logout token, in the background.

// backchannelEvent is the logout token's event.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// Delivery of logout tokens: each attempt is bounded by backchannelTimeout;
// a client that is down or answers 5xx is tried backchannelAttempts times
// in all, backchannelBackoff apart (doubling).
var (
	backchannelTimeout  = 5 * time.Second
	backchannelAttempts = 3
	backchannelBackoff  = time.Second
	logoutTokenLifetime = 2 * time.Minute
)

// activity is what the provider remembers of token issuance: which
// session-client pairs are recorded (for back-channel logout) and when
// each client last got tokens.
type activity struct {
	mu      sync.Mutex
	noted   map[string]bool      // session hex + "\x00" + client, recorded
	lastUse map[string]time.Time // client -> last issue
	written map[string]time.Time // client -> when lastUse was last written
	loaded  bool
	client  *http.Client
	// sending bounds the deliveries in flight.
	sending chan struct{}
}

// maxSending bounds the logout tokens delivered at once.
const maxSending = 16

// maxNoted bounds activity.noted (it is only a cache of what is stored).
const maxNoted = 100_000

// lastUseWriteEvery bounds the store writes of a client's last use.
const lastUseWriteEvery = time.Minute

func newActivity() *activity {
	return &activity{noted: map[string]bool{}, lastUse: map[string]time.Time{}, written: map[string]time.Time{},
		sending: make(chan struct{}, maxSending),
		client:  &http.Client{Timeout: backchannelTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// startActivity registers the provider's hooks: the clients of ended
// sessions get logout tokens, and a deleted app's tokens are revoked.
func (p *Provider) startActivity() {
	store.OIDCActivityOf(p.core.Store()).OnSessionsEnded(p.backchannelLogout)
	p.core.Access.OnAppDelete(p.forgetClient)
}

// noteIssued records, after tokens were issued for g: the session-client
// pair when the client takes back-channel logouts (once), and the
// client's last use (in memory; in the store at most once a minute).
func (p *Provider) noteIssued(g grant) {
	now := p.core.Now()
	act := p.act
	var record, writeUse bool
	_, c, err := p.core.Access.OIDCClient(g.clientID)
	key := g.sessionID + "\x00" + g.clientID
	act.mu.Lock()
	if err == nil && c.BackchannelLogoutURI != "" && g.sessionID != "" && !act.noted[key] {
		if len(act.noted) >= maxNoted {
			clear(act.noted)
		}
		act.noted[key], record = true, true
	}
	act.lastUse[g.clientID] = now
	if now.Sub(act.written[g.clientID]) >= lastUseWriteEvery {
		act.written[g.clientID], writeUse = now, true
	}
	act.mu.Unlock()
	rec := store.OIDCActivityOf(p.core.Store())
	if record {
		if err := rec.PutSessionClient(store.OIDCSessionClient{SessionID: g.sessionID, ClientID: g.clientID, UserID: g.userID}, now.Add(refreshLifetime)); err != nil {
			act.mu.Lock()
			delete(act.noted, key)
			act.mu.Unlock()
		}
	}
	if writeUse {
		_ = rec.PutLastUse(g.clientID, now)
	}
}

// LastUsed returns when each client last got tokens.
func (p *Provider) LastUsed() map[string]time.Time {
	act := p.act
	act.mu.Lock()
	defer act.mu.Unlock()
	if !act.loaded {
		stored, err := store.OIDCActivityOf(p.core.Store()).LastUse()
		if err == nil {
			for k, t := range stored {
				if t.After(act.lastUse[k]) {
					act.lastUse[k] = t
				}
			}
			act.loaded = true
		}
	}
	out := make(map[string]time.Time, len(act.lastUse))
	for k, t := range act.lastUse {
		out[k] = t
	}
	return out
}

// forgetClient revokes everything a deleted app was issued: its pending
// requests, codes and access tokens, and its refresh token families.
func (p *Provider) forgetClient(app string) {
	flowsErr := p.flows().RevokeClient(app)
	act := p.act
	act.mu.Lock()
	delete(act.lastUse, app)
	delete(act.written, app)
	for k := range act.noted {
		if strings.HasSuffix(k, "\x00"+app) {
			delete(act.noted, k)
		}
	}
	act.mu.Unlock()
	e := store.Event{Action: "oidc.app_tokens_revoked", Resource: "app:" + app, Outcome: core.OutcomeSuccess}
	if err := errors.Join(flowsErr, store.OIDCActivityOf(p.core.Store()).RevokeClient(app)); err != nil {
		e.Outcome, e.Reason = core.OutcomeFailure, err.Error()
	}
	p.core.Audit(&core.Actor{Via: core.ViaOIDC}, e)
}

// backchannelLogout sends a logout token to each client of the ended
// sessions (the store calls it in its own goroutine).
func (p *Provider) backchannelLogout(ended []store.OIDCSessionClient) {
	var wg sync.WaitGroup
	for _, sc := range ended {
		_, c, err := p.core.Access.OIDCClient(sc.ClientID)
		if err != nil || c.BackchannelLogoutURI == "" {
			continue
		}
		p.act.mu.Lock()
		delete(p.act.noted, sc.SessionID+"\x00"+sc.ClientID)
		p.act.mu.Unlock()
		wg.Add(1)
		p.act.sending <- struct{}{}
		go func() {
			defer func() { <-p.act.sending; wg.Done() }()
			p.deliverLogout(sc, c.BackchannelLogoutURI)
		}()
	}
	wg.Wait()
}

// deliverLogout POSTs one logout token, retrying a client that is down,
// and audits the outcome.
func (p *Provider) deliverLogout(sc store.OIDCSessionClient, uri string) {
	e := store.Event{Actor: p.username(sc.UserID), Action: "oidc.backchannel_logout", Resource: "app:" + sc.ClientID}
	tok, err := p.logoutToken(sc)
	if err != nil {
		e.Outcome, e.Reason = core.OutcomeFailure, "cannot sign the logout token: "+err.Error()
		p.core.Audit(&core.Actor{Via: core.ViaOIDC}, e)
		return
	}
	wait := backchannelBackoff
	var why string
	for attempt := 1; attempt <= backchannelAttempts; attempt++ {
		var retry bool
		why, retry = p.postLogout(uri, tok)
		if why == "" {
			e.Outcome, e.Reason = core.OutcomeSuccess, fmt.Sprintf("delivered (attempt %d)", attempt)
			p.core.Audit(&core.Actor{Via: core.ViaOIDC}, e)
			return
		}
		if !retry || attempt == backchannelAttempts {
			why = fmt.Sprintf("%s (attempt %d)", why, attempt)
			break
		}
		time.Sleep(wait)
		wait *= 2
	}
	e.Outcome, e.Reason = core.OutcomeFailure, "not delivered: "+why
	p.core.Audit(&core.Actor{Via: core.ViaOIDC}, e)
}

// postLogout makes one delivery; it returns why it failed ("" when it
// did not) and whether trying again may help.
func (p *Provider) postLogout(uri, tok string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), backchannelTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return "bad back-channel logout URI", false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.act.client.Do(req)
	if err != nil {
		return "the client did not answer", true
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return "", false
	case resp.StatusCode >= 500:
		return fmt.Sprintf("the client answered %d", resp.StatusCode), true
	}
	return fmt.Sprintf("the client answered %d", resp.StatusCode), false
}

// logoutToken signs the logout token of one session-client pair: iss,
// aud, iat, exp, jti, sub, sid and the event; never a nonce.
func (p *Provider) logoutToken(sc store.OIDCSessionClient) (string, error) {
	key, err := storage{p}.SigningKey(context.Background())
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: &jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return "", err
	}
	now := p.core.Now()
	claims := &oidc.LogoutTokenClaims{Issuer: p.issuer, Subject: sc.UserID, Audience: oidc.Audience{sc.ClientID},
		IssuedAt: oidc.FromTime(now), Expiration: oidc.FromTime(now.Add(logoutTokenLifetime)), JWTID: randomID(),
		Events: map[string]any{backchannelEvent: map[string]any{}}, SessionID: p.sidOf(sc.SessionID)}
	return crypto.Sign(claims, signer)
}
