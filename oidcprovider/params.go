package oidcprovider

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-auth/gatehouse/core"
)

// The request parsers the provider owns, pure so that they can be fuzzed
// (params_fuzz_test.go). The library parses the same requests again with
// a decoder that takes the last of repeated parameters where url.Values.Get
// takes the first: every parameter these checks read must therefore
// appear once, or the library could act on a value they never saw.

// Problems of an /authorize request that are shown on the portal, never
// sent to a redirect URI.
var (
	errRepeatedParam  = errors.New("a parameter is repeated")
	errUnknownClient  = errors.New("unknown client")
	errRedirectNotReg = errors.New("redirect_uri not registered")
)

// checkAuthorizeParams checks what an /authorize request must get right
// before anything may be sent to its redirect URI: no parameter repeated
// (RFC 6749 §3.1), a known client (c, nil when client_id names none) and
// a redirect_uri that is exactly one of the client's.
func checkAuthorizeParams(form url.Values, c *core.OIDCClient) error {
	// The library's form decoder matches names in any case and keeps the
	// last value: a name given twice, in any spelling, is refused, or it
	// could read a redirect_uri this check never saw.
	seen := make(map[string]bool, len(form))
	for k, vs := range form {
		lower := strings.ToLower(k)
		if len(vs) > 1 || seen[lower] {
			return errRepeatedParam
		}
		seen[lower] = true
	}
	if c == nil || form.Get("client_id") == "" {
		return errUnknownClient
	}
	if uri := form.Get("redirect_uri"); uri == "" || !c.AllowsRedirect(uri) {
		return errRedirectNotReg
	}
	return nil
}

// checkPKCE checks an authorization request's PKCE parameters (RFC 7636):
// S256 only, a challenge of 43 to 128 unreserved characters, and one is
// required from a public client.
func checkPKCE(challenge string, method oidc.CodeChallengeMethod, public bool) error {
	switch {
	case challenge == "" && method != "":
		return errors.New("code_challenge_method without code_challenge")
	case challenge == "" && public:
		return errors.New("PKCE (S256) is required for this client")
	case challenge == "":
		return nil
	case method != oidc.CodeChallengeMethodS256:
		return errors.New("code_challenge_method must be S256")
	case len(challenge) < 43 || len(challenge) > 128 || strings.IndexFunc(challenge, notUnreserved) >= 0:
		return errors.New("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	return nil
}

func notUnreserved(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~')
}

// clientCredentials are a client's credentials from a token,
// introspection or revocation request.
type clientCredentials struct {
	id, secret string
	// basic: they came in the Authorization header (client_secret_basic),
	// else from the form (client_secret_post, or none for a public client).
	basic bool
}

// Problems with a request's client credentials (RFC 6749 §2.3: one
// method per request; §2.3.1: not in the request URI).
var (
	errAuthMethods   = errors.New("client authentication must use one method")
	errAuthInQuery   = errors.New("client credentials must not be in the request URI")
	errAuthCase      = errors.New("client authentication parameters are spelled in lower case")
	errAuthRepeated  = errors.New("a client authentication parameter is repeated")
	errAuthHeader    = errors.New("the Authorization header could not be read")
	errAuthAssertion = errors.New("client assertions are not supported")
)

// credentialParams are the form parameters of client authentication.
var credentialParams = []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"}

// parseClientAuth reads the client's credentials from the Authorization
// header values (client_secret_basic: RFC 7617, with the id and secret
// form-urlencoded first as RFC 6749 §2.3.1 says) or from the form (the
// body and the query, as http.Request.Form merges them), with query the
// request URI's parameters alone.
func parseClientAuth(authorization []string, form, query url.Values) (clientCredentials, error) {
	// The library's form decoder matches names in any case: a
	// "CLIENT_ID" it would read and this check would not is refused.
	for _, vals := range []url.Values{form, query} {
		for k := range vals {
			for _, p := range credentialParams {
				if k != p && strings.EqualFold(k, p) {
					return clientCredentials{}, errAuthCase
				}
			}
		}
	}
	for _, p := range credentialParams {
		if query.Has(p) {
			return clientCredentials{}, errAuthInQuery
		}
		if len(form[p]) > 1 {
			return clientCredentials{}, errAuthRepeated
		}
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return clientCredentials{}, errAuthAssertion
	}
	if len(authorization) > 1 {
		return clientCredentials{}, errAuthHeader
	}
	if len(authorization) == 1 {
		if id, secret, basic, ok := parseBasic(authorization[0]); basic {
			if !ok {
				return clientCredentials{}, errAuthHeader
			}
			var err1, err2 error
			id, err1 = url.QueryUnescape(id)
			secret, err2 = url.QueryUnescape(secret)
			switch {
			case err1 != nil || err2 != nil:
				return clientCredentials{}, errAuthHeader
			case form.Has("client_secret"), form.Has("client_id") && form.Get("client_id") != id:
				return clientCredentials{}, errAuthMethods
			}
			return clientCredentials{id: id, secret: secret, basic: true}, nil
		}
		// Another scheme is not client authentication; as the library
		// does, the form is read.
	}
	return clientCredentials{id: form.Get("client_id"), secret: form.Get("client_secret")}, nil
}

// parseBasic reads an Authorization header of the Basic scheme (basic)
// as net/http's Request.BasicAuth does, which the library reads it with;
// ok is false when it does not decode.
func parseBasic(h string) (user, pass string, basic, ok bool) {
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false, false
	}
	b, err := base64.StdEncoding.DecodeString(h[len(prefix):])
	if err != nil {
		return "", "", true, false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, true, ok
}
