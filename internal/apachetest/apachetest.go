// Package apachetest runs a real Apache httpd (Debian's apache2) for
// tests: in a temporary directory, on a free loopback port, with a
// configuration the test writes, in the foreground. The system's apache2
// service is neither needed nor touched.
//
// Tests that need it call Start; without apache2 (or a module the test
// loads) it skips the test, or fails it when the environment variable CI
// is set (CI installs apache2 and libapache2-mod-auth-openidc, so a missing
// server there is a defect, not a reason to pass).
package apachetest

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

// Paths of Debian's Apache (package apache2).
var (
	httpdPath = "/usr/sbin/apache2"
	moduleDir = "/usr/lib/apache2/modules"
)

// baseModules are loaded in every server: the event MPM and what a proxy
// and access rules need (log_config and unixd are compiled in).
var baseModules = []string{"mpm_event", "authz_core", "authz_user", "authn_core", "auth_basic", "headers", "proxy", "proxy_http", "env", "setenvif", "mime", "dir", "alias"}

// Options configures a server.
type Options struct {
	// Modules are loaded on top of the base ones, by name without the
	// mod_ prefix and .so suffix (e.g. "auth_openidc").
	Modules []string
	// Config is the server's own directives, appended to the generated
	// head (ServerRoot, Listen, modules, logs). "{url}" in it is replaced
	// by the server's URL (known only now: the port is free only now),
	// and "{dir}" by its directory.
	Config string
}

// Server is a running Apache.
type Server struct {
	// URL is http://127.0.0.1:<port>.
	URL string
	// Dir is the server's directory (its configuration and logs).
	Dir string

	t    testing.TB
	proc *servertest.Process
	log  bytes.Buffer
}

// Require skips t when apache2 or one of modules is not installed, or
// fails it when the environment variable CI is set.
func Require(t testing.TB, modules ...string) {
	t.Helper()
	missing := ""
	if _, err := os.Stat(httpdPath); err != nil {
		missing = httpdPath
	}
	for _, m := range append(baseModules, modules...) {
		if _, err := os.Stat(modulePath(m)); err != nil && missing == "" {
			missing = modulePath(m)
		}
	}
	if missing == "" {
		return
	}
	msg := missing + " is not installed (apt-get install -y apache2 libapache2-mod-auth-openidc)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run the Apache tests")
	}
	t.Skip(msg)
}

// modulePath is the shared object of module name.
func modulePath(name string) string { return filepath.Join(moduleDir, "mod_"+name+".so") }

// Start writes the configuration and starts Apache on a free port. The
// server stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t, opts.Modules...)
	dir := t.TempDir()
	s := &Server{Dir: dir, t: t}
	// Run as root, Apache drops to User/Group and must still read its
	// directory (t.TempDir's parents are private to root).
	runAs := ""
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("www-data"); err != nil {
			t.Fatalf("apache2 runs as root only with a www-data user: %v", err)
		}
		runAs = "User www-data\nGroup www-data\n"
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	var lastErr error
	for range 5 {
		port, err := servertest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
		var head strings.Builder
		fmt.Fprintf(&head, "ServerRoot %q\nServerName 127.0.0.1\nListen 127.0.0.1:%d\nPidFile %q\nErrorLog %q\nLogLevel warn\n%s",
			dir, port, filepath.Join(dir, "httpd.pid"), filepath.Join(dir, "error.log"), runAs)
		for _, m := range append(append([]string(nil), baseModules...), opts.Modules...) {
			fmt.Fprintf(&head, "LoadModule %s_module %s\n", m, modulePath(m))
		}
		head.WriteString("TypesConfig /etc/mime.types\n")
		conf := head.String() + strings.NewReplacer("{url}", s.URL, "{dir}", dir).Replace(opts.Config)
		confPath := filepath.Join(dir, "httpd.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(httpdPath, "-t", "-f", confPath).CombinedOutput(); err != nil {
			t.Fatalf("apache2 -t: the configuration is wrong: %v\n%s\n%s", err, out, conf)
		}
		s.log.Reset()
		proc, err := servertest.Start("apache2", exec.Command(httpdPath, "-f", confPath, "-DFOREGROUND"), fmt.Sprintf("127.0.0.1:%d", port), &s.log)
		if err != nil {
			lastErr = fmt.Errorf("%w\n%s%s", err, s.log.String(), s.ErrorLog())
			continue
		}
		s.proc = proc
		t.Cleanup(s.Stop)
		return s
	}
	t.Fatalf("apache2 did not start: %v", lastErr)
	return nil
}

// ErrorLog returns Apache's error log so far.
func (s *Server) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	return string(b)
}

// Stop ends the server. It may be called more than once.
func (s *Server) Stop() { s.proc.Stop() }
