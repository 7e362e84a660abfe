package portal

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/core/mail/mailtest"
	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// pageEnv is a Service on a real store behind a real HTTP server, for
// driving the HTML pages as a browser does.
type pageEnv struct {
	svc *Service
	st  *store.Store
	clk *clock
	srv *httptest.Server
}

func newPageEnv(t *testing.T, m *mail.Sender) *pageEnv {
	t.Helper()
	return newPageEnvWith(t, m, nil)
}

// newPageEnvWith is newPageEnv with more options set by with (nil: none).
func newPageEnvWith(t *testing.T, m *mail.Sender, with func(*Options)) *pageEnv {
	t.Helper()
	clk := &clock{t: time.Now()}
	st, err := store.Open(t.TempDir(), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + srv.Listener.Addr().String())
	opts := Options{
		Store:     st,
		PortalURL: base,
		Hasher:    password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
		Mail:      m,
		Now:       clk.Now,
	}
	if with != nil {
		with(&opts)
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc
	srv.Start()
	t.Cleanup(srv.Close)
	return &pageEnv{svc: svc, st: st, clk: clk, srv: srv}
}

// browser is an HTTP client with a cookie jar that shows redirects rather
// than following them.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func (e *pageEnv) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.srv.URL, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf opens page path and returns the CSRF token of its forms.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	resp, body := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %d, no csrf token", path, resp.StatusCode)
	}
	return m[1]
}

// submit posts form to path with the CSRF token of page from.
func (b *browser) submit(from, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	form.Set("csrf", b.csrf(from))
	return b.post(path, form)
}

