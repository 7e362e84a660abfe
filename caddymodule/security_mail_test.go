package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/gatehouse-auth/gatehouse/core/mail/mailtest"
	"github.com/gatehouse-auth/gatehouse/portal/oidctest"
)

// Security e-mails (issue #20): every notice arrives, through a real Caddy
// and the in-process SMTP server, at the right addresses, saying what, when
// and from where; the optional ones can be turned off, the critical ones
// cannot; the queue survives a restart; a mail failure never fails the
// request.

const (
	mailUA    = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
	mailUAWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	beaPW     = "Strong-passw0rd"
)

// inbox hands out the messages of an SMTP server one at a time, each once.
type inbox struct {
	t    *testing.T
	smtp *mailtest.Server
	used map[int]bool
}

// expect waits for an unseen message to addr whose subject contains
// subject, and returns it.
func (in *inbox) expect(addr, subject string) mailtest.Received {
	in.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, m := range in.smtp.Messages() {
			if !in.used[i] && len(m.To) == 1 && strings.EqualFold(m.To[0], addr) && strings.Contains(m.Subject, subject) {
				in.used[i] = true
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.t.Fatalf("no mail %q to %s; got: %s", subject, addr, in.summary())
	return mailtest.Received{}
}

// count is how many messages to addr with subject arrived, seen or not.
func (in *inbox) count(addr, subject string) int {
	n := 0
	for _, m := range in.smtp.Messages() {
		if len(m.To) == 1 && strings.EqualFold(m.To[0], addr) && strings.Contains(m.Subject, subject) {
			n++
		}
	}
	return n
}

func (in *inbox) summary() string {
	var b strings.Builder
	for _, m := range in.smtp.Messages() {
		b.WriteString("\n  " + strings.Join(m.To, ",") + ": " + m.Subject)
	}
	return b.String()
}

// mailLogin signs c in as user with the User-Agent ua.
func mailLogin(t *testing.T, h *harness, c *http.Client, user, pw, ua string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"username": user, "password": pw})
	resp, b := do(t, c, "POST", h.portalURL("/api/v1/login"), bytes.NewReader(body),
		map[string]string{"Accept": "application/json", "Content-Type": "application/json", "User-Agent": ua})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, resp.StatusCode, b)
	}
}

// clientIP is the address c's requests come from (X-Forwarded-For).
func mailClientIP(c *http.Client) string { return c.Transport.(forwardedFor).ip }

// mailSetup starts Caddy with mail, the owner olga and bea, who has a
// fallback address, and returns them signed in (bea with mailUA).
func mailSetup(t *testing.T) (h *harness, smtp *mailtest.Server, in *inbox, olga, bea *http.Client) {
	h = newHarness(t)
	smtp = h.startWithMail()
	h.addUser("olga", ownerPW, "owner")
	olga = h.client()
	h.apiLogin(olga, "olga", ownerPW)
	if code, b := secAPI(t, h, olga, "POST", "/api/v1/users",
		`{"username":"bea","full_name":"Bea","email":"bea@work.example","fallback_email":"bea@home.example","password":"`+beaPW+`"}`); code != http.StatusCreated {
		t.Fatalf("create bea: %d %s", code, b)
	}
	in = &inbox{t: t, smtp: smtp, used: map[int]bool{}}
	bea = h.client()
	mailLogin(t, h, bea, "bea", beaPW, mailUA)
	return h, smtp, in, olga, bea
}

// checkNotice checks the parts every notice has: the account, a UTC time
// of today, the client, and the way to the profile page.
func checkNotice(t *testing.T, h *harness, m mailtest.Received, ip, browser string) {
	t.Helper()
	today := time.Now().UTC().Format("2 January 2006")
	for _, want := range []string{"Account: bea", today, " UTC", "IP address " + ip, browser, h.portalURL("/profile")} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("%q: the mail lacks %q:\n%s", m.Subject, want, m.Text)
		}
	}
}

