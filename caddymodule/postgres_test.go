package caddymodule

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/pgtest"
	"github.com/gatehouse-auth/gatehouse/store"
)

// storageEnv=postgres runs every harness test on a PostgreSQL database of its
// own (one server for the package run) instead of a Badger directory:
// GATEHOUSE_TEST_STORAGE=postgres go test ./caddymodule. Tests that look
// into the storage directory do not apply then.
const storageEnv = "GATEHOUSE_TEST_STORAGE"

var harnessPG struct {
	once sync.Once
	srv  *pgtest.Server
	err  error
}

// harnessDatabase is a fresh database for t on the package's PostgreSQL
// (started on first use; its watchdog stops it when the test binary ends),
// with Caddy's data directory, where the server key goes, in t's temporary
// directory.
func harnessDatabase(t *testing.T) string {
	t.Helper()
	pgtest.Require(t)
	harnessPG.once.Do(func() { harnessPG.srv, harnessPG.err = pgtest.Start() })
	if harnessPG.err != nil {
		t.Fatal(harnessPG.err)
	}
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	return harnessPG.srv.Database(t)
}

// dirStorageOnly skips a test that sets up its own storage or looks into
// the storage directory, when storageEnv puts every harness on PostgreSQL.
func dirStorageOnly(t *testing.T) {
	t.Helper()
	if os.Getenv(storageEnv) != "" {
		t.Skipf("%s is set: this test picks or reads its storage itself", storageEnv)
	}
}

// TestPostgresStorage runs Gatehouse on PostgreSQL storage, its password
// given by a placeholder ({env.…}) as the README advises: signing in,
// using the session, stopping and starting Caddy, reloads and logout work
// as on Badger (TestSessionsSurviveRestartAndReload, same steps); the
// records are in the database, the server key in Caddy's data directory.
func TestPostgresStorage(t *testing.T) {
	dirStorageOnly(t)
	pg := pgtest.StartT(t)
	dsn := pg.Database(t)
	t.Setenv("GATEHOUSE_TEST_PGPASS", pg.Password)
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data) // Caddy's data directory: the server key
	h := newHarness(t)
	h.storage = strings.Replace(dsn, pg.Password, "{env.GATEHOUSE_TEST_PGPASS}", 1)
	if h.storage == dsn {
		t.Fatal("the DSN does not hold the password")
	}
	sessionsSurviveRestartAndReload(t, h)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var users, sessions int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE key >= 'user/' AND key < 'user0'),
		count(*) FILTER (WHERE key >= 'sess/' AND key < 'sess0') FROM kv`).Scan(&users, &sessions); err != nil {
		t.Fatal(err)
	}
	if users != 1 || sessions != 0 {
		t.Errorf("the database holds %d users and %d sessions, want alice and none (she logged out)", users, sessions)
	}
	if _, err := os.Stat(filepath.Join(data, "caddy", "gatehouse", secretKeyFile)); err != nil {
		t.Errorf("server key: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(h.dir, "gatehouse", "*")); len(m) > 0 {
		t.Errorf("a Badger directory was made beside: %v", m)
	}
	if log, err := os.ReadFile(filepath.Join(h.dir, "caddy.log")); err != nil || strings.Contains(string(log), pg.Password) {
		t.Errorf("Caddy's log holds the database password (or cannot be read: %v)", err)
	}

	// A refused login fails the config, naming the database but not the
	// password.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	const wrong = "Wr0ngPassw0rd"
	h.storage = strings.Replace(dsn, pg.Password, wrong, 1)
	err = caddy.Load(adapt(t, h.caddyfile("", "")), true)
	if err == nil {
		t.Fatal("Caddy started with a wrong database password")
	}
	if msg := err.Error(); strings.Contains(msg, wrong) || !strings.Contains(msg, "password authentication failed") || !strings.Contains(msg, "xxxxx@127.0.0.1") {
		t.Errorf("load error = %q, want the refusal with the URL redacted", msg)
	}
}

// TestCLIRestoreIntoPostgres: `caddy gatehouse backup` of a Badger node
// restores into PostgreSQL with `restore --storage postgres://…`, and Caddy
// then runs on that database with the users and their passwords; the
// output names the database without its password.
func TestCLIRestoreIntoPostgres(t *testing.T) {
	dirStorageOnly(t)
	pg := pgtest.StartT(t)
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("alice", alicePW, "owner", "admins")
	file := filepath.Join(t.TempDir(), "gatehouse.backup")
	if out, err := runCommand(t, backupCommand(), "", file, "--address", "127.0.0.1:"+strconv.Itoa(h.admin)); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	key, err := os.ReadFile(filepath.Join(h.storage, secretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}

	dsn := pg.Database(t)
	out, err := runCommand(t, restoreCommand(), "", file, "--storage", dsn)
	if err != nil || strings.Contains(out, pg.Password) || !strings.Contains(out, store.RedactDSN(dsn)) {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if _, err := runCommand(t, restoreCommand(), "", file, "--storage", dsn); err == nil || !strings.Contains(err.Error(), "holds records") {
		t.Errorf("a second restore into the same database: %v", err)
	}
	// The server key follows, as the output says.
	keyDir := filepath.Join(os.Getenv("XDG_DATA_HOME"), "caddy", "gatehouse")
	if !strings.Contains(out, keyDir) {
		t.Errorf("the output does not say where the key goes (%s):\n%s", keyDir, out)
	}
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keyDir, secretKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	h.storage = dsn
	h.start(h.caddyfile("", ""))
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	if resp, b := do(t, alice, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
		t.Fatalf("alice on PostgreSQL after the restore: %d %s", resp.StatusCode, b)
	}

	// And back: a backup of the PostgreSQL node restores into a directory.
	back := filepath.Join(t.TempDir(), "back.backup")
	if out, err := runCommand(t, backupCommand(), "", back, "--address", "127.0.0.1:"+strconv.Itoa(h.admin)); err != nil {
		t.Fatalf("backup of the PostgreSQL node: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "badger")
	if out, err := runCommand(t, restoreCommand(), "", back, "--storage", dir); err != nil {
		t.Fatalf("restore into a directory: %v\n%s", err, out)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u, err := st.UserByUsername("alice"); err != nil || u.Role != "owner" || u.PasswordHash == "" {
		t.Errorf("alice back on Badger: %+v, %v", u, err)
	}
}

// TestPostgresReadmeSnippet: the README's PostgreSQL example adapts, its
// storage URL kept with the placeholder for the provision-time replacement.
func TestPostgresReadmeSnippet(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "### Running on PostgreSQL")
	_, block, ok2 := strings.Cut(sec, "```caddyfile\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README: no Caddyfile example in the PostgreSQL section")
	}
	cfg := adapt(t, block)
	if want := `"storage":"postgres://gatehouse:{env.GATEHOUSE_PGPASSWORD}@db.internal:5432/gatehouse?sslmode=verify-full"`; !strings.Contains(string(cfg), want) {
		t.Errorf("adapted config lacks %s:\n%s", want, cfg)
	}
}
