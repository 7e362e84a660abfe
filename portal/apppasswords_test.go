package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// appPasswordWorks reports whether secret opens name's account for app.
func appPasswordWorks(svc *Service, name, secret, app string) bool {
	u, err := svc.core.Credentials.CheckAppPassword(&core.Actor{Via: core.ViaLDAP, IP: "198.51.100.1"}, name, secret, app)
	return err == nil && u.Username == name
}

// createAppPassword makes an app password through the API.
func createAppPassword(t *testing.T, c *client, body string) core.AppPasswordView {
	t.Helper()
	got, b := c.call("POST", "/api/v1/me/app-passwords", body)
	if got != http.StatusCreated {
		t.Fatalf("create app password %s: %d %s", body, got, b)
	}
	return decodeBody[core.AppPasswordView](t, b)
}

// TestAppPasswordsAPI: /api/v1/me/app-passwords and the administrators'
// /api/v1/users/{user}/app-passwords, with the principles they are held
// to.
func TestAppPasswordsAPI(t *testing.T) {
	svc, st, clk := newTestService(t)
	impersonationFixture(t, svc)
	if _, err := svc.core.Access.RegisterApp(AppConfig{Name: "wiki"}); err != nil {
		t.Fatal(err)
	}
	bob := signedInClient(t, svc, "bob", false)

	for _, tc := range []struct{ body, field, want string }{
		{`{}`, "name", "name is required"},
		{`{"name":"x","app":"nope"}`, "app", `no app called \"nope\"`},
		{`{"name":5}`, "", `field \"name\" must be a string`},
		{`{"name":"x","scope":"all"}`, "", `unknown field \"scope\"`},
		{`{"name":"x"`, "", "JSON"},
	} {
		got, b := bob.call("POST", "/api/v1/me/app-passwords", tc.body)
		if got != http.StatusBadRequest || !strings.Contains(b, tc.want) || tc.field != "" && !strings.Contains(b, `"field":"`+tc.field+`"`) {
			t.Errorf("create %s: %d %s, want 400 naming %s", tc.body, got, b, tc.want)
		}
	}

	// Created: the secret once, in the answer of the spec.
	got, b := bob.call("POST", "/api/v1/me/app-passwords", `{"name":"Phone mail"}`)
	var created map[string]any
	if err := json.Unmarshal([]byte(b), &created); got != http.StatusCreated || err != nil {
		t.Fatalf("create: %d %s", got, b)
	}
	for _, k := range []string{"id", "name", "app", "password"} {
		if _, ok := created[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, b)
		}
	}
	phone := decodeBody[core.AppPasswordView](t, b)
	clk.Advance(time.Second)
	wiki := createAppPassword(t, bob, `{"name":"Wiki","app":"wiki"}`)
	if !appPasswordWorks(svc, "bob", phone.Password, "") || !appPasswordWorks(svc, "bob", wiki.Password, "wiki") || appPasswordWorks(svc, "bob", wiki.Password, "chat") {
		t.Fatal("the created passwords do not work as limited")
	}
	got, b = bob.call("GET", "/api/v1/me/app-passwords", "")
	if got != http.StatusOK || strings.Contains(b, `"password"`) || strings.Contains(b, phone.Password) {
		t.Fatalf("list: %d %s", got, b)
	}
	items := decodeBody[list[core.AppPasswordView]](t, b).Items
	if len(items) != 2 || items[0].ID != wiki.ID || items[1].LastUsedAt == nil || items[1].LastUsedIP != "198.51.100.1" {
		t.Fatalf("list with last use: %s", b)
	}

	// Creating is a credential change: not with an API key, not while
	// impersonating, and freshly proven.
	key := makeKey(t, svc, bob.session(), `{"label":"script"}`).Key
	if got, b := keyCall(t, svc, key, "POST", "/api/v1/me/app-passwords", `{"name":"k"}`); got != http.StatusForbidden || !strings.Contains(b, "API key") {
		t.Errorf("create with an API key: %d %s", got, b)
	}
	if got, _ := keyCall(t, svc, key, "DELETE", "/api/v1/me/app-passwords/"+phone.ID, ""); got != http.StatusForbidden {
		t.Errorf("revoke with an API key: %d", got)
	}
	if got, _ := keyCall(t, svc, key, "GET", "/api/v1/me/app-passwords", ""); got != http.StatusOK {
		t.Errorf("list with an API key: %d", got)
	}
	olga := signedInClient(t, svc, "olga", false)
	if got, b := olga.call("POST", "/api/v1/users/bob/impersonate", ""); got != http.StatusOK {
		t.Fatalf("impersonate: %d %s", got, b)
	}
	if got, b := olga.call("POST", "/api/v1/me/app-passwords", `{"name":"mine now"}`); got != http.StatusForbidden || !strings.Contains(b, "impersonating") {
		t.Errorf("create while impersonating: %d %s", got, b)
	}
	if got, _ := olga.call("DELETE", "/api/v1/me/app-passwords/"+phone.ID, ""); got != http.StatusForbidden {
		t.Errorf("revoke while impersonating: %d", got)
	}
	refused := auditEvents(t, st, store.AuditFilter{Action: core.ActionCredentialRefused})
	if len(refused) == 0 || refused[0].Impersonator != "olga" || refused[0].Actor != "bob" {
		t.Errorf("refusal while impersonating audited as %+v", refused)
	}
	clk.Advance(core.FreshWindow + time.Minute)
	if got, b := bob.call("POST", "/api/v1/me/app-passwords", `{"name":"late"}`); got != http.StatusForbidden || !strings.Contains(b, "confirm your current password") {
		t.Errorf("create from a stale session: %d %s", got, b)
	}
	createAppPassword(t, bob, `{"name":"late","current_password":"`+testPW+`"}`)

	// Revoking: one's own; nobody else's is even named.
	mustUser(t, svc, "evelyn", "user")
	ev := signedInClient(t, svc, "evelyn", false)
	if got, _ := ev.call("DELETE", "/api/v1/me/app-passwords/"+phone.ID, ""); got != http.StatusNotFound {
		t.Errorf("evelyn revokes bob's: %d", got)
	}
	if got, b := bob.call("DELETE", "/api/v1/me/app-passwords/"+phone.ID, ""); got != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", got, b)
	}
	if appPasswordWorks(svc, "bob", phone.Password, "") {
		t.Error("revoked password still works")
	}
	if got, _ := bob.call("DELETE", "/api/v1/me/app-passwords/"+phone.ID, ""); got != http.StatusNotFound {
		t.Errorf("revoked twice: %d", got)
	}
	if evs := auditEvents(t, st, store.AuditFilter{Action: core.ActionAppPasswordRevoke}); len(evs) != 1 || evs[0].Actor != "bob" {
		t.Errorf("revoke audit: %+v", evs)
	}

	// Administrators: users.read lists, users.write and the right to
	// manage the user revoke; never on their own account.
	uma := signedInClient(t, svc, "uma", false)
	adam := signedInClient(t, svc, "adam", false)
	adams := createAppPassword(t, adam, `{"name":"adam's"}`)
	for _, tc := range []struct {
		name   string
		c      *client
		method string
		path   string
		want   int
	}{
		{"a user lists another's", ev, "GET", "/api/v1/users/bob/app-passwords", http.StatusForbidden},
		{"an operator lists", signedInClient(t, svc, "otto", false), "GET", "/api/v1/users/bob/app-passwords", http.StatusOK},
		{"an operator revokes", signedInClient(t, svc, "otto", false), "DELETE", "/api/v1/users/bob/app-passwords/" + wiki.ID, http.StatusForbidden},
		{"a user manager revokes an admin's", uma, "DELETE", "/api/v1/users/adam/app-passwords/" + adams.ID, http.StatusForbidden},
		{"an admin on his own account", adam, "DELETE", "/api/v1/users/adam/app-passwords/" + adams.ID, http.StatusForbidden},
		{"another user's id", uma, "DELETE", "/api/v1/users/evelyn/app-passwords/" + wiki.ID, http.StatusNotFound},
		{"unknown user", uma, "GET", "/api/v1/users/nobody/app-passwords", http.StatusNotFound},
		{"a user manager revokes a user's", uma, "DELETE", "/api/v1/users/bob/app-passwords/" + wiki.ID, http.StatusNoContent},
		{"an owner while impersonating", olga, "DELETE", "/api/v1/users/adam/app-passwords/" + adams.ID, http.StatusForbidden},
	} {
		if got, b := tc.c.call(tc.method, tc.path, ""); got != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, got, b, tc.want)
		}
	}
	if appPasswordWorks(svc, "bob", wiki.Password, "wiki") {
		t.Error("password revoked by uma still works")
	}
	if evs := auditEvents(t, st, store.AuditFilter{Action: core.ActionAppPasswordRevoke}); len(evs) != 2 || evs[0].Actor != "uma" || !strings.Contains(evs[0].Reason, "owner bob") {
		t.Errorf("admin revoke audit: %+v", evs)
	}
	got, b = uma.call("GET", "/api/v1/users/bob/app-passwords", "")
	if items := decodeBody[list[core.AppPasswordView]](t, b).Items; got != http.StatusOK || len(items) != 1 || items[0].Name != "late" {
		t.Errorf("uma lists bob's: %d %s", got, b)
	}

	// Disabling the user kills them.
	if got, b := uma.call("PATCH", "/api/v1/users/bob", `{"active":false}`); got != http.StatusOK {
		t.Fatalf("disable: %d %s", got, b)
	}
	if got, b := uma.call("PATCH", "/api/v1/users/bob", `{"active":true}`); got != http.StatusOK {
		t.Fatalf("enable: %d %s", got, b)
	}
	if got, b := uma.call("GET", "/api/v1/users/bob/app-passwords", ""); got != http.StatusOK || strings.Contains(b, `"late"`) {
		t.Errorf("after disabling: %d %s", got, b)
	}
}

