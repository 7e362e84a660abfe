package core

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// openCoreAt returns a Core on the store in dir, closed at the end of t
// or by the returned func.
func openCoreAt(t *testing.T, dir string) (*Core, func()) {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	closeIt := func() {
		if !closed {
			closed = true
			_ = st.Close()
		}
	}
	t.Cleanup(closeIt)
	c, err := New(Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Hasher: password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})})
	if err != nil {
		t.Fatal(err)
	}
	return c, closeIt
}

func grafanaSpec() AppSpec {
	return AppSpec{Name: "grafana", Title: "Grafana", URL: "https://grafana.example.com", AllowGroups: []string{"Ops"},
		OIDC: &AppOIDCSpec{RedirectURIs: []string{"https://grafana.example.com/login/generic_oauth"}, AccessTokenLifetime: "5m"}}
}

// TestCreateApp: who may make an app, the input checks naming their field,
// the secret shown once and checked by CheckClientSecret, and the audit.
func TestCreateApp(t *testing.T) {
	c, st := newTestCore(t)
	ctx := context.Background()
	owner := mustUser(t, c, "olivia", policies.RoleOwner)
	admin := mustUser(t, c, "adam", policies.RoleAdmin)
	plain := mustUser(t, c, "ursula", policies.RoleUser)
	if _, err := c.Access.CreateRole(actorOf(c, owner), RoleInput{Name: "appster", Permissions: &[]string{string(policies.PermAppsRead), string(policies.PermAppsWrite)}}); err != nil {
		t.Fatal(err)
	}
	appster := mustUser(t, c, "abe", "appster")
	impersonating := actorOf(c, admin)
	impersonating.Session = store.Session{ImpersonatorID: owner.ID}

	link := AppSpec{Name: "wiki", URL: "https://wiki.example.com"}
	for _, tc := range []struct {
		name string
		a    *Actor
		in   AppSpec
		want error  // a sentinel, or nil for an *InputError
		fld  string // the field an *InputError names
	}{
		{"a user without apps.write", actorOf(c, plain), link, ErrForbidden, ""},
		{"an OIDC client without users.read", actorOf(c, appster), grafanaSpec(), ErrForbidden, ""},
		{"while impersonating", impersonating, link, ErrForbidden, ""},
		{"a bad name", actorOf(c, admin), AppSpec{Name: "Graf ana"}, nil, "name"},
		{"a bad url", actorOf(c, admin), AppSpec{Name: "x1", URL: "javascript:alert(1)"}, nil, "url"},
		{"a bad group", actorOf(c, admin), AppSpec{Name: "x1", AllowGroups: []string{"ops", "a b"}}, nil, "allow_groups[1]"},
		{"a bad user", actorOf(c, admin), AppSpec{Name: "x1", AllowUsers: []string{"é"}}, nil, "allow_users[0]"},
		{"a control character in the title", actorOf(c, admin), AppSpec{Name: "x1", Title: "a\nb"}, nil, "title"},
		{"no redirect URI", actorOf(c, admin), AppSpec{Name: "x1", OIDC: &AppOIDCSpec{}}, nil, "oidc.redirect_uris"},
		{"a bad redirect URI", actorOf(c, admin), AppSpec{Name: "x1", OIDC: &AppOIDCSpec{RedirectURIs: []string{"https://a.example/cb", "https://*.example/cb"}}}, nil, "oidc.redirect_uris[1]"},
		{"a bad lifetime", actorOf(c, admin), AppSpec{Name: "x1", OIDC: &AppOIDCSpec{RedirectURIs: []string{"https://a.example/cb"}, AccessTokenLifetime: "forever"}}, nil, "oidc.access_token_lifetime"},
		{"a too long lifetime", actorOf(c, admin), AppSpec{Name: "x1", OIDC: &AppOIDCSpec{RedirectURIs: []string{"https://a.example/cb"}, AccessTokenLifetime: "48h"}}, nil, "oidc.access_token_lifetime"},
	} {
		_, _, err := c.Access.CreateApp(tc.a, tc.in)
		var ie *InputError
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || (tc.want == nil && (!errors.As(err, &ie) || ie.Field != tc.fld)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if apps, _ := st.ListAppDefs(); len(apps) != 0 {
		t.Fatalf("refused creations stored %d apps", len(apps))
	}

	// An API key may make apps (for setup scripts).
	key := actorOf(c, admin)
	key.Key = &store.APIKey{}
	v, secret, err := c.Access.CreateApp(key, grafanaSpec())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, AppSecretPrefix) || len(secret) != len(AppSecretPrefix)+keyBodyLen+keySumLen {
		t.Fatalf("secret %q", secret)
	}
	if v.Kind != AppKindOIDC || v.InCaddyfile || v.CreatedBy != "adam" || v.OIDC == nil || v.OIDC.ClientID != "grafana" ||
		v.OIDC.ClientSecret != "" || v.OIDC.AccessTokenLifetime != "5m0s" || !slices.Equal(v.AllowGroups, []string{"ops"}) {
		t.Fatalf("view %+v %+v", v, v.OIDC)
	}
	rec, _ := st.AppDef("grafana")
	if strings.Contains(string(rec.OIDC.SecretMAC), secret) || len(rec.OIDC.SecretMAC) != 32 {
		t.Fatal("the secret is not stored as a 32-byte keyed hash")
	}
	if a, err := c.Access.CheckClientSecret(ctx, "grafana", secret); err != nil || a.Name != "grafana" {
		t.Fatalf("the new secret: %v", err)
	}
	if _, err := c.Access.CheckClientSecret(ctx, "grafana", changeLast(secret)); err != ErrClientAuth {
		t.Fatalf("a wrong secret: %v", err)
	}
	a, _ := c.Access.AppNamed("grafana")
	if c.Access.Admits(a, ptr(store.AccountOf(plain))) {
		t.Error("a user outside the allowed groups is admitted")
	}
	events, _, _ := st.ListAudit(store.AuditFilter{Action: actionAppCreate}, "", 0)
	if len(events) != 1 || events[0].Actor != "adam" || strings.Contains(events[0].Reason, secret) {
		t.Errorf("audit %+v", events)
	}

	// A public client has no secret.
	pv, ps, err := c.Access.CreateApp(actorOf(c, admin), AppSpec{Name: "immich", OIDC: &AppOIDCSpec{RedirectURIs: []string{"app.immich:///oauth-callback"}, Public: true}})
	if err != nil || ps != "" || !pv.OIDC.Public {
		t.Fatalf("public client: %+v %q %v", pv, ps, err)
	}
	if _, err := c.Access.RotateClientSecret(actorOf(c, admin), "immich"); !errors.Is(err, ErrConflict) {
		t.Errorf("rotating a public client's secret: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestAppNameClash: a name taken in the Caddyfile or the portal is a
// conflict; Caddyfile apps are read-only; a guard may protect an app
// made in the portal, which then cannot be deleted.
func TestAppNameClash(t *testing.T) {
	c, _ := newTestCore(t)
	admin := actorOf(c, mustUser(t, c, "adam", policies.RoleAdmin))
	if _, err := c.Access.RegisterApp(AppConfig{Name: "files", Guarded: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Access.RegisterApp(AppConfig{Name: "chat", OIDC: &OIDCClientConfig{RedirectURIs: []string{"https://c.example/cb"}, Public: true}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"files", "chat", "FILES"} {
		if _, _, err := c.Access.CreateApp(admin, AppSpec{Name: name}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "Caddyfile") {
			t.Errorf("create %s: %v, want a conflict naming the Caddyfile", name, err)
		}
	}
	if _, err := c.Access.RotateClientSecret(admin, "chat"); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("rotate a Caddyfile client: %v", err)
	}
	if err := c.Access.DeleteApp(admin, "files"); !errors.Is(err, ErrForbidden) {
		t.Errorf("delete a Caddyfile app: %v", err)
	}
	if err := c.Access.DeleteApp(admin, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete an unknown app: %v", err)
	}
	if _, _, err := c.Access.CreateApp(admin, grafanaSpec()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Access.CreateApp(admin, grafanaSpec()); !errors.Is(err, ErrConflict) {
		t.Errorf("the same name twice: %v", err)
	}
	// A guard with access rules of its own, or an oidc block, on a made app
	// is refused; a plain guard protects it.
	if _, err := c.Access.RegisterApp(AppConfig{Name: "grafana", Guarded: true, AllowGroups: []string{"x1"}}); err == nil {
		t.Error("a guard with allow_groups took over a portal app")
	}
	if _, err := c.Access.RegisterApp(AppConfig{Name: "grafana", OIDC: &OIDCClientConfig{RedirectURIs: []string{"https://c.example/cb"}, Public: true}}); err == nil {
		t.Error("a Caddyfile oidc block took over a portal app")
	}
	if _, err := c.Access.RegisterApp(AppConfig{Name: "grafana", Guarded: true, Require2FA: true}); err != nil {
		t.Fatal(err)
	}
	a, _ := c.Access.AppNamed("grafana")
	if a.Kind() != AppKindBoth || !a.RequiresSecondFactor() {
		t.Errorf("kind %s, 2fa %v", a.Kind(), a.RequiresSecondFactor())
	}
	if err := c.Access.DeleteApp(admin, "grafana"); !errors.Is(err, ErrConflict) {
		t.Errorf("delete a guarded portal app: %v", err)
	}
}

// TestRotateAndDeleteApp: a new secret replaces the old at once; a secret
// dies when its maker loses apps.write, and another admin takes it over by
// making a new one; deleting removes the app, its access rules and calls
// the hooks.
func TestRotateAndDeleteApp(t *testing.T) {
	c, st := newTestCore(t)
	ctx := context.Background()
	owner := actorOf(c, mustUser(t, c, "olivia", policies.RoleOwner))
	adamU := mustUser(t, c, "adam", policies.RoleAdmin)
	adam := actorOf(c, adamU)
	_, old, err := c.Access.CreateApp(adam, grafanaSpec())
	if err != nil {
		t.Fatal(err)
	}
	plain := actorOf(c, mustUser(t, c, "ursula", policies.RoleUser))
	if _, err := c.Access.RotateClientSecret(plain, "grafana"); !errors.Is(err, ErrForbidden) {
		t.Errorf("rotate without apps.write: %v", err)
	}
	fresh, err := c.Access.RotateClientSecret(adam, "grafana")
	if err != nil || fresh == old {
		t.Fatalf("rotate: %q %v", fresh, err)
	}
	if _, err := c.Access.CheckClientSecret(ctx, "grafana", old); err != ErrClientAuth {
		t.Errorf("the old secret after rotation: %v", err)
	}
	if _, err := c.Access.CheckClientSecret(ctx, "grafana", fresh); err != nil {
		t.Errorf("the new secret: %v", err)
	}
	if ev, _, _ := st.ListAudit(store.AuditFilter{Action: actionAppSecretRotate}, "", 0); len(ev) != 1 || ev[0].Actor != "adam" {
		t.Errorf("rotation audit %+v", ev)
	}

	// Adam becomes a plain user: his secret stops working.
	if _, err := c.Users.UpdateUser(owner, "adam", UserPatch{Role: ptr(policies.RoleUser)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Access.CheckClientSecret(ctx, "grafana", fresh); err != ErrClientAuth {
		t.Errorf("a secret whose maker lost apps.write: %v", err)
	}
	if v, _ := c.Access.AppNamed("grafana"); !strings.Contains(c.Access.AppViewOf(v).OIDC.Warning, "adam") {
		t.Error("the app's view does not warn that its secret is dead")
	}
	taken, err := c.Access.RotateClientSecret(owner, "grafana")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Access.CheckClientSecret(ctx, "grafana", taken); err != nil {
		t.Errorf("the secret of the owner who took the app over: %v", err)
	}

	var deleted []string
	c.Access.OnAppDelete(func(app string) { deleted = append(deleted, app) })
	if err := c.Access.DeleteApp(owner, "grafana"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Access.CheckClientSecret(ctx, "grafana", taken); err != ErrClientAuth {
		t.Errorf("a deleted app's secret: %v", err)
	}
	if _, err := st.AppAccess("grafana"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the access record outlived its app: %v", err)
	}
	if !slices.Equal(deleted, []string{"grafana"}) {
		t.Errorf("hooks ran for %v", deleted)
	}
	if ev, _, _ := st.ListAudit(store.AuditFilter{Action: actionAppDelete}, "", 0); len(ev) != 1 || ev[0].Actor != "olivia" {
		t.Errorf("delete audit %+v", ev)
	}
	// The name is free again.
	if _, _, err := c.Access.CreateApp(owner, grafanaSpec()); err != nil {
		t.Errorf("the name of a deleted app: %v", err)
	}
}

// TestMadeAppsSurviveARestart: the app, its access rules and its secret
// check are there after the store is reopened by a new Core.
func TestMadeAppsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	c, closeIt := openCoreAt(t, dir)
	admin := actorOf(c, mustUser(t, c, "adam", policies.RoleAdmin))
	_, secret, err := c.Access.CreateApp(admin, grafanaSpec())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Access.CreateApp(admin, AppSpec{Name: "wiki", Title: "Wiki", URL: "https://wiki.example.com", Require2FA: true}); err != nil {
		t.Fatal(err)
	}
	closeIt()

	c, _ = openCoreAt(t, dir)
	if _, err := c.Access.CheckClientSecret(context.Background(), "grafana", secret); err != nil {
		t.Fatalf("the secret after a restart: %v", err)
	}
	a, err := c.Access.AppNamed("grafana")
	if err != nil {
		t.Fatal(err)
	}
	v := c.Access.AppViewOf(a)
	if v.Kind != AppKindOIDC || v.Title != "Grafana" || !slices.Equal(v.AllowGroups, []string{"ops"}) || v.OIDC.AccessTokenLifetime != "5m0s" || v.CreatedAt == nil {
		t.Errorf("after a restart: %+v", v)
	}
	w, err := c.Access.AppNamed("wiki")
	if err != nil || w.Kind() != AppKindLink || !w.RequiresSecondFactor() || w.CreatedAt.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("wiki after a restart: %+v %v", w, err)
	}
	// A made app's URL is no return target (only the Caddyfile vouches for
	// hosts).
	if slices.Contains(c.Access.RedirectPolicy().AppHosts, "wiki.example.com") {
		t.Error("a portal app's host became a return target")
	}
}

// changeLast returns s with its last character replaced by another one:
// a wrong secret that differs from the right one in every run (replacing
// it by a fixed character gave the right secret back when that was its
// last character already).
func changeLast(s string) string {
	last := s[len(s)-1]
	if last == 'x' {
		return s[:len(s)-1] + "y"
	}
	return s[:len(s)-1] + "x"
}
