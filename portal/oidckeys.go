package portal

import (
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/oidcprovider"
)

// oidcKeys configures the OpenID Connect provider's signing keys.
type oidcKeys struct {
	alg      jose.SignatureAlgorithm
	rotation time.Duration
}

func newOIDCKeys(alg string, rotation time.Duration) (oidcKeys, error) {
	k := oidcKeys{alg: jose.RS256, rotation: rotation}
	if alg != "" {
		a, err := oidcprovider.ParseAlgorithm(alg)
		if err != nil {
			return oidcKeys{}, fmt.Errorf("portal: oidc provider: %w", err)
		}
		k.alg = a
	}
	if rotation < 0 {
		return oidcKeys{}, fmt.Errorf("portal: oidc provider: key rotation %s: want a positive duration, or 0 for manual rotation", rotation)
	}
	return k, nil
}

// RotateOIDCKeys makes a new current signing key for the OpenID Connect
// provider and returns its id: the running provider signs with it at
// once and keeps serving the previous key in its JWKS; a provider not
// started yet finds it in the store when it starts.
func (s *Service) RotateOIDCKeys(actor *core.Actor) (string, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if p := s.op.Load(); p != nil {
		return p.RotateKeys(actor)
	}
	return oidcprovider.RotateKeys(s.core, actor, s.opKeys.alg)
}
