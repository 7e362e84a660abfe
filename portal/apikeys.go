package portal

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
)

// bearerKey returns the API key in the Authorization header, or "".
func bearerKey(h http.Header) string {
	v := h.Get("Authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return ""
	}
	k := strings.TrimSpace(v[7:])
	if !strings.HasPrefix(k, core.KeyPrefix) {
		return ""
	}
	return k
}

// keyCaller authenticates an API request by its bearer key. present is
// false when the request carries none.
func (s *Service) keyCaller(r *http.Request, now time.Time) (c *caller, present bool) {
	k := bearerKey(r.Header)
	if k == "" {
		return nil, false
	}
	c = s.clientActor(r)
	key, u, err := s.core.Credentials.CheckKey(c, k, now)
	if err != nil {
		return nil, true
	}
	c.User, c.Key, c.Credential = u, &key, core.CredKey
	c.Perms, _ = s.core.PermsOf(u.Role)
	return c, true
}

// keyAllows applies a key's scope to an API request: read-only keys only
// read; app-scoped keys only reach their apps and GET /api/v1/me.
func keyAllows(c *caller, r *http.Request) error {
	if c.Key == nil {
		return nil
	}
	switch c.Key.Scope {
	case core.ScopeReadOnly:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return fmt.Errorf("%w: this API key is read-only", ErrForbidden)
		}
	case core.ScopeApps:
		if r.URL.Path != "/api/v1/me" || r.Method != http.MethodGet {
			return fmt.Errorf("%w: this API key only opens its apps", ErrForbidden)
		}
	}
	return nil
}
