package caddymodule

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// The README's SSSD settings, run by the real SSSD (Debian's sssd-ldap,
// libnss-sss, libpam-sss) against Gatehouse's directory server through a
// real Caddy, and checked with the clients a Linux host uses: getent
// through NSS, sss_ssh_authorizedkeys (what sshd's AuthorizedKeysCommand
// runs) and PAM through pamtester.

// sssdExample is the sssd.conf the README shows (and this test runs).
const sssdExample = "../examples/sssd/sssd.conf"

// sssdAccessExample is what the README adds to the example to let only
// one group's members log in to a host.
const sssdAccessExample = "access_provider = ldap\nldap_access_filter = memberOf=cn=admins,ou=groups,dc=example,dc=com\n"

// sssdDomain is the test's SSSD domain: not the example's "gatehouse",
// so a host's own cache for a domain of that name is never touched.
const sssdDomain = "gatehousetest"

// sssdState is where SSSD keeps its caches, sockets and memory caches:
// fixed at build time, so the test runs on the host's copy of them.
const sssdState = "/var/lib/sss"

// requireSSSD skips without root or SSSD's binaries, and when a system
// SSSD runs (the test must never disturb a host's own), except in CI
// (.ci/run installs the packages) or with GATEHOUSE_REQUIRE_SSSD, where it
// fails instead.
func requireSSSD(t *testing.T) {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" || os.Getenv("GATEHOUSE_REQUIRE_SSSD") != "" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("SSSD runs as root only")
	}
	for _, tool := range []string{"sssd", "getent", "sss_ssh_authorizedkeys", "pamtester"} {
		if _, err := exec.LookPath(tool); err != nil {
			skip("%s is not on PATH (apt-get install sssd-ldap libnss-sss libpam-sss pamtester)", tool)
		}
	}
	for _, lib := range []string{"libnss_sss.so.2", "security/pam_sss.so"} {
		if m, _ := filepath.Glob("/usr/lib/*/" + lib); len(m) == 0 {
			if m, _ = filepath.Glob("/lib/*/" + lib); len(m) == 0 {
				skip("no %s (apt-get install libnss-sss libpam-sss)", lib)
			}
		}
	}
	for _, pidFile := range []string{"/run/sssd.pid", "/var/run/sssd.pid"} {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
			skip("an SSSD runs on this host (pid %d in %s): the test would share its sockets", pid, pidFile)
		}
	}
	for _, sock := range []string{"nss", "pam", "ssh"} {
		if c, err := net.Dial("unix", filepath.Join(sssdState, "pipes", sock)); err == nil {
			c.Close()
			skip("something answers on %s/pipes/%s: the test would share SSSD's sockets", sssdState, sock)
		}
	}
}

// sssdConfig is the README's example with the test server's address, CA,
// base, bind client and domain name: each example value must be there, so
// an edit of the example that the test does not follow fails here.
func sssdConfig(t *testing.T, example string, fill [][2]string) string {
	t.Helper()
	for _, f := range fill {
		if !strings.Contains(example, f[0]) {
			t.Fatalf("%s lacks %q", sssdExample, f[0])
		}
		example = strings.ReplaceAll(example, f[0], f[1])
	}
	return example
}

// sssdSnapshot records what SSSD's state directories hold, so the test
// removes exactly what its SSSD added and puts back the confdb it rewrote.
type sssdSnapshot struct {
	files  map[string]bool
	confdb []byte
}

var sssdStateDirs = []string{"db", "mc", "pipes", "pipes/private"}

func takeSSSDSnapshot(t *testing.T) *sssdSnapshot {
	t.Helper()
	s := &sssdSnapshot{files: map[string]bool{}}
	for _, d := range sssdStateDirs {
		entries, _ := os.ReadDir(filepath.Join(sssdState, d))
		for _, e := range entries {
			if !e.IsDir() {
				s.files[filepath.Join(sssdState, d, e.Name())] = true
			}
		}
	}
	s.confdb, _ = os.ReadFile(filepath.Join(sssdState, "db", "config.ldb"))
	return s
}

