package caddymodule

import (
	"fmt"
	"net/http"
	"testing"
)

// TestSecurityReproofGuesses: the current password typed to confirm a
// change (password, email, factors) is a guess like one at the sign-in. A
// stolen session cannot try passwords without end: after as many wrong ones
// as the lockout threshold (5) the session is ended. And a stranger who
// locked the account from outside does not stop its owner, signed in,
// from re-proving herself (principle 4).
func TestSecurityReproofGuesses(t *testing.T) {
	h, olga, alice := secOwnerAndAlice(t)

	routes := []struct{ method, path, body string }{
		{"POST", "/api/v1/me/password", `{"current_password":"wrong-%d","password":"N3w-passw0rd-for-her"}`},
		{"PATCH", "/api/v1/me", `{"email":"alice-new@example.com","current_password":"wrong-%d"}`},
		{"POST", "/api/v1/me/totp", `{"current_password":"wrong-%d"}`},
	}
	for _, rt := range routes {
		t.Run("stolen session "+rt.method+" "+rt.path, func(t *testing.T) {
			thief := h.client()
			h.apiLogin(thief, "alice", alicePW)
			for i := 1; i <= 5; i++ {
				got, b := secAPI(t, h, thief, rt.method, rt.path, fmt.Sprintf(rt.body, i))
				if got != http.StatusBadRequest && got != http.StatusForbidden && got != http.StatusUnauthorized {
					t.Fatalf("guess %d: %d %s, want a refusal", i, got, b)
				}
			}
			if got, b := secAPI(t, h, thief, "GET", "/api/v1/me", ""); got != http.StatusUnauthorized {
				t.Fatalf("after 5 wrong passwords the session still works: %d %s", got, b)
			}
			// Alice's own session is another one and goes on.
			if got, b := secAPI(t, h, alice, "GET", "/api/v1/me", ""); got != http.StatusOK {
				t.Fatalf("alice's other session: %d %s", got, b)
			}
			// The account lock those guesses set is lifted for the next case.
			if got, b := secAPI(t, h, olga, "POST", "/api/v1/users/alice/unlock", ""); got != http.StatusNoContent && got != http.StatusOK {
				t.Fatalf("unlock: %d %s", got, b)
			}
		})
	}
	if ev := secAudit(t, h, olga, "action=session.end_reproof"); len(ev) != len(routes) {
		t.Errorf("audit session.end_reproof: %d events, want %d: %v", len(ev), len(routes), ev)
	}

	t.Run("a stranger's lockout does not stop the owner re-proving", func(t *testing.T) {
		login := func(pw string) int {
			got, _ := secAPI(t, h, h.client(), "POST", "/api/v1/login", `{"username":"alice","password":"`+pw+`"}`)
			return got
		}
		for i := 0; i < 6; i++ {
			login(fmt.Sprintf("guess-%d", i))
		}
		if got := login(alicePW); got != http.StatusUnauthorized {
			t.Fatalf("the account is not locked for a new device: %d", got)
		}
		got, b := secAPI(t, h, alice, "POST", "/api/v1/me/password",
			`{"current_password":"`+alicePW+`","password":"N3w-passw0rd-for-her"}`)
		if got != http.StatusNoContent && got != http.StatusOK {
			t.Fatalf("alice changing her password from her session while locked: %d %s", got, b)
		}
	})
}
