package portal

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
)

// DirectoryStatus is the answer of GET /api/v1/directory.
type DirectoryStatus struct {
	// Enabled says whether an external directory is configured.
	Enabled bool `json:"enabled"`
	// LastSync is the report of the last synchronisation, or null.
	LastSync *core.SyncReport `json:"last_sync"`
}

// maxSyncTime bounds one synchronisation started from the portal or the
// CLI; it goes on when the client that asked for it hangs up.
const maxSyncTime = 10 * time.Minute

// syncContext is the context of a synchronisation asked for by r.
func syncContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), maxSyncTime)
}

// apiDirectory is GET /api/v1/directory.
func (s adminAPI) apiDirectory(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusOK, DirectoryStatus{Enabled: s.core.Directory.Enabled(), LastSync: s.core.Directory.LastSync()}, nil
	})
}

// apiDirectorySync is POST /api/v1/directory/sync: synchronise the
// accounts with the external directory and answer the report (200), 404
// when there is no directory, 503 when it cannot be reached, 409 while
// another synchronisation runs.
func (s adminAPI) apiDirectorySync(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		ctx, cancel := syncContext(r)
		defer cancel()
		rep, err := s.core.Directory.Sync(ctx, c)
		return http.StatusOK, rep, err
	})
}
