package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/mail/mailtest"
)

var emailLinkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/email/confirm/[A-Za-z0-9_-]{43}`)

// TestSecurityEmailChange: a user who changes her own email address to
// someone else's (say the address of an app's admin account, which an app
// that signs people in by email would hand her) does not reach any app
// with it: apps keep seeing her verified address until she opens the link
// mailed to the new address, and only then the new one. The change needs
// her current password and her own session (no API key, no
// impersonation), and an address another account uses is refused, also
// when it was taken between the request and the confirmation. An address
// an administrator sets is trusted at once.
func TestSecurityEmailChange(t *testing.T) {
	h := newHarness(t)
	smtp := h.startWithMail()
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	h.addUser("bob", bobPW, "user")
	olga, alice := h.client(), h.client()
	h.apiLogin(olga, "olga", ownerPW)
	h.apiLogin(alice, "alice", alicePW)

	// appEmail is the Remote-Email the app saw for c's next request.
	appEmail := func(c *http.Client) string {
		t.Helper()
		before := h.upstreamHits()
		resp, b := do(t, c, "GET", h.appURL("/"), nil, jsonAPI)
		if resp.StatusCode != http.StatusOK || h.upstreamHits() == before {
			t.Fatalf("GET app: %d %s", resp.StatusCode, b)
		}
		hdr, _ := h.lastSeen()
		return hdr.Get("Remote-Email")
	}
	type me struct {
		User struct {
			Email        string `json:"email"`
			PendingEmail string `json:"pending_email"`
		} `json:"user"`
	}
	whoami := func(c *http.Client) me {
		t.Helper()
		got, b := secAPI(t, h, c, "GET", "/api/v1/me", "")
		var v me
		if got != 200 || json.Unmarshal(b, &v) != nil {
			t.Fatalf("GET /me: %d %s", got, b)
		}
		return v
	}
	// mailsTo returns the messages sent so far to addr.
	mailsTo := func(addr string) []mailtest.Received {
		var out []mailtest.Received
		for _, m := range smtp.Messages() {
			for _, to := range m.To {
				if strings.EqualFold(to, addr) {
					out = append(out, m)
				}
			}
		}
		return out
	}
	waitLink := func(addr string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if m := mailsTo(addr); len(m) > 0 {
				link := emailLinkRE.FindString(m[len(m)-1].Text)
				if link == "" {
					t.Fatalf("no confirmation link in the mail to %s:\n%s", addr, m[len(m)-1].Text)
				}
				return link
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no mail to %s", addr)
		return ""
	}
	patchMe := func(c *http.Client, body string) (int, string) {
		t.Helper()
		got, b := secAPI(t, h, c, "PATCH", "/api/v1/me", body)
		return got, string(b)
	}

	t.Run("a new address reaches apps only once confirmed", func(t *testing.T) {
		const target = "gitea-admin@example.com"
		got, b := patchMe(alice, `{"email":"`+target+`","current_password":"`+alicePW+`"}`)
		if got != 200 || !strings.Contains(b, `"email":"alice@example.com"`) || !strings.Contains(b, `"pending_email":"`+target+`"`) {
			t.Fatalf("request the change: %d %s", got, b)
		}
		if e := appEmail(alice); e != "alice@example.com" {
			t.Fatalf("before the confirmation the app saw Remote-Email %q, want the old verified address", e)
		}
		if v := whoami(alice); v.User.Email != "alice@example.com" || v.User.PendingEmail != target {
			t.Errorf("/me: %+v", v.User)
		}
		link := waitLink(target)
		if m := mailsTo("alice@example.com"); len(m) != 0 && emailLinkRE.MatchString(m[0].Text) {
			t.Errorf("a confirmation link went to the old address")
		}
		// Opening the link (a mail scanner does) changes nothing.
		resp, page := do(t, h.client(), "GET", link, nil, map[string]string{"Accept": "text/html"})
		if resp.StatusCode != 200 || !strings.Contains(string(page), target) {
			t.Fatalf("GET the link: %d", resp.StatusCode)
		}
		if e := appEmail(alice); e != "alice@example.com" {
			t.Fatalf("after a GET of the link the app saw %q", e)
		}
		body, hdr := formBody()
		resp, page = do(t, h.client(), "POST", link, body, hdr)
		if resp.StatusCode != 200 || !strings.Contains(string(page), "confirmed") {
			t.Fatalf("confirm: %d %s", resp.StatusCode, secPageError(page))
		}
		if e := appEmail(alice); e != target {
			t.Errorf("after the confirmation the app saw %q, want %q", e, target)
		}
		if v := whoami(alice); v.User.Email != target || v.User.PendingEmail != "" {
			t.Errorf("/me after the confirmation: %+v", v.User)
		}
		body, hdr = formBody()
		if resp, _ := do(t, h.client(), "POST", link, body, hdr); resp.StatusCode != http.StatusNotFound {
			t.Errorf("the link worked twice: %d", resp.StatusCode)
		}
		for _, action := range []string{"email.change.requested", "email.change.confirmed"} {
			evs := secAudit(t, h, olga, "action="+action+"&outcome=success")
			if len(evs) == 0 || evs[0]["actor"] != "alice" || evs[0]["resource"] != "user:alice" {
				t.Errorf("audit %s: %v", action, evs)
			}
			for _, ev := range evs {
				if strings.Contains(fmt.Sprint(ev), strings.TrimPrefix(link[strings.LastIndex(link, "/"):], "/")) {
					t.Errorf("audit %s holds the link's secret", action)
				}
			}
		}
	})

	t.Run("an account without an address keeps none until confirmed", func(t *testing.T) {
		secAddBareUser(t, h, "carol", bobPW)
		carol := h.client()
		h.apiLogin(carol, "carol", bobPW)
		if got, b := patchMe(carol, `{"email":"admin@gitea.example","current_password":"`+bobPW+`"}`); got != 200 {
			t.Fatalf("request: %d %s", got, b)
		}
		waitLink("admin@gitea.example")
		if e := appEmail(carol); e != "" {
			t.Errorf("the app saw Remote-Email %q before the confirmation, want none", e)
		}
	})

	t.Run("refused changes", func(t *testing.T) {
		bobC := h.client()
		h.apiLogin(bobC, "bob", bobPW)
		got, b := secAPI(t, h, bobC, "POST", "/api/v1/keys", `{"label":"script"}`)
		var k struct{ Key string }
		if got != 201 || json.Unmarshal(b, &k) != nil {
			t.Fatalf("create key: %d %s", got, b)
		}
		key := k.Key
		withKey := &http.Client{Transport: noKeepAlive}
		for _, tc := range []struct {
			name   string
			c      *http.Client
			hdr    map[string]string
			body   string
			status int
			msg    string
		}{
			{"without the current password", bobC, nil, `{"email":"bob2@example.com"}`, 403, "current password"},
			{"with a wrong current password", bobC, nil, `{"email":"bob2@example.com","current_password":"wrong-Passw0rd"}`, 403, "not correct"},
			{"an address another account uses", bobC, nil, `{"email":"olga@example.com","current_password":"` + bobPW + `"}`, 409, "belongs to another account"},
			{"with an API key", withKey, map[string]string{"Authorization": "Bearer " + key}, `{"email":"bob2@example.com","current_password":"` + bobPW + `"}`, 403, "API key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hdr := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
				for k, v := range tc.hdr {
					hdr[k] = v
				}
				resp, b := do(t, tc.c, "PATCH", h.portalURL("/api/v1/me"), strings.NewReader(tc.body), hdr)
				if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
					t.Errorf("PATCH /me %s: %d %s, want %d mentioning %q", tc.body, resp.StatusCode, b, tc.status, tc.msg)
				}
				if v := whoami(bobC); v.User.Email != "bob@example.com" || v.User.PendingEmail != "" {
					t.Errorf("after the refusal: %+v", v.User)
				}
			})
		}
		if e := appEmail(bobC); e != "bob@example.com" {
			t.Errorf("the app saw %q", e)
		}
		if m := mailsTo("bob2@example.com"); len(m) != 0 {
			t.Errorf("a refused change sent mail: %d messages", len(m))
		}
	})

	t.Run("while impersonating", func(t *testing.T) {
		imp := h.client()
		h.apiLogin(imp, "olga", ownerPW)
		if got, b := secAPI(t, h, imp, "POST", "/api/v1/users/bob/impersonate", ""); got != 200 {
			t.Fatalf("impersonate: %d %s", got, b)
		}
		got, b := patchMe(imp, `{"email":"bob3@example.com","current_password":"`+bobPW+`"}`)
		if got != 403 || !strings.Contains(b, "impersonating") {
			t.Errorf("PATCH /me while impersonating: %d %s", got, b)
		}
	})

	t.Run("an admin sets an address: trusted at once", func(t *testing.T) {
		if got, b := secAPI(t, h, olga, "PATCH", "/api/v1/users/bob", `{"email":"robert@example.com"}`); got != 200 {
			t.Fatalf("admin sets bob's address: %d %s", got, b)
		}
		bobC := h.client()
		h.apiLogin(bobC, "bob", bobPW)
		if e := appEmail(bobC); e != "robert@example.com" {
			t.Errorf("the app saw %q, want the address the admin set", e)
		}
		// But not her own: that goes through the profile and its link.
		got, b := secAPI(t, h, olga, "PATCH", "/api/v1/users/olga", `{"email":"olga2@example.com"}`)
		if got != 403 || !strings.Contains(string(b), "profile") {
			t.Errorf("admin sets her own address: %d %s, want 403", got, b)
		}
	})

	t.Run("an address taken before the confirmation", func(t *testing.T) {
		const addr = "shared@example.com"
		if got, b := patchMe(alice, `{"email":"`+addr+`","current_password":"`+alicePW+`"}`); got != 200 {
			t.Fatalf("request: %d %s", got, b)
		}
		link := waitLink(addr)
		if got, b := secAPI(t, h, olga, "PATCH", "/api/v1/users/bob", `{"email":"`+addr+`"}`); got != 200 {
			t.Fatalf("admin gives bob the address: %d %s", got, b)
		}
		body, hdr := formBody()
		resp, page := do(t, h.client(), "POST", link, body, hdr)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(page), "belongs to another account") {
			t.Errorf("confirm a taken address: %d %s", resp.StatusCode, secPageError(page))
		}
		if e := appEmail(alice); e != "gitea-admin@example.com" {
			t.Errorf("the app saw %q", e)
		}
	})
}
