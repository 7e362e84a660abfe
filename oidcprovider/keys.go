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

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// sealPurpose binds a sealed signing key to its use.
const sealPurpose = "oidc signing key"

// signingKey is a private key the provider signs ID tokens with.
type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.Signer
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

// loadKeys returns the stored keys, newest first, making and storing one
// of alg when there is none.
func loadKeys(c *core.Core, alg jose.SignatureAlgorithm) ([]*signingKey, error) {
	stored, err := c.Store().OIDCSigningKeys()
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		if _, err := RotateKeys(c, alg); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		if stored, err = c.Store().OIDCSigningKeys(); err != nil {
			return nil, err
		}
	}
	sort.Slice(stored, func(i, j int) bool { return stored[i].CreatedAt.After(stored[j].CreatedAt) })
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
		out = append(out, &signingKey{id: s.ID, alg: jose.SignatureAlgorithm(s.Algorithm), key: signer})
	}
	return out, nil
}

// RotateKeys makes a new signing key of alg, which signs from the next
// start on; the key it replaces stays in the JWKS, and older ones are
// dropped. It returns the new key's id.
func RotateKeys(c *core.Core, alg jose.SignatureAlgorithm) (string, error) {
	k, err := newSigningKey(alg)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return "", fmt.Errorf("oidcprovider: encode signing key: %w", err)
	}
	old, err := c.Store().OIDCSigningKeys()
	if err != nil {
		return "", err
	}
	sort.Slice(old, func(i, j int) bool { return old[i].CreatedAt.After(old[j].CreatedAt) })
	var drop []string
	for i, o := range old {
		if i >= 1 { // keep the current one as the previous key
			drop = append(drop, o.ID)
		}
	}
	err = c.Store().PutOIDCSigningKey(&store.OIDCSigningKey{ID: k.id, Algorithm: string(alg), Sealed: c.Seal(der, sealPurpose), CreatedAt: c.Now()}, drop...)
	return k.id, err
}
