package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The directory server through a real Caddy, driven by Debian's OpenLDAP
// tools (package ldap-utils), as an app's admin would try it: ldapsearch,
// ldapwhoami, ldapmodify.

// requireLDAPTools skips without the OpenLDAP tools, except in CI
// (.ci/run installs them and sets GATEHOUSE_REQUIRE_LDAP), where a missing
// tool fails the test instead of hiding it.
func requireLDAPTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ldapsearch", "ldapwhoami", "ldapmodify"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" || os.Getenv("GATEHOUSE_REQUIRE_LDAP") != "" {
				t.Fatalf("%s is not on PATH (apt-get install ldap-utils)", tool)
			}
			t.Skipf("%s is not on PATH (apt-get install ldap-utils)", tool)
		}
	}
}

// ldapEnv runs the OpenLDAP tools against a test server: no user or
// system ldap.conf, Caddy's local CA as the only trusted root, and
// certificate checks on.
type ldapEnv struct {
	t     *testing.T
	plain string // ldap://localhost:<port>
	ldaps string // ldaps://localhost:<port>
	ca    string // Caddy's local root certificate
}

// environ is the tools' environment: a config file of our own instead of
// the system's /etc/ldap/ldap.conf (LDAPNOINIT would also drop the TLS
// settings), and a HOME without an .ldaprc.
func (e *ldapEnv) environ() []string {
	dir := e.t.TempDir()
	conf := filepath.Join(dir, "ldap.conf")
	if err := os.WriteFile(conf, []byte("TLS_CACERT "+e.ca+"\nTLS_REQCERT demand\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return []string{"LDAPCONF=" + conf, "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
}

// run runs tool with args; it returns the output and the exit code.
func (e *ldapEnv) run(tool string, args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = e.environ()
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
	e.t.Fatalf("%s: %v", tool, err)
	return "", -1
}

// search runs ldapsearch bound as dn with pw and returns the DNs found.
func (e *ldapEnv) search(uri, dn, pw, base, filter string, extra ...string) ([]string, string, int) {
	e.t.Helper()
	args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", uri, "-b", base}, extra...)
	if dn != "" {
		args = append(args, "-D", dn, "-w", pw)
	}
	args = append(args, filter, "1.1")
	out, code := e.run("ldapsearch", args...)
	var dns []string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "dn: "); ok {
			dns = append(dns, v)
		}
	}
	slices.Sort(dns)
	return dns, out, code
}

// startLDAPHarness starts Caddy with the directory server on a plain and
// an LDAPS port (certificate for 127.0.0.1 from Caddy's internal CA; OpenLDAP checks "localhost" against the machine's own name),
// users olga (owner), alice (group admins), bob, dave (disabled).
func startLDAPHarness(t *testing.T, allow string) (*harness, *ldapEnv, int) {
	h, env, port, _ := startLDAPHarnessConfig(t, allow)
	return h, env, port
}

// startLDAPHarnessConfig is startLDAPHarness, also returning the
// Caddyfile with a %s where more ldap_server options may go.
func startLDAPHarnessConfig(t *testing.T, allow string) (*harness, *ldapEnv, int, string) {
	t.Helper()
	requireLDAPTools(t)
	h := newHarness(t)
	ports := freePorts(t, 2)
	block := fmt.Sprintf(`ldap_server {
			listen 127.0.0.1:%d
			listen_tls 127.0.0.1:%d
			tls_server_name 127.0.0.1
			%s
		}`, ports[0], ports[1], allow+"\n\t\t\tEXTRA")
	// Caddy's local CA must not touch the system's trust store (the tools
	// get its root through LDAPTLS_CACERT); with auto_https off,
	// skip_install_trust alone is ignored, so the CA is declared.
	cfg := strings.Replace(h.caddyfile(block, ""), "auto_https off",
		"auto_https off\n\tskip_install_trust\n\tpki {\n\t\tca local {\n\t\t\tname \"Gatehouse test CA\"\n\t\t}\n\t}", 1)
	h.start(strings.Replace(cfg, "EXTRA", "", 1))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user", "admins")
	h.addUser("bob", alicePW, "user")
	h.addUser("dave", alicePW, "user", "admins")
	env := &ldapEnv{t: t, plain: fmt.Sprintf("ldap://127.0.0.1:%d", ports[0]), ldaps: fmt.Sprintf("ldaps://127.0.0.1:%d", ports[1]),
		ca: filepath.Join(h.dir, "caddy", "pki", "authorities", "local", "root.crt")}
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)
	if resp, b := do(t, owner, "PATCH", h.portalURL("/api/v1/users/dave"), strings.NewReader(`{"active":false}`), jsonAPI); resp.StatusCode != 200 {
		t.Fatalf("disable dave: %d %s", resp.StatusCode, b)
	}
	return h, env, ports[0], cfg
}

