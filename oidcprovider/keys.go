package oidcprovider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// sealPurpose binds a sealed signing key to its use.
const sealPurpose = "oidc signing key"

// rotationRetry is how long a failed scheduled rotation waits before the
// next try.
const rotationRetry = time.Minute

// signingKey is a private key the provider signs ID tokens with.
type signingKey struct {
	id      string
	alg     jose.SignatureAlgorithm
	key     crypto.Signer
	created time.Time
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a key served in the JWKS.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.key.Public() }

// ParseAlgorithm checks a signing algorithm's name: RS256 or ES256.
func ParseAlgorithm(s string) (jose.SignatureAlgorithm, error) {
	switch alg := jose.SignatureAlgorithm(s); alg {
	case jose.RS256, jose.ES256:
		return alg, nil
	}
	return "", fmt.Errorf("%q is not a signing algorithm: want RS256 or ES256", s)
}

// newSigningKey makes a key for alg (RS256 or ES256).
func newSigningKey(alg jose.SignatureAlgorithm) (*signingKey, error) {
	var key crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("oidcprovider: signing algorithm %s: want RS256 or ES256", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("oidcprovider: make signing key: %w", err)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &signingKey{id: hex.EncodeToString(id), alg: alg, key: key}, nil
}

// storedKeys returns the stored keys of use (store.OIDCSigningKey.Use),
// newest first.
func storedKeys(c *core.Core, use string) ([]*store.OIDCSigningKey, error) {
	all, err := c.Store().OIDCKeys().List()
	if err != nil {
		return nil, err
	}
	var out []*store.OIDCSigningKey
	for _, k := range all {
		if k.Use == use {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// loadKeys returns the stored keys of use, newest first, making and
// storing one of alg when there is none.
func loadKeys(c *core.Core, use string, alg jose.SignatureAlgorithm) ([]*signingKey, error) {
	stored, err := storedKeys(c, use)
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		if _, err := rotateStored(c, use, alg); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		if stored, err = storedKeys(c, use); err != nil {
			return nil, err
		}
	}
	var out []*signingKey
	for _, s := range stored {
		der, err := c.Open(s.Sealed, sealPurpose)
		if err != nil {
			return nil, fmt.Errorf("oidcprovider: open signing key %s: %w", s.ID, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("oidcprovider: signing key %s: %w", s.ID, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("oidcprovider: signing key %s: not a signing key", s.ID)
		}
		alg, err := ParseAlgorithm(s.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("oidcprovider: signing key %s: %w", s.ID, err)
		}
		out = append(out, &signingKey{id: s.ID, alg: alg, key: signer, created: s.CreatedAt})
	}
	return out, nil
}

// RotateKeys makes a new signing key of alg in the store, for a provider
// that is not running (a running one rotates with Provider.RotateKeys):
// it signs from the provider's start on, the key it replaces stays in the
// JWKS, and older ones are dropped. It returns the new key's id, audited
// as actor's.
func RotateKeys(c *core.Core, actor *core.Actor, alg jose.SignatureAlgorithm) (string, error) {
	id, err := rotateStored(c, "", alg)
	if err != nil {
		return "", err
	}
	c.Audit(actor, store.Event{Action: "oidc.keys_rotated", Resource: "oidc key:" + id, Outcome: core.OutcomeSuccess,
		Reason: "new " + string(alg) + " signing key"})
	return id, nil
}

// rotateStored stores a new key of use and alg, keeps the current one of
// use as the previous key and drops the older ones of use.
func rotateStored(c *core.Core, use string, alg jose.SignatureAlgorithm) (string, error) {
	k, err := newSigningKey(alg)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return "", fmt.Errorf("oidcprovider: encode signing key: %w", err)
	}
	old, err := storedKeys(c, use)
	if err != nil {
		return "", err
	}
	var drop []string
	for i, o := range old {
		if i >= 1 { // keep the current one as the previous key
			drop = append(drop, o.ID)
		}
	}
	// The new key is the newest even when the clock stands still or went
	// back since the current one was made.
	created := c.Now()
	if len(old) > 0 && !created.After(old[0].CreatedAt) {
		created = old[0].CreatedAt.Add(time.Nanosecond)
	}
	err = c.Store().OIDCKeys().Put(&store.OIDCSigningKey{ID: k.id, Algorithm: string(alg), Use: use, Sealed: c.Seal(der, sealPurpose), CreatedAt: created}, drop...)
	return k.id, err
}

// RotateKeys makes a new current signing key, which signs every token
// from now on; the key it replaces stays in the JWKS so that tokens it
// signed still verify, and the one before is dropped. It returns the new
// key's id, audited as actor's.
func (p *Provider) RotateKeys(actor *core.Actor) (string, error) {
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	return p.rotateLocked(actor)
}

func (p *Provider) rotateLocked(actor *core.Actor) (string, error) {
	id, err := RotateKeys(p.core, actor, p.cfg.Algorithm)
	if err != nil {
		return "", err
	}
	keys, err := loadKeys(p.core, "", p.cfg.Algorithm)
	if err != nil {
		return "", err
	}
	p.keys.Store(&keys)
	return id, nil
}

// signingKeys returns the keys, newest (current) first. On the schedule
// (Config.KeyRotation) it first rotates a current key that is too old, or
// whose algorithm is no longer the configured one.
func (p *Provider) signingKeys() []*signingKey {
	keys := *p.keys.Load()
	if !p.rotationDue(keys) {
		return keys
	}
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	keys = *p.keys.Load()
	if !p.rotationDue(keys) || p.core.Now().Before(p.retryAt) {
		return keys
	}
	if _, err := p.rotateLocked(&core.Actor{Via: core.ViaOIDC}); err != nil {
		p.retryAt = p.core.Now().Add(rotationRetry)
		p.core.Log().Error("oidc: scheduled signing key rotation failed", "error", err)
	}
	return *p.keys.Load()
}

// rotationDue reports whether the current key must be replaced: another
// algorithm than the configured one, or older than KeyRotation.
func (p *Provider) rotationDue(keys []*signingKey) bool {
	cur := keys[0]
	if cur.alg != p.cfg.Algorithm {
		return true
	}
	return p.cfg.KeyRotation > 0 && !p.core.Now().Before(cur.created.Add(p.cfg.KeyRotation))
}
