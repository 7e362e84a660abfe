package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// regexpTextarea finds the secret shown by link.html.
var regexpTextarea = regexp.MustCompile(`<textarea id="link"[^>]*>([^<]*)</textarea>`)

// signedInClient returns a cookie-keeping client signed in as name.
func signedInClient(t *testing.T, svc *Service, name string, remember bool) *client {
	t.Helper()
	c := newClient(t, svc)
	body := `{"username":"` + name + `","password":"` + testPW + `","remember":` + map[bool]string{true: "true", false: "false"}[remember] + `}`
	if got, b := c.call("POST", "/api/v1/login", body); got != http.StatusOK {
		t.Fatalf("login %s: %d %s", name, got, b)
	}
	return c
}

// me returns who GET /api/v1/me says c is, and the session's impersonator.
func me(t *testing.T, c *client) (user, impersonator string, status int) {
	t.Helper()
	got, b := c.call("GET", "/api/v1/me", "")
	if got != http.StatusOK {
		return "", "", got
	}
	var m struct {
		User    struct{ Username string }
		Session struct {
			Impersonator string
			Methods      []string
		}
	}
	if err := json.Unmarshal([]byte(b), &m); err != nil {
		t.Fatal(err)
	}
	return m.User.Username, m.Session.Impersonator, got
}

// setSettings patches the settings as the local admin.
func setSettings(t *testing.T, svc *Service, patch string) {
	t.Helper()
	if _, err := svc.core.UpdateSettings(context.Background(), svc.localAdmin(), []byte(patch)); err != nil {
		t.Fatal(err)
	}
}

