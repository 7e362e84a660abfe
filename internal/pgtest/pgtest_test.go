package pgtest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStartCreateDatabaseKillRestart(t *testing.T) {
	s := StartT(t)
	ctx := context.Background()
	dsn := s.Database(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, s.Log())
	}
	if _, err := conn.Exec(ctx, "create table x (v int); insert into x values (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// TCP connections need the password.
	bad := strings.Replace(dsn, s.Password, "wrong", 1)
	if c, err := pgx.Connect(ctx, bad); err == nil {
		c.Close(ctx)
		t.Fatal("connected with a wrong password")
	}

	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if c, err := pgx.Connect(ctx, dsn); err == nil {
		c.Close(ctx)
		t.Fatal("connected to a killed server")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "select v from x").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: %d, %v", v, err)
	}
}

// TestRequireFailsInCI: without PostgreSQL, a test that needs it fails
// when CI is set and skips otherwise. The case runs in a child process, on
// a machine "without" PostgreSQL.
func TestRequireFailsInCI(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "1" {
		debianBinaries = "/nonexistent/*/bin"
		Require(t)
		return
	}
	for _, tc := range []struct {
		ci   string
		fail bool
		want string
	}{{"1", true, "--- FAIL"}, {"", false, "--- SKIP"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequireFailsInCI$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", "CI="+tc.ci, "PATH="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fail || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "PostgreSQL is not installed") {
			t.Errorf("CI=%q: %v\n%s", tc.ci, err, out)
		}
	}
}

// TestWatchdogStopsOrphan: a test process that dies without Stop (killed
// at its timeout) does not leave its server running: the watchdog stops
// it and removes its directory.
func TestWatchdogStopsOrphan(t *testing.T) {
	Require(t)
	if dir := os.Getenv("PGTEST_ORPHAN_DIR"); dir != "" {
		s, err := Start()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "server"), []byte(s.dir+"\n"+strconv.Itoa(s.Port)), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Exit(0) // no Stop
	}
	out := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdogStopsOrphan$")
	cmd.Env = append(os.Environ(), "PGTEST_ORPHAN_DIR="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(out, "server"))
	if err != nil {
		t.Fatal(err)
	}
	dir, port, _ := strings.Cut(string(b), "\n")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		c, dialErr := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if dialErr == nil {
			c.Close()
		}
		if os.IsNotExist(statErr) && dialErr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after its process died, the server still runs (dial: %v) or its directory is there (%v)", dialErr, statErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
