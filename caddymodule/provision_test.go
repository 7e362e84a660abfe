package caddymodule

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/store"
)

// loadGatehouseJSON loads a Caddy JSON config whose only app is gatehouse
// with the given options (admin endpoint off).
func loadGatehouseJSON(t *testing.T, app map[string]any) error {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{
		"admin": map[string]any{"disabled": true},
		"apps":  map[string]any{"gatehouse": app},
	})
	if err != nil {
		t.Fatal(err)
	}
	return caddy.Load(cfg, true)
}

// TestBadConfigCreatesNoStorage: a config the gatehouse app refuses is
// refused before the storage directory is created (or the store opened),
// including mistakes only found once the whole config is read.
func TestBadConfigCreatesNoStorage(t *testing.T) {
	t.Cleanup(func() { _ = caddy.Stop() })
	oidc := func(p map[string]any) []any { return []any{p} }
	tests := []struct {
		name string
		app  map[string]any
		want string
	}{
		{"cookie domain not containing the portal", map[string]any{"cookie_domain": "other.com"}, "cookie domain"},
		{"bad cookie name", map[string]any{"cookie_name": "my session"}, "cookie name"},
		{"negative invite lifetime", map[string]any{"invite_lifetime": -1}, "invite_lifetime"},
		{"smtp without from", map[string]any{"smtp": map[string]any{"host": "mail.example.com"}}, "from is required"},
		{"oidc without client id", map[string]any{"oidc": oidc(map[string]any{"name": "corp", "issuer": "https://sso.example.com"})},
			"client_id is required"},
		{"oidc twice", map[string]any{"oidc": []any{
			map[string]any{"name": "corp", "issuer": "https://a.example.com", "client_id": "x"},
			map[string]any{"name": "corp", "issuer": "https://b.example.com", "client_id": "y"}}}, "configured twice"},
		{"duplicate header names", map[string]any{"headers": map[string]any{"email": "Remote-User"}}, "both use"},
		{"negative session idle", map[string]any{"session": map[string]any{"idle": -1}}, "session idle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "gatehouse")
			tc.app["storage"] = dir
			tc.app["portal_url"] = "http://auth.example.com"
			err := loadGatehouseJSON(t, tc.app)
			if err == nil {
				_ = caddy.Stop()
				t.Fatal("config loaded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the storage directory exists after a refused config (stat: %v)", err)
			}
		})
	}
}

// TestFailedProvisionReleasesStore: when provisioning fails after the
// store was opened (here: a damaged server key beside the database), the
// store is let go of, so its Badger lock is free, both on a first start and
// on a reload next to a running config; once the key is fixed the same
// storage loads again.
func TestFailedProvisionReleasesStore(t *testing.T) {
	t.Cleanup(func() { _ = caddy.Stop() })
	dir := filepath.Join(t.TempDir(), "gatehouse")
	keyFile := filepath.Join(dir, secretKeyFile)
	app := func(title string) map[string]any {
		// The cookie name makes each config differ, so Caddy reloads.
		return map[string]any{"storage": dir, "portal_url": "http://auth.example.com", "cookie_name": title}
	}
	// lockFree reports whether another handle can open the database, that
	// is whether no open store holds its lock.
	lockFree := func() error {
		st, err := store.Open(dir, store.Options{})
		if err != nil {
			return err
		}
		return st.Close()
	}
	damageKey := func() {
		t.Helper()
		if err := os.WriteFile(keyFile, []byte("short"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// First start with a damaged key.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	damageKey()
	if err := loadGatehouseJSON(t, app("a")); err == nil || !strings.Contains(err.Error(), "server key") {
		t.Fatalf("load with a damaged key: %v, want a server key error", err)
	}
	if err := lockFree(); err != nil {
		t.Fatalf("after the failed start the store is still open: %v", err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := loadGatehouseJSON(t, app("a")); err != nil {
		t.Fatalf("load once the key is fixed: %v", err)
	}

	// A reload that fails the same way leaves the running config's store
	// open, and stopping that config closes it.
	good, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	damageKey()
	if err := loadGatehouseJSON(t, app("b")); err == nil {
		t.Fatal("reload with a damaged key loaded")
	}
	if err := os.WriteFile(keyFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := lockFree(); err == nil {
		t.Fatal("the running config's store was closed by the failed reload")
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := lockFree(); err != nil {
		t.Fatalf("after stopping, the store is still open: %v", err)
	}
}
