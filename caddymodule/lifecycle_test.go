package caddymodule

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestSessionsSurviveRestartAndReload signs in, then stops and starts Caddy,
// reloads it in-process with a changed config, and reloads it through the
// admin API (what `caddy reload` does): the session keeps working
// throughout, and the changed config takes effect.
func TestSessionsSurviveRestartAndReload(t *testing.T) {
	sessionsSurviveRestartAndReload(t, newHarness(t))
}

// sessionsSurviveRestartAndReload is TestSessionsSurviveRestartAndReload on
// h's storage (Badger or PostgreSQL).
func sessionsSurviveRestartAndReload(t *testing.T, h *harness) {
	cf := h.caddyfile("", "")
	h.start(cf)
	h.addUser("alice", alicePW, "user", "staff")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	mustReach := func(step string, u string, want int) {
		t.Helper()
		if resp, b := do(t, alice, "GET", u, nil, jsonAPI); resp.StatusCode != want {
			t.Fatalf("%s: %s answered %d %s, want %d", step, u, resp.StatusCode, b, want)
		}
	}
	mustReach("signed in", h.appURL("/"), 200)
	mustReach("signed in", h.adminsURL("/"), 403)

	// Full stop and start: the store is closed and opened again.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	h.start(cf)
	mustReach("after stop/start", h.appURL("/"), 200)

	// In-process reload with a changed config: staff may now use admins-only.
	changed := strings.Replace(cf, "allow_groups admins", "allow_groups admins staff", 1)
	h.start(changed)
	mustReach("after reload", h.appURL("/"), 200)
	mustReach("after reload with staff allowed", h.adminsURL("/"), 200)

	// Reload through the admin API with the original Caddyfile.
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/load", h.admin), bytes.NewReader([]byte(cf)))
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("admin reload: %d", resp.StatusCode)
	}
	mustReach("after admin reload", h.appURL("/"), 200)
	mustReach("after admin reload, staff no longer allowed", h.adminsURL("/"), 403)

	// Logout still revokes on the next request after all that.
	if resp, _ := do(t, alice, "POST", h.portalURL("/api/v1/logout"), nil, jsonAPI); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	mustReach("after logout", h.appURL("/"), 401)
}
