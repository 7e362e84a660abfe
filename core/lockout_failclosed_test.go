package core

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/internal/pgtest"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// TestLockoutFailsClosed: when PostgreSQL refuses the write of a failure
// count (reads still work: the account and its lock are read), a wrong
// password is not answered as one (a guess the lockout never counted) but
// refused as busy (503), for an account password and an app password
// alike; once writes work again, a wrong password is a wrong password.
func TestLockoutFailsClosed(t *testing.T) {
	srv := pgtest.StartT(t)
	dsn := srv.Database(t)
	st, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c, err := New(Options{Store: st, SecretKey: make([]byte, 32), PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Hasher: password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
		Now:    time.Now})
	if err != nil {
		t.Fatal(err)
	}
	eve := mustUser(t, c, "eve", policies.RoleUser)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	refuseWrites := func(on bool) {
		t.Helper()
		q := `CREATE OR REPLACE FUNCTION refuse_writes() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'writes refused (test)'; END $$ LANGUAGE plpgsql;
			CREATE TRIGGER refuse_writes BEFORE INSERT OR UPDATE OR DELETE ON kv FOR EACH ROW EXECUTE FUNCTION refuse_writes()`
		if !on {
			q = `DROP TRIGGER refuse_writes ON kv`
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	attempts := []struct {
		name string
		try  func() error
	}{
		{"password", func() error {
			_, _, _, err := c.Auth.Authenticate(ctx, &Actor{Via: ViaAPI, IP: "192.0.2.10"}, "eve", "wrong password 123")
			return err
		}},
		{"app password", func() error {
			_, err := c.Credentials.CheckAppPassword(bindActor(), "eve", "not-an-app-password-0123456789", "")
			return err
		}},
		{"app password, unknown user", func() error {
			_, err := c.Credentials.CheckAppPassword(bindActor(), "nobody", "not-an-app-password-0123456789", "")
			return err
		}},
	}
	for _, a := range attempts {
		if err := a.try(); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("%s, writes work: %v, want ErrBadCredentials", a.name, err)
		}
	}
	before, err := st.Failures(eve.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	refuseWrites(true)
	for _, a := range attempts {
		if err := a.try(); !errors.Is(err, ErrBusy) || errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s, failure count not written: %v, want ErrBusy", a.name, err)
		}
	}
	refuseWrites(false)
	if after, err := st.Failures(eve.ID, time.Now()); err != nil || after != before {
		t.Errorf("failures %d -> %d (%v): the refused attempts wrote nothing", before, after, err)
	}
	for _, a := range attempts {
		if err := a.try(); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s, writes work again: %v, want ErrBadCredentials", a.name, err)
		}
	}
}