// signIn signs in through the login form.
func (b *browser) signIn(name string) {
	b.t.Helper()
	resp, body := b.post("/login", url.Values{"username": {name}, "password": {testPW}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in %s: %d %s", name, resp.StatusCode, body)
	}
}

func location(resp *http.Response) string {
	loc := resp.Header.Get("Location")
	if u, err := url.Parse(loc); err == nil && u.Host != "" {
		return u.RequestURI()
	}
	return loc
}

// adminPages are the GET pages of the admin portal with the permission
// each needs, mirroring the API (the app pages also let app operators in).
var adminPages = []struct {
	path string
	perm policies.Permission
}{
	{"/admin/users", policies.PermUsersRead},
	{"/admin/users?q=tgt&status=active", policies.PermUsersRead},
	{"/admin/users/new", policies.PermUsersWrite},
	{"/admin/users/import", policies.PermUsersWrite},
	{"/admin/users/tgt", policies.PermUsersRead},
	{"/admin/groups", policies.PermGroupsRead},
	{"/admin/groups/staff", policies.PermGroupsRead},
	{"/admin/apps", policies.PermAppsRead},
	{"/admin/apps/wiki", policies.PermAppsRead},
	{"/admin/apps/locked", policies.PermAppsRead},
	{"/admin/roles", policies.PermRolesRead},
	{"/admin/roles/auditor", policies.PermRolesRead},
	{"/admin/roles/helpdesk", policies.PermRolesRead},
	{"/admin/sessions", policies.PermSessionsRead},
	{"/admin/invitations", policies.PermInvitationsRead},
	{"/admin/audit", policies.PermAuditRead},
	{"/admin/audit?action=user.&since=2000-01-01", policies.PermAuditRead},
	{"/admin/settings", policies.PermSettingsRead},
	{"/admin/ldap", policies.PermSettingsWrite},
}

// TestAdminPagesByRole opens every admin page as every built-in role: 200
// with the permission, a 403 page without; the navigation shows only what
// the role may open. Every signed-in user reaches home and profile.
func TestAdminPagesByRole(t *testing.T) {
	e := newPageEnv(t, nil)
	ctx := context.Background()
	mustUser(t, e.svc, "tgt", policies.RoleUser, "staff")
	if _, err := e.svc.core.Access.RegisterApp(AppConfig{Name: "wiki", Title: "Wiki", URL: "https://wiki.example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.core.Access.RegisterApp(AppConfig{Name: "locked", Title: "Locked", AllowGroups: []string{"staff"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.core.Access.CreateRole(e.svc.localAdmin(), RoleInput{Name: "helpdesk", Permissions: &[]string{"users.read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.core.Credentials.CreateInvitation(ctx, e.svc.localAdmin(), InvitationInput{Email: "inv@example.com"}); err != nil {
		t.Fatal(err)
	}
	roles := []string{policies.RoleOwner, policies.RoleAdmin, policies.RoleOperator,
		policies.RoleUserManager, policies.RoleAuditor, policies.RoleUser}
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			name := "as-" + strings.ReplaceAll(role, "_", "-")
			mustUser(t, e.svc, name, role)
			b := e.browser(t)
			b.signIn(name)
			perms, _ := policies.RolePermissions(role)
			for _, pg := range adminPages {
				want := http.StatusOK
				if !perms.Has(pg.perm) {
					want = http.StatusForbidden
				}
				resp, body := b.get(pg.path)
				if resp.StatusCode != want {
					t.Errorf("GET %s: %d, want %d", pg.path, resp.StatusCode, want)
				}
				if want == http.StatusForbidden && !strings.Contains(body, "403") {
					t.Errorf("GET %s: the refusal is not the error page", pg.path)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("GET %s: Content-Type %q", pg.path, ct)
				}
			}
			for _, path := range []string{"/", "/profile", "/profile/password"} {
				if resp, _ := b.get(path); resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
				}
			}
			_, home := b.get("/")
			for key, perm := range map[string]policies.Permission{
				"users": policies.PermUsersRead, "groups": policies.PermGroupsRead, "roles": policies.PermRolesRead,
				"sessions": policies.PermSessionsRead, "audit": policies.PermAuditRead, "settings": policies.PermSettingsRead,
				"invitations": policies.PermInvitationsRead, "apps": policies.PermAppsRead, "ldap": policies.PermSettingsWrite,
			} {
				if got := strings.Contains(home, `href="/admin/`+key+`"`); got != perms.Has(perm) {
					t.Errorf("navigation link to /admin/%s shown: %v, want %v", key, got, perms.Has(perm))
				}
			}
		})
	}

	t.Run("signed out", func(t *testing.T) {
		b := e.browser(t)
		for _, pg := range adminPages[:3] {
			resp, _ := b.get(pg.path)
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(location(resp), "/login?rd=") {
				t.Errorf("GET %s signed out: %d %s, want a redirect to the login page", pg.path, resp.StatusCode, location(resp))
			}
		}
	})

	t.Run("app operator without apps.read", func(t *testing.T) {
		mustUser(t, e.svc, "wikiop", policies.RoleUser)
		if _, err := e.svc.core.Access.UpdateAppAccess(e.svc.localAdmin(), "wiki", AppAccessInput{Operators: &[]string{"wikiop"}}); err != nil {
			t.Fatal(err)
		}
		b := e.browser(t)
		b.signIn("wikiop")
		for path, want := range map[string]int{"/admin/apps": 200, "/admin/apps/wiki": 200, "/admin/apps/locked": 403} {
			if resp, _ := b.get(path); resp.StatusCode != want {
				t.Errorf("operator GET %s: %d, want %d", path, resp.StatusCode, want)
			}
		}
		// The operator changes their app's access through its form.
		resp, _ := b.submit("/admin/apps/wiki", "/admin/apps/wiki/access", url.Values{"allow_groups": {"staff"}, "allow_users": {""}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("operator saves access: %d", resp.StatusCode)
		}
		a, _ := e.svc.core.Access.AppNamed("wiki")
		if got := a.Access().AllowGroups(); len(got) != 1 || got[0] != "staff" {
			t.Fatalf("wiki allow_groups after the form: %v", got)
		}
		if a.TakesAppPasswords() {
			t.Fatal("app passwords on without the box ticked")
		}
		if resp, _ := b.submit("/admin/apps/wiki", "/admin/apps/wiki/access", url.Values{"allow_groups": {"staff"}, "app_passwords": {"1"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("operator switches app passwords on: %d", resp.StatusCode)
		}
		if !a.TakesAppPasswords() {
			t.Fatal("app passwords off after ticking the box")
		}
		if _, body := b.get("/admin/apps/wiki"); !strings.Contains(body, `name="app_passwords" type="checkbox" value="1" checked`) {
			t.Error("the page does not show the switch on")
		}
		// Operators are for apps.write holders only.
		resp, _ = b.submit("/admin/apps/wiki", "/admin/apps/wiki/operators", url.Values{"operators": {"wikiop, tgt"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("operator changes operators: %d, want 403", resp.StatusCode)
		}
	})
}

// TestPageCSRF: a form without the session's token, or with another
// session's, is refused with 403 and changes nothing; with it, it works.
func TestPageCSRF(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "rosa", policies.RoleOwner)
	mustUser(t, e.svc, "other", policies.RoleOwner)
	b := e.browser(t)
	b.signIn("rosa")
	ob := e.browser(t)
	ob.signIn("other")
	otherToken := ob.csrf("/admin/groups")

	for _, tc := range []struct {
		name, token string
	}{
		{"missing", ""},
		{"garbage", "not-a-token"},
		{"another session's", otherToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"name": {"newgroup"}}
			if tc.token != "" {
				form.Set("csrf", tc.token)
			}
			resp, body := b.post("/admin/groups", form)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Request refused") {
				t.Fatalf("POST without a valid token: %d, want the 403 Request refused page", resp.StatusCode)
			}
			if _, err := e.st.Group("newgroup"); err == nil {
				t.Fatal("the group was created by a refused request")
			}
		})
	}

	t.Run("other forms are refused too", func(t *testing.T) {
		for _, path := range []string{"/admin/users/new", "/profile", "/admin/settings", "/profile/password", "/admin/users/other/delete"} {
			resp, _ := b.post(path, url.Values{"username": {"x1"}, "full_name": {"X"}, "confirm": {"yes"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s without token: %d, want 403", path, resp.StatusCode)
			}
		}
		if _, err := e.st.UserByUsername("other"); err != nil {
			t.Fatal("a refused delete removed the user")
		}
	})

	t.Run("with the token", func(t *testing.T) {
		resp, _ := b.submit("/admin/groups", "/admin/groups", url.Values{"name": {"newgroup"}, "description": {"A new group"}})
		if resp.StatusCode != http.StatusSeeOther || location(resp) != "/admin/groups/newgroup" {
			t.Fatalf("create group: %d %s", resp.StatusCode, location(resp))
		}
		g, err := e.st.Group("newgroup")
		if err != nil || g.Description != "A new group" {
			t.Fatalf("group after the form: %+v %v", g, err)
		}
		_, body := b.get("/admin/groups/newgroup")
		if !strings.Contains(body, "Group newgroup was created.") {
			t.Fatal("no flash message after the redirect")
		}
		if _, body = b.get("/admin/groups/newgroup"); strings.Contains(body, "was created.") {
			t.Fatal("the flash message is shown twice")
		}
	})

	t.Run("the token survives a new Service on the same store", func(t *testing.T) {
		tok := b.csrf("/admin/groups")
		svc2, err := New(Options{Store: e.st, PortalURL: e.svc.portal, Now: e.clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		c, res := svc2.callerOf(requestWithCookies(t, b, e.srv.URL))
		if res != resolvedOK || !svc2.csrfValid(c, tok) {
			t.Fatal("the CSRF token is not valid for a reloaded Service")
		}
	})

	t.Run("sign-out needs no token", func(t *testing.T) {
		if resp, _ := ob.post("/logout", url.Values{}); resp.StatusCode != http.StatusOK {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
	})
}

// requestWithCookies is a request carrying b's cookies for base.
func requestWithCookies(t *testing.T, b *browser, base string) *http.Request {
	req := httptest.NewRequest("GET", base+"/", nil)
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	return req
}

var resetLink = regexp.MustCompile(`/reset/[A-Za-z0-9_-]{43}`)

// TestCreateUserForm creates users through the form, with and without a
// password, and finds them in the list and the search.
func TestCreateUserForm(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "rosa", policies.RoleOwner)
	b := e.browser(t)
	b.signIn("rosa")

	t.Run("without a password: a link", func(t *testing.T) {
		resp, body := b.submit("/admin/users/new", "/admin/users/new", url.Values{
			"username": {"bob"}, "email": {"bob@example.com"}, "full_name": {"Bob Builder"},
			"role": {"user"}, "groups": {"staff, ops"},
		})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("create bob: %d", resp.StatusCode)
		}
		link := resetLink.FindString(body)
		if link == "" {
			t.Fatal("no link to set the password on the result page")
		}
		u, err := e.st.UserByUsername("bob")
		if err != nil || u.FullName != "Bob Builder" || strings.Join(u.Groups, ",") != "ops,staff" || u.PasswordHash != "" {
			t.Fatalf("bob: %+v %v", u, err)
		}
		anon := e.browser(t)
		if resp, body := anon.get(link); resp.StatusCode != http.StatusOK || !strings.Contains(body, "bob") {
			t.Fatalf("GET the link: %d", resp.StatusCode)
		}
	})

	t.Run("with a password", func(t *testing.T) {
		resp, _ := b.submit("/admin/users/new", "/admin/users/new", url.Values{
			"username": {"carol"}, "email": {"carol@example.com"}, "role": {"auditor"},
			"password": {testPW}, "password2": {testPW},
		})
		if resp.StatusCode != http.StatusSeeOther || location(resp) != "/admin/users/carol" {
			t.Fatalf("create carol: %d %s", resp.StatusCode, location(resp))
		}
		if _, body := b.get("/admin/users/carol"); !strings.Contains(body, "User carol was created.") {
			t.Fatal("no flash on the user page")
		}
	})

	t.Run("bad input is shown again", func(t *testing.T) {
		resp, body := b.submit("/admin/users/new", "/admin/users/new", url.Values{
			"username": {"bob"}, "full_name": {"Second Bob"}, "role": {"user"},
		})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "taken") || !strings.Contains(body, "Second Bob") {
			t.Fatalf("duplicate username: %d", resp.StatusCode)
		}
	})

	t.Run("listed", func(t *testing.T) {
		_, body := b.get("/admin/users")
		for _, name := range []string{"rosa", "bob", "carol", "Bob Builder"} {
			if !strings.Contains(body, name) {
				t.Errorf("the user list lacks %q", name)
			}
		}
		_, body = b.get("/admin/users?q=carol")
		if !strings.Contains(body, `href="/admin/users/carol"`) || strings.Contains(body, `href="/admin/users/bob"`) {
			t.Error("the search for carol does not show carol alone")
		}
		_, body = b.get("/admin/users?group=ops")
		if !strings.Contains(body, `href="/admin/users/bob"`) || strings.Contains(body, `href="/admin/users/carol"`) {
			t.Error("the group filter does not show bob alone")
		}
	})

	t.Run("import", func(t *testing.T) {
		csv := "username,email,role\ndan,dan@example.com,user\nbob,,user\n"
		resp, body := b.submit("/admin/users/import", "/admin/users/import", url.Values{"data": {csv}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "taken") {
			t.Fatalf("import with a taken name: %d", resp.StatusCode)
		}
		if _, err := e.st.UserByUsername("dan"); err == nil {
			t.Fatal("a failed import created a user")
		}
		csv = "username,email,role\ndan,dan@example.com,user\n"
		resp, body = b.submit("/admin/users/import", "/admin/users/import", url.Values{"data": {csv}})
		if resp.StatusCode != http.StatusOK || !resetLink.MatchString(body) {
			t.Fatalf("import: %d", resp.StatusCode)
		}
		if _, err := e.st.UserByUsername("dan"); err != nil {
			t.Fatal("the import did not create dan")
		}

		// A JSON file upload with the dry-run box ticked creates nothing.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("csrf", b.csrf("/admin/users/import"))
		_ = mw.WriteField("dry_run", "1")
		fw, _ := mw.CreateFormFile("file", "users.json")
		_, _ = fw.Write([]byte(`[{"username":"erin","email":"erin@example.com","groups":["staff"]}]`))
		_ = mw.Close()
		req, _ := http.NewRequest("POST", b.base+"/admin/users/import", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, body = b.do(req)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Dry run passed") {
			t.Fatalf("dry-run upload: %d", resp.StatusCode)
		}
		if _, err := e.st.UserByUsername("erin"); err == nil {
			t.Fatal("a dry run created a user")
		}
	})
}

// TestForgotPasswordSameAnswer: the forgot-password page answers the same
// for an account that exists (and gets an email) and one that does not.
func TestForgotPasswordSameAnswer(t *testing.T) {
	smtp := mailtest.NewServer(t)
	sender, err := mail.New(mail.Config{Host: smtp.Host(), Port: smtp.Port(), TLS: "none", From: "Gatehouse <noreply@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	e := newPageEnv(t, sender)
	mustUser(t, e.svc, "alice", policies.RoleUser)

	var answers []string
	for _, login := range []string{"alice", "alice@example.com", "nobody", "nobody@example.com", ""} {
		b := e.browser(t)
		if resp, _ := b.get("/forgot"); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /forgot: %d", resp.StatusCode)
		}
		resp, body := b.post("/forgot", url.Values{"login": {login}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /forgot %q: %d", login, resp.StatusCode)
		}
		answers = append(answers, body)
	}
	for i, a := range answers[1:] {
		if a != answers[0] {
			t.Errorf("answer %d differs from the answer for an existing account", i+1)
		}
	}
	msgs := smtp.Wait(t, 2, 10*time.Second)
	for _, m := range msgs {
		if len(m.To) != 1 || m.To[0] != "alice@example.com" || !resetLink.MatchString(m.Text) {
			t.Errorf("unexpected message: %v %q", m.To, m.Text)
		}
	}
	// The requests are sent in the background, so the mails may arrive in
	// either order; the newer link supersedes the older: exactly one
	// opens the reset form, and it sets the password once.
	b := e.browser(t)
	var link string
	for _, m := range msgs {
		l := resetLink.FindString(m.Text)
		if resp, _ := b.get(l); resp.StatusCode == http.StatusOK {
			if link != "" {
				t.Fatal("two reset links work at once: the older was not superseded")
			}
			link = l
		}
	}
	if link == "" {
		t.Fatal("no emailed reset link opens the form")
	}
	resp, body := b.post(link, url.Values{"password": {"N3w-passphrase"}, "password2": {"N3w-passphrase"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Password changed") {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if resp, _ := b.get(link); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("reset link reused: %d, want 404", resp.StatusCode)
	}
}

var inviteLink = regexp.MustCompile(`/invite/[A-Za-z0-9_-]{43}`)

// TestInvitationPages: an invitation made through the form is accepted
// through /invite/{token}, which creates the user and signs them in; the
// link works once.
func TestInvitationPages(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "rosa", policies.RoleOwner)
	admin := e.browser(t)
	admin.signIn("rosa")
	resp, body := admin.submit("/admin/invitations", "/admin/invitations",
		url.Values{"email": {"newbie@example.com"}, "role": {"user"}, "groups": {"staff"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create invitation: %d", resp.StatusCode)
	}
	link := inviteLink.FindString(body)
	if link == "" || !strings.Contains(body, "not emailed") {
		t.Fatal("the result page lacks the link or the email note")
	}
	if _, body := admin.get("/admin/invitations"); !strings.Contains(body, "newbie@example.com") {
		t.Fatal("the invitation is not listed")
	}

	guest := e.browser(t)
	resp, body = guest.get(link)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "newbie@example.com") {
		t.Fatalf("GET invitation: %d", resp.StatusCode)
	}
	// Bad input keeps the link usable.
	resp, _ = guest.post(link, url.Values{"username": {"newbie"}, "password": {"weak"}, "password2": {"weak"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("weak password: %d, want 400", resp.StatusCode)
	}
	resp, _ = guest.post(link, url.Values{"username": {"newbie"}, "full_name": {"New Bie"}, "password": {testPW}, "password2": {testPW}})
	if resp.StatusCode != http.StatusSeeOther || location(resp) != "/" {
		t.Fatalf("accept: %d %s", resp.StatusCode, location(resp))
	}
	u, err := e.st.UserByUsername("newbie")
	if err != nil || u.Email != "newbie@example.com" || u.FullName != "New Bie" || strings.Join(u.Groups, ",") != "staff" {
		t.Fatalf("newbie: %+v %v", u, err)
	}
	if resp, body := guest.get("/"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "New Bie") {
		t.Fatalf("home after accepting: %d", resp.StatusCode)
	}

	again := e.browser(t)
	if resp, _ := again.get(link); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET used invitation: %d, want 404", resp.StatusCode)
	}
	resp, _ = again.post(link, url.Values{"username": {"second"}, "password": {testPW}, "password2": {testPW}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST used invitation: %d, want 404", resp.StatusCode)
	}
	if _, err := e.st.UserByUsername("second"); err == nil {
		t.Fatal("a used invitation created a second user")
	}
}

// TestExpiredPassword: a user whose password is older than the maximum age
// is sent to /profile/password from every page until they change it, then
// back to rd when allowed.
func TestExpiredPassword(t *testing.T) {
	e := newPageEnv(t, nil)
	u := mustUser(t, e.svc, "rosa", policies.RoleOwner)
	if _, err := e.svc.core.UpdateSettings(context.Background(), e.svc.localAdmin(), []byte(`{"password_max_age":"90d"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateUser(u.ID, func(x *store.User) error {
		x.PasswordChangedAt = e.clk.Now().Add(-100 * 24 * time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signIn("rosa")

	for _, tc := range []struct{ path, want string }{
		{"/", "/profile/password"},
		{"/profile", "/profile/password?rd=%2Fprofile"},
		{"/admin/users", "/profile/password?rd=%2Fadmin%2Fusers"},
		{"/admin/settings", "/profile/password?rd=%2Fadmin%2Fsettings"},
	} {
		resp, _ := b.get(tc.path)
		if resp.StatusCode != http.StatusFound || location(resp) != tc.want {
			t.Errorf("GET %s: %d %s, want a redirect to %s", tc.path, resp.StatusCode, location(resp), tc.want)
		}
	}
	resp, body := b.get("/profile/password?rd=%2Fadmin%2Fusers")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Password expired") {
		t.Fatalf("GET /profile/password: %d", resp.StatusCode)
	}
	tok := csrfField.FindStringSubmatch(body)[1]
	// A form elsewhere changes nothing.
	resp, _ = b.post("/profile", url.Values{"csrf": {tok}, "full_name": {"Changed"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(location(resp), "/profile/password") {
		t.Fatalf("POST /profile while expired: %d %s", resp.StatusCode, location(resp))
	}
	if x, _ := e.st.User(u.ID); x.FullName == "Changed" {
		t.Fatal("an expired user changed their profile")
	}

	resp, _ = b.post("/profile/password", url.Values{"csrf": {tok}, "current_password": {"wrong"},
		"password": {"N3w-passphrase"}, "password2": {"N3w-passphrase"}, "rd": {"/admin/users"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong current password: %d, want 400", resp.StatusCode)
	}
	resp, _ = b.post("/profile/password", url.Values{"csrf": {tok}, "current_password": {testPW},
		"password": {"N3w-passphrase"}, "password2": {"N3w-passphrase"}, "rd": {"/admin/users"}})
	if resp.StatusCode != http.StatusSeeOther || location(resp) != "/admin/users" {
		t.Fatalf("change password: %d %s, want a redirect to /admin/users", resp.StatusCode, location(resp))
	}
	for _, path := range []string{"/", "/admin/users", "/profile"} {
		if resp, _ := b.get(path); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s after the change: %d", path, resp.StatusCode)
		}
	}

	t.Run("rd to an app on another origin", func(t *testing.T) {
		if _, err := e.svc.core.Access.RegisterApp(AppConfig{Name: "wiki", URL: "https://wiki.example.com"}); err != nil {
			t.Fatal(err)
		}
		resp, body := b.submit("/profile/password", "/profile/password", url.Values{"current_password": {"N3w-passphrase"},
			"password": {"Thr33-passphrase"}, "password2": {"Thr33-passphrase"}, "rd": {"https://wiki.example.com/page"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `content="0;url=https://wiki.example.com/page"`) {
			t.Fatalf("change password with an app rd: %d, want the continue page", resp.StatusCode)
		}
	})

	t.Run("rd elsewhere goes home", func(t *testing.T) {
		resp, _ := b.submit("/profile/password", "/profile/password", url.Values{"current_password": {"Thr33-passphrase"},
			"password": {"An0ther-passphrase"}, "password2": {"An0ther-passphrase"}, "rd": {"https://evil.example.net/"}})
		if resp.StatusCode != http.StatusSeeOther || location(resp) != "/" {
			t.Fatalf("change password with a foreign rd: %d %s", resp.StatusCode, location(resp))
		}
	})
}

// TestUserPageForms drives the forms of a user's page.
func TestUserPageForms(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "rosa", policies.RoleOwner)
	tgt := mustUser(t, e.svc, "tgt", policies.RoleUser)
	b := e.browser(t)
	b.signIn("rosa")
	const page = "/admin/users/tgt"

	steps := []struct {
		name   string
		action string
		form   url.Values
		status int
		check  func(u *store.User) bool
	}{
		{"details", "/details", url.Values{"full_name": {"Tee Gee"}, "email": {"tgt@example.org"}, "fallback_email": {""}, "expires_at": {"2099-01-31"}}, 303,
			func(u *store.User) bool {
				return u.FullName == "Tee Gee" && u.Email == "tgt@example.org" && u.ExpiresAt.Year() == 2099
			}},
		{"bad email", "/details", url.Values{"email": {"nope"}}, 400, func(u *store.User) bool { return u.Email == "tgt@example.org" }},
		{"role", "/role", url.Values{"role": {"auditor"}}, 303, func(u *store.User) bool { return u.Role == "auditor" }},
		{"groups", "/groups", url.Values{"groups": {"beta, alpha"}}, 303, func(u *store.User) bool { return strings.Join(u.Groups, ",") == "alpha,beta" }},
		{"disable", "/status", url.Values{"active": {"0"}}, 303, func(u *store.User) bool { return u.Disabled }},
		{"enable", "/status", url.Values{"active": {"1"}}, 303, func(u *store.User) bool { return !u.Disabled }},
		{"password mismatch", "/password", url.Values{"password": {"N3w-passphrase"}, "password2": {"other"}}, 400, func(u *store.User) bool { return true }},
		{"password", "/password", url.Values{"password": {"N3w-passphrase"}, "password2": {"N3w-passphrase"}}, 303, func(u *store.User) bool { return u.PasswordHash != tgt.PasswordHash }},
		{"unlock", "/unlock", url.Values{}, 303, func(u *store.User) bool { return true }},
		{"revoke sessions", "/sessions/revoke", url.Values{}, 303, func(u *store.User) bool { return true }},
		{"delete unconfirmed", "/delete", url.Values{}, 400, func(u *store.User) bool { return true }},
	}
	for _, st := range steps {
		resp, body := b.submit(page, page+st.action, st.form)
		if resp.StatusCode != st.status {
			t.Errorf("%s: %d, want %d", st.name, resp.StatusCode, st.status)
		}
		if st.status >= 400 && !strings.Contains(body, `id="form-error"`) {
			t.Errorf("%s: the page does not show the error", st.name)
		}
		u, err := e.st.User(tgt.ID)
		if err != nil || !st.check(u) {
			t.Errorf("%s: user after the form: %+v %v", st.name, u, err)
		}
	}
	resp, body := b.submit(page, page+"/reset-link", url.Values{})
	if resp.StatusCode != http.StatusOK || !resetLink.MatchString(body) {
		t.Errorf("reset link: %d", resp.StatusCode)
	}
	resp, _ = b.submit(page, page+"/delete", url.Values{"confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther || location(resp) != "/admin/users" {
		t.Errorf("delete: %d %s", resp.StatusCode, location(resp))
	}
	if _, err := e.st.User(tgt.ID); err == nil {
		t.Error("the user still exists")
	}
	if resp, _ := b.get(page); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted user's page: %d, want 404", resp.StatusCode)
	}
}

// TestSelfServicePages: the profile form and own sessions.
func TestSelfServicePages(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "alice", policies.RoleUser)
	b := e.browser(t)
	b.signIn("alice")
	other := e.browser(t)
	other.signIn("alice")

	resp, _ := b.submit("/profile", "/profile", url.Values{"full_name": {"Alice L"}, "email": {"alice@example.com"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("profile: %d", resp.StatusCode)
	}
	if u, _ := e.st.UserByUsername("alice"); u.FullName != "Alice L" || u.Email != "alice@example.com" {
		t.Fatalf("profile not saved: %+v", u)
	}
	// Without mail a new address cannot be confirmed: an admin changes it.
	resp, page := b.submit("/profile", "/profile", url.Values{"full_name": {"Alice L"}, "email": {"alice@example.org"}, "current_password": {testPW}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "ask an administrator to change your email address") {
		t.Fatalf("a new address without mail: %d", resp.StatusCode)
	}
	if u, _ := e.st.UserByUsername("alice"); u.Email != "alice@example.com" || u.PendingEmail != "" {
		t.Fatalf("the refused change left %q / pending %q", u.Email, u.PendingEmail)
	}
	resp, _ = b.submit("/profile", "/profile/sessions/revoke-others", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke others: %d", resp.StatusCode)
	}
	if resp, _ := other.get("/profile"); resp.StatusCode != http.StatusFound {
		t.Fatalf("the other session still works: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/profile"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the current session was ended: %d", resp.StatusCode)
	}

	if _, err := e.svc.core.UpdateSettings(context.Background(), e.svc.localAdmin(), []byte(`{"lock_profile":true}`)); err != nil {
		t.Fatal(err)
	}
	resp, _ = b.submit("/profile", "/profile", url.Values{"full_name": {"Mallory"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("locked profile: %d, want 403", resp.StatusCode)
	}
}

// externalScript is a script element that loads one of the portal's files.
var externalScript = regexp.MustCompile(`<script src="/assets/[a-z]+\.js" defer></script>`)

// TestPageHeaders: pages carry the CSP that forbids inline script and
// style, and the templates contain none.
func TestPageHeaders(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "rosa", policies.RoleOwner)
	b := e.browser(t)
	b.signIn("rosa")
	for _, path := range []string{"/", "/admin/settings", "/login", "/forgot"} {
		resp, body := b.get(path)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		for _, bad := range []string{" style=", "<style", "onclick=", "onsubmit="} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: the page contains %q", path, bad)
			}
		}
		// Scripts only from the portal's own files, never inline.
		if n, ext := strings.Count(body, "<script"), len(externalScript.FindAllString(body, -1)); n != ext {
			t.Errorf("GET %s: %d of %d scripts are inline", path, n-ext, n)
		}
	}
}