// restore removes the files SSSD made since the snapshot and the test
// domain's caches, and puts the confdb back.
func (s *sssdSnapshot) restore(t *testing.T) {
	for _, d := range sssdStateDirs {
		entries, _ := os.ReadDir(filepath.Join(sssdState, d))
		for _, e := range entries {
			p := filepath.Join(sssdState, d, e.Name())
			if !e.IsDir() && (!s.files[p] || strings.Contains(e.Name(), "_"+sssdDomain)) {
				if err := os.Remove(p); err != nil {
					t.Errorf("clean up SSSD's state: %v", err)
				}
			}
		}
	}
	confdb := filepath.Join(sssdState, "db", "config.ldb")
	if s.confdb != nil {
		if err := os.WriteFile(confdb, s.confdb, 0o600); err != nil {
			t.Errorf("restore SSSD's confdb: %v", err)
		}
	}
}

// lockedBuffer collects SSSD's log from its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSSSD runs sssd in the foreground with conf until the test ends.
func startSSSD(t *testing.T, conf string) *lockedBuffer {
	t.Helper()
	snap := takeSSSDSnapshot(t)
	// A run killed before its cleanup leaves its domain's caches behind.
	for _, f := range []string{"db/cache_" + sssdDomain + ".ldb", "db/timestamps_" + sssdDomain + ".ldb"} {
		_ = os.Remove(filepath.Join(sssdState, f))
	}
	path := filepath.Join(t.TempDir(), "sssd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	cmd := exec.Command("sssd", "-i", "--logger=stderr", "-d", "0x02f0", "-c", path)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sssd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		snap.restore(t)
		if t.Failed() {
			t.Logf("sssd's log:\n%s", log.String())
		}
	})
	return log
}

// sssdRun runs a client tool; it returns its output and exit code.
func sssdRun(t *testing.T, stdin, tool string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	t.Fatalf("%s: %v", tool, err)
	return "", -1
}

// TestSSSDExampleInREADME: the README shows the example sssd.conf the
// SSSD test runs, word for word.
func TestSSSDExampleInREADME(t *testing.T) {
	example, err := os.ReadFile(sssdExample)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("```ini\n"+string(example)+"```\n")) {
		t.Fatalf("README.md does not show %s as an ```ini block", sssdExample)
	}
	// Shown in a list item, so indented.
	access := "  ```ini\n  " + strings.ReplaceAll(strings.TrimSuffix(sssdAccessExample, "\n"), "\n", "\n  ") + "\n  ```\n"
	if !bytes.Contains(readme, []byte(access)) {
		t.Fatalf("README.md does not show the access filter the test runs:\n%s", sssdAccessExample)
	}
}

