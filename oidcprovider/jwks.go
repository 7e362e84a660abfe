package oidcprovider

import (
	"context"
	"encoding/json"
	"net/http"

	jose "github.com/go-jose/go-jose/v4"
)

// JWKSPath is the portal's well-known address of the JWKS: the same key
// set as the provider's jwks_uri (keysPath), served by the portal even
// when the provider does not run, for the identity assertions.
const JWKSPath = "/.well-known/jwks.json"

// JWKS returns the published key set: the ID-token keys (the current one
// and the previous one) and, when identity assertions are on
// (Config.Assertions), the assertion keys.
func (p *Provider) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	keys, _ := storage{p}.KeySet(context.Background())
	for _, k := range keys {
		if pk, ok := k.(publicKey); ok {
			set.Keys = append(set.Keys, jsonWebKey(pk))
		}
	}
	if p.cfg.Assertions != nil {
		set.Keys = append(set.Keys, p.cfg.Assertions.publicKeys()...)
	}
	return set
}

// WriteJWKS answers a JWKS request with set. Anyone may read it, from
// any origin: the keys are public.
func WriteJWKS(w http.ResponseWriter, set jose.JSONWebKeySet) {
	b, err := json.Marshal(set)
	if err != nil {
		http.Error(w, "the key set could not be encoded", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(b)
}
