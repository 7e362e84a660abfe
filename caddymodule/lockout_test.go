package caddymodule

import (
	"strconv"
	"strings"
	"testing"
)

// TestLockoutAndThrottleThroughCaddy: five wrong passwords lock an account
// (the right one then gets the same answer as a wrong one) until an admin
// unlocks it; one address that keeps trying gets 429 with Retry-After.
func TestLockoutAndThrottleThroughCaddy(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("bob", bobPW, "user")

	login := func(pw string) (int, string) {
		t.Helper()
		// A new address each time: the lockout is per account, whoever
		// tries.
		resp, b := do(t, h.client(), "POST", h.portalURL("/api/v1/login"),
			strings.NewReader(`{"username":"bob","password":"`+pw+`"}`), jsonAPI)
		return resp.StatusCode, string(b)
	}
	_, wrongAnswer := login("Wrong-passw0rd")
	for range 4 {
		login("Wrong-passw0rd")
	}
	got, answer := login(bobPW)
	if got != 401 || answer != wrongAnswer {
		t.Fatalf("locked account with the right password: %d %s, want the wrong-password answer %s", got, answer, wrongAnswer)
	}
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)
	resp, b := do(t, owner, "GET", h.portalURL("/api/v1/users/bob"), nil, jsonAPI)
	if !strings.Contains(string(b), `"locked":true`) {
		t.Fatalf("admin view of bob: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, owner, "POST", h.portalURL("/api/v1/users/bob/unlock"), strings.NewReader(`{}`), jsonAPI); resp.StatusCode != 204 {
		t.Fatalf("unlock: %d %s", resp.StatusCode, b)
	}
	if got, b := login(bobPW); got != 200 {
		t.Fatalf("after unlock: %d %s", got, b)
	}

	// One address hammering the login gets 429 with Retry-After.
	c := h.client()
	var last int
	var retry string
	for i := 0; i < 30 && last != 429; i++ {
		resp, _ := do(t, c, "POST", h.portalURL("/api/v1/login"), strings.NewReader(`{"username":"nobody","password":"x"}`), jsonAPI)
		last, retry = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if n, err := strconv.Atoi(retry); last != 429 || err != nil || n < 1 {
		t.Fatalf("hammering: last status %d, Retry-After %q", last, retry)
	}
	// Another address is not affected.
	if got, _ := login(bobPW); got != 200 {
		t.Fatalf("another address after the throttle: %d", got)
	}
}
