package oidcprovider

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Identity assertions: the short-lived JWT the guard sends an app beside
// the identity headers when `headers { jwt NAME }` is set, for apps that
// would rather verify a signature than trust a header. It is signed with
// ES256 by a key of its own (store.KeyUseAssertion), published with the
// provider's ID-token keys in the one JWKS (<portal_url>/oidc/keys and
// <portal_url>/.well-known/jwks.json), whatever algorithm the provider
// signs ID tokens with, and whether or not the provider runs.
//
// The assertion keys are never used to verify anything the provider is
// given (ID token hints, access tokens): the library only ever sees the
// ID-token keys (storage.KeySet), so an assertion cannot pass for a token
// of the provider. The JOSE header's typ (AssertionType) tells the two
// apart for an app too.

// AssertionType is the typ header of an identity assertion.
const AssertionType = "gatehouse-identity+jwt"

// AssertionLifetime is how long an identity assertion is valid (exp - iat).
const AssertionLifetime = 60 * time.Second

// assertionRenew: a cached assertion is signed again once less than this
// is left of it, so an app never gets one about to expire.
const assertionRenew = 15 * time.Second

// assertionOverlap: while one request signs the renewal, the others go on
// with the cached assertion as long as this much of it is left (so a page
// loading fifty assets at that moment costs one signature, not fifty).
const assertionOverlap = 10 * time.Second

// assertionCacheMax bounds the cache of signed assertions (one per user,
// app and impersonator in use in the last minute).
const assertionCacheMax = 10000

// Assertions signs the identity assertions of one configuration and
// keeps each one for reuse until it is close to expiry. Safe for
// concurrent use.
type Assertions struct {
	core     *core.Core
	issuer   string
	rotation time.Duration

	// keys are the assertion keys, newest (current) first, each with its
	// signer; mu is held while they rotate, retryAt (under mu) delays the
	// next scheduled try after a failed one.
	keys    atomic.Pointer[[]*assertionKey]
	mu      sync.Mutex
	retryAt time.Time

	cacheMu sync.RWMutex
	cache   map[assertionFor]*signedAssertion
}

// assertionKey is an assertion key and the signer made from it.
type assertionKey struct {
	*signingKey
	signer jose.Signer
}

// assertionFor is what an assertion is cached under.
type assertionFor struct{ user, app, impersonator string }

// signedAssertion is a cached assertion and what it says, to notice a
// change of the account.
type signedAssertion struct {
	token string
	key   *assertionKey
	// renewAt is when it is due for renewal; until staleAt, while a
	// renewal is under way (renewing), it is still served.
	renewAt, staleAt time.Time
	renewing         atomic.Bool
	// username, email, name and groups are the account's values when it
	// was signed.
	username, email, name, groups string
}

