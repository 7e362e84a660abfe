package ldapserver

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/directory"
	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// TestAnotherGatehouseAsDirectory: a second Gatehouse takes its people
// from this one's directory server, with the settings the README gives
// for "another Gatehouse": they sign in with this Gatehouse's passwords,
// are made at their first sign-in with their groups, and a
// synchronisation brings the rest; what this Gatehouse refuses (a
// second-factor user's password, a disabled user) the other refuses too.
func TestAnotherGatehouseAsDirectory(t *testing.T) {
	f := newFixture(t, Config{})
	cl, err := directory.New(directory.Config{
		URL: "ldap://" + f.addr, BindDN: "cn=all,ou=system,dc=gatehouse", BindPassword: f.secret["all"],
		BaseDN: "ou=users,dc=gatehouse", GroupBaseDN: "ou=groups,dc=gatehouse", GroupMemberAttribute: "member",
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	other, err := core.New(core.Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "other.example.com"},
		Hasher:    password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
		Directory: &core.DirectoryOptions{Client: cl, AutoCreate: true, SyncGroups: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	signIn := func(login, pw string) (*store.User, error) {
		u, _, _, err := other.Auth.Authenticate(ctx, &core.Actor{Via: core.ViaPortal, IP: "192.0.2.9"}, login, pw)
		return u, err
	}

	u, err := signIn("alice", testPW)
	if err != nil {
		t.Fatalf("alice signs in to the other Gatehouse: %v", err)
	}
	slices.Sort(u.Groups)
	if u.Source != "ldap" || u.Email != "alice@example.com" || u.FullName != "Alice Liddell" || !slices.Equal(u.Groups, []string{"dev", "media"}) {
		t.Fatalf("alice as made: %+v", u)
	}
	for _, tc := range []struct{ name, login, pw string }{
		{"wrong password", "alice", "wrong"},
		{"second-factor user's password", "carol", testPW},
		{"disabled user", "dave", testPW},
		{"unknown user", "zed", testPW},
	} {
		if _, err := signIn(tc.login, tc.pw); !errors.Is(err, core.ErrBadCredentials) {
			t.Errorf("%s: %v, want ErrBadCredentials", tc.name, err)
		}
	}

	// A synchronisation makes everyone this Gatehouse lists (the active
	// users: not dave, not erin) with their groups.
	owner, err := other.Users.CreateUser(ctx, nil, core.NewUser{Username: "head", Password: testPW, Role: policies.RoleOwner})
	if err != nil {
		t.Fatal(err)
	}
	perms, _ := other.PermsOf(owner.Role)
	rep, err := other.Directory.Sync(ctx, &core.Actor{User: owner, Perms: perms, Via: core.ViaAPI})
	if err != nil || len(rep.Errors) > 0 {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	for name, groups := range map[string][]string{"bob": {"dev"}, "carol": {"media"}, "olivia": nil} {
		u, err := st.UserByUsername(name)
		if err != nil {
			t.Errorf("%s after the sync: %v", name, err)
			continue
		}
		if g := slices.Clone(u.Groups); !slices.Equal(g, groups) && !(len(g) == 0 && len(groups) == 0) {
			t.Errorf("%s's groups: %v, want %v", name, g, groups)
		}
	}
	for _, name := range []string{"dave", "erin"} {
		if _, err := st.UserByUsername(name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s (inactive here) made there: %v", name, err)
		}
	}
}