func TestSecurityMailEvents(t *testing.T) {
	h, _, in, olga, bea := mailSetup(t)
	ip := mailClientIP(bea)

	// Sign-in from a new device: to both addresses, with IP and browser.
	for _, addr := range []string{"bea@work.example", "bea@home.example"} {
		m := in.expect(addr, "New sign-in")
		checkNotice(t, h, m, ip, "Firefox on Linux")
		if !strings.Contains(m.Text, "turn these notices off") {
			t.Errorf("the optional notice does not say it can be turned off:\n%s", m.Text)
		}
	}
	// The same browser again (it has its device cookie): no new notice.
	mailLogin(t, h, bea, "bea", beaPW, mailUA)

	// Password changed.
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/me/password", `{"current_password":"`+beaPW+`","password":"Another-passw0rd"}`); code != 200 && code != 204 {
		t.Fatalf("change password: %d %s", code, b)
	}
	m := in.expect("bea@work.example", "password was changed")
	checkNotice(t, h, m, ip, "Go program") // secAPI sends Go's own User-Agent
	in.expect("bea@home.example", "password was changed")
	pw := "Another-passw0rd"
	bea = h.client()
	mailLogin(t, h, bea, "bea", pw, mailUAWin)
	m = in.expect("bea@work.example", "New sign-in")
	checkNotice(t, h, m, mailClientIP(bea), "Chrome on Windows")
	in.expect("bea@home.example", "New sign-in")

	// Second factor added and removed.
	secEnrollTOTP(t, h, bea)
	for _, addr := range []string{"bea@work.example", "bea@home.example"} {
		m = in.expect(addr, "second factor was added")
		checkNotice(t, h, m, mailClientIP(bea), "Go program")
	}
	if code, b := secAPI(t, h, bea, "DELETE", "/api/v1/me/totp", `{"password":"`+pw+`"}`); code != 200 && code != 204 {
		t.Fatalf("remove TOTP: %d %s", code, b)
	}
	in.expect("bea@work.example", "second factor was removed")
	in.expect("bea@home.example", "second factor was removed")

	// API key and app password created.
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/keys", `{"label":"backup script"}`); code != 201 {
		t.Fatalf("create key: %d %s", code, b)
	}
	m = in.expect("bea@work.example", "new API key")
	if !strings.Contains(m.Text, `"backup script"`) {
		t.Errorf("the key notice does not name the key:\n%s", m.Text)
	}
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/me/app-passwords", `{"name":"phone mail"}`); code != 201 {
		t.Fatalf("create app password: %d %s", code, b)
	}
	in.expect("bea@work.example", "new app password")

	// Impersonation: off by default, so nothing; on, the mail names the
	// administrator who did it.
	impersonate := func() {
		t.Helper()
		imp := h.client() // its session becomes the impersonation
		h.apiLogin(imp, "olga", ownerPW)
		if code, b := secAPI(t, h, imp, "POST", "/api/v1/users/bea/impersonate", ""); code != 200 {
			t.Fatalf("impersonate: %d %s", code, b)
		}
	}
	impersonate()
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"notify_impersonation":true}`); code != 200 {
		t.Fatalf("turn the impersonation notice on: %d %s", code, b)
	}
	impersonate()
	m = in.expect("bea@work.example", "administrator signed in as you")
	if !strings.Contains(m.Text, "The administrator olga ") {
		t.Errorf("the impersonation notice does not name the administrator:\n%s", m.Text)
	}
	if n := in.count("bea@work.example", "administrator signed in as you"); n != 1 {
		t.Errorf("%d impersonation notices, want 1 (the first impersonation was before the setting)", n)
	}

	// E-mail changed: the notice goes to the old address, not the new one.
	if code, b := secAPI(t, h, bea, "PATCH", "/api/v1/me", `{"email":"bea@new.example","current_password":"`+pw+`"}`); code != 200 {
		t.Fatalf("change email: %d %s", code, b)
	}
	link := emailLinkRE.FindString(in.expect("bea@new.example", "").Text)
	body, hdr := formBody()
	if resp, page := do(t, h.client(), "POST", link, body, hdr); resp.StatusCode != 200 {
		t.Fatalf("confirm: %d %s", resp.StatusCode, secPageError(page))
	}
	m = in.expect("bea@work.example", "e-mail address was changed")
	if !strings.Contains(m.Text, "bea@new.example") {
		t.Errorf("the notice does not name the new address:\n%s", m.Text)
	}
	in.expect("bea@home.example", "e-mail address was changed")
	time.Sleep(500 * time.Millisecond)
	if n := in.count("bea@new.example", "e-mail address was changed"); n != 0 {
		t.Errorf("the change notice went to the new address")
	}

	// Account locked: wrong passwords from a new device.
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"lockout_threshold":3}`); code != 200 {
		t.Fatalf("lockout threshold: %d %s", code, b)
	}
	thief := h.client()
	for range 3 {
		body, _ := json.Marshal(map[string]any{"username": "bea", "password": "guess-guess-1"})
		do(t, thief, "POST", h.portalURL("/api/v1/login"), bytes.NewReader(body), jsonAPI)
	}
	m = in.expect("bea@new.example", "locked")
	if !strings.Contains(m.Text, "IP address "+mailClientIP(thief)) {
		t.Errorf("the lockout notice does not name the IP of the failed sign-ins:\n%s", m.Text)
	}

	// Only two new-device notices per address: the same browser's second
	// sign-in was not new.
	if n := in.count("bea@work.example", "New sign-in"); n != 2 {
		t.Errorf("%d new-device notices, want 2", n)
	}
	// No notice about bea went to olga, and no mail names another user.
	for _, m := range in.smtp.Messages() {
		if strings.Contains(m.Text, "Account: bea") && strings.Contains(m.To[0], "olga") {
			t.Errorf("a notice about bea went to %v", m.To)
		}
		if strings.Contains(m.Text, "Account: bea") && strings.Contains(m.Text, "olga@") {
			t.Errorf("a notice to bea shows olga's address:\n%s", m.Text)
		}
	}
}

