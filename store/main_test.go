package store

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/pgtest"
)

// The store's test suite runs twice: on Badger, then on PostgreSQL (one
// server for the package, a fresh database per test directory). The
// environment variable GATEHOUSE_STORE_ENGINE=badger or =postgres runs one
// engine only. Without PostgreSQL installed the second run is skipped, with
// a message, except in CI (pgtest.Required), where that fails.

// testPG is the PostgreSQL server while the suite runs on it; nil on Badger.
var testPG *pgtest.Server

func TestMain(m *testing.M) {
	engine := os.Getenv("GATEHOUSE_STORE_ENGINE")
	if engine != "" && engine != "badger" && engine != "postgres" {
		fmt.Fprintf(os.Stderr, "GATEHOUSE_STORE_ENGINE=%q: want badger or postgres\n", engine)
		os.Exit(2)
	}
	if engine != "postgres" {
		if code := m.Run(); code != 0 || engine == "badger" {
			os.Exit(code)
		}
	}
	srv, err := pgtest.Start()
	if errors.Is(err, pgtest.ErrUnavailable) && !pgtest.Required() {
		fmt.Printf("store: the suite on PostgreSQL is skipped: %v\n", err)
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "store: the suite on PostgreSQL: %v\n", err)
		os.Exit(1)
	}
	testPG = srv
	fmt.Println("== store: the suite again, on PostgreSQL")
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

// testDBs maps a test's storage directory to its database on PostgreSQL.
var testDBs sync.Map

// testStorage is the storage for a test's directory dir: dir itself on
// Badger; on PostgreSQL a database of its own, the same for the same dir,
// so a test that closes and reopens its store finds its records.
func testStorage(t testing.TB, dir string) string {
	t.Helper()
	if testPG == nil {
		return dir
	}
	if v, ok := testDBs.Load(dir); ok {
		return v.(string)
	}
	v, _ := testDBs.LoadOrStore(dir, testPG.Database(t))
	return v.(string)
}

// badgerOnly skips a test of something only Badger has (a directory and
// its lock, Badger's logs, its transaction size limit, its backup format).
func badgerOnly(t testing.TB, why string) {
	t.Helper()
	if testPG != nil {
		t.Skip("Badger only: " + why)
	}
}
