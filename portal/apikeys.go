package portal

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// bearerKey returns the API key in the Authorization header, or "".
func bearerKey(h http.Header) string {
	v := firstValue(h, "Authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return ""
	}
	k := strings.TrimSpace(v[7:])
	if !strings.HasPrefix(k, core.KeyPrefix) {
		return ""
	}
	return k
}

// keyAllows applies a key's scope to an API request: read-only keys only
// read; app-scoped keys only reach their apps and GET /api/v1/me.
func keyAllows(c *caller, method, path string) error {
	if c.Key == nil {
		return nil
	}
	switch c.Key.Scope {
	case core.ScopeReadOnly:
		if method != http.MethodGet && method != http.MethodHead {
			return fmt.Errorf("%w: this API key is read-only", ErrForbidden)
		}
	case core.ScopeApps:
		if path != "/api/v1/me" || method != http.MethodGet {
			return fmt.Errorf("%w: this API key only opens its apps", ErrForbidden)
		}
	}
	return nil
}