// TestLDAPReload: a config reload (the new config starts before the old
// one stops) keeps the directory server's ports and answers.
func TestLDAPReload(t *testing.T) {
	h, env, _, cfg := startLDAPHarnessConfig(t, "")
	if out, code := env.run("ldapwhoami", "-x", "-H", env.plain, "-D", "alice", "-w", alicePW); code != 0 {
		t.Fatalf("before the reload: exit %d %s", code, out)
	}
	h.start(strings.Replace(cfg, "EXTRA", "size_limit 500", 1))
	if out, code := env.run("ldapwhoami", "-x", "-H", env.plain, "-D", "alice", "-w", alicePW); code != 0 {
		t.Fatalf("after the reload: exit %d %s", code, out)
	}
}

// makeClient creates a bind client through the API as the owner.
func makeClient(t *testing.T, h *harness, name, app string) (dn, secret string) {
	t.Helper()
	c := h.client()
	h.apiLogin(c, "olga", ownerPW)
	body, _ := json.Marshal(map[string]string{"name": name, "app": app})
	resp, b := do(t, c, "POST", h.portalURL("/api/v1/ldap/clients"), bytes.NewReader(body), jsonAPI)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create client %s: %d %s", name, resp.StatusCode, b)
	}
	var v struct{ Name, BindDN, Secret string }
	v.BindDN = ""
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	dn, _ = raw["bind_dn"].(string)
	secret, _ = raw["secret"].(string)
	if dn != "cn="+name+",ou=system,dc=gatehouse" || secret == "" {
		t.Fatalf("created client: %s", b)
	}
	return dn, secret
}

func TestLDAPThroughCaddy(t *testing.T) {
	h, env, _ := startLDAPHarness(t, "")
	clientDN, secret := makeClient(t, h, "nextcloud", "")
	scopedDN, scopedSecret := makeClient(t, h, "jellyfin", "admins-only")
	users := "ou=users,dc=gatehouse"
	u := func(n string) string { return "uid=" + n + "," + users }

	t.Run("the portal page shows where the server listens", func(t *testing.T) {
		c := h.client()
		h.apiLogin(c, "olga", ownerPW)
		resp, b := do(t, c, "GET", h.portalURL("/admin/ldap"), nil, browser)
		page := string(b)
		for _, want := range []string{env.plain, env.ldaps, "dc=gatehouse", clientDN, scopedDN} {
			if !strings.Contains(page, want) {
				t.Errorf("GET /admin/ldap: %d, lacks %q", resp.StatusCode, want)
			}
		}
		if strings.Contains(page, secret) || strings.Contains(page, "is off") {
			t.Error("the page shows a secret, or calls the running server off")
		}
	})

	t.Run("root DSE anonymously, nothing else", func(t *testing.T) {
		out, code := env.run("ldapsearch", "-x", "-LLL", "-H", env.plain, "-b", "", "-s", "base", "+")
		if code != 0 || !strings.Contains(out, "namingContexts: dc=gatehouse") || !strings.Contains(out, "supportedControl: 1.2.840.113556.1.4.319") ||
			!strings.Contains(out, "supportedExtension: 1.3.6.1.4.1.1466.20037") {
			t.Fatalf("root DSE (exit %d):\n%s", code, out)
		}
		if _, out, code := env.search(env.plain, "", "", "dc=gatehouse", "(objectClass=*)"); code != 50 {
			t.Fatalf("anonymous search: exit %d, want 50 (insufficientAccessRights):\n%s", code, out)
		}
	})

	t.Run("a client lists the active users", func(t *testing.T) {
		dns, out, code := env.search(env.plain, clientDN, secret, "dc=gatehouse", "(objectClass=inetOrgPerson)")
		if code != 0 || !slices.Equal(dns, []string{u("alice"), u("bob"), u("olga")}) {
			t.Fatalf("exit %d, %v:\n%s", code, dns, out)
		}
		out, code = env.run("ldapsearch", "-x", "-LLL", "-H", env.plain, "-D", clientDN, "-w", secret, "-b", "dc=gatehouse",
			"(&(objectClass=person)(memberOf=cn=admins,ou=groups,dc=gatehouse))", "uid", "mail", "cn")
		if code != 0 || !strings.Contains(out, "uid: alice") || !strings.Contains(out, "mail: alice@example.com") || strings.Contains(out, "uid: bob") {
			t.Fatalf("memberOf filter (exit %d):\n%s", code, out)
		}
	})

	t.Run("paged listing", func(t *testing.T) {
		dns, out, code := env.search(env.plain, clientDN, secret, users, "(uid=*)", "-E", "pr=1/noprompt")
		if code != 0 || !slices.Equal(dns, []string{u("alice"), u("bob"), u("olga")}) || strings.Count(out, "pagedresults") < 3 {
			t.Fatalf("paged (exit %d), %v:\n%s", code, dns, out)
		}
	})

	t.Run("an app-scoped client sees that app's users only", func(t *testing.T) {
		dns, out, code := env.search(env.plain, scopedDN, scopedSecret, users, "(objectClass=person)")
		if code != 0 || !slices.Equal(dns, []string{u("alice"), u("olga")}) {
			t.Fatalf("exit %d, %v:\n%s", code, dns, out)
		}
	})

	t.Run("user binds, and every failure is the same", func(t *testing.T) {
		for _, who := range []string{u("alice"), "alice", "alice@example.com"} {
			out, code := env.run("ldapwhoami", "-x", "-H", env.plain, "-D", who, "-w", alicePW)
			if code != 0 || strings.TrimSpace(out) != "dn:"+u("alice") {
				t.Errorf("ldapwhoami as %s: exit %d %q", who, code, out)
			}
		}
		var first string
		for _, tc := range []struct{ who, pw string }{{u("alice"), "wrong"}, {u("dave"), alicePW}, {u("nobody"), alicePW}, {u("olga"), "wrong"}} {
			out, code := env.run("ldapwhoami", "-x", "-H", env.plain, "-D", tc.who, "-w", tc.pw)
			if code != 49 {
				t.Errorf("bind as %s: exit %d, want 49:\n%s", tc.who, code, out)
			}
			if first == "" {
				first = out
			} else if out != first {
				t.Errorf("bind as %s answers %q, unlike %q", tc.who, out, first)
			}
		}
	})

	t.Run("StartTLS and LDAPS with Caddy's certificate", func(t *testing.T) {
		var out string
		var code int
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if out, code = env.run("ldapwhoami", "-x", "-H", env.ldaps, "-D", clientDN, "-w", secret); code == 0 {
				break
			}
		}
		if code != 0 || strings.TrimSpace(out) != "dn:"+clientDN {
			log, _ := os.ReadFile(filepath.Join(h.dir, "caddy.log"))
			for _, l := range strings.Split(string(log), "\n") {
				if strings.Contains(l, "tls") || strings.Contains(l, "ldap") || strings.Contains(l, "error") {
					t.Log(l)
				}
			}
			out2, _ := env.run("ldapwhoami", "-d", "1", "-x", "-H", env.ldaps, "-D", clientDN, "-w", secret)
			t.Fatalf("LDAPS: exit %d %q\n%s", code, out, out2)
		}
		out, code = env.run("ldapwhoami", "-x", "-ZZ", "-H", env.plain, "-D", u("alice"), "-w", alicePW)
		if code != 0 || strings.TrimSpace(out) != "dn:"+u("alice") {
			t.Fatalf("StartTLS: exit %d %q", code, out)
		}
	})

	t.Run("writes are refused", func(t *testing.T) {
		ldif := "dn: " + u("alice") + "\nchangetype: modify\nreplace: mail\nmail: evil@example.com\n"
		cmd := exec.Command("ldapmodify", "-x", "-H", env.plain, "-D", clientDN, "-w", secret)
		cmd.Env = env.environ()
		cmd.Stdin = strings.NewReader(ldif)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 53 {
			t.Fatalf("ldapmodify: %v\n%s", err, out)
		}
	})

	t.Run("no secret in the log", func(t *testing.T) {
		log, err := os.ReadFile(filepath.Join(h.dir, "caddy.log"))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{secret, scopedSecret, alicePW} {
			if bytes.Contains(log, []byte(s)) {
				t.Errorf("the log holds a secret")
			}
		}
		if !bytes.Contains(log, []byte(`"via":"ldap"`)) {
			t.Error("no audit line says via ldap")
		}
	})
}

