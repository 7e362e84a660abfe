package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/oidcprovider"
)

// OIDCProviderConfig configures Gatehouse's own OpenID Connect provider
// (the apps with an oidc block are its clients):
//
//	oidc_provider {
//		signing_algorithm RS256|ES256
//		key_rotation 2160h
//	}
//
// It is not the `oidc <name>` block, which configures an external
// provider people sign in with.
type OIDCProviderConfig struct {
	// SigningAlgorithm signs ID tokens: RS256 or ES256. Default: RS256.
	// A change takes effect at the next start, by a key rotation (the
	// key of the old algorithm stays in the JWKS as the previous key).
	SigningAlgorithm string `json:"signing_algorithm,omitempty"`
	// KeyRotation rotates the signing key once it is this old; the key
	// it replaces stays in the JWKS. 0 (default): rotation by
	// `caddy gatehouse oidc rotate-keys` only.
	KeyRotation caddy.Duration `json:"key_rotation,omitempty"`
}

// minKeyRotation is the shortest key_rotation: a key must stay in the
// JWKS, as the previous one, longer than the ID tokens it signed live
// (one hour) and than relying parties cache the JWKS.
const minKeyRotation = 24 * time.Hour

// check checks the config, naming the option at fault.
func (c *OIDCProviderConfig) check() error {
	if c.SigningAlgorithm != "" {
		if _, err := oidcprovider.ParseAlgorithm(c.SigningAlgorithm); err != nil {
			return fmt.Errorf("oidc_provider: signing_algorithm: %w", err)
		}
	}
	if d := time.Duration(c.KeyRotation); d != 0 && d < minKeyRotation {
		return fmt.Errorf("oidc_provider: key_rotation %s: want at least %s (or 0 for rotation by command only)", d, minKeyRotation)
	}
	return nil
}

// parseOIDCProviderConfig parses the `oidc_provider { … }` block.
func parseOIDCProviderConfig(d *caddyfile.Dispenser) (*OIDCProviderConfig, error) {
	if d.NextArg() {
		return nil, d.Errf("gatehouse: oidc_provider: unexpected argument %q (options go in a block; the external providers people sign in with are `oidc <name> { … }`)", d.Val())
	}
	c := new(OIDCProviderConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch name := d.Val(); name {
		case "signing_algorithm":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if _, err := oidcprovider.ParseAlgorithm(v); err != nil {
				return nil, d.Errf("gatehouse: oidc_provider: signing_algorithm: %v", err)
			}
			c.SigningAlgorithm = v
		case "key_rotation":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < 0 {
				return nil, d.Errf("gatehouse: oidc_provider: key_rotation %q is not a duration (e.g. 2160h, 90d; 0 for rotation by command only)", v)
			}
			c.KeyRotation = caddy.Duration(dur)
			if err := c.check(); err != nil {
				return nil, d.Errf("gatehouse: %v", err)
			}
		default:
			return nil, d.Errf("gatehouse: oidc_provider: unknown subdirective %q (want signing_algorithm or key_rotation)", name)
		}
	}
	return c, nil
}

// oidcCommand is `caddy gatehouse oidc rotate-keys`.
func oidcCommand() *cobra.Command {
	oidc := &cobra.Command{Use: "oidc", Short: "Works with Gatehouse's OpenID Connect provider"}
	rotate := &cobra.Command{
		Use:   "rotate-keys [--json]",
		Short: "Makes a new signing key; the previous one stays in the JWKS",
		Args:  cobra.NoArgs,
		RunE:  caddycmd.WrapCommandFuncForCobra(cmdOIDCRotateKeys),
	}
	rotate.Flags().Bool("json", false, "Print the result as JSON")
	addAdminFlags(rotate)
	oidc.AddCommand(rotate)
	return oidc
}

// rotatedKeys is the answer of POST /gatehouse/oidc/rotate-keys.
type rotatedKeys struct {
	KeyID string `json:"kid"`
	// AssertionKeyID is the new key of the identity assertions, when
	// they are on (headers { jwt NAME }).
	AssertionKeyID string `json:"assertion_kid,omitempty"`
}

func cmdOIDCRotateKeys(fl caddycmd.Flags) (int, error) {
	var rep rotatedKeys
	if err := adminCall(fl, http.MethodPost, "/gatehouse/oidc/rotate-keys", []byte("{}"), &rep); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if fl.Bool("json") {
		return caddy.ExitCodeSuccess, json.NewEncoder(os.Stdout).Encode(rep)
	}
	fmt.Printf("new signing key %s: it signs from now on; the previous key stays in the JWKS until the next rotation\n", rep.KeyID)
	if rep.AssertionKeyID != "" {
		fmt.Printf("new identity assertion key %s: the same holds for it\n", rep.AssertionKeyID)
	}
	return caddy.ExitCodeSuccess, nil
}

// oidcRotateKeys is POST /gatehouse/oidc/rotate-keys on the admin API.
func (a *adminAPI) oidcRotateKeys(w http.ResponseWriter, r *http.Request) error {
	s := a.app.Service()
	keys, err := s.RotateOIDCKeys(s.CLIActor(clientIP(r), r.UserAgent()))
	if err != nil {
		return a.adminError(err)
	}
	return writeAdminJSON(w, http.StatusOK, rotatedKeys{KeyID: keys.IDToken, AssertionKeyID: keys.Assertion})
}
