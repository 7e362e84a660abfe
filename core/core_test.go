package core

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/store"
)

// testPW follows the default password rules.
const testPW = "Corr3ct-horse"

// newTestCore returns a Core on a fresh store in t.TempDir, with cheap
// password hashing.
func newTestCore(t *testing.T) (*Core, *store.Store) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c, err := New(Options{
		Store:     st,
		PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Hasher:    password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
		Now:       time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

// mustUser creates the user name with role and groups, or fails t.
func mustUser(t *testing.T, c *Core, name, role string, groups ...string) *store.User {
	t.Helper()
	u, err := c.Users.CreateUser(context.Background(), nil, NewUser{Username: name, Password: testPW, Role: role, Groups: groups, Email: name + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}