// auditEvents returns the events of action, newest first.
func auditEvents(t *testing.T, st *store.Store, f store.AuditFilter) []*store.Event {
	t.Helper()
	evs, _, err := st.ListAudit(f, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// impersonationFixture makes the people of the impersonation tests, and
// gives every request its own client address, so that the many sign-ins of
// these tests do not meet the per-address throttle.
func impersonationFixture(t *testing.T, svc *Service) {
	t.Helper()
	var n atomic.Uint32
	svc.clientIP = func(*http.Request) string {
		v := n.Add(1)
		return fmt.Sprintf("10.%d.%d.%d", byte(v>>16), byte(v>>8), byte(v))
	}
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "olivia", policies.RoleOwner)
	mustUser(t, svc, "adam", policies.RoleAdmin, "admins")
	mustUser(t, svc, "ada", policies.RoleAdmin)
	mustUser(t, svc, "uma", policies.RoleUserManager)
	mustUser(t, svc, "otto", policies.RoleOperator)
	mustUser(t, svc, "bob", policies.RoleUser, "staff")
	dan := mustUser(t, svc, "dan", policies.RoleUser)
	eve := mustUser(t, svc, "eve", policies.RoleUser)
	if _, err := svc.store.UpdateUser(dan.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.store.UpdateUser(eve.ID, func(u *store.User) error { u.ExpiresAt = svc.now().Add(-time.Hour); return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestImpersonationRules is the permission matrix of starting an
// impersonation.
func TestImpersonationRules(t *testing.T) {
	svc, _, _ := newTestService(t)
	impersonationFixture(t, svc)
	tests := []struct {
		actor, target string
		want          int
		msg           string
	}{
		{"olga", "bob", 200, ""},
		{"olga", "adam", 200, ""},
		{"olga", "olivia", 200, ""}, // owners impersonate owners
		{"adam", "bob", 200, ""},
		{"adam", "ada", 200, ""}, // an admin holds every permission an admin has
		{"adam", "uma", 200, ""}, // and outranks a user manager
		{"adam", "olga", 403, "only owners can impersonate an owner"},
		{"uma", "bob", 403, "impersonate permission"}, // user_manager lacks it
		{"otto", "bob", 403, "impersonate permission"},
		{"bob", "dan", 403, "impersonate permission"},
		{"adam", "adam", 400, "yourself"},
		{"olga", "olga", 400, "yourself"},
		{"adam", "dan", 409, "disabled or expired"}, // disabled
		{"adam", "eve", 409, "disabled or expired"}, // expired
		{"adam", "nobody", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.actor+"->"+tc.target, func(t *testing.T) {
			c := signedInClient(t, svc, tc.actor, false)
			got, body := c.call("POST", "/api/v1/users/"+tc.target+"/impersonate", "")
			if got != tc.want || !strings.Contains(body, tc.msg) {
				t.Fatalf("%s impersonates %s: %d %s, want %d %q", tc.actor, tc.target, got, body, tc.want, tc.msg)
			}
			who, by, _ := me(t, c)
			if tc.want == 200 {
				if who != tc.target || by != tc.actor {
					t.Fatalf("after start, /me is %q impersonated by %q", who, by)
				}
			} else if who != tc.actor || by != "" {
				t.Fatalf("after a refusal, /me is %q impersonated by %q", who, by)
			}
		})
	}

	t.Run("nested", func(t *testing.T) {
		// olga (owner) acts as adam (admin, who holds impersonate): still
		// no second impersonation, and no other target either.
		c := signedInClient(t, svc, "olga", false)
		if got, body := c.call("POST", "/api/v1/users/adam/impersonate", ""); got != 200 {
			t.Fatalf("start: %d %s", got, body)
		}
		for _, target := range []string{"bob", "olga"} {
			got, body := c.call("POST", "/api/v1/users/"+target+"/impersonate", "")
			if got != 403 || !strings.Contains(body, "not while impersonating") {
				t.Fatalf("nested impersonation of %s: %d %s, want 403", target, got, body)
			}
		}
		if who, by, _ := me(t, c); who != "adam" || by != "olga" {
			t.Fatalf("after the refused nesting /me is %q by %q", who, by)
		}
	})

	t.Run("cli and api callers have no session to switch", func(t *testing.T) {
		req := httptest.NewRequest("POST", "https://auth.example.com/api/v1/users/bob/impersonate", nil)
		_, _, err := svc.usersUI().startImpersonation(httptest.NewRecorder(), req, svc.localAdmin(), "bob")
		if status, _ := svc.statusOf(err); status != 403 {
			t.Fatalf("local admin: %v (%d), want 403", err, status)
		}
	})
}

// TestImpersonationSession: what an impersonation session is, does and
// cannot do; stopping returns to the actor; the audit log names both.
func TestImpersonationSession(t *testing.T) {
	svc, st, _ := newTestService(t)
	impersonationFixture(t, svc)
	staffApp, err := svc.core.Access.RegisterApp(AppConfig{Name: "wiki", AllowGroups: []string{"staff"}})
	if err != nil {
		t.Fatal(err)
	}
	adminsApp, err := svc.core.Access.RegisterApp(AppConfig{Name: "grafana", AllowGroups: []string{"admins"}})
	if err != nil {
		t.Fatal(err)
	}
	c := signedInClient(t, svc, "adam", false)
	own := c.session()
	if v := check(svc, adminsApp, own); v.Outcome != Allow {
		t.Fatalf("adam on grafana: %v", v.Outcome)
	}
	got, body := c.call("POST", "/api/v1/users/bob/impersonate", "")
	if got != 200 {
		t.Fatalf("start: %d %s", got, body)
	}
	imp := c.session()
	if imp.Value == own.Value {
		t.Fatal("the impersonation kept the session token")
	}
	if ck := c.cookies[DefaultCookieName+"_actor"]; ck == nil || ck.Value != own.Value || !ck.HttpOnly || !ck.Secure {
		t.Fatalf("actor cookie: %+v", ck)
	}
	// The actor's own session lives on (it is not deleted).
	if v := check(svc, adminsApp, own); v.Outcome != Allow {
		t.Fatalf("adam's own session during the impersonation: %v", v.Outcome)
	}

	// The guard: bob's identity and groups, plus the impersonator header;
	// no token of either session reaches the app.
	req := httptest.NewRequest("GET", "https://wiki.example.com/", nil)
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	req.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
	req.Header.Set("Remote-Impersonator", "mallory")
	if v := svc.Check(req, staffApp); v.Outcome != Allow || v.User.Username != "bob" {
		t.Fatalf("bob's app while impersonating: %+v", v)
	}
	if got := req.Header.Values("Remote-User"); len(got) != 1 || got[0] != "bob" {
		t.Fatalf("Remote-User %q", got)
	}
	if got := req.Header.Values("Remote-Impersonator"); len(got) != 1 || got[0] != "adam" {
		t.Fatalf("Remote-Impersonator %q", got)
	}
	if got := req.Header.Get("Remote-Groups"); got != "staff" {
		t.Fatalf("Remote-Groups %q", got)
	}
	if ck := req.Header.Get("Cookie"); ck != "theme=dark" {
		t.Fatalf("cookies forwarded to the app: %q", ck)
	}
	if v := check(svc, adminsApp, imp); v.Outcome != Deny {
		t.Fatalf("adam's app while acting as bob: %v, want Deny (bob's groups decide)", v.Outcome)
	}

	// The portal acts as bob: no admin API, no credential changes.
	for _, call := range []struct {
		method, path, body string
		want               int
		msg                string
	}{
		{"GET", "/api/v1/users", "", 403, "users.read"},
		{"POST", "/api/v1/me/password", `{"current_password":"` + testPW + `","password":"N3w-passphrase"}`, 403, "not while impersonating"},
		{"POST", "/api/v1/me/totp", "", 403, "not while impersonating"},
		{"POST", "/api/v1/me/backup-codes", "", 403, "not while impersonating"},
		{"POST", "/api/v1/keys", `{"label":"x"}`, 403, "not while impersonating"},
		{"POST", "/api/v1/users/dan/impersonate", "", 403, "not while impersonating"},
		{"PATCH", "/api/v1/me", `{"full_name":"Bobby"}`, 200, ""},
	} {
		got, body := c.call(call.method, call.path, call.body)
		if got != call.want || !strings.Contains(body, call.msg) {
			t.Errorf("%s %s as bob by adam: %d %s, want %d %q", call.method, call.path, got, body, call.want, call.msg)
		}
	}
	// The refusals went through the service too, whatever the route.
	bob, _ := svc.core.Users.FindUser("bob")
	ic := &caller{User: bob, Session: store.Session{ImpersonatorID: "x", ImpersonatorName: "adam", Methods: []string{core.MethodImpersonation}}}
	if err := svc.core.Credentials.ChangeOwnPassword(context.Background(), ic, testPW, "N3w-passphrase"); err == nil || err.Error() != "not while impersonating" {
		t.Fatalf("changeOwnPassword while impersonating: %v", err)
	}
	if _, _, err := svc.core.Credentials.MakeTempPassword(context.Background(), ic, "dan"); err == nil || err.Error() != "not while impersonating" {
		t.Fatalf("makeTempPassword while impersonating: %v", err)
	}
	if after, _ := svc.core.Users.FindUser("bob"); after.PasswordHash != bob.PasswordHash {
		t.Fatal("bob's password changed during the impersonation")
	}

	// Stop: back to adam's own session, which was never signed out.
	got, body = c.call("DELETE", "/api/v1/impersonation", "")
	if got != 200 || !strings.Contains(body, `"username":"adam"`) {
		t.Fatalf("stop: %d %s", got, body)
	}
	if c.session().Value != own.Value {
		t.Fatal("stop did not restore adam's own session token")
	}
	if c.cookies[DefaultCookieName+"_actor"] != nil {
		t.Fatal("stop left the actor cookie")
	}
	if who, by, _ := me(t, c); who != "adam" || by != "" {
		t.Fatalf("after stop /me is %q by %q", who, by)
	}
	if v := check(svc, staffApp, imp); v.Outcome != SignIn {
		t.Fatalf("the impersonation token after stop: %v", v.Outcome)
	}
	if got, body := c.call("DELETE", "/api/v1/impersonation", ""); got != 409 {
		t.Fatalf("stop without an impersonation: %d %s", got, body)
	}

	// The audit log names both, on start, stop and every action between.
	evs := auditEvents(t, st, store.AuditFilter{User: "adam"})
	find := func(action string) *store.Event {
		for _, e := range evs {
			if e.Action == action {
				return e
			}
		}
		t.Fatalf("no %s event for adam in %d events", action, len(evs))
		return nil
	}
	for _, action := range []string{core.ActionImpersonationStart, core.ActionImpersonationStop} {
		e := find(action)
		if e.Actor != "adam" || e.Resource != "user:bob" || !strings.Contains(e.Reason, "adam") || !strings.Contains(e.Reason, "bob") {
			t.Errorf("%s event: %+v", action, e)
		}
	}
	if e := find(core.ActionProfileUpdate); e.Actor != "bob" || e.Impersonator != "adam" {
		t.Errorf("profile change while impersonating: actor %q impersonator %q", e.Actor, e.Impersonator)
	}
	// Events by bob himself carry no impersonator.
	bc := signedInClient(t, svc, "bob", false)
	bc.call("PATCH", "/api/v1/me", `{"full_name":"Bob"}`)
	if evs := auditEvents(t, st, store.AuditFilter{Actor: "bob", Action: core.ActionProfileUpdate}); len(evs) != 2 || evs[0].Impersonator != "" {
		t.Errorf("bob's own profile change: %d events, newest by %q", len(evs), evs[0].Impersonator)
	}
}

// TestImpersonationEnds: the lifetime, the actor's session, the actor's
// rights and sign-out all end an impersonation.
func TestImpersonationEnds(t *testing.T) {
	t.Run("lifetime", func(t *testing.T) {
		svc, _, clk := newTestService(t)
		impersonationFixture(t, svc)
		setSettings(t, svc, `{"impersonation_lifetime":"10m"}`)
		c := signedInClient(t, svc, "adam", false)
		got, body := c.call("POST", "/api/v1/users/bob/impersonate", "")
		var resp impersonationResponse
		_ = json.Unmarshal([]byte(body), &resp)
		if got != 200 || !resp.ExpiresAt.Equal(clk.Now().Add(10*time.Minute)) {
			t.Fatalf("start: %d %s", got, body)
		}
		clk.Advance(9 * time.Minute)
		if who, _, _ := me(t, c); who != "bob" {
			t.Fatalf("before the end: %q", who)
		}
		clk.Advance(2 * time.Minute)
		if _, _, status := me(t, c); status != 401 {
			t.Fatalf("after the lifetime: %d, want 401", status)
		}
		// Stopping now signs the browser out (the impersonation record is
		// gone, so the actor cookie cannot be vouched for).
		got, body = c.call("DELETE", "/api/v1/impersonation", "")
		if got != 200 || !strings.Contains(body, `"signed_out":true`) || c.session() != nil || c.cookies[DefaultCookieName+"_actor"] != nil {
			t.Fatalf("stop after expiry: %d %s, cookies %v", got, body, c.cookies)
		}
	})

	t.Run("never beyond the actor's session", func(t *testing.T) {
		svc, _, clk := newTestService(t)
		impersonationFixture(t, svc)
		setSettings(t, svc, `{"impersonation_lifetime":"8760h"}`)
		c := signedInClient(t, svc, "adam", true)
		_, body := c.call("POST", "/api/v1/users/bob/impersonate", "")
		var resp impersonationResponse
		_ = json.Unmarshal([]byte(body), &resp)
		if want := clk.Now().Add(30 * 24 * time.Hour); !resp.ExpiresAt.Equal(want) {
			t.Fatalf("expires %v, want the actor's %v", resp.ExpiresAt, want)
		}
		// A remembered actor gets persistent cookies ending with it.
		if ck := c.session(); ck.MaxAge <= 0 || c.cookies[DefaultCookieName+"_actor"].MaxAge != ck.MaxAge {
			t.Fatalf("cookie ages: %d and %d", ck.MaxAge, c.cookies[DefaultCookieName+"_actor"].MaxAge)
		}
	})

	t.Run("the actor's session is kept from idling", func(t *testing.T) {
		svc, _, clk := newTestService(t)
		impersonationFixture(t, svc)
		setSettings(t, svc, `{"impersonation_lifetime":"3h"}`)
		c := signedInClient(t, svc, "adam", false) // idle limit 1h
		c.call("POST", "/api/v1/users/bob/impersonate", "")
		for range 3 {
			clk.Advance(50 * time.Minute)
			if who, _, _ := me(t, c); who != "bob" {
				t.Fatalf("impersonation ended early: %q", who)
			}
		}
		if got, body := c.call("DELETE", "/api/v1/impersonation", ""); got != 200 || !strings.Contains(body, `"username":"adam"`) {
			t.Fatalf("stop: %d %s", got, body)
		}
	})

	ends := []struct {
		name string
		do   func(t *testing.T, svc *Service, adam *store.User)
	}{
		{"actor signed out elsewhere", func(t *testing.T, svc *Service, adam *store.User) {
			if _, err := svc.store.DeleteUserSessions(adam.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"actor disabled", func(t *testing.T, svc *Service, adam *store.User) {
			active := false
			if _, err := svc.core.Users.UpdateUser(svc.localAdmin(), "adam", UserPatch{Active: &active}); err != nil {
				t.Fatal(err)
			}
		}},
		{"actor demoted", func(t *testing.T, svc *Service, adam *store.User) {
			role := policies.RoleUser
			if _, err := svc.core.Users.UpdateUser(svc.localAdmin(), "adam", UserPatch{Role: &role}); err != nil {
				t.Fatal(err)
			}
		}},
		{"target disabled", func(t *testing.T, svc *Service, adam *store.User) {
			active := false
			if _, err := svc.core.Users.UpdateUser(svc.localAdmin(), "bob", UserPatch{Active: &active}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range ends {
		t.Run(tc.name, func(t *testing.T) {
			svc, _, _ := newTestService(t)
			impersonationFixture(t, svc)
			c := signedInClient(t, svc, "adam", false)
			c.call("POST", "/api/v1/users/bob/impersonate", "")
			if who, _, _ := me(t, c); who != "bob" {
				t.Fatalf("start: %q", who)
			}
			adam, _ := svc.core.Users.FindUser("adam")
			tc.do(t, svc, adam)
			if _, _, status := me(t, c); status != 401 {
				t.Fatalf("impersonation after %s: %d, want 401", tc.name, status)
			}
		})
	}

	t.Run("sign out ends both sessions", func(t *testing.T) {
		svc, st, _ := newTestService(t)
		impersonationFixture(t, svc)
		c := signedInClient(t, svc, "adam", false)
		own := c.session()
		c.call("POST", "/api/v1/users/bob/impersonate", "")
		if got, _ := c.call("POST", "/api/v1/logout", ""); got != 204 {
			t.Fatalf("logout: %d", got)
		}
		if _, err := st.Session(core.SessionIDOf(own.Value)); err == nil {
			t.Fatal("adam's own session survived signing out during an impersonation")
		}
		if c.cookies[DefaultCookieName+"_actor"] != nil || c.session() != nil {
			t.Fatalf("cookies after logout: %v", c.cookies)
		}
		var byAdam bool
		for _, e := range auditEvents(t, st, store.AuditFilter{Action: core.ActionLogout}) {
			if e.Actor == "bob" && e.Impersonator == "adam" {
				byAdam = true
			}
		}
		if !byAdam {
			t.Fatal("the logout of the impersonation session does not name adam")
		}
	})

	t.Run("a forged actor cookie restores nothing", func(t *testing.T) {
		svc, _, _ := newTestService(t)
		impersonationFixture(t, svc)
		mallory := signedInClient(t, svc, "uma", false).session()
		c := signedInClient(t, svc, "adam", false)
		c.call("POST", "/api/v1/users/bob/impersonate", "")
		forged := *mallory
		forged.Name = DefaultCookieName + "_actor"
		c.cookies[forged.Name] = &forged
		got, body := c.call("DELETE", "/api/v1/impersonation", "")
		if got != 200 || !strings.Contains(body, `"signed_out":true`) {
			t.Fatalf("stop with a planted actor cookie: %d %s", got, body)
		}
		if _, _, status := me(t, c); status != 401 {
			t.Fatalf("after stop with a planted cookie: %d, want 401 (not uma)", status)
		}
	})
}

// TestImpersonationPages: the Impersonate button, the banner on every page,
// the refused password form and the Stop button.
func TestImpersonationPages(t *testing.T) {
	env := newPageEnv(t, nil)
	impersonationFixture(t, env.svc)
	b := env.browser(t)
	b.signIn("adam")
	_, page := b.get("/admin/users/bob")
	for _, want := range []string{`action="/admin/users/bob/impersonate"`, `action="/admin/users/bob/temp-password"`, "Make a temporary password"} {
		if !strings.Contains(page, want) {
			t.Errorf("bob's page for adam lacks %q", want)
		}
	}
	if _, page := b.get("/admin/users/olga"); strings.Contains(page, "/impersonate") || strings.Contains(page, "/temp-password") {
		t.Error("adam is offered to impersonate or reset the owner")
	}
	if _, page := b.get("/admin/users/adam"); strings.Contains(page, "/impersonate") {
		t.Error("adam is offered to impersonate himself")
	}

	resp, _ := b.submit("/admin/users/bob", "/admin/users/bob/impersonate", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || location(resp) != "/" {
		t.Fatalf("impersonate form: %d %s", resp.StatusCode, location(resp))
	}
	for _, path := range []string{"/", "/profile", "/profile/password"} {
		resp, page := b.get(path)
		if resp.StatusCode != 200 || !strings.Contains(page, "are acting as <strong>bob</strong>") ||
			!strings.Contains(page, `action="/impersonation/stop"`) {
			t.Errorf("%s while impersonating: %d, no banner", path, resp.StatusCode)
		}
	}
	if resp, _ := b.get("/admin/users"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("/admin/users as bob: %d, want 403", resp.StatusCode)
	}
	resp, page = b.submit("/profile/password", "/profile/password",
		url.Values{"current_password": {testPW}, "password": {"N3w-passphrase"}, "password2": {"N3w-passphrase"}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(strings.ToLower(page), "not while impersonating") {
		t.Fatalf("password form while impersonating: %d", resp.StatusCode)
	}

	resp, _ = b.submit("/", "/impersonation/stop", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || location(resp) != "/admin/users/bob" {
		t.Fatalf("stop: %d %s", resp.StatusCode, location(resp))
	}
	_, page = b.get("/admin/users/bob")
	if strings.Contains(page, "You are acting as") || !strings.Contains(page, "You stopped acting as bob") {
		t.Fatal("after stop: banner still shown or no flash")
	}
	// Without the csrf token the stop form changes nothing.
	b.submit("/admin/users/bob", "/admin/users/bob/impersonate", url.Values{})
	if resp, _ := b.post("/impersonation/stop", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stop without csrf: %d", resp.StatusCode)
	}

	// A user manager sees the temporary password button, not Impersonate.
	um := env.browser(t)
	um.signIn("uma")
	_, page = um.get("/admin/users/bob")
	if strings.Contains(page, "/impersonate") || !strings.Contains(page, "/temp-password") {
		t.Fatal("uma's view of bob: wrong support buttons")
	}
	resp, page = um.submit("/admin/users/bob", "/admin/users/bob/temp-password", url.Values{})
	if resp.StatusCode != 200 || !strings.Contains(page, "Temporary password for bob") {
		t.Fatalf("temp password page: %d", resp.StatusCode)
	}
	m := regexpTextarea.FindStringSubmatch(page)
	if m == nil || len(m[1]) != core.TempPasswordLen {
		t.Fatalf("no temporary password on the page")
	}
	if got := loginStatus(t, env.svc, "bob", m[1]); got != 200 {
		t.Fatalf("login with the page's temporary password: %d", got)
	}
}

// TestTempPassword: who may make one, and that it signs in once, expires,
// keeps the real password and bypasses nothing.
func TestTempPassword(t *testing.T) {
	svc, st, clk := newTestService(t)
	impersonationFixture(t, svc)
	mk := func(actor, target string) (int, core.TempPasswordResponse, string) {
		t.Helper()
		c := signedInClient(t, svc, actor, false)
		got, body := c.call("POST", "/api/v1/users/"+target+"/temp-password", "")
		var resp core.TempPasswordResponse
		_ = json.Unmarshal([]byte(body), &resp)
		return got, resp, body
	}

	t.Run("who", func(t *testing.T) {
		for _, tc := range []struct {
			actor, target string
			want          int
		}{
			{"olga", "olivia", 201},
			{"olga", "adam", 201},
			{"adam", "bob", 201},
			{"adam", "olga", 403},
			{"uma", "bob", 201},
			{"uma", "adam", 403},
			{"otto", "bob", 403},
			{"bob", "bob", 403},
			{"adam", "dan", 409},
			{"adam", "nobody", 404},
		} {
			got, resp, body := mk(tc.actor, tc.target)
			if got != tc.want {
				t.Errorf("%s makes one for %s: %d %s, want %d", tc.actor, tc.target, got, body, tc.want)
			}
			if got == 201 && (len(resp.Password) != core.TempPasswordLen || svc.core.PasswordRules().Check(resp.Password, tc.target) != nil ||
				!resp.ExpiresAt.Equal(clk.Now().Add(DefaultTempPasswordLifetime))) {
				t.Errorf("temporary password %q expiring %v", resp.Password, resp.ExpiresAt)
			}
		}
	})

	t.Run("signs in once, keeps the real password", func(t *testing.T) {
		before, _ := svc.core.Users.FindUser("bob")
		_, resp, _ := mk("adam", "bob")
		c := newClient(t, svc)
		if got, body := c.call("POST", "/api/v1/login", `{"username":"bob","password":"`+resp.Password+`"}`); got != 200 {
			t.Fatalf("login with the temporary password: %d %s", got, body)
		}
		got, body := c.call("GET", "/api/v1/me", "")
		if got != 200 || !strings.Contains(body, `"methods":["temp_password"]`) {
			t.Fatalf("/me: %d %s", got, body)
		}
		if loginStatus(t, svc, "bob", resp.Password) != 401 {
			t.Fatal("a temporary password worked twice")
		}
		if loginStatus(t, svc, "bob", testPW) != 200 {
			t.Fatal("the real password stopped working")
		}
		if after, _ := svc.core.Users.FindUser("bob"); after.PasswordHash != before.PasswordHash {
			t.Fatal("the temporary password replaced the real one")
		}
		var found bool
		for _, e := range auditEvents(t, st, store.AuditFilter{Actor: "bob", Action: core.ActionLogin}) {
			if e.Outcome == outcomeSuccess && e.Reason == "temporary password made by adam" {
				found = true
			}
		}
		if !found {
			t.Fatal("no login event naming the temporary password's maker")
		}
		// The session it opened may choose a password without the old one.
		if got, body := c.call("POST", "/api/v1/me/password", `{"current_password":"","password":"N3w-passphrase"}`); got != 204 {
			t.Fatalf("set a password after a temporary sign-in: %d %s", got, body)
		}
		if loginStatus(t, svc, "bob", "N3w-passphrase") != 200 {
			t.Fatal("the chosen password does not work")
		}
	})

	t.Run("expires", func(t *testing.T) {
		_, resp, _ := mk("adam", "uma")
		clk.Advance(DefaultTempPasswordLifetime + time.Second)
		if got := loginStatus(t, svc, "uma", resp.Password); got != 401 {
			t.Fatalf("expired temporary password: %d", got)
		}
	})

	t.Run("disabled, locked, second factors", func(t *testing.T) {
		mustUser(t, svc, "carl", policies.RoleUser)
		_, resp, _ := mk("adam", "carl")
		active := false
		if _, err := svc.core.Users.UpdateUser(svc.localAdmin(), "carl", UserPatch{Active: &active}); err != nil {
			t.Fatal(err)
		}
		if got := loginStatus(t, svc, "carl", resp.Password); got != 401 {
			t.Fatalf("disabled account with a temporary password: %d", got)
		}
		active = true
		if _, err := svc.core.Users.UpdateUser(svc.localAdmin(), "carl", UserPatch{Active: &active}); err != nil {
			t.Fatal(err)
		}
		for range DefaultLockoutThreshold {
			loginStatus(t, svc, "carl", "Wrong-passw0rd")
		}
		if got := loginStatus(t, svc, "carl", resp.Password); got != 401 {
			t.Fatalf("locked account with a temporary password: %d", got)
		}
		if err := svc.core.Auth.UnlockUser(svc.localAdmin(), "carl"); err != nil {
			t.Fatal(err)
		}
		setSettings(t, svc, `{"require_2fa":true}`)
		got, body := apiCall(t, svc, nil, "POST", "/api/v1/login", `{"username":"carl","password":"`+resp.Password+`"}`)
		if got != 200 || !strings.Contains(body, `"enrollment_required":true`) {
			t.Fatalf("mandatory 2FA with a temporary password: %d %s", got, body)
		}
		setSettings(t, svc, `{"require_2fa":false}`)
	})

	t.Run("at most three live", func(t *testing.T) {
		mustUser(t, svc, "dora", policies.RoleUser)
		var pws []string
		for range 4 {
			_, resp, _ := mk("adam", "dora")
			pws = append(pws, resp.Password)
			clk.Advance(time.Second)
		}
		if got := loginStatus(t, svc, "dora", pws[0]); got != 401 {
			t.Fatalf("the oldest of four: %d, want 401", got)
		}
		if got := loginStatus(t, svc, "dora", pws[1]); got != 200 {
			t.Fatalf("the second of four: %d, want 200", got)
		}
	})
}