var appPasswordOnPage = regexp.MustCompile(`gtap_[0-9a-z-]{35}`)

// TestAppPasswordPages: the profile's section (create, shown once, list,
// revoke), the password form's question, and the user page of an
// administrator.
func TestAppPasswordPages(t *testing.T) {
	env := newPageEnv(t, nil)
	impersonationFixture(t, env.svc)
	if _, err := env.svc.core.Access.RegisterApp(AppConfig{Name: "wiki", Title: "The Wiki"}); err != nil {
		t.Fatal(err)
	}
	b := env.browser(t)
	b.signIn("bob")
	_, page := b.get("/profile")
	for _, want := range []string{`id="app-passwords-title"`, `action="/profile/app-passwords"`, `<option value="wiki">Only the app The Wiki</option>`} {
		if !strings.Contains(page, want) {
			t.Errorf("profile lacks %q", want)
		}
	}
	if strings.Contains(page, "revoke_app_passwords") {
		t.Error("the password form asks about app passwords bob does not have")
	}
	resp, page := b.submit("/profile", "/profile/app-passwords", url.Values{"name": {"Jellyfin TV"}, "app": {"wiki"}})
	secret := appPasswordOnPage.FindString(page)
	if resp.StatusCode != http.StatusOK || secret == "" || !strings.Contains(page, "only for the app wiki") || !strings.Contains(page, `data-copy="#link"`) {
		t.Fatalf("create form: %d, secret %q", resp.StatusCode, secret)
	}
	if !appPasswordWorks(env.svc, "bob", secret, "wiki") {
		t.Fatal("the shown password does not work")
	}
	if resp, page := b.submit("/profile", "/profile/app-passwords", url.Values{"name": {"x"}, "app": {"nope"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "o app called &#34;nope&#34;") {
		t.Errorf("unknown app: %d", resp.StatusCode)
	}
	_, page = b.get("/profile")
	if !strings.Contains(page, "Jellyfin TV") || strings.Contains(page, secret) {
		t.Fatal("profile: not listed, or the secret shown again")
	}
	id := regexp.MustCompile(`/profile/app-passwords/([0-9a-z]+)/revoke`).FindStringSubmatch(page)
	if id == nil {
		t.Fatal("no revoke form")
	}
	if resp, _ := b.submit("/profile", id[0], url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke form: %d", resp.StatusCode)
	}
	if appPasswordWorks(env.svc, "bob", secret, "wiki") {
		t.Fatal("revoked from the profile, still works")
	}

	// The password change asks, checked by default; unchecked keeps them.
	newPW := []string{"N3w-passphrase", "An0ther-passphrase"}
	for i, revoke := range []bool{false, true} {
		_, page := b.submit("/profile", "/profile/app-passwords", url.Values{"name": {"mail"}})
		secret := appPasswordOnPage.FindString(page)
		_, page = b.get("/profile")
		if !strings.Contains(page, `name="revoke_app_passwords" type="checkbox" value="1" checked`) {
			t.Fatal("the password form does not ask about app passwords, checked")
		}
		form := url.Values{"from": {"profile"}, "current_password": {[]string{testPW, newPW[0]}[i]}, "password": {newPW[i]}, "password2": {newPW[i]}}
		if revoke {
			form.Set("revoke_app_passwords", "1")
		}
		resp, _ := b.submit("/profile", "/profile/password", form)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("password change: %d", resp.StatusCode)
		}
		_, page = b.get("/")
		if works := appPasswordWorks(env.svc, "bob", secret, ""); works == revoke {
			t.Errorf("revoke %v: the app password works: %v", revoke, works)
		}
		if revoke && !strings.Contains(page, "were revoked") {
			t.Error("no word of the revoked app passwords")
		}
	}

	// The user page: uma sees and revokes bob's; adam sees no revoke
	// button on his own.
	bobU, _ := env.st.UserByUsername("bob")
	p, err := env.svc.core.Credentials.CreateAppPassword(&core.Actor{User: bobU, Credential: core.CredSession}, core.AppPasswordInput{Name: "Nextcloud"})
	if err != nil {
		t.Fatal(err)
	}
	um := env.browser(t)
	um.signIn("uma")
	_, page = um.get("/admin/users/bob")
	if !strings.Contains(page, "Nextcloud") || !strings.Contains(page, "/admin/users/bob/app-passwords/"+p.ID+"/revoke") {
		t.Fatal("bob's page for uma: no app password or no revoke form")
	}
	if resp, _ := um.submit("/admin/users/bob", "/admin/users/bob/app-passwords/"+p.ID+"/revoke", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin revoke form: %d", resp.StatusCode)
	}
	if appPasswordWorks(env.svc, "bob", p.Password, "") {
		t.Fatal("revoked from the user page, still works")
	}
	adamU, _ := env.st.UserByUsername("adam")
	if _, err := env.svc.core.Credentials.CreateAppPassword(&core.Actor{User: adamU, Credential: core.CredSession}, core.AppPasswordInput{Name: "Mine"}); err != nil {
		t.Fatal(err)
	}
	ad := env.browser(t)
	ad.signIn("adam")
	if _, page := ad.get("/admin/users/adam"); !strings.Contains(page, "Mine") || strings.Contains(page, "/app-passwords/") {
		t.Error("adam's own user page: not listed, or a revoke form")
	}
}
