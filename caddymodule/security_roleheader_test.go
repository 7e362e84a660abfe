package caddymodule

import (
	"net/http"
	"testing"
)

// TestSecurityRoleHeader: the role header is off by default (no role
// reaches the app, and a client's Remote-Role is removed all the same);
// named in `headers { role … }`, it carries the user's role, built-in or
// custom, and a client's value, in any spelling, never reaches the app.
func TestSecurityRoleHeader(t *testing.T) {
	forged := func(name string) map[string]string {
		return map[string]string{"Accept": "application/json", name: "owner"}
	}
	// seen sends GET app as c with hdr (and the underscore spelling of
	// name) and returns every value of each spelling the app saw.
	seen := func(t *testing.T, h *harness, c *http.Client, name string) map[string][]string {
		t.Helper()
		req, _ := http.NewRequest("GET", h.appURL("/"), nil)
		for k, v := range forged(name) {
			req.Header.Set(k, v)
		}
		under := []byte(name)
		for i, b := range under {
			if b == '-' {
				under[i] = '_'
			}
		}
		req.Header[string(under)] = []string{"owner"}
		before := h.upstreamHits()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || h.upstreamHits() == before {
			t.Fatalf("GET app: %d", resp.StatusCode)
		}
		got, _ := h.lastSeen()
		out := map[string][]string{}
		for k, v := range got {
			if normHeader(k) == normHeader(name) {
				out[k] = v
			}
		}
		return out
	}

	t.Run("off by default", func(t *testing.T) {
		h, olga, alice := secOwnerAndAlice(t)
		for who, c := range map[string]*http.Client{"olga": olga, "alice": alice} {
			if v := seen(t, h, c, "Remote-Role"); len(v) != 0 {
				t.Errorf("%s: the app saw a role without a role header configured: %v", who, v)
			}
		}
	})

	t.Run("configured", func(t *testing.T) {
		h := newHarness(t)
		h.start(h.caddyfile("headers {\n\t\t\trole X-Gatehouse-Role\n\t\t}", ""))
		h.addUser("olga", ownerPW, "owner")
		olga := h.client()
		h.apiLogin(olga, "olga", ownerPW)
		if got, b := secAPI(t, h, olga, "POST", "/api/v1/roles", `{"name":"helpdesk","permissions":["users.read"]}`); got != 201 {
			t.Fatalf("create role: %d %s", got, b)
		}
		h.addUser("alice", alicePW, "user")
		h.addUser("hank", bobPW, "helpdesk")
		for _, tc := range []struct{ user, pw, want string }{
			{"olga", ownerPW, "owner"}, {"alice", alicePW, "user"}, {"hank", bobPW, "helpdesk"},
		} {
			c := h.client()
			h.apiLogin(c, tc.user, tc.pw)
			got := seen(t, h, c, "X-Gatehouse-Role")
			if len(got) != 1 || len(got["X-Gatehouse-Role"]) != 1 || got["X-Gatehouse-Role"][0] != tc.want {
				t.Errorf("%s: the app saw %v, want only X-Gatehouse-Role: %s", tc.user, got, tc.want)
			}
		}
	})

	t.Run("a clashing name is refused", func(t *testing.T) {
		if err := checkHeaderNames(HeaderNames{Role: "remote-user"}); err == nil {
			t.Error("role header named like the user header: accepted")
		}
		if err := checkHeaderNames(HeaderNames{Role: "Remote Role"}); err == nil {
			t.Error("role header with a space: accepted")
		}
	})
}
