package portal

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core"
)

var ldapSecretShown = regexp.MustCompile(regexp.QuoteMeta(core.LDAPSecretPrefix) + `[0-9A-Za-z]{20,}`)

// TestLDAPClientPages: the page of the directory server's bind clients
// lists them, makes one (its secret shown once, never again), deletes one
// after a confirmation, refuses a form without the CSRF token, a plain
// user, and an impersonation session; the navigation shows it to those
// who may use it.
func TestLDAPClientPages(t *testing.T) {
	e := newPageEnv(t, nil)
	impersonationFixture(t, e.svc)
	if _, err := e.svc.core.Access.RegisterApp(AppConfig{Name: "jellyfin", Title: "Jellyfin"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signIn("olga")

	_, page := b.get("/admin/ldap")
	for _, want := range []string{`href="/admin/ldap"`, "The directory server is off", "base_dn " + core.DefaultDirectoryBaseDN,
		"No LDAP clients yet", `<option value="jellyfin">Users of the app Jellyfin</option>`, `action="/admin/ldap/clients"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	t.Run("CSRF required", func(t *testing.T) {
		resp, _ := b.post("/admin/ldap/clients", url.Values{"name": {"nocsrf"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("create without the token: %d, want 403", resp.StatusCode)
		}
		if _, err := e.st.LDAPClient("nocsrf"); err == nil {
			t.Fatal("a form without the token made a client")
		}
	})

	t.Run("bad input names the field", func(t *testing.T) {
		resp, page := b.submit("/admin/ldap", "/admin/ldap/clients", url.Values{"name": {"Bad Name!"}, "app": {""}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="name-error"`) || !strings.Contains(page, `value="Bad Name!"`) {
			t.Fatalf("bad name: %d, want 400 with the error beside the kept field", resp.StatusCode)
		}
		resp, page = b.submit("/admin/ldap", "/admin/ldap/clients", url.Values{"name": {"ghost"}, "app": {"nope"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "No app called") {
			t.Fatalf("unknown app: %d, want 400 naming the app", resp.StatusCode)
		}
	})

	var secret string
	t.Run("create shows the secret once", func(t *testing.T) {
		resp, page := b.submit("/admin/ldap", "/admin/ldap/clients", url.Values{"name": {"jellyfin"}, "app": {"jellyfin"}})
		secret = ldapSecretShown.FindString(page)
		if resp.StatusCode != http.StatusOK || secret == "" || !strings.Contains(page, "cn=jellyfin,ou=system,"+core.DefaultDirectoryBaseDN) ||
			!strings.Contains(page, `data-copy="#link"`) || !strings.Contains(page, "only time it is shown") {
			t.Fatalf("create: %d, secret %q; want the secret, the bind DN and a copy button", resp.StatusCode, secret)
		}
		lastUse := regexp.MustCompile(`data-label="Last used">(?:<span class="muted">)?([^<]*)`)
		for i := 0; i < 2; i++ {
			_, page := b.get("/admin/ldap")
			if strings.Contains(page, secret) || ldapSecretShown.MatchString(page) {
				t.Fatal("the secret is shown again on the page")
			}
			if !strings.Contains(page, "cn=jellyfin,ou=system,"+core.DefaultDirectoryBaseDN) || !strings.Contains(page, "users of jellyfin") {
				t.Fatal("the list lacks the client's bind DN or app")
			}
			want := "never"
			if i == 1 {
				want = "just now"
			}
			if m := lastUse.FindStringSubmatch(page); m == nil || !strings.HasPrefix(m[1], want) {
				t.Fatalf("last use %q, want %q", m, want)
			}
			// The shown secret binds (and is then used).
			if _, err := e.svc.core.Credentials.CheckLDAPClient(e.svc.localAdmin(), "jellyfin", secret); err != nil {
				t.Fatalf("the shown secret does not bind: %v", err)
			}
		}
		resp, _ = b.submit("/admin/ldap", "/admin/ldap/clients", url.Values{"name": {"jellyfin"}})
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("the same name again: %d, want 409", resp.StatusCode)
		}
	})

	t.Run("a plain user gets 403", func(t *testing.T) {
		u := e.browser(t)
		u.signIn("bob")
		if resp, _ := u.get("/admin/ldap"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("bob GET /admin/ldap: %d, want 403", resp.StatusCode)
		}
		if _, home := u.get("/"); strings.Contains(home, `href="/admin/ldap"`) {
			t.Fatal("bob's navigation links the directory server page")
		}
		tok := u.csrf("/profile")
		for path, form := range map[string]url.Values{
			"/admin/ldap/clients":                 {"name": {"bobs"}, "csrf": {tok}},
			"/admin/ldap/clients/jellyfin/delete": {"confirm": {"yes"}, "csrf": {tok}},
		} {
			if resp, _ := u.post(path, form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("bob POST %s: %d, want 403", path, resp.StatusCode)
			}
		}
		if _, err := e.st.LDAPClient("jellyfin"); err != nil {
			t.Fatal("bob deleted the client")
		}
	})

	t.Run("refused while impersonating", func(t *testing.T) {
		imp := e.browser(t)
		imp.signIn("olivia")
		if resp, _ := imp.submit("/admin/users/adam", "/admin/users/adam/impersonate", url.Values{}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("impersonate adam: %d", resp.StatusCode)
		}
		for path, form := range map[string]url.Values{
			"/admin/ldap/clients":                 {"name": {"adams"}},
			"/admin/ldap/clients/jellyfin/delete": {"confirm": {"yes"}},
		} {
			// The route policy refuses it before the handler runs (core
			// would too, with another message).
			resp, page := imp.submit("/admin/ldap", path, form)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "LDAP clients cannot be made or removed now. Stop impersonating first.") {
				t.Errorf("POST %s as adam impersonated: %d, want 403 from the route policy", path, resp.StatusCode)
			}
		}
		if _, err := e.st.LDAPClient("adams"); err == nil {
			t.Fatal("an impersonation session made a client")
		}
		if _, err := e.st.LDAPClient("jellyfin"); err != nil {
			t.Fatal("an impersonation session deleted a client")
		}
	})

	t.Run("refused with an API key", func(t *testing.T) {
		key := makeKey(t, e.svc, login(t, e.svc, "olga", false), `{"label":"script"}`).Key
		for _, rq := range []struct{ method, path string }{{"POST", "/api/v1/ldap/clients"}, {"DELETE", "/api/v1/ldap/clients/jellyfin"}} {
			rec := routeRequest(e.svc, rq.method, rq.path, key, nil)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "API keys cannot make or remove LDAP clients: sign in to the portal") {
				t.Errorf("%s %s with an API key: %d %s, want 403 from the route policy", rq.method, rq.path, rec.Code, rec.Body)
			}
		}
		if rec := routeRequest(e.svc, "GET", "/api/v1/ldap/clients", key, nil); rec.Code != http.StatusOK {
			t.Errorf("GET the list with an API key: %d, want 200", rec.Code)
		}
	})

	t.Run("delete needs the confirmation", func(t *testing.T) {
		resp, page := b.submit("/admin/ldap", "/admin/ldap/clients/jellyfin/delete", url.Values{})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Tick the box") {
			t.Fatalf("delete without the box: %d, want 400 asking to confirm", resp.StatusCode)
		}
		if _, err := e.st.LDAPClient("jellyfin"); err != nil {
			t.Fatal("deleted without the confirmation")
		}
		resp, _ = b.submit("/admin/ldap", "/admin/ldap/clients/jellyfin/delete", url.Values{"confirm": {"yes"}})
		if resp.StatusCode != http.StatusSeeOther || location(resp) != "/admin/ldap" {
			t.Fatalf("delete: %d %s", resp.StatusCode, location(resp))
		}
		if _, err := e.st.LDAPClient("jellyfin"); err == nil {
			t.Fatal("the client is still there")
		}
		_, page = b.get("/admin/ldap")
		if !strings.Contains(page, "The LDAP client jellyfin was deleted") || strings.Contains(page, "cn=jellyfin,ou=system") {
			t.Fatal("after the delete: no flash, or the client is still listed")
		}
		if _, err := e.svc.core.Credentials.CheckLDAPClient(e.svc.localAdmin(), "jellyfin", secret); err == nil {
			t.Fatal("a deleted client still binds")
		}
		resp, _ = b.submit("/admin/ldap", "/admin/ldap/clients/jellyfin/delete", url.Values{"confirm": {"yes"}})
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("delete again: %d, want 404", resp.StatusCode)
		}
	})

	t.Run("a running server shows where it listens", func(t *testing.T) {
		e.svc.dirServer = &DirectoryServerInfo{Listen: []string{"127.0.0.1:3890"}, ListenTLS: []string{"0.0.0.0:6360"}, TLSServerName: "ldap.example.com"}
		defer func() { e.svc.dirServer = nil }()
		_, page := b.get("/admin/ldap")
		for _, want := range []string{"ldap://127.0.0.1:3890", "ldaps://0.0.0.0:6360", "ldap.example.com", core.DefaultDirectoryBaseDN} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if strings.Contains(page, "is off") {
			t.Error("a running server is called off")
		}
	})
}
