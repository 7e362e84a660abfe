package portal

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/core/mail/mailtest"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

var emailConfirmPath = regexp.MustCompile(`/email/confirm/[A-Za-z0-9_-]{43}`)

// aliceWithMail is a portal that sends mail to an in-process SMTP server,
// with alice signed in in b.
func aliceWithMail(t *testing.T) (*pageEnv, *browser, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.NewServer(t)
	sender, err := mail.New(mail.Config{Host: smtp.Host(), Port: smtp.Port(), TLS: "none", From: "Gatehouse <noreply@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	e := newPageEnv(t, sender)
	mustUser(t, e.svc, "alice", policies.RoleUser)
	b := e.browser(t)
	b.signIn("alice")
	return e, b, smtp
}

// TestProfileEmailChangePages: the profile form asks for the change, the
// profile then shows the pending address; "Send the link again" replaces
// the link, "Cancel the change" drops the address and its link.
func TestProfileEmailChangePages(t *testing.T) {
	e, b, smtp := aliceWithMail(t)

	resp, _ := b.submit("/profile", "/profile", url.Values{"full_name": {"Alice"}, "email": {"new@example.org"}, "current_password": {testPW}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d", resp.StatusCode)
	}
	_, page := b.get("/profile")
	if !strings.Contains(page, "A confirmation link was sent to new@example.org") || !strings.Contains(page, "Pending confirmation") ||
		!strings.Contains(page, "/profile/email/cancel") {
		t.Errorf("the profile does not show the pending change:\n%s", page)
	}
	first := emailConfirmPath.FindString(smtp.Wait(t, 1, 10*time.Second)[0].Text)
	if first == "" {
		t.Fatal("no link in the first mail")
	}

	if resp, _ := b.submit("/profile", "/profile/email/resend", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resend: %d", resp.StatusCode)
	}
	msgs := smtp.Wait(t, 2, 10*time.Second)
	second := emailConfirmPath.FindString(msgs[1].Text)
	if second == "" || second == first || msgs[1].To[0] != "new@example.org" {
		t.Fatalf("resent link %q to %v", second, msgs[1].To)
	}
	if resp, _ := b.get(first); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the replaced link still shows: %d", resp.StatusCode)
	}
	if resp, _ := b.get(second); resp.StatusCode != http.StatusOK {
		t.Errorf("the new link: %d", resp.StatusCode)
	}

	if resp, _ := b.submit("/profile", "/profile/email/cancel", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	if u, _ := e.st.UserByUsername("alice"); u.Email != "alice@example.com" || u.PendingEmail != "" {
		t.Errorf("after the cancel: %q, pending %q", u.Email, u.PendingEmail)
	}
	if resp, _ := b.post(second, url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the link of a cancelled change worked: %d", resp.StatusCode)
	}
}

// TestEmailChangeWithoutPassword: an account without a password proves
// itself by a recent sign-in instead.
func TestEmailChangeWithoutPassword(t *testing.T) {
	e := newPageEnv(t, nil)
	u := &store.User{Username: "pk", Role: policies.RoleUser}
	if err := e.st.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	for _, tc := range []struct {
		age time.Duration
		ok  bool
	}{{time.Minute, true}, {core.FreshWindow + time.Second, false}} {
		c := &caller{User: u, Session: store.Session{CreatedAt: now.Add(-tc.age)}}
		err := e.svc.core.Users.ReproveForEmail(context.Background(), c, u, "")
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Errorf("session %v old: %v", tc.age, err)
		}
	}
}

// TestAdminEmailVoidsPendingChange: an administrator who sets a user's
// address ends the change the user had asked for; its link confirms
// nothing afterwards.
func TestAdminEmailVoidsPendingChange(t *testing.T) {
	e, b, smtp := aliceWithMail(t)
	resp, _ := b.submit("/profile", "/profile", url.Values{"full_name": {"Alice"}, "email": {"new@example.org"}, "current_password": {testPW}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d", resp.StatusCode)
	}
	link := emailConfirmPath.FindString(smtp.Wait(t, 1, 10*time.Second)[0].Text)
	if link == "" {
		t.Fatal("no link in the mail")
	}
	set := "set-by-admin@example.com"
	if _, err := e.svc.core.Users.UpdateUser(e.svc.localAdmin(), "alice", UserPatch{Email: &set}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.post(link, url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the user's link after an administrator set the address: %d, want 404", resp.StatusCode)
	}
	if u, _ := e.st.UserByUsername("alice"); u.Email != set || u.PendingEmail != "" {
		t.Errorf("address %q, pending %q; want %q and none", u.Email, u.PendingEmail, set)
	}
}
