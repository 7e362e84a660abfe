package core

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/internal/pgtest"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// TestClusterCoreCaches: two cores (two nodes) on one PostgreSQL database;
// what an admin changes on one — the settings, an app's access rule and its
// second-factor requirement — is in force on the other within a second.
func TestClusterCoreCaches(t *testing.T) {
	a, b, dsn := twoClusterNodes(t)
	// A third node with another server key is refused.
	st3, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st3.Close()
	other := make([]byte, 32)
	other[0] = 1
	if _, err := New(Options{Store: st3, SecretKey: other, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Hasher: password.NewHasher(password.HasherOptions{})}); err == nil || !strings.Contains(err.Error(), "secret.key") {
		t.Errorf("a node with another server key: %v, want a refusal naming secret.key", err)
	}
	appA, err := a.Access.RegisterApp(AppConfig{Name: "wiki", Guarded: true})
	if err != nil {
		t.Fatal(err)
	}
	appB, err := b.Access.RegisterApp(AppConfig{Name: "wiki", Guarded: true})
	if err != nil {
		t.Fatal(err)
	}
	admin := mustUser(t, a, "adam", policies.RoleAdmin)
	eve := mustUser(t, a, "eve", policies.RoleUser)
	acct := store.AccountOf(eve)
	within := func(what string, cond func() bool) {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: not within 1 s", what)
			}
			time.Sleep(time.Millisecond)
		}
		t.Logf("%-36s %v", what, time.Since(start))
	}
	if v := b.Access.Decide(&acct, appB, false); v.Outcome != Allow {
		t.Fatalf("before: %v", v.Outcome)
	}
	_ = appA
	groups, twoFA := []string{"ops"}, true
	if _, err := a.Access.UpdateAppAccess(actorOf(a, admin), "wiki", AppAccessInput{AllowGroups: &groups, Require2FA: &twoFA}); err != nil {
		t.Fatal(err)
	}
	within("access rule in force on B", func() bool {
		return b.Access.Decide(&acct, appB, true).Outcome == Deny && appB.RequiresSecondFactor()
	})

	st := *a.Settings()
	st.LockoutThreshold = 3
	if err := a.SaveSettings(&st); err != nil {
		t.Fatal(err)
	}
	within("settings in force on B", func() bool { return b.Settings().LockoutThreshold == 3 })
}

// twoClusterNodes starts a PostgreSQL database and two cores on it (two
// nodes) with one server key; dsn reaches the database.
func twoClusterNodes(t *testing.T) (a, b *Core, dsn string) {
	t.Helper()
	srv := pgtest.StartT(t)
	dsn = srv.Database(t)
	key := make([]byte, 32)
	node := func() *Core {
		st, err := store.Open(dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		c, err := New(Options{
			Store:     st,
			SecretKey: key,
			PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
			Hasher:    password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
			Now:       time.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return node(), node(), dsn
}