// TestLDAPTwoFactorThroughCaddy: a user with a second factor cannot bind
// with the password (it would bypass the factor).
func TestLDAPTwoFactorThroughCaddy(t *testing.T) {
	h, env, _ := startLDAPHarness(t, "")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	if out, code := env.run("ldapwhoami", "-x", "-H", env.plain, "-D", "alice", "-w", alicePW); code != 0 {
		t.Fatalf("before 2FA: exit %d %s", code, out)
	}
	_, b := do(t, alice, "POST", h.portalURL("/api/v1/me/totp"), nil, jsonAPI)
	var enr struct{ Secret string }
	_ = json.Unmarshal(b, &enr)
	if resp, b := do(t, alice, "POST", h.portalURL("/api/v1/me/totp/confirm"), strings.NewReader(`{"code":"`+totpCode(t, enr.Secret, time.Now())+`"}`), jsonAPI); resp.StatusCode != 200 {
		t.Fatalf("confirm TOTP: %d %s", resp.StatusCode, b)
	}
	if out, code := env.run("ldapwhoami", "-x", "-H", env.plain, "-D", "alice", "-w", alicePW); code != 49 {
		t.Fatalf("password bind with 2FA: exit %d, want 49: %s", code, out)
	}
}

// TestLDAPAllowList: with an allow list that leaves loopback out, the
// connection is closed before any bind, and the refusal is logged once.
func TestLDAPAllowList(t *testing.T) {
	h, env, port := startLDAPHarness(t, "allow 192.0.2.0/24")
	for range 3 {
		if out, code := env.run("ldapwhoami", "-x", "-H", env.plain); code == 0 {
			t.Fatalf("a refused address got an answer: %s", out)
		}
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read from a refused connection: %d %v; want it closed", n, err)
		}
		c.Close()
	}
	log, _ := os.ReadFile(filepath.Join(h.dir, "caddy.log"))
	if n := bytes.Count(log, []byte("not in the allow list")); n != 1 {
		t.Errorf("%d refusal lines for one address within a minute, want 1", n)
	}
}