// TestSecurityMailOptOut: a user who turns the optional notices off gets
// no new-device or new-key notice, but still every critical one; the
// choice cannot be made by an API key or by an impersonating administrator.
func TestSecurityMailOptOut(t *testing.T) {
	h, _, in, olga, bea := mailSetup(t)
	in.expect("bea@work.example", "New sign-in")

	// An administrator impersonating bea cannot silence her notices.
	imp := h.client()
	h.apiLogin(imp, "olga", ownerPW)
	if code, b := secAPI(t, h, imp, "POST", "/api/v1/users/bea/impersonate", ""); code != 200 {
		t.Fatalf("impersonate: %d %s", code, b)
	}
	if code, b := secAPI(t, h, imp, "PATCH", "/api/v1/me", `{"security_emails":{"new_device":false}}`); code != 403 {
		t.Fatalf("impersonating administrator changed the preferences: %d %s", code, b)
	}
	// A bad time zone is refused, naming the field.
	if code, b := secAPI(t, h, bea, "PATCH", "/api/v1/me", `{"security_emails":{"time_zone":"Mars/Olympus"}}`); code != 400 || !strings.Contains(string(b), "time_zone") {
		t.Fatalf("bad time zone: %d %s", code, b)
	}
	if code, b := secAPI(t, h, bea, "PATCH", "/api/v1/me",
		`{"security_emails":{"new_device":false,"new_credential":false,"time_zone":"Europe/Berlin"}}`); code != 200 {
		t.Fatalf("opt out: %d %s", code, b)
	}
	code, b := secAPI(t, h, bea, "GET", "/api/v1/me", "")
	if code != 200 || !strings.Contains(string(b), `"security_emails":{"new_device":false,"new_credential":false,"time_zone":"Europe/Berlin","digest":""}`) {
		t.Fatalf("GET /me after opting out: %d %s", code, b)
	}

	// Optional: a new device, a new API key. Nothing.
	other := h.client()
	mailLogin(t, h, other, "bea", beaPW, mailUAWin)
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/keys", `{"label":"k"}`); code != 201 {
		t.Fatalf("create key: %d %s", code, b)
	}
	// Critical: the password change is mailed, in her time zone.
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/me/password", `{"current_password":"`+beaPW+`","password":"Another-passw0rd"}`); code != 200 && code != 204 {
		t.Fatalf("change password: %d %s", code, b)
	}
	m := in.expect("bea@work.example", "password was changed")
	if !strings.Contains(m.Text, "Europe/Berlin") || !strings.Contains(m.Text, "(UTC+01:00)") {
		t.Errorf("the time is not in bea's time zone:\n%s", m.Text)
	}
	// A password set by an administrator: critical too, naming them.
	if code, b := secAPI(t, h, olga, "POST", "/api/v1/users/bea/password", `{"password":"Third-passw0rd!"}`); code != 200 && code != 204 {
		t.Fatalf("admin sets password: %d %s", code, b)
	}
	m = in.expect("bea@work.example", "password was changed")
	if !strings.Contains(m.Text, "An administrator, olga, set a new password") {
		t.Errorf("the notice does not name the administrator:\n%s", m.Text)
	}
	if n := in.count("bea@work.example", "New sign-in"); n != 1 {
		t.Errorf("%d new-device notices after opting out, want only the one before", n)
	}
	if n := in.count("bea@work.example", "API key"); n != 0 {
		t.Errorf("a new-key notice after opting out")
	}
}

