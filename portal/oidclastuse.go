package portal

import (
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// appsLastUse returns when the OpenID Connect provider last issued each
// app tokens: from the running provider (current to the request), else as
// last stored.
func appsLastUse(s *Service) map[string]time.Time {
	if p := s.op.Load(); p != nil {
		return p.LastUsed()
	}
	used, err := store.OIDCActivityOf(s.store).LastUse()
	if err != nil {
		s.log.Warn("apps: last use unavailable", "error", err)
	}
	return used
}

// withLastUse sets v's LastUsedAt from used.
func withLastUse(v AppView, used map[string]time.Time) AppView {
	if t, ok := used[v.Name]; ok {
		v.LastUsedAt = &t
	}
	return v
}
