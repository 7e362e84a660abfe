package caddymodule

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/store"
)

// stores shares one open store per storage directory (or PostgreSQL URL)
// across the process.
// Caddy provisions a new config before it cleans up the old one, and Badger
// locks its directory, so a reload must reuse the handle: each config holds a
// reference and the last one to let go closes the database.
var stores = caddy.NewUsagePool()

// storeHandle adapts *store.Store to caddy.Destructor for the pool.
type storeHandle struct{ *store.Store }

// Destruct closes the store when its last user is gone.
func (h storeHandle) Destruct() error { return h.Close() }

// openStore returns the shared store of dir, opening it on first use. Each
// successful call must be paired with releaseStore(dir).
func openStore(dir string, log *slog.Logger) (*store.Store, error) {
	v, _, err := stores.LoadOrNew(dir, func() (caddy.Destructor, error) {
		st, err := store.Open(dir, store.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		return storeHandle{st}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", store.RedactDSN(dir), err)
	}
	return v.(storeHandle).Store, nil
}

// releaseStore lets go of one reference to the shared store of dir; the
// last one closes it. App.Cleanup is its only caller.
func releaseStore(dir string) error {
	_, err := stores.Delete(dir)
	return err
}

// keyDirOf is the directory of the server key (secret.key) for the storage
// dir: dir itself, or Caddy's data directory + "/gatehouse" when the
// storage is a PostgreSQL URL (the key stays out of the database, so a
// copy of the database alone does not reveal TOTP secrets).
func keyDirOf(dir string) string {
	if store.IsPostgresURL(dir) {
		return filepath.Join(caddy.AppDataDir(), "gatehouse")
	}
	return dir
}
