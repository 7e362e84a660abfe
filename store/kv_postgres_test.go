package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/pgtest"
)

// PostgreSQL only: the schema's migrations, the purge, the URL's password.

// pgOnly skips a test on the Badger run of the suite.
func pgOnly(t testing.TB) {
	t.Helper()
	if testPG == nil {
		t.Skip("PostgreSQL only: runs in the suite's PostgreSQL pass")
	}
}

// pgQuery runs one query on dsn's database and scans its one row.
func pgQuery(t *testing.T, dsn, sql string, dst ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dst...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestPostgresMigrations(t *testing.T) {
	pgOnly(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	dsn := testPG.Database(t)

	// Two nodes starting together on a fresh database: both open, each
	// migration is applied once.
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(dsn, Options{}) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("concurrent Open %d: %v", i, errs[i])
		}
		s.Close()
	}
	var n, max int
	pgQuery(t, dsn, "SELECT count(*), max(version) FROM gatehouse_schema", &n, &max)
	if n != len(ms) || max != len(ms) {
		t.Fatalf("gatehouse_schema: %d rows up to version %d, want %d", n, max, len(ms))
	}
	var applied time.Time
	pgQuery(t, dsn, "SELECT applied_at FROM gatehouse_schema WHERE version = 1", &applied)

	// Opening again changes nothing.
	s, err := Open(dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var again time.Time
	pgQuery(t, dsn, "SELECT count(*), applied_at FROM gatehouse_schema WHERE version = 1 GROUP BY applied_at", &n, &again)
	if n != 1 || !again.Equal(applied) {
		t.Errorf("re-open re-applied migration 1: %d rows, applied %v then %v", n, applied, again)
	}

	// A database migrated by a newer Gatehouse is refused, by name.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO gatehouse_schema (version, name) VALUES ($1, 'future')", len(ms)+1); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if s, err := Open(dsn, Options{}); err == nil {
		s.Close()
		t.Fatal("Open accepted a database schema newer than the binary")
	} else if !errors.Is(err, errSchemaNewer) || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema = %v, want errSchemaNewer", err)
	}
}

func TestPostgresPurge(t *testing.T) {
	pgOnly(t)
	s := openTest(t, "", Options{})
	pg := s.db.(*pgKV)
	err := s.db.Update(func(txn kvTxn) error {
		return errors.Join(
			txn.SetTTL([]byte("t/gone1"), []byte("x"), 0),
			txn.SetTTL([]byte("t/gone2"), nil, 0),
			txn.SetTTL([]byte("t/alive"), []byte("y"), time.Hour),
			txn.Set([]byte("t/forever"), []byte("z")),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		t.Helper()
		if err := pg.pool.QueryRow(context.Background(), "SELECT count(*) FROM kv WHERE key >= 't/' AND key < 't0'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 4 {
		t.Fatalf("%d rows before the purge, want 4 (expired rows stay until purged)", n)
	}
	n, err := pg.purge(time.Now().Add(time.Second))
	if err != nil || n != 2 {
		t.Fatalf("purge = %d, %v; want the 2 expired rows", n, err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d rows after the purge, want 2", n)
	}
}

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://gh:s3cret@db:5432/gatehouse?sslmode=require", "postgres://gh:xxxxx@db:5432/gatehouse?sslmode=require"},
		{"postgresql://gh@db/gatehouse", "postgresql://gh@db/gatehouse"},
		{"postgres://db/gatehouse?password=s3cret&sslmode=disable", "postgres://db/gatehouse?password=xxxxx&sslmode=disable"},
		{"postgres://gh:s3%zzcret@db/gatehouse", "postgres://(unparseable URL)"},
		{"/var/lib/gatehouse", "/var/lib/gatehouse"},
	} {
		if got := RedactDSN(tc.in); got != tc.want || strings.Contains(got, "s3") {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPostgresErrorsHideThePassword: a refused login, an unreachable server
// and a malformed URL fail Open with messages that name the database but
// not the password.
func TestPostgresErrorsHideThePassword(t *testing.T) {
	pgOnly(t)
	good := testPG.Database(t)
	const secret = "Sup3rSecretPw"
	wrong := strings.Replace(good, testPG.Password, secret, 1)
	for name, dsn := range map[string]string{
		"wrong password": wrong,
		"no server":      "postgres://gatehouse:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
		"malformed":      "postgres://gatehouse:" + secret + "@127.0.0.1:notaport/db",
		"bad parameter":  "postgres://gatehouse:" + secret + "@127.0.0.1/db?sslmode=bogus",
	} {
		_, err := Open(dsn, Options{})
		if err == nil {
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "postgres") {
			t.Errorf("%s: error %q reveals the password or does not name the database", name, err)
		}
	}
	if strings.Contains(good, secret) {
		t.Fatal("test setup")
	}
}

// TestPostgresOutage: while the database is down, a write fails promptly
// with an error (no hang, nothing claimed done); when it is back, the same
// store writes again without reopening, and what was acknowledged before
// the outage is there.
func TestPostgresOutage(t *testing.T) {
	pgOnly(t)
	srv := pgtest.StartT(t)
	s, err := Open(srv.Database(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := mustCreateUser(t, s, &User{Username: "before"})
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.CreateUser(&User{Username: "during"}); err == nil {
		t.Fatal("a write succeeded with the database down")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the failing write took %v", d)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for range 50 { // the pool drops its dead connections as it meets them
		if err = s.CreateUser(&User{Username: "after"}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("write after the database came back: %v", err)
	}
	// Its caches are trusted again once the notifications are back.
	waitFor(t, "the store resynchronised", s.cluster.Synchronised)
	s.users.remove(before.ID) // read it from the database, not the cache
	if u, err := s.User(before.ID); err != nil || u.Username != "before" {
		t.Errorf("user written before the outage: %+v, %v", u, err)
	}
	if _, err := s.UserByUsername("during"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the write that failed during the outage: %v", err)
	}
}