// assertionClaims is the payload of an identity assertion.
type assertionClaims struct {
	Issuer            string   `json:"iss"`
	Audience          string   `json:"aud"`
	Subject           string   `json:"sub"`
	PreferredUsername string   `json:"preferred_username"`
	Name              string   `json:"name,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     bool     `json:"email_verified,omitempty"`
	Groups            []string `json:"groups"`
	IssuedAt          int64    `json:"iat"`
	Expiry            int64    `json:"exp"`
	Impersonator      string   `json:"imp,omitempty"`
}

// NewAssertions loads the assertion keys of c's store, making the first
// one when there is none. issuer is the portal URL (the iss claim);
// rotation, when positive, replaces the current key once it is that old
// (as the provider's Config.KeyRotation).
func NewAssertions(c *core.Core, issuer string, rotation time.Duration) (*Assertions, error) {
	if issuer == "" {
		return nil, errors.New("oidcprovider: assertions: no issuer")
	}
	if rotation < 0 {
		return nil, fmt.Errorf("oidcprovider: assertions: key rotation %s: want a positive duration, or 0 for manual rotation", rotation)
	}
	a := &Assertions{core: c, issuer: issuer, rotation: rotation, cache: make(map[assertionFor]*signedAssertion)}
	if err := a.load(); err != nil {
		return nil, err
	}
	return a, nil
}

// load reads the keys from the store (making one when there is none).
func (a *Assertions) load() error {
	keys, err := loadKeys(a.core, store.KeyUseAssertion, jose.ES256)
	if err != nil {
		return err
	}
	out := make([]*assertionKey, 0, len(keys))
	for _, k := range keys {
		if k.alg != jose.ES256 {
			return fmt.Errorf("oidcprovider: assertion key %s: algorithm %s, want ES256", k.id, k.alg)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.key, KeyID: k.id}},
			(&jose.SignerOptions{}).WithType(AssertionType))
		if err != nil {
			return fmt.Errorf("oidcprovider: assertion key %s: %w", k.id, err)
		}
		out = append(out, &assertionKey{signingKey: k, signer: s})
	}
	a.keys.Store(&out)
	return nil
}

// Token returns the identity assertion of acct for app, at now, with
// impersonator (the administrator's username, "" when none) as the imp
// claim. A cached one is returned while it states what the account still
// has (username, e-mail address, name and groups), more than
// assertionRenew of it is left and it was signed with the current key;
// otherwise a new one is signed (tens of µs) and cached. Of the requests
// that find it due for renewal (or signed with the previous key) at
// once, one signs and the others keep the cached one while more than
// assertionOverlap of it is left.
func (a *Assertions) Token(acct *store.Account, app, impersonator string, now time.Time) (string, error) {
	k := assertionFor{user: acct.ID, app: app, impersonator: impersonator}
	a.cacheMu.RLock()
	e := a.cache[k]
	a.cacheMu.RUnlock()
	if e == nil || e.username != acct.Username || e.email != acct.Email || e.name != acct.FullName || e.groups != acct.GroupsHeader {
		return a.sign(k, acct, now)
	}
	fresh := e.key == (*a.keys.Load())[0]
	if fresh && now.Before(e.renewAt) {
		return e.token, nil
	}
	if !e.renewing.CompareAndSwap(false, true) && now.Before(e.staleAt) {
		return e.token, nil // another request is signing its renewal
	}
	return a.sign(k, acct, now)
}

// sign signs and caches a new assertion.
func (a *Assertions) sign(k assertionFor, acct *store.Account, now time.Time) (string, error) {
	key := a.currentKey(now)
	groups := acct.Groups
	if groups == nil {
		groups = []string{}
	}
	c := assertionClaims{
		Issuer: a.issuer, Audience: k.app, Subject: acct.ID,
		PreferredUsername: acct.Username, Name: acct.FullName,
		// An account's Email is a confirmed address only (a pending
		// change lives elsewhere), as the provider's email claim.
		Email: acct.Email, EmailVerified: acct.Email != "",
		Groups:   groups,
		IssuedAt: now.Unix(), Expiry: now.Add(AssertionLifetime).Unix(),
		Impersonator: k.impersonator,
	}
	payload, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("oidcprovider: encode assertion: %w", err)
	}
	jws, err := key.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidcprovider: sign assertion: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("oidcprovider: sign assertion: %w", err)
	}
	exp := time.Unix(c.Expiry, 0) // whole seconds: renew from the second it was cut to
	e := &signedAssertion{token: token, key: key,
		renewAt: exp.Add(-assertionRenew), staleAt: exp.Add(-assertionOverlap),
		username: acct.Username, email: acct.Email, name: acct.FullName, groups: acct.GroupsHeader}
	a.cacheMu.Lock()
	if len(a.cache) >= assertionCacheMax {
		a.evictLocked(now)
	}
	a.cache[k] = e
	a.cacheMu.Unlock()
	return token, nil
}

// evictLocked makes room in the full cache: it drops the assertions due
// for renewal, then, when that freed less than a quarter, arbitrary ones
// (map order) until a quarter is free. Dropped ones are signed again when
// next needed.
func (a *Assertions) evictLocked(now time.Time) {
	for k, e := range a.cache {
		if !now.Before(e.renewAt) {
			delete(a.cache, k)
		}
	}
	for k := range a.cache {
		if len(a.cache) < assertionCacheMax*3/4 {
			break
		}
		delete(a.cache, k)
	}
}

// currentKey returns the current key, first rotating it when it is older
// than the rotation period.
func (a *Assertions) currentKey(now time.Time) *assertionKey {
	cur := (*a.keys.Load())[0]
	if a.rotation <= 0 || now.Before(cur.created.Add(a.rotation)) {
		return cur
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cur = (*a.keys.Load())[0]
	if now.Before(cur.created.Add(a.rotation)) || now.Before(a.retryAt) {
		return cur
	}
	if _, err := a.rotateLocked(&core.Actor{Via: core.ViaGuard}); err != nil {
		a.retryAt = now.Add(rotationRetry)
		a.core.Log().Error("identity assertion key rotation failed", "error", err)
	}
	return (*a.keys.Load())[0]
}

// Rotate makes a new current assertion key, which signs every assertion
// from now on (cached ones are signed again); the key it replaces stays
// in the JWKS, so assertions it signed still verify until they expire. It
// returns the new key's id, audited as actor's.
func (a *Assertions) Rotate(actor *core.Actor) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rotateLocked(actor)
}

func (a *Assertions) rotateLocked(actor *core.Actor) (string, error) {
	id, err := rotateStored(a.core, store.KeyUseAssertion, jose.ES256)
	if err != nil {
		return "", err
	}
	a.core.Audit(actor, store.Event{Action: "oidc.keys_rotated", Resource: "oidc key:" + id, Outcome: core.OutcomeSuccess,
		Reason: "new ES256 identity assertion key"})
	if err := a.load(); err != nil {
		return "", err
	}
	return id, nil
}

// KeyID returns the id of the current assertion key.
func (a *Assertions) KeyID() string { return (*a.keys.Load())[0].id }

// publicKeys returns the published assertion keys: the current one and
// the previous one.
func (a *Assertions) publicKeys() []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for i, k := range *a.keys.Load() {
		if i < 2 {
			out = append(out, jsonWebKey(publicKey{k.signingKey}))
		}
	}
	return out
}

// JWKS returns the assertion keys alone, for a portal whose provider does
// not run (see Provider.JWKS).
func (a *Assertions) JWKS() jose.JSONWebKeySet { return jose.JSONWebKeySet{Keys: a.publicKeys()} }

// jsonWebKey is the JWKS entry of k.
func jsonWebKey(k publicKey) jose.JSONWebKey {
	return jose.JSONWebKey{KeyID: k.ID(), Algorithm: string(k.Algorithm()), Use: k.Use(), Key: k.Key()}
}
