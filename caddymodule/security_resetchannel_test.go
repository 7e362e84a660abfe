package caddymodule

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecurityResetChannel: a user's email and fallback addresses both
// receive her reset links, so changing them is an admin credential action
// (principle 2). Before, an admin's leaked API key could set any user's
// fallback address — the admin's own included — to the attacker's, then
// ask "Forgot password?" and receive the link.
func TestSecurityResetChannel(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	h.addUser("uma", ownerPW, "user_manager")
	uma := h.client()
	h.apiLogin(uma, "uma", ownerPW)
	umaKey := secKey(t, h, uma, "inherit")

	refused := []struct {
		name, who, path, body, want string
	}{
		{"a key sets another user's email", "key", "/api/v1/users/alice", `{"email":"attacker@example.net"}`, "API key"},
		{"a key sets another user's fallback", "key", "/api/v1/users/alice", `{"fallback_email":"attacker@example.net"}`, "API key"},
		{"a key sets its owner's fallback", "key", "/api/v1/users/uma", `{"fallback_email":"attacker@example.net"}`, "API key"},
		{"a session sets its own fallback", "session", "/api/v1/users/uma", `{"fallback_email":"attacker@example.net"}`, "another administrator"},
		{"a session sets its own email", "session", "/api/v1/users/uma", `{"email":"attacker@example.net"}`, "profile"},
	}
	for _, tc := range refused {
		var got int
		var b []byte
		if tc.who == "key" {
			got, b = secKeyAPI(t, h, umaKey, "PATCH", tc.path, tc.body)
		} else {
			got, b = secAPI(t, h, uma, "PATCH", tc.path, tc.body)
		}
		if got != http.StatusForbidden || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %d %s, want 403 mentioning %q", tc.name, got, b, tc.want)
		}
	}
	for _, name := range []string{"alice", "uma"} {
		got, b := secAPI(t, h, olga, "GET", "/api/v1/users/"+name, "")
		if got != http.StatusOK || strings.Contains(string(b), "attacker@") {
			t.Errorf("%s after the refusals: %d %s", name, got, b)
		}
	}

	// What stays allowed: a key changes another user's name, a session
	// another user's addresses (trusted as set), and a key sends the
	// address the user already has.
	allowed := []struct {
		name, who, path, body string
	}{
		{"a key renames alice", "key", "/api/v1/users/alice", `{"full_name":"Alice L."}`},
		{"a key resends alice's address", "key", "/api/v1/users/alice", `{"email":"ALICE@example.com"}`},
		{"a session sets alice's fallback", "session", "/api/v1/users/alice", `{"fallback_email":"alice.home@example.org"}`},
		{"a session sets alice's email", "session", "/api/v1/users/alice", `{"email":"alice@example.org"}`},
	}
	for _, tc := range allowed {
		var got int
		var b []byte
		if tc.who == "key" {
			got, b = secKeyAPI(t, h, umaKey, "PATCH", tc.path, tc.body)
		} else {
			got, b = secAPI(t, h, uma, "PATCH", tc.path, tc.body)
		}
		if got != http.StatusOK {
			t.Errorf("%s: %d %s, want 200", tc.name, got, b)
		}
	}
}
