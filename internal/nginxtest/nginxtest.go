// Package nginxtest runs a real nginx (Debian's nginx) for tests: in a
// temporary directory, on a free loopback port, with a configuration the
// test writes, in the foreground. The system's nginx service is neither
// needed nor touched.
//
// Tests that need it call Start; without nginx it skips the test, or fails
// it when the environment variable CI is set (CI installs nginx, so a
// missing server there is a defect, not a reason to pass).
package nginxtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/servertest"
)

// nginxPath is Debian's nginx binary (package nginx).
var nginxPath = "/usr/sbin/nginx"

// Options configures a server.
type Options struct {
	// Config is the content of the http block: server blocks, maps,
	// upstreams. "{listen}" in it is replaced by the server's address
	// (127.0.0.1:<port>, known only now: the port is free only now),
	// "{url}" by its URL and "{dir}" by its directory.
	Config string
	// Workers is worker_processes. Default: 1.
	Workers int
	// AccessLog writes an access log to {dir}/access.log. Default: none.
	AccessLog bool
}

// Server is a running nginx.
type Server struct {
	// URL is http://127.0.0.1:<port>.
	URL string
	// Addr is 127.0.0.1:<port>.
	Addr string
	// Dir is the server's directory (its configuration, logs and
	// temporary files).
	Dir string

	proc *servertest.Process
	log  bytes.Buffer
}

// Require skips t when nginx is not installed, or fails it when the
// environment variable CI is set.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(nginxPath); err == nil {
		return
	}
	msg := nginxPath + " is not installed (apt-get install -y nginx)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run the nginx tests")
	}
	t.Skip(msg)
}

// Start writes the configuration, checks it with nginx -t and starts
// nginx on a free port. The server stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	s := &Server{Dir: dir}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	// Run as root, nginx's workers drop to www-data and must still read
	// the directory and write the temporary files (t.TempDir's parents are
	// private to root).
	runAs := ""
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("www-data"); err != nil {
			t.Fatalf("nginx runs as root only with a www-data user: %v", err)
		}
		runAs = "user www-data;\n"
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	accessLog := "access_log off;"
	if opts.AccessLog {
		accessLog = fmt.Sprintf("access_log %q;", filepath.Join(dir, "access.log"))
	}
	var lastErr error
	for range 5 {
		port, err := servertest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		s.URL = "http://" + s.Addr
		conf := fmt.Sprintf(`daemon off;
%sworker_processes %d;
pid %q;
error_log %q warn;
events { worker_connections 4096; }
http {
	%s
	client_body_temp_path %q;
	proxy_temp_path %q;
	fastcgi_temp_path %q;
	uwsgi_temp_path %q;
	scgi_temp_path %q;
%s
}
`, runAs, opts.Workers, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"), accessLog,
			filepath.Join(tmp, "body"), filepath.Join(tmp, "proxy"), filepath.Join(tmp, "fastcgi"),
			filepath.Join(tmp, "uwsgi"), filepath.Join(tmp, "scgi"),
			strings.NewReplacer("{listen}", s.Addr, "{url}", s.URL, "{dir}", dir).Replace(opts.Config))
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		// -e: the error log before the configuration is read, which is
		// otherwise /var/log/nginx/error.log.
		errLog := filepath.Join(dir, "error.log")
		if out, err := exec.Command(nginxPath, "-t", "-q", "-p", dir, "-e", errLog, "-c", confPath).CombinedOutput(); err != nil {
			t.Fatalf("nginx -t: the configuration is wrong: %v\n%s\n%s", err, out, conf)
		}
		s.log.Reset()
		proc, err := servertest.Start("nginx", exec.Command(nginxPath, "-p", dir, "-e", errLog, "-c", confPath), s.Addr, &s.log)
		if err != nil {
			lastErr = fmt.Errorf("%w\n%s%s", err, s.log.String(), s.ErrorLog())
			continue
		}
		s.proc = proc
		t.Cleanup(s.Stop)
		return s
	}
	t.Fatalf("nginx did not start: %v", lastErr)
	return nil
}

// ErrorLog returns nginx's error log so far.
func (s *Server) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	return string(b)
}

// Stop ends the server (a fast shutdown). It may be called more than once.
func (s *Server) Stop() { s.proc.Stop() }
