package core

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// actorOf is a signed-in actor of u through the API.
func actorOf(c *Core, u *store.User) *Actor {
	perms, _ := c.PermsOf(u.Role)
	return &Actor{User: u, Perms: perms, Via: ViaAPI, Credential: CredSession, IP: "192.0.2.9"}
}

// TestLDAPClients: who may make bind clients, the secret's shape and
// check, app scope validation, and that a client dies with its maker's
// right.
func TestLDAPClients(t *testing.T) {
	c, st := newTestCore(t)
	owner := mustUser(t, c, "olivia", policies.RoleOwner)
	admin := mustUser(t, c, "adam", policies.RoleAdmin)
	plain := mustUser(t, c, "ursula", policies.RoleUser)
	if _, err := c.Access.RegisterApp(AppConfig{Name: "media", AllowGroups: []string{"media"}}); err != nil {
		t.Fatal(err)
	}
	// A custom role that changes settings but may not read the users.
	if _, err := c.Access.CreateRole(actorOf(c, owner), RoleInput{Name: "tuner", Permissions: &[]string{string(policies.PermSettingsRead), string(policies.PermSettingsWrite)}}); err != nil {
		t.Fatal(err)
	}
	tuner := mustUser(t, c, "tom", "tuner")
	ctx := context.Background()
	_ = ctx

	refused := []struct {
		name string
		a    *Actor
		in   LDAPClientInput
		want error
	}{
		{"a user without settings.write", actorOf(c, plain), LDAPClientInput{Name: "jf"}, ErrForbidden},
		{"settings.write without users.read", actorOf(c, tuner), LDAPClientInput{Name: "jf"}, ErrForbidden},
		{"an API key", func() *Actor { a := actorOf(c, owner); a.Key = &store.APIKey{}; return a }(), LDAPClientInput{Name: "jf"}, ErrForbidden},
		{"a bad name", actorOf(c, owner), LDAPClientInput{Name: "Jelly fin"}, nil},
		{"an unknown app", actorOf(c, owner), LDAPClientInput{Name: "jf", App: "nope"}, nil},
	}
	for _, tc := range refused {
		_, err := c.Credentials.CreateLDAPClient(tc.a, tc.in)
		var ie *InputError
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || (tc.want == nil && !errors.As(err, &ie)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}

	v, err := c.Credentials.CreateLDAPClient(actorOf(c, admin), LDAPClientInput{Name: "Jellyfin", App: "media"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "jellyfin" || v.BindDN != "cn=jellyfin,ou=system,dc=gatehouse" || !strings.HasPrefix(v.Secret, LDAPSecretPrefix) || len(v.Secret) < 40 {
		t.Fatalf("created: %+v", v)
	}
	if _, err := c.Credentials.CreateLDAPClient(actorOf(c, owner), LDAPClientInput{Name: "jellyfin"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("same name again: %v", err)
	}
	rec, _ := st.LDAPClient("jellyfin")
	if strings.Contains(string(rec.Hash), v.Secret) || len(rec.Hash) != 32 {
		t.Fatal("the secret is not stored as a 32-byte keyed hash")
	}

	anon := &Actor{Via: ViaLDAP, IP: "192.0.2.10"}
	if got, err := c.Credentials.CheckLDAPClient(anon, "JELLYFIN", v.Secret); err != nil || got.App != "media" {
		t.Fatalf("right secret: %v, %v", got, err)
	}
	wrong := v.Secret[:len(v.Secret)-8] + "AAAAAAAA"
	for _, tc := range []struct{ name, secret string }{{"jellyfin", wrong}, {"nobody", v.Secret}, {"jellyfin", ""}, {"jellyfin", "password"}} {
		if _, err := c.Credentials.CheckLDAPClient(anon, tc.name, tc.secret); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("client %q secret %q: %v, want ErrBadCredentials", tc.name, tc.secret, err)
		}
	}
	list, err := c.Credentials.ListLDAPClients(actorOf(c, owner))
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || list[0].LastUsedIP != "192.0.2.10" || list[0].Secret != "" {
		t.Fatalf("list: %+v, %v", list, err)
	}

	// The admin who made it is demoted: the client no longer binds.
	if _, err := st.UpdateUser(admin.ID, func(u *store.User) error { u.Role = policies.RoleUser; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Credentials.CheckLDAPClient(anon, "jellyfin", v.Secret); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("maker demoted: %v, want ErrBadCredentials", err)
	}
	if c.Credentials.LDAPClientLive(rec) {
		t.Fatal("a client whose maker was demoted is live")
	}

	if err := c.Credentials.DeleteLDAPClient(actorOf(c, plain), "jellyfin"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("delete by a plain user: %v", err)
	}
	if err := c.Credentials.DeleteLDAPClient(actorOf(c, owner), "jellyfin"); err != nil {
		t.Fatal(err)
	}
	if err := c.Credentials.DeleteLDAPClient(actorOf(c, owner), "jellyfin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestBindPassword: a password bind is a sign-in, refused for a second
// factor, mandatory 2FA, an expired password, and users an app keeps out,
// always as ErrBadCredentials; the audit says why and says via ldap.
func TestBindPassword(t *testing.T) {
	c, st := newTestCore(t)
	mustUser(t, c, "alice", policies.RoleUser, "media")
	bob := mustUser(t, c, "bob", policies.RoleUser)
	carol := mustUser(t, c, "carol", policies.RoleUser, "media")
	app, err := c.Access.RegisterApp(AppConfig{Name: "media", AllowGroups: []string{"media"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateMFA(carol.ID, func(m *store.MFA) error { m.TOTPSecret = []byte("sealed"); return nil }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := &Actor{Via: ViaLDAP, IP: "192.0.2.1", UserAgent: "ldap"}
	if u, err := c.Auth.BindPassword(ctx, a, "alice", testPW, app); err != nil || u.Username != "alice" {
		t.Fatalf("alice: %v, %v", u, err)
	}
	if u, err := c.Auth.BindPassword(ctx, a, "alice@example.com", testPW, nil); err != nil || u.Username != "alice" {
		t.Fatalf("alice by email: %v, %v", u, err)
	}
	for _, tc := range []struct{ name, login, pw string }{
		{"wrong password", "alice", "nope"},
		{"unknown user", "zed", testPW},
		{"kept out by the app", "bob", testPW},
		{"second factor", "carol", testPW},
	} {
		if _, err := c.Auth.BindPassword(ctx, a, tc.login, tc.pw, app); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s: %v, want ErrBadCredentials", tc.name, err)
		}
	}
	evs, _, err := st.ListAudit(store.AuditFilter{Actor: "carol"}, "", 10)
	if err != nil || len(evs) == 0 || !strings.Contains(evs[0].Reason, "second factor") || evs[0].Via != "ldap" {
		t.Fatalf("carol's audit: %+v, %v", evs, err)
	}
	_ = bob
}
