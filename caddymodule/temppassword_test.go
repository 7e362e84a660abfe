package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTempPasswordThroughCaddy: an admin's temporary password signs the
// user in once, next to their own password, which keeps working; the audit
// log names the admin. (Its expiry is tested with a fake clock in portal.)
func TestTempPasswordThroughCaddy(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)

	resp, b := do(t, owner, "POST", h.portalURL("/api/v1/users/alice/temp-password"), strings.NewReader(`{}`), jsonAPI)
	if resp.StatusCode != 201 {
		t.Fatalf("temp password: %d %s", resp.StatusCode, b)
	}
	var tp struct {
		Password  string `json:"password"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(b, &tp); err != nil || tp.Password == "" || tp.ExpiresAt == "" {
		t.Fatalf("answer %s", b)
	}
	login := func(pw string) int {
		resp, _ := do(t, h.client(), "POST", h.portalURL("/api/v1/login"),
			strings.NewReader(`{"username":"alice","password":"`+pw+`"}`), jsonAPI)
		return resp.StatusCode
	}
	c := h.client()
	h.apiLogin(c, "alice", tp.Password)
	if got, _ := do(t, c, "GET", h.appURL("/"), nil, jsonAPI); got.StatusCode != 200 {
		t.Fatalf("app after a temporary-password sign-in: %d", got.StatusCode)
	}
	if got := login(tp.Password); got != 401 {
		t.Errorf("temporary password used twice: %d", got)
	}
	if got := login(alicePW); got != 200 {
		t.Errorf("alice's own password after the temporary one: %d", got)
	}
	_, b = do(t, owner, "GET", h.portalURL("/api/v1/audit?user=alice&action=login"), nil, jsonAPI)
	if !strings.Contains(string(b), "temporary password made by olga") {
		t.Errorf("audit does not name the admin: %s", b)
	}
}
