// Package pgtest runs a real PostgreSQL server (Debian's postgresql
// package) for tests: initdb in a fresh temporary directory, pg_ctl start on
// a free loopback port, a database per test. The system's PostgreSQL service
// is neither needed nor touched.
//
// initdb and postgres refuse to run as root, and CI runs as root: then the
// server runs as the unprivileged user "postgres" (which Debian's package
// creates) or, failing that, "nobody", through runuser, in a directory
// chowned to that user.
//
// Without the binaries, Start returns ErrUnavailable; Require turns that
// into a skip, or a failure when the environment variable CI is set (CI
// installs postgresql, so a missing server there is a defect, not a reason
// to pass).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/servertest"
)

// ErrUnavailable means PostgreSQL's server programs are not installed.
var ErrUnavailable = errors.New("pgtest: PostgreSQL is not installed (apt-get install -y postgresql: initdb and pg_ctl in /usr/lib/postgresql/*/bin or on PATH)")

// debianBinaries is where Debian installs the server's programs; a variable
// so a test can play a machine without them.
var debianBinaries = "/usr/lib/postgresql/*/bin"

// Superuser is the name of the server's superuser.
const Superuser = "gatehouse"

// Server is a running PostgreSQL.
type Server struct {
	// Port is the loopback TCP port it listens on (127.0.0.1).
	Port int
	// Password is Superuser's password (TCP connections must give it).
	Password string

	bin    string // directory of initdb, pg_ctl and postgres
	dir    string // temporary directory: data/, sock/, log
	runAs  string // unprivileged user to run as ("" when not root)
	dbSeq  atomic.Int64
	prefix string
	// watchdog stops the server if this process dies first (watch).
	watchdog *os.Process
}

// Binaries returns the directory holding initdb and pg_ctl, or
// ErrUnavailable.
func Binaries() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob(debianBinaries)
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrUnavailable
}

// version is the major version in /usr/lib/postgresql/<v>/bin.
func version(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

// Required reports whether a missing PostgreSQL must fail the tests (the
// environment variable CI is set) rather than skip them.
func Required() bool { return os.Getenv("CI") != "" }

// Require skips t when PostgreSQL is not installed, or fails it in CI.
func Require(t testing.TB) {
	t.Helper()
	if _, err := Binaries(); err != nil {
		if Required() {
			t.Fatal(err.Error() + "; CI must run the PostgreSQL tests")
		}
		t.Skip(err.Error())
	}
}

// StartT starts a server for one test (Require first), stopped when the test
// ends.
func StartT(t testing.TB) *Server {
	t.Helper()
	Require(t)
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start initialises a fresh cluster in a temporary directory and starts
// it. Stop it (and so remove the directory) with Stop. It returns
// ErrUnavailable when the binaries are missing.
func Start() (*Server, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, Password: randomHex(16), prefix: "t" + randomHex(3)}
	if os.Geteuid() == 0 {
		for _, name := range []string{"postgres", "nobody"} {
			if _, err := user.Lookup(name); err == nil {
				s.runAs = name
				break
			}
		}
		if s.runAs == "" {
			return nil, errors.New("pgtest: running as root and neither user postgres nor nobody exists to run PostgreSQL as")
		}
	}
	base := ""
	if s.runAs != "" {
		base = "/tmp" // TMPDIR may be private to root; the server's user must reach its files
	}
	if s.dir, err = os.MkdirTemp(base, "pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	// The server's user must reach its files: the directory is theirs.
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	for _, d := range []string{"sock"} {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := s.chown(); err != nil {
		return nil, err
	}
	// Local (unix socket) connections are trusted; TCP ones need the
	// password, as a real deployment would.
	if out, err := s.run("initdb", "-D", s.data(), "-U", Superuser, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "-N"); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	if s.Port, err = servertest.FreePort(); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	s.watch()
	ok = true
	return s, nil
}

// watch starts a watchdog that stops the server and removes its directory
// when this process is gone without calling Stop (a test binary killed at
// its timeout): pg_ctl's server is not our child and would run on.
func (s *Server) watch() {
	stop := fmt.Sprintf("%q -D %q -m immediate stop", filepath.Join(s.bin, "pg_ctl"), s.data())
	if s.runAs != "" {
		stop = fmt.Sprintf("runuser -u %s -- %s", s.runAs, stop)
	}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null && [ -d %q ]; do sleep 1; done; [ -d %q ] && { %s; rm -rf %q; }; true",
		os.Getpid(), s.dir, s.dir, stop, s.dir)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Start() == nil {
		s.watchdog = cmd.Process
		go func() { _ = cmd.Wait() }()
	}
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// start runs pg_ctl start and waits until the server accepts connections.
// fsync=off trades durability against a machine crash for speed (a test
// server's data dies with it anyway); commits still reach the kernel
// before they are acknowledged, so a killed server (Kill) loses nothing
// acknowledged. PGTEST_FSYNC=1 keeps fsync on, for benchmarks that compare
// engines fairly.
func (s *Server) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=300 -c shared_buffers=32MB",
		s.Port, filepath.Join(s.dir, "sock"))
	if os.Getenv("PGTEST_FSYNC") == "" {
		opts += " -c fsync=off -c full_page_writes=off"
	}
	if out, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil
}

// Kill stops the server at once (immediate shutdown: no checkpoint, clients
// cut off), keeping its data for Restart.
func (s *Server) Kill() error {
	if out, err := s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Restart starts the server again after Kill, on the same port.
func (s *Server) Restart() error { return s.start() }

// Stop stops the server and removes its directory.
func (s *Server) Stop() {
	if s.dir == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(s.data(), "postmaster.pid")); err == nil {
		_ = s.Kill()
	}
	_ = os.RemoveAll(s.dir)
	s.dir = ""
	if s.watchdog != nil {
		_ = s.watchdog.Kill()
	}
}

// run runs one of the server's programs, as the unprivileged user when root.
func (s *Server) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

// chown gives the temporary directory to the unprivileged user.
func (s *Server) chown() error {
	if s.runAs == "" {
		return nil
	}
	u, err := user.Lookup(s.runAs)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(s.dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

// DSN is the URL of database db as Superuser, over TCP with the password.
func (s *Server) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Superuser, s.Password),
		Host:     fmt.Sprintf("127.0.0.1:%d", s.Port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates a new, empty database and returns its DSN.
func (s *Server) CreateDatabase() (string, error) {
	name := fmt.Sprintf("%s_%d", s.prefix, s.dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// Database creates a database for t (Fatal on error) and returns its DSN.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	dsn, err := s.CreateDatabase()
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Log returns the server's log so far, for a failing test's message.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return strings.TrimSpace(string(b))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
