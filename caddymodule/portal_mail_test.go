package caddymodule

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core/mail/mailtest"
)

// TestPortalForgotWithoutSMTP: without an smtp block, the sign-in page
// does not offer a "Forgot password?" form that can never deliver; it says
// up front to ask an administrator, and so does /forgot.
func TestPortalForgotWithoutSMTP(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	anon := h.client()
	for _, path := range []string{"/login", "/forgot"} {
		resp, b := do(t, anon, "GET", h.portalURL(path), nil, browser)
		page := string(b)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if !strings.Contains(strings.ToLower(page), "ask an administrator for a password reset link") {
			t.Errorf("%s does not say to ask an administrator for a reset link", path)
		}
		if strings.Contains(page, `href="/forgot"`) || strings.Contains(page, `action="/forgot"`) {
			t.Errorf("%s offers the forgot-password form although no email can be sent", path)
		}
	}
}

// TestPortalFallbackEmail: a reset link, asked for by the user or made by
// an administrator, is emailed to the user's address and to the fallback
// address; a user without a fallback address gets one message.
func TestPortalFallbackEmail(t *testing.T) {
	h := newHarness(t)
	smtp := h.startWithMail()
	h.addUser("olga", ownerPW, "owner")
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)
	if code, b := secAPI(t, h, owner, "POST", "/api/v1/users",
		`{"username":"bea","email":"bea@work.example","fallback_email":"bea@home.example","password":"Strong-passw0rd"}`); code != http.StatusCreated {
		t.Fatalf("create bea: %d %s", code, b)
	}

	recipients := func(msgs []mailtest.Received) []string {
		var to []string
		for _, m := range msgs {
			to = append(to, m.To...)
		}
		slices.Sort(to)
		return to
	}
	want := []string{"bea@home.example", "bea@work.example"}

	// Forgot password, by username.
	if resp, b := do(t, h.client(), "POST", h.portalURL("/api/v1/password/forgot"), strings.NewReader(`{"login":"bea"}`), jsonAPI); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("forgot: %d %s", resp.StatusCode, b)
	}
	msgs := waitNonNotices(t, smtp, 2)
	if got := recipients(msgs); !slices.Equal(got, want) {
		t.Fatalf("forgot password mailed %v, want %v", got, want)
	}
	if l0, l1 := linkRE.FindString(msgs[0].Text), linkRE.FindString(msgs[1].Text); l0 == "" || l0 != l1 {
		t.Errorf("the two messages carry different links: %q, %q", l0, l1)
	}

	// A reset link made by the owner.
	code, b := secAPI(t, h, owner, "POST", "/api/v1/users/bea/reset-link", "")
	if code != http.StatusCreated {
		t.Fatalf("reset link: %d %s", code, b)
	}
	var v struct{ Link string }
	_ = json.Unmarshal(b, &v)
	msgs = waitNonNotices(t, smtp, 4)[2:]
	if got := recipients(msgs); !slices.Equal(got, want) {
		t.Fatalf("the admin's reset link was mailed to %v, want %v", got, want)
	}
	for _, m := range msgs {
		if linkRE.FindString(m.Text) != v.Link {
			t.Errorf("message to %v does not carry the link %s", m.To, v.Link)
		}
	}
}