// TestSecurityMailQueueSurvivesRestart: with the SMTP server refusing, a
// notice waits in the queue, the request that caused it succeeds at once;
// Caddy stops and starts again; once the server accepts, the notice
// arrives, once per address.
func TestSecurityMailQueueSurvivesRestart(t *testing.T) {
	h, smtp, in, _, bea := mailSetup(t)
	in.expect("bea@work.example", "New sign-in")
	in.expect("bea@home.example", "New sign-in")

	smtp.SetRefusing(true)
	start := time.Now()
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/me/password", `{"current_password":"`+beaPW+`","password":"Another-passw0rd"}`); code != 200 && code != 204 {
		t.Fatalf("change password while mail is refused: %d %s", code, b)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the request took %v while the SMTP server refused: it waited for the mail", d)
	}
	// Let the worker try (and fail) at least once.
	time.Sleep(1500 * time.Millisecond)
	if n := in.count("bea@work.example", "password was changed"); n != 0 {
		t.Fatalf("a message arrived although the server refuses")
	}
	if logged, _ := os.ReadFile(filepath.Join(h.dir, "caddy.log")); !bytes.Contains(logged, []byte("mail queue: send failed, will retry")) {
		t.Errorf("the failed send was not logged")
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	smtp.SetRefusing(false)
	h.start(h.caddyfile(smtpBlock(smtp), ""))
	in.expect("bea@work.example", "password was changed")
	in.expect("bea@home.example", "password was changed")
	time.Sleep(3 * time.Second)
	for _, addr := range []string{"bea@work.example", "bea@home.example"} {
		if n := in.count(addr, "password was changed"); n != 1 {
			t.Errorf("%d password notices to %s, want 1", n, addr)
		}
	}
}

// waitNonNotices waits for n messages that are not security notices (the
// links and invitations other tests count) and returns them in order.
func waitNonNotices(t *testing.T, smtp *mailtest.Server, n int) []mailtest.Received {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var out []mailtest.Received
	for time.Now().Before(deadline) {
		out = out[:0]
		for _, m := range smtp.Messages() {
			if !strings.Contains(m.Text, "If this was you, there is nothing to do.") {
				out = append(out, m)
			}
		}
		if len(out) >= n {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d messages other than security notices, want %d", len(out), n)
	return nil
}

// TestSecurityMailProfilePage: the profile page shows the preferences and
// its form changes them.
func TestSecurityMailProfilePage(t *testing.T) {
	h, _, _, _, bea := mailSetup(t)
	resp, page := do(t, bea, "GET", h.portalURL("/profile"), nil, browser)
	if resp.StatusCode != 200 || !strings.Contains(string(page), `id="notify_new_device" name="new_device" type="checkbox" value="1" checked`) {
		t.Fatalf("the profile page does not show the security e-mail settings (%d)", resp.StatusCode)
	}
	resp, text := uxPost(t, h, bea, "/profile", "/profile/security-emails", "new_credential", "1", "time_zone", "Asia/Tokyo")
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != 200 {
		t.Fatalf("save: %d %s", resp.StatusCode, secPageError([]byte(text)))
	}
	code, b := secAPI(t, h, bea, "GET", "/api/v1/me", "")
	if code != 200 || !strings.Contains(string(b), `"security_emails":{"new_device":false,"new_credential":true,"time_zone":"Asia/Tokyo","digest":""}`) {
		t.Fatalf("after the form: %d %s", code, b)
	}
	if resp, text = uxPost(t, h, bea, "/profile", "/profile/security-emails", "time_zone", "Nowhere/Special"); resp.StatusCode != 400 || !strings.Contains(text, "not a known time zone") {
		t.Errorf("a bad time zone: %d %s", resp.StatusCode, secPageError([]byte(text)))
	}
}

// TestSecurityMailNeverBlocks: with an SMTP server that takes 6 seconds to
// accept a message, the requests that cause notices answer at once, and
// the notices arrive afterwards.
func TestSecurityMailNeverBlocks(t *testing.T) {
	h, smtp, in, _, bea := mailSetup(t)
	in.expect("bea@work.example", "New sign-in")
	in.expect("bea@home.example", "New sign-in")
	smtp.SetDataDelay(6 * time.Second)
	start := time.Now()
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/me/password", `{"current_password":"`+beaPW+`","password":"Another-passw0rd"}`); code != 200 && code != 204 {
		t.Fatalf("change password: %d %s", code, b)
	}
	other := h.client()
	mailLogin(t, h, other, "bea", "Another-passw0rd", mailUAWin)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the requests took %v with a slow SMTP server: they waited for the mail", d)
	}
	smtp.SetDataDelay(0)
	in.expect("bea@work.example", "password was changed")
	in.expect("bea@work.example", "New sign-in")
}