// TestSSSDThroughCaddy: the README's sssd.conf, run by the real SSSD
// against Gatehouse's directory server (LDAPS with the certificate of
// Caddy's internal CA): users, groups and SSH keys through NSS and
// sss_ssh_authorizedkeys, passwords through PAM, and what must stay out
// (a disabled user, the users an app-scoped client does not see, a
// password bind by a user with a second factor).
func TestSSSDThroughCaddy(t *testing.T) {
	requireSSSD(t)
	example, err := os.ReadFile(sssdExample)
	if err != nil {
		t.Fatal(err)
	}
	h, env, _, cfg := startLDAPHarnessConfig(t, "")
	h.start(strings.Replace(cfg, "EXTRA", "posix_ids 20000-29999", 1))
	h.addUser("erin", alicePW, "user", "admins")
	clientDN, secret := makeClient(t, h, "sssd", "")
	scopedDN, scopedSecret := makeClient(t, h, "sssdscoped", "admins-only")

	// alice's SSH key, from her profile.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, _ := ssh.NewPublicKey(pub)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " alice@laptop"
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	body, _ := json.Marshal(map[string][]string{"keys": {key}})
	if resp, b := do(t, alice, "PUT", h.portalURL("/api/v1/me/ssh-keys"), bytes.NewReader(body), jsonAPI); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT ssh-keys: %d %s", resp.StatusCode, b)
	}

	// bob: TOTP, and an app password for his hosts.
	bob := h.client()
	h.apiLogin(bob, "bob", alicePW)
	resp, b := do(t, bob, "POST", h.portalURL("/api/v1/me/app-passwords"), strings.NewReader(`{"name":"hosts"}`), jsonAPI)
	var ap struct{ Password string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &ap) != nil || ap.Password == "" {
		t.Fatalf("app password: %d %s", resp.StatusCode, b)
	}
	_, b = do(t, bob, "POST", h.portalURL("/api/v1/me/totp"), nil, jsonAPI)
	var enr struct{ Secret string }
	_ = json.Unmarshal(b, &enr)
	if resp, b := do(t, bob, "POST", h.portalURL("/api/v1/me/totp/confirm"), strings.NewReader(`{"code":"`+totpCode(t, enr.Secret, time.Now())+`"}`), jsonAPI); resp.StatusCode != 200 {
		t.Fatalf("confirm TOTP: %d %s", resp.StatusCode, b)
	}

	// What Gatehouse serves, read with ldapsearch.
	served := func(filter, attr string) string {
		t.Helper()
		out, code := env.run("ldapsearch", "-x", "-LLL", "-H", env.plain, "-D", clientDN, "-w", secret, "-b", "dc=gatehouse", filter, attr)
		m := regexp.MustCompile(`(?m)^` + attr + `: (\d+)$`).FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("ldapsearch %s %s: exit %d\n%s", filter, attr, code, out)
		}
		return m[1]
	}
	aliceUID, aliceGID := served("(uid=alice)", "uidNumber"), served("(uid=alice)", "gidNumber")
	adminsGID := served("(&(objectClass=posixGroup)(cn=admins))", "gidNumber")

	// The README's config for the test server; a second domain, the same
	// but bound as a client made for the admins-only app, over StartTLS
	// and enumerating; a third with the README's access filter.
	conf := sssdConfig(t, string(example), [][2]string{
		{"domains = gatehouse", "domains = " + sssdDomain + ", " + sssdDomain + "scoped, " + sssdDomain + "group"},
		{"[domain/gatehouse]", "[domain/" + sssdDomain + "]"},
		{"ldaps://ldap.example.com:6360", env.ldaps},
		{"/etc/ssl/certs/ca-certificates.crt", env.ca},
		{"cn=sssd,ou=system,dc=example,dc=com", clientDN},
		{"dc=example,dc=com", "dc=gatehouse"},
		{"ghl_…", secret},
	})
	domain := conf[strings.Index(conf, "[domain/"):]
	conf += "\n" + strings.NewReplacer("[domain/"+sssdDomain+"]", "[domain/"+sssdDomain+"scoped]", clientDN, scopedDN, secret, scopedSecret,
		env.ldaps, env.plain+"\nldap_id_use_start_tls = true\nenumerate = true\nldap_enumeration_refresh_offset = 0").Replace(domain)
	conf += "\n" + strings.Replace(domain, "[domain/"+sssdDomain+"]", "[domain/"+sssdDomain+"group]", 1) +
		strings.ReplaceAll(sssdAccessExample, "dc=example,dc=com", "dc=gatehouse")
	startSSSD(t, conf)

	getent := func(args ...string) (string, int) {
		t.Helper()
		return sssdRun(t, "", "getent", args...)
	}
	// The first lookup waits for SSSD to come up.
	var out string
	var code int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if out, code = getent("passwd", "-s", "sss", "alice"); code == 0 {
			break
		}
	}
	if want := fmt.Sprintf("alice:*:%s:%s:Alice:/home/alice:/bin/bash\n", aliceUID, aliceGID); out != want {
		t.Fatalf("getent passwd alice: exit %d %q, want %q", code, out, want)
	}

	t.Run("the app-scoped domain lists that app's users", func(t *testing.T) {
		// Only that domain enumerates: getent passwd lists its users.
		var names []string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			out, _ := getent("passwd", "-s", "sss")
			names = nil
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if name, _, ok := strings.Cut(line, ":"); ok {
					names = append(names, name)
				}
			}
			slices.Sort(names)
			if len(names) > 0 {
				break
			}
		}
		if !slices.Equal(names, []string{"alice", "erin", "olga"}) {
			t.Errorf("getent passwd lists %v, want alice, erin and olga (admins-only: the group admins and the owner)", names)
		}
	})

	t.Run("groups", func(t *testing.T) {
		if out, code := getent("group", "-s", "sss", "admins"); code != 0 || out != "admins:*:"+adminsGID+":alice,erin\n" {
			t.Errorf("getent group admins: exit %d %q", code, out)
		}
		out, code := getent("initgroups", "-s", "sss", "alice")
		if f := strings.Fields(out); code != 0 || len(f) < 2 || f[0] != "alice" || !slices.Contains(f[1:], adminsGID) {
			t.Errorf("getent initgroups alice: exit %d %q, want admins (%s)", code, out, adminsGID)
		}
	})

	t.Run("who is not there", func(t *testing.T) {
		if out, code := getent("passwd", "-s", "sss", "dave"); code != 2 {
			t.Errorf("disabled dave: exit %d %q, want 2 (not found)", code, out)
		}
		if out, code := getent("passwd", "-s", "sss", "alice@"+sssdDomain+"scoped"); code != 0 || !strings.Contains(out, ":"+aliceUID+":") {
			t.Errorf("alice through the app-scoped client: exit %d %q", code, out)
		}
		if out, code := getent("passwd", "-s", "sss", "bob@"+sssdDomain+"scoped"); code != 2 {
			t.Errorf("bob through the app-scoped client: exit %d %q, want 2 (not found)", code, out)
		}
		if out, code := getent("passwd", "-s", "sss", "bob"); code != 0 {
			t.Errorf("bob through the unscoped client: exit %d %q", code, out)
		}
	})

	t.Run("SSH keys", func(t *testing.T) {
		if out, code := sssdRun(t, "", "sss_ssh_authorizedkeys", "alice"); code != 0 || out != key+"\n" {
			t.Errorf("sss_ssh_authorizedkeys alice: exit %d %q, want %q", code, out, key+"\n")
		}
		if out, code := sssdRun(t, "", "sss_ssh_authorizedkeys", "bob"); out != "" {
			t.Errorf("sss_ssh_authorizedkeys bob (no keys): exit %d %q", code, out)
		}
	})

	t.Run("PAM", func(t *testing.T) {
		service := fmt.Sprintf("gatehouse-sssd-test-%d", os.Getpid())
		pamFile := filepath.Join("/etc/pam.d", service)
		if err := os.WriteFile(pamFile, []byte("auth required pam_sss.so\naccount required pam_sss.so\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(pamFile) })
		for _, tc := range []struct {
			name, user, pw string
			ok             bool
			says           string // in pamtester's output
		}{
			{"the right password", "alice", alicePW, true, ""},
			{"a wrong password", "alice", "wrong-" + alicePW, false, "Authentication failure"},
			{"the password of a user with TOTP", "bob", alicePW, false, "Authentication failure"},
			{"an app password of a user with TOTP", "bob", ap.Password, true, ""},
			{"a disabled user", "dave", alicePW, false, ""},
			{"the right password, through the app-scoped client", "alice@" + sssdDomain + "scoped", alicePW, true, ""},
			{"a user the app-scoped client does not see", "bob@" + sssdDomain + "scoped", ap.Password, false, ""},
			{"a member of the group the access filter names", "erin@" + sssdDomain + "group", alicePW, true, ""},
			{"someone else, with a right app password", "bob@" + sssdDomain + "group", ap.Password, false, "successfully authenticated"},
		} {
			out, code := sssdRun(t, tc.pw+"\n", "pamtester", "-v", service, tc.user, "authenticate", "acct_mgmt")
			if (code == 0) != tc.ok || !strings.Contains(out, tc.says) {
				t.Errorf("%s: pamtester exit %d, want success %v:\n%s", tc.name, code, tc.ok, out)
			}
		}
	})
}
