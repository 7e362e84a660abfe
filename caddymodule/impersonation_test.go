package caddymodule

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var csrfInPage = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestImpersonationThroughCaddy: an admin impersonates a user through the
// API of a real Caddy; the app behind the guard sees the user plus the
// impersonator header (client-sent copies stripped, no token forwarded);
// the portal shows the banner whose Stop returns to the admin; the owner
// cannot be impersonated by an admin.
func TestImpersonationThroughCaddy(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("adam", ownerPW, "admin", "admins")
	h.addUser("alice", alicePW, "user", "staff")

	api := func(c *http.Client, method, path string) (int, []byte) {
		t.Helper()
		resp, b := do(t, c, method, h.portalURL(path), nil, jsonAPI)
		return resp.StatusCode, b
	}
	whoami := func(c *http.Client) (string, string) {
		t.Helper()
		got, b := api(c, "GET", "/api/v1/me")
		var me struct {
			User    struct{ Username string }
			Session struct{ Impersonator string }
		}
		if got != 200 || json.Unmarshal(b, &me) != nil {
			t.Fatalf("/me: %d %s", got, b)
		}
		return me.User.Username, me.Session.Impersonator
	}

	admin := h.client()
	h.apiLogin(admin, "adam", ownerPW)

	if got, b := api(admin, "POST", "/api/v1/users/olga/impersonate"); got != 403 {
		t.Fatalf("admin impersonates the owner: %d %s, want 403", got, b)
	}
	if got, b := api(admin, "POST", "/api/v1/users/alice/impersonate"); got != 200 || !strings.Contains(string(b), `"impersonator":"adam"`) {
		t.Fatalf("admin impersonates alice: %d %s", got, b)
	}
	if user, by := whoami(admin); user != "alice" || by != "adam" {
		t.Fatalf("/me while impersonating: %q by %q", user, by)
	}

	t.Run("the app sees the user and the impersonator", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.appURL("/"), nil)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Remote-Impersonator", "mallory")
		req.Header["Remote_Impersonator"] = []string{"mallory"}
		resp, err := admin.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("app: %d", resp.StatusCode)
		}
		got, _ := h.lastSeen()
		for k, want := range map[string]string{"Remote-User": "alice", "Remote-Groups": "staff", "Remote-Impersonator": "adam"} {
			if v := got.Values(k); len(v) != 1 || v[0] != want {
				t.Errorf("%s = %q, want exactly %q", k, v, want)
			}
		}
		//lint:ignore SA1008 the upstream echoes a client's non-canonical spelling as sent
		if v := got["Remote_Impersonator"]; v != nil {
			t.Errorf("a client-sent Remote_Impersonator reached the app: %q", v)
		}
		if ck := got.Get("Cookie"); strings.Contains(ck, "gatehouse_session") {
			t.Errorf("a session token reached the app: %q", ck)
		}
		// Access follows the impersonated user: alice is not in admins.
		if resp, _ := do(t, admin, "GET", h.adminsURL("/"), nil, jsonAPI); resp.StatusCode != 403 {
			t.Errorf("admins-only app while acting as alice: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("a client-sent impersonator header is stripped", func(t *testing.T) {
		alice := h.client()
		h.apiLogin(alice, "alice", alicePW)
		resp, _ := do(t, alice, "GET", h.appURL("/"), nil, map[string]string{"Accept": "application/json", "Remote-Impersonator": "adam"})
		if resp.StatusCode != 200 {
			t.Fatalf("app: %d", resp.StatusCode)
		}
		got, _ := h.lastSeen()
		if v := got.Values("Remote-Impersonator"); len(v) != 0 {
			t.Fatalf("alice's own request reached the app with Remote-Impersonator %q", v)
		}
		before := h.upstreamHits()
		resp, _ = do(t, h.client(), "GET", h.appURL("/"), nil, map[string]string{"Accept": "application/json", "Remote-Impersonator": "adam"})
		if resp.StatusCode != 401 || h.upstreamHits() != before {
			t.Fatalf("anonymous request with the header: %d", resp.StatusCode)
		}
	})

	t.Run("the portal shows the banner and Stop returns to the admin", func(t *testing.T) {
		resp, b := do(t, admin, "GET", h.portalURL("/"), nil, browser)
		page := string(b)
		if resp.StatusCode != 200 || !strings.Contains(page, "are acting as <strong>alice</strong>") {
			t.Fatalf("portal home while impersonating: %d, no banner", resp.StatusCode)
		}
		m := csrfInPage.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no csrf token on the page")
		}
		body, hdr := formBody("csrf", m[1])
		resp, _ = do(t, admin, "POST", h.portalURL("/impersonation/stop"), body, hdr)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("stop: %d", resp.StatusCode)
		}
		if user, by := whoami(admin); user != "adam" || by != "" {
			t.Fatalf("/me after stop: %q by %q", user, by)
		}
		if _, b := do(t, admin, "GET", h.portalURL("/"), nil, browser); strings.Contains(string(b), "are acting as") {
			t.Fatal("banner after stop")
		}
		if resp, _ := do(t, admin, "GET", h.adminsURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
			t.Fatalf("adam's own app after stop: %d", resp.StatusCode)
		}
	})

	t.Run("stop through the API", func(t *testing.T) {
		if got, b := api(admin, "POST", "/api/v1/users/alice/impersonate"); got != 200 {
			t.Fatalf("start again: %d %s", got, b)
		}
		if got, b := api(admin, "DELETE", "/api/v1/impersonation"); got != 200 || !strings.Contains(string(b), `"username":"adam"`) {
			t.Fatalf("DELETE /api/v1/impersonation: %d %s", got, b)
		}
		if user, by := whoami(admin); user != "adam" || by != "" {
			t.Fatalf("/me after the API stop: %q by %q", user, by)
		}
		resp, _ := do(t, admin, "GET", h.appURL("/"), nil, jsonAPI)
		seen, _ := h.lastSeen()
		if resp.StatusCode != 200 || seen.Get("Remote-User") != "adam" || seen.Get("Remote-Impersonator") != "" {
			t.Fatalf("app after stop: %d, user %q impersonator %q", resp.StatusCode, seen.Get("Remote-User"), seen.Get("Remote-Impersonator"))
		}
	})
}

// TestImpersonatorHeaderConfig: the impersonator header is renamed with
// `headers { impersonator NAME }` and may not share a name with another
// identity header, its default included.
func TestImpersonatorHeaderConfig(t *testing.T) {
	if err := checkHeaderNames(HeaderNames{Impersonator: "X-Acting-Admin"}); err != nil {
		t.Fatalf("a custom name: %v", err)
	}
	for _, hn := range []HeaderNames{
		{Impersonator: "Remote-User"},
		{User: "Remote-Impersonator"},
		{Groups: "X-Admin", Impersonator: "x-admin"},
	} {
		if err := checkHeaderNames(hn); err == nil || !strings.Contains(err.Error(), "both use") {
			t.Errorf("%+v: %v, want a clash", hn, err)
		}
	}
	cf := "{\n\tgatehouse {\n\t\tportal_url http://localhost\n\t\theaders {\n\t\t\timpersonator Remote-User\n\t\t}\n\t}\n\tadmin off\n}\n\n:0 {\n\tgatehouse_portal\n}\n"
	if err := loadCaddyfile(cf); err == nil || !strings.Contains(err.Error(), "both use") {
		t.Fatalf("Caddyfile with a clashing impersonator header: %v", err)
	}
}
