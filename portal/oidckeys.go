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

// RotatedKeys names the new keys of RotateOIDCKeys.
type RotatedKeys struct {
	// IDToken is the new key of the provider's ID tokens.
	IDToken string
	// Assertion is the new key of the identity assertions; "" when they
	// are off (headers { jwt … } not set).
	Assertion string
}

// RotateOIDCKeys makes a new current signing key for the OpenID Connect
// provider: the running provider signs with it at once and keeps serving
// the previous key in its JWKS; a provider not started yet finds it in
// the store when it starts. When identity assertions are on, their key
// is rotated too, the previous one staying in the JWKS as well.
func (s *Service) RotateOIDCKeys(actor *core.Actor) (RotatedKeys, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	var out RotatedKeys
	var err error
	if p := s.op.Load(); p != nil {
		out.IDToken, err = p.RotateKeys(actor)
	} else {
		out.IDToken, err = oidcprovider.RotateKeys(s.core, actor, s.opKeys.alg)
	}
	if err != nil || s.assertions == nil {
		return out, err
	}
	if out.Assertion, err = s.assertions.Rotate(actor); err != nil {
		return out, fmt.Errorf("portal: rotate the identity assertion key: %w", err)
	}
	return out, nil
}
