package portal

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/portal/oidctest"
	"github.com/gatehouse-auth/gatehouse/store"
)

func TestLocalGroups(t *testing.T) {
	mapped := map[string]string{"/admins": "admins", "Grafana Editors": "grafana", "ops": "ops"}
	tests := []struct {
		name  string
		gmap  map[string]string
		ext   []string
		want  []string
		empty bool
	}{
		{"no map: valid names as they are", nil, []string{"ops", "dev"}, []string{"dev", "ops"}, false},
		{"no map: lowercased", nil, []string{"Ops", "DEV"}, []string{"dev", "ops"}, false},
		{"no map: invalid names skipped", nil, []string{"/admins", "Grafana Editors", "x", "ok-group", strings.Repeat("g", 33)}, []string{"ok-group"}, false},
		{"no map: duplicates once", nil, []string{"ops", "OPS", "ops"}, []string{"ops"}, false},
		{"map: only mapped", mapped, []string{"/admins", "dev", "Grafana Editors"}, []string{"admins", "grafana"}, false},
		{"map: exact external names", mapped, []string{"/Admins", "grafana editors"}, nil, true},
		{"map: unmapped valid names skipped", mapped, []string{"dev", "ops"}, []string{"ops"}, false},
		{"nothing", nil, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &OIDCProvider{GroupsClaim: "groups", GroupMap: tc.gmap}
			got := p.localGroups(tc.ext)
			if tc.empty {
				if len(got) != 0 {
					t.Errorf("localGroups(%q) = %q, want none", tc.ext, got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("localGroups(%q) = %q, want %q", tc.ext, got, tc.want)
			}
		})
	}
}

func TestOIDCProviderValidate(t *testing.T) {
	ok := OIDCProvider{Name: "google", Issuer: "https://accounts.google.com", ClientID: "id"}
	tests := []struct {
		name string
		edit func(p *OIDCProvider)
		want string // "" for valid
	}{
		{"valid", func(*OIDCProvider) {}, ""},
		{"http on loopback", func(p *OIDCProvider) { p.Issuer = "http://127.0.0.1:9000/oidc" }, ""},
		{"http on localhost", func(p *OIDCProvider) { p.Issuer = "http://localhost:8080/realms/x" }, ""},
		{"bad name", func(p *OIDCProvider) { p.Name = "Google!" }, "oidc provider name"},
		{"short name", func(p *OIDCProvider) { p.Name = "g" }, "oidc provider name"},
		{"no issuer", func(p *OIDCProvider) { p.Issuer = "" }, "issuer is required"},
		{"relative issuer", func(p *OIDCProvider) { p.Issuer = "accounts.google.com" }, "absolute https URL"},
		{"http issuer", func(p *OIDCProvider) { p.Issuer = "http://idp.example.com" }, "must be https"},
		{"issuer with query", func(p *OIDCProvider) { p.Issuer = "https://idp.example.com/?a=b" }, "query"},
		{"no client id", func(p *OIDCProvider) { p.ClientID = " " }, "client_id is required"},
		{"bad scope", func(p *OIDCProvider) { p.Scopes = []string{"openid", "a b"} }, "scope"},
		{"group map without claim", func(p *OIDCProvider) { p.GroupMap = map[string]string{"a": "b1"} }, "needs groups_claim"},
		{"bad local group", func(p *OIDCProvider) {
			p.GroupsClaim = "groups"
			p.GroupMap = map[string]string{"admins": "Admins!"}
		}, "group_map admins"},
		{"long display name", func(p *OIDCProvider) { p.DisplayName = strings.Repeat("x", 65) }, "display_name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.edit(&p)
			err := p.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// oidcEnv is a Service with one provider ("mock") served by a real
// in-process OpenID Connect provider (mockoidc), behind a real HTTP
// server.
type oidcEnv struct {
	*pageEnv
	idp *oidctest.Provider
}

func newOIDCEnv(t *testing.T, edit func(p *OIDCProvider)) *oidcEnv {
	t.Helper()
	idp := oidctest.NewProvider(t)
	p := OIDCProvider{Name: "mock", DisplayName: "Mock IdP", Issuer: idp.Issuer(), ClientID: idp.ClientID(), ClientSecret: idp.ClientSecret()}
	if edit != nil {
		edit(&p)
	}
	clk := &clock{t: time.Now()}
	st, err := store.Open(t.TempDir(), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + srv.Listener.Addr().String())
	svc, err := New(Options{
		Store:     st,
		PortalURL: base,
		Hasher:    password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
		Now:       clk.Now,
		OIDC:      []OIDCProvider{p},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc
	srv.Start()
	t.Cleanup(srv.Close)
	return &oidcEnv{pageEnv: &pageEnv{svc: svc, st: st, clk: clk, srv: srv}, idp: idp}
}

// signInWith runs the sign-in flow with the mock provider for user and
// returns the final answer.
func (e *oidcEnv) signInWith(b *browser, user oidctest.User, rd string) (*http.Response, string) {
	b.t.Helper()
	return e.idp.SignIn(b.t, b.c, oidctest.SignInURL(b.base, "mock", rd), user)
}

func TestOIDCPortalFlows(t *testing.T) {
	env := newOIDCEnv(t, func(p *OIDCProvider) {
		p.AutoCreate = true
		p.LinkByEmail = true
		p.GroupsClaim = "groups"
		p.GroupMap = map[string]string{"/staff": "staff", "Grafana Admins": "grafana-admins"}
	})
	mustUser(t, env.svc, "alice", "user")

	// The login page offers the provider, keeping rd.
	b := env.browser(t)
	_, page := b.get("/login?rd=%2Fprofile")
	if !strings.Contains(page, `href="/login/oidc/mock?rd=%2fprofile"`) || !strings.Contains(page, "Sign in with Mock IdP") {
		t.Fatalf("login page has no provider button:\n%s", page)
	}

	// A new account: created with a unique username from the preferred
	// name, mapped groups, the verified address, and a session.
	resp, page := env.signInWith(b, oidctest.User{Subject: "s-1", Claims: map[string]any{
		"preferred_username": "alice", "email": "alice.l@idp.example", "email_verified": true, "name": "Alice from IdP",
		"groups": []string{"/staff", "unmapped", "Grafana Admins"}}}, "/profile")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" {
		t.Fatalf("auto-create sign-in ended at %s: %d\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	u, err := env.st.UserByUsername("alice2")
	if err != nil {
		t.Fatalf("new user: %v", err)
	}
	if u.Email != "alice.l@idp.example" || u.FullName != "Alice from IdP" || u.Role != "user" || u.PasswordHash != "" ||
		!slices.Equal(u.Groups, []string{"grafana-admins", "staff"}) {
		t.Errorf("new user = %+v", u)
	}
	if !strings.Contains(page, "Linked accounts") || !strings.Contains(page, "alice.l@idp.example") {
		t.Errorf("profile does not list the link")
	}
	me := apiGet(t, b, "/api/v1/me")
	if !strings.Contains(me, `"methods":["oidc:mock"]`) || !strings.Contains(me, `"second_factor":false`) {
		t.Errorf("GET /me = %s", me)
	}
	ids := apiGet(t, b, "/api/v1/me/identities")
	if !strings.Contains(ids, `"provider":"mock"`) || !strings.Contains(ids, `"subject":"s-1"`) || !strings.Contains(ids, `"display_name":"Mock IdP"`) {
		t.Errorf("GET /me/identities = %s", ids)
	}
	// Its only way to sign in cannot be unlinked.
	if status, body := apiDelete(t, b, "/api/v1/me/identities/mock"); status != http.StatusConflict {
		t.Errorf("unlink the only sign-in: %d %s", status, body)
	}

	// The same account again: the same user; new groups are added, none
	// removed.
	b2 := env.browser(t)
	resp, _ = env.signInWith(b2, oidctest.User{Subject: "s-1", Claims: map[string]any{"email": "alice.l@idp.example", "email_verified": true,
		"groups": []string{"/staff"}}}, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second sign-in: %d", resp.StatusCode)
	}
	if u, _ := env.st.UserByUsername("alice2"); !slices.Equal(u.Groups, []string{"grafana-admins", "staff"}) {
		t.Errorf("groups after the second sign-in: %q", u.Groups)
	}
	if n, _ := env.st.CountUsers(); n != 2 {
		t.Errorf("%d users, want 2", n)
	}

	// Linked by verified email address to alice; an unverified address
	// does not link (and a new account does not get it).
	b3 := env.browser(t)
	env.signInWith(b3, oidctest.User{Subject: "s-2", Claims: map[string]any{"email": "alice@example.com", "email_verified": true}}, "")
	if link, err := env.st.Identity("mock", "s-2"); err != nil || link.UserID != mustFind(t, env.st, "alice").ID {
		t.Errorf("link by email: %+v, %v", link, err)
	}
	b4 := env.browser(t)
	resp, page = env.signInWith(b4, oidctest.User{Subject: "s-3", Claims: map[string]any{"email": "alice@example.com", "email_verified": false,
		"preferred_username": "mallory"}}, "")
	if link, _ := env.st.Identity("mock", "s-3"); link == nil || link.UserID == mustFind(t, env.st, "alice").ID {
		t.Fatalf("unverified address linked to alice: %+v (%d %s)", link, resp.StatusCode, page)
	}
	if m := mustFind(t, env.st, "mallory"); m.Email != "" {
		t.Errorf("unverified address kept on the new user: %q", m.Email)
	}

	// The audit log has the sign-ins and links.
	events, _, err := env.st.ListAudit(store.AuditFilter{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Action+" "+e.Outcome+" "+e.Reason)
	}
	for _, want := range []string{
		"login success oidc mock: new account",
		"login success oidc mock: linked account",
		"login success oidc mock: linked by email",
		"identity.link success oidc mock: account created at first sign-in",
		"identity.link success oidc mock: linked by verified email address",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("audit log lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

func TestOIDCPortalLinkAndUnlink(t *testing.T) {
	env := newOIDCEnv(t, nil) // neither auto_create nor link_by_email
	mustUser(t, env.svc, "bob", "user")

	// Unknown account: refused with a clear page.
	anon := env.browser(t)
	resp, page := env.signInWith(anon, oidctest.User{Subject: "b-1", Claims: map[string]any{"email": "bob@example.com", "email_verified": true}}, "")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "No Gatehouse account is linked to this Mock IdP account") {
		t.Fatalf("unknown account: %d\n%s", resp.StatusCode, page)
	}

	// Bob links it from his profile.
	b := env.browser(t)
	b.signIn("bob")
	resp, page = b.submit("/profile", "/profile/oidc/mock/link", url.Values{})
	to := continueTarget(page)
	if resp.StatusCode != http.StatusOK || to == "" {
		t.Fatalf("link start: %d\n%s", resp.StatusCode, page)
	}
	env.idp.QueueUser(oidctest.User{Subject: "b-1", Claims: map[string]any{"email": "bob@idp.example"}})
	resp, page = oidctest.Follow(t, b.c, to)
	if resp.Request.URL.Path != "/profile" || !strings.Contains(page, "Your Mock IdP account is linked") {
		t.Fatalf("link finish at %s: %d\n%s", resp.Request.URL, resp.StatusCode, page)
	}

	// Now the account signs bob in.
	b2 := env.browser(t)
	resp, _ = env.signInWith(b2, oidctest.User{Subject: "b-1"}, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(apiGet(t, b2, "/api/v1/me"), `"username":"bob"`) {
		t.Fatalf("sign-in through the link: %d", resp.StatusCode)
	}

	// Another user cannot link the same account.
	mustUser(t, env.svc, "carol", "user")
	c := env.browser(t)
	c.signIn("carol")
	_, page = c.submit("/profile", "/profile/oidc/mock/link", url.Values{})
	env.idp.QueueUser(oidctest.User{Subject: "b-1"})
	resp, page = oidctest.Follow(t, c.c, continueTarget(page))
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "already linked to another Gatehouse account") {
		t.Fatalf("link taken account: %d\n%s", resp.StatusCode, page)
	}

	// Bob has a password: he may unlink (with the CSRF token).
	resp, _ = b.post("/profile/oidc/mock/unlink", url.Values{})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unlink without CSRF token: %d", resp.StatusCode)
	}
	resp, page = b.submit("/profile", "/profile/oidc/mock/unlink", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlink: %d\n%s", resp.StatusCode, page)
	}
	if _, err := env.st.Identity("mock", "b-1"); err == nil {
		t.Error("still linked after unlink")
	}
	if status, _ := apiDelete(t, b, "/api/v1/me/identities/mock"); status != http.StatusNotFound {
		t.Errorf("unlink again: %d", status)
	}
}

func TestOIDCStateRequired(t *testing.T) {
	env := newOIDCEnv(t, func(p *OIDCProvider) { p.AutoCreate = true })
	b := env.browser(t)
	// A callback this browser did not start.
	resp, page := b.get("/login/oidc/mock/callback?code=x&state=y")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "was not started in this browser") {
		t.Errorf("callback without a flow: %d", resp.StatusCode)
	}
	// A started flow answered with another state.
	oidctest.Start(t, b.c, oidctest.SignInURL(b.base, "mock", ""))
	resp, _ = b.get("/login/oidc/mock/callback?code=x&state=wrong")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("wrong state: %d", resp.StatusCode)
	}
	// Unknown provider.
	if resp, _ := b.get("/login/oidc/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown provider: %d", resp.StatusCode)
	}
}

func TestOIDCProviderDownDoesNotBlockNew(t *testing.T) {
	clk := &clock{t: time.Now()}
	st, err := store.Open(t.TempDir(), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	// Nothing listens there: New succeeds, the button shows, the sign-in
	// says the provider is unavailable.
	svc, err := New(Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"}, Now: clk.Now,
		OIDC: []OIDCProvider{{Name: "down", Issuer: "http://127.0.0.1:1/oidc", ClientID: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, httptest.NewRequest("GET", "https://auth.example.com/login/oidc/down", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "unavailable") {
		t.Errorf("sign-in with a provider that is down: %d", rec.Code)
	}
	// Bad configurations fail New.
	for _, bad := range [][]OIDCProvider{
		{{Name: "x", Issuer: "https://a.example", ClientID: "c"}},
		{{Name: "dup", Issuer: "https://a.example", ClientID: "c"}, {Name: "dup", Issuer: "https://b.example", ClientID: "d"}},
	} {
		if _, err := New(Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"}, OIDC: bad}); err == nil {
			t.Errorf("New accepted %+v", bad)
		}
	}
}

func mustFind(t *testing.T, st *store.Store, name string) *store.User {
	t.Helper()
	u, err := st.UserByUsername(name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return u
}

func apiGet(t *testing.T, b *browser, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set("Accept", "application/json")
	resp, body := b.do(req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body
}

func apiDelete(t *testing.T, b *browser, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("DELETE", b.base+path, nil)
	req.Header.Set("Accept", "application/json")
	resp, body := b.do(req)
	return resp.StatusCode, body
}

// continueTarget is where the page that continues to the provider (after
// the profile's Link form) sends the browser.
func continueTarget(page string) string {
	m := refreshTarget.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

var refreshTarget = regexp.MustCompile(`content="0;url=([^"]+)"`)

func TestOIDCPortalSecondFactorAndUserinfo(t *testing.T) {
	env := newOIDCEnv(t, func(p *OIDCProvider) {
		p.AutoCreate = true
		p.GroupsClaim = "roles"
	})

	// Claims the ID token lacks come from the userinfo endpoint.
	b := env.browser(t)
	resp, page := env.signInWith(b, oidctest.User{Subject: "u-1", Claims: map[string]any{"preferred_username": "uma"},
		Userinfo: map[string]any{"email": "uma@idp.example", "email_verified": true, "roles": []string{"ops"}}}, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d\n%s", resp.StatusCode, page)
	}
	if u := mustFind(t, env.st, "uma"); u.Email != "uma@idp.example" || !slices.Equal(u.Groups, []string{"ops"}) {
		t.Errorf("user from userinfo claims = %+v", u)
	}

	// A reserved name gets a suffix.
	if resp, page := env.signInWith(env.browser(t), oidctest.User{Subject: "u-2", Claims: map[string]any{"preferred_username": "Admin"}}, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in as admin: %d\n%s", resp.StatusCode, page)
	}
	if link, err := env.st.Identity("mock", "u-2"); err != nil || link.UserID != mustFind(t, env.st, "admin2").ID {
		t.Errorf("reserved name: link %+v, %v", link, err)
	}
	// So does the CLI's name in the audit log, in any case.
	if resp, page := env.signInWith(env.browser(t), oidctest.User{Subject: "u-cli", Claims: map[string]any{"preferred_username": "CLI"}}, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in as cli: %d\n%s", resp.StatusCode, page)
	}
	if link, err := env.st.Identity("mock", "u-cli"); err != nil || link.UserID != mustFind(t, env.st, "cli2").ID {
		t.Errorf("cli: link %+v, %v", link, err)
	}

	// The provider's error answer, for a flow of this browser.
	au := oidctest.Start(t, b.c, oidctest.SignInURL(b.base, "mock", ""))
	resp, page = b.get("/login/oidc/mock/callback?error=access_denied&error_description=no&state=" + url.QueryEscape(au.Query().Get("state")))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "did not sign you in (access_denied)") {
		t.Errorf("provider error: %d\n%s", resp.StatusCode, page)
	}

	// Mandatory 2FA: a user without a second factor must enroll first.
	st := *env.svc.core.Settings()
	st.Require2FA = true
	if err := env.svc.core.SaveSettings(&st); err != nil {
		t.Fatal(err)
	}
	b2 := env.browser(t)
	resp, page = env.signInWith(b2, oidctest.User{Subject: "u-1"}, "/profile")
	if resp.Request.URL.Path != "/login/enroll" || resp.Request.URL.Query().Get("rd") != "/profile" {
		t.Fatalf("mandatory 2FA: ended at %s (%d)\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	req, _ := http.NewRequest("GET", b2.base+"/api/v1/me", nil)
	if resp, _ := b2.do(req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("session before enrollment: %d", resp.StatusCode)
	}
}

func TestOIDCTrustedMFALink(t *testing.T) {
	env := newOIDCEnv(t, func(p *OIDCProvider) { p.TrustedMFA = true })
	bob := mustUser(t, env.svc, "bob", "user")
	b := env.browser(t)
	b.signIn("bob") // a password-only session
	csrf := b.csrf("/profile")
	// Bob gets a second factor: his password-only session may not link a
	// provider whose sign-ins count as two factors.
	if _, err := env.st.UpdateMFA(bob.ID, func(m *store.MFA) error { m.TOTPSecret = []byte("sealed"); return nil }); err != nil {
		t.Fatal(err)
	}
	resp, page := b.post("/profile/oidc/mock/link", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "second factor") {
		t.Errorf("trusted_mfa link from a one-factor session: %d\n%s", resp.StatusCode, page)
	}
	if n, _ := env.st.UserIdentities(bob.ID); len(n) != 0 {
		t.Errorf("linked: %+v", n)
	}
}