// TestSecurityMailDigest: an administrator who asks for the daily digest
// gets one with the day's failed sign-ins, lockouts and new
// administrators; a user without the audit permission cannot ask for it.
func TestSecurityMailDigest(t *testing.T) {
	h, _, in, olga, bea := mailSetup(t)
	if code, b := secAPI(t, h, bea, "PATCH", "/api/v1/me", `{"security_emails":{"digest":"daily"}}`); code != 403 {
		t.Fatalf("a plain user asked for the digest: %d %s", code, b)
	}
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/me", `{"security_emails":{"digest":"hourly"}}`); code != 400 || !strings.Contains(string(b), "digest") {
		t.Fatalf("a bad digest period: %d %s", code, b)
	}
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"lockout_threshold":2}`); code != 200 {
		t.Fatalf("lockout threshold: %d %s", code, b)
	}
	thief := h.client()
	for range 3 {
		body, _ := json.Marshal(map[string]any{"username": "bea", "password": "guess-guess-1"})
		do(t, thief, "POST", h.portalURL("/api/v1/login"), bytes.NewReader(body), jsonAPI)
	}
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/users/bea", `{"role":"admin"}`); code != 200 {
		t.Fatalf("make bea an admin: %d %s", code, b)
	}
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/me", `{"security_emails":{"digest":"daily"}}`); code != 200 {
		t.Fatalf("ask for the digest: %d %s", code, b)
	}
	m := in.expect("olga@example.com", "security digest (daily)")
	for _, want := range []string{"Failed sign-ins: 3", "Accounts locked: 1", "New administrators: 2", "bea (user -> admin, by olga)", "olga (role owner, by cli)"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the digest lacks %q:\n%s", want, m.Text)
		}
	}
	// Asking again (which wakes the worker) within the day sends none.
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/me", `{"security_emails":{"digest":"daily","time_zone":"Europe/Paris"}}`); code != 200 {
		t.Fatalf("ask again: %d %s", code, b)
	}
	time.Sleep(3 * time.Second)
	if n := in.count("olga@example.com", "security digest"); n != 1 {
		t.Errorf("%d digests within the day, want 1", n)
	}
}

// TestSecurityMailNewDeviceOIDC: a sign-in through an external OpenID
// Connect provider is a sign-in like any other: the first one from a
// browser sends the new-device notice, a second one from the same browser
// (it now has its device cookie) does not, and another browser does again.
func TestSecurityMailNewDeviceOIDC(t *testing.T) {
	h := newHarness(t)
	smtp := mailtest.NewServer(t)
	idp := oidctest.NewProvider(t)
	h.start(h.caddyfile(smtpBlock(smtp)+"\n\t\t"+oidcBlock("idp", idp, "link_by_email"), ""))
	h.addUser("olga", ownerPW, "owner")
	olga := h.client()
	h.apiLogin(olga, "olga", ownerPW)
	if code, b := secAPI(t, h, olga, "POST", "/api/v1/users",
		`{"username":"bea","full_name":"Bea","email":"bea@work.example","password":"`+beaPW+`"}`); code != http.StatusCreated {
		t.Fatalf("create bea: %d %s", code, b)
	}
	in := &inbox{t: t, smtp: smtp, used: map[int]bool{}}
	signIn := func(c *http.Client) {
		t.Helper()
		resp, body := idp.SignIn(t, c, oidctest.SignInURL(h.portalURL(""), "idp", h.appURL("/")), oidctest.User{Subject: "idp-bea",
			Claims: map[string]any{"email": "bea@work.example", "email_verified": true, "name": "Bea"}})
		if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != h.appURL("/") {
			t.Fatalf("OIDC sign-in ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
		}
	}
	first := h.client()
	signIn(first)
	in.expect("bea@work.example", "New sign-in")
	signIn(first)
	other := h.client()
	signIn(other)
	in.expect("bea@work.example", "New sign-in")
	time.Sleep(500 * time.Millisecond)
	if n := in.count("bea@work.example", "New sign-in"); n != 2 {
		t.Errorf("%d new-device notices after three OIDC sign-ins from two browsers, want 2: %s", n, in.summary())
	}
}
