// Package slapdtest runs a real OpenLDAP server (Debian's slapd) for tests:
// in a temporary directory, on a free loopback port, as the test's own
// user, with an LDIF of entries loaded before it starts. The system's
// slapd service is neither needed nor touched.
//
// Tests that need slapd call Start; without slapd installed it skips the
// test, or fails it when the environment variable CI is set (CI installs
// slapd and ldap-utils, so a missing server there is a defect, not a
// reason to pass).
package slapdtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-auth/gatehouse/internal/servertest"
)

// Paths of Debian's OpenLDAP (package slapd).
const (
	schemaDir = "/etc/ldap/schema"
	moduleDir = "/usr/lib/ldap"
)

// slapdPath and slapaddPath are the programs; a variable so a test can
// play a machine without them.
var (
	slapdPath   = "/usr/sbin/slapd"
	slapaddPath = "/usr/sbin/slapadd"
)

// Options configures a server. Zero fields take their defaults.
type Options struct {
	// Suffix is the naming context. Default: dc=example,dc=org.
	Suffix string
	// LDIF holds the entries to load below the suffix entry (which is
	// made for you when LDIF does not start with it). "{suffix}" in it is
	// replaced by Suffix.
	LDIF string
	// SizeLimit is the most entries one search returns without the paged
	// results control (paged searches are unlimited). Default: 500.
	SizeLimit int
	// AllowUnauthenticatedBind lets a bind with a DN and an empty password
	// succeed as anonymous (slapd's "allow bind_anon_dn"), as some
	// directories do: the setting that makes an empty password a way in
	// for a client that does not refuse it.
	AllowUnauthenticatedBind bool
}

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:<port>.
	URL string
	// Suffix is the naming context, e.g. dc=example,dc=org.
	Suffix string
	// AdminDN and AdminPassword are the root account, which may read and
	// write everything.
	AdminDN, AdminPassword string

	t    testing.TB
	dir  string
	conf string
	port int

	mu   sync.Mutex
	proc *servertest.Process // the current process; Restart replaces it
}

// Available reports whether slapd and slapadd are installed.
func Available() bool {
	for _, p := range []string{slapdPath, slapaddPath} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// Require skips t when slapd is not installed, or fails it when the
// environment variable CI is set.
func Require(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	msg := "slapd is not installed (apt-get install -y slapd ldap-utils, with DEBIAN_FRONTEND=noninteractive)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run the LDAP tests")
	}
	t.Skip(msg)
}

// Start loads opts.LDIF into a fresh database and starts slapd on it. The
// server stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	if opts.Suffix == "" {
		opts.Suffix = "dc=example,dc=org"
	}
	if opts.SizeLimit <= 0 {
		opts.SizeLimit = 500
	}
	s := &Server{Suffix: opts.Suffix, AdminDN: "cn=admin," + opts.Suffix, AdminPassword: "admin-secret", t: t, dir: t.TempDir()}
	data := filepath.Join(s.dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	s.conf = filepath.Join(s.dir, "slapd.conf")
	allow := ""
	if opts.AllowUnauthenticatedBind {
		allow = "allow bind_anon_dn\n"
	}
	conf := fmt.Sprintf(`include %[1]s/core.schema
include %[1]s/cosine.schema
include %[1]s/inetorgperson.schema
include %[1]s/nis.schema
modulepath %[2]s
moduleload back_mdb
pidfile %[3]s/slapd.pid
argsfile %[3]s/slapd.args
%[8]s
database mdb
maxsize 67108864
suffix "%[4]s"
rootdn "%[5]s"
rootpw %[6]s
directory %[3]s/data
index objectClass eq
index uid,mail,member,uniqueMember,memberUid eq
sizelimit size.soft=%[7]d size.hard=%[7]d size.prtotal=unlimited
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by users read by * none
`, schemaDir, moduleDir, s.dir, s.Suffix, s.AdminDN, s.AdminPassword, opts.SizeLimit, allow)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ldif := strings.ReplaceAll(opts.LDIF, "{suffix}", s.Suffix)
	if !strings.HasPrefix(strings.TrimSpace(strings.ToLower(ldif)), "dn: "+strings.ToLower(s.Suffix)+"\n") {
		ldif = suffixEntry(s.Suffix) + "\n" + ldif
	}
	ldifPath := filepath.Join(s.dir, "data.ldif")
	if err := os.WriteFile(ldifPath, []byte(ldif), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapaddPath, "-q", "-f", s.conf, "-l", ldifPath).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// suffixEntry is the entry of a dc=…[,dc=…] suffix.
func suffixEntry(suffix string) string {
	first := strings.SplitN(suffix, ",", 2)[0]
	_, dc, _ := strings.Cut(first, "=")
	return fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: %s\ndc: %s\n", suffix, dc, dc)
}

// start runs slapd on a free port (a new one each time) and waits until it
// accepts connections.
func (s *Server) start() {
	s.t.Helper()
	var lastErr error
	for range 5 {
		port, err := servertest.FreePort()
		if err != nil {
			s.t.Fatal(err)
		}
		var logBuf bytes.Buffer
		cmd := exec.Command(slapdPath, "-h", fmt.Sprintf("ldap://127.0.0.1:%d/", port), "-f", s.conf, "-d", "0")
		proc, err := servertest.Start("slapd", cmd, fmt.Sprintf("127.0.0.1:%d", port), &logBuf)
		if err != nil {
			lastErr = fmt.Errorf("%w\n%s", err, logBuf.String())
			continue
		}
		s.mu.Lock()
		s.proc, s.port = proc, port
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
		s.mu.Unlock()
		return
	}
	s.t.Fatalf("slapd did not start: %v", lastErr)
}

// Stop ends the server (the directory is then down: connections are
// refused). It may be called more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	proc := s.proc
	s.mu.Unlock()
	proc.Kill()
}

// Restart starts a stopped server again, on a new port: URL changes.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Admin returns a connection bound as the root account; it closes when
// the test ends.
func (s *Server) Admin(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("dial slapd: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatalf("bind as %s: %v", s.AdminDN, err)
	}
	return c
}

// Delete removes the entry dn.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.Admin(t).Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("delete %s: %v", dn, err)
	}
}

// Replace sets attribute attr of dn to values.
func (s *Server) Replace(t testing.TB, dn, attr string, values ...string) {
	t.Helper()
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace(attr, values)
	if err := s.Admin(t).Modify(m); err != nil {
		t.Fatalf("modify %s: %v", dn, err)
	}
}

// AddPerson adds an inetOrgPerson uid=<uid>,<ou> with a password, a mail
// address and a full name.
func (s *Server) AddPerson(t testing.TB, ou, uid, password, mail, name string) string {
	t.Helper()
	dn := "uid=" + ldap.EscapeDN(uid) + "," + ou
	a := ldap.NewAddRequest(dn, nil)
	a.Attribute("objectClass", []string{"inetOrgPerson"})
	a.Attribute("uid", []string{uid})
	a.Attribute("cn", []string{name})
	a.Attribute("sn", []string{name})
	if mail != "" {
		a.Attribute("mail", []string{mail})
	}
	a.Attribute("userPassword", []string{password})
	if err := s.Admin(t).Add(a); err != nil {
		t.Fatalf("add %s: %v", dn, err)
	}
	return dn
}

// Person is an LDIF entry of an inetOrgPerson uid=<UID>,<OU> with a
// cleartext password, for Options.LDIF.
func Person(ou, uid, password, mail, name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n", uid, ou, uid, name, name, password)
	if mail != "" {
		fmt.Fprintf(&b, "mail: %s\n", mail)
	}
	return b.String()
}

// The example directory of ExampleLDIF, under the default suffix.
const (
	People         = "ou=people,dc=example,dc=org"
	Groups         = "ou=groups,dc=example,dc=org"
	ReaderDN       = "cn=reader,ou=system,dc=example,dc=org"
	ReaderPassword = "reader-pw"
)

// ExampleLDIF is a small directory under the default suffix, for
// Options.LDIF: a service account (ReaderDN, ReaderPassword) that may
// read everything; three people under People, each with the password
// "<uid>-pw" — alice (alice@example.org, "Alice Liddell"), bob
// (bob@example.org, "Bob Builder") and carol (no mail, "Carol"); and
// under Groups a groupOfNames "devs" (alice, and bob with his DN spelled
// in another case), a groupOfNames "Ops Team" (alice), a
// groupOfUniqueNames "admins" (carol) and a posixGroup "staff" (memberUid
// alice and carol). extra entries are appended.
func ExampleLDIF(extra ...string) string {
	return strings.Join(append([]string{`dn: ou=people,{suffix}
objectClass: organizationalUnit
ou: people
`, `dn: ou=groups,{suffix}
objectClass: organizationalUnit
ou: groups
`, `dn: ou=system,{suffix}
objectClass: organizationalUnit
ou: system
`, `dn: cn=reader,ou=system,{suffix}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-pw
`,
		Person(People, "alice", "alice-pw", "alice@example.org", "Alice Liddell"),
		Person(People, "bob", "bob-pw", "bob@example.org", "Bob Builder"),
		Person(People, "carol", "carol-pw", "", "Carol"),
		`dn: cn=devs,ou=groups,{suffix}
objectClass: groupOfNames
cn: devs
member: uid=alice,ou=people,{suffix}
member: UID=Bob, OU=People,DC=example,DC=org
`, `dn: cn=Ops Team,ou=groups,{suffix}
objectClass: groupOfNames
cn: Ops Team
member: uid=alice,ou=people,{suffix}
`, `dn: cn=admins,ou=groups,{suffix}
objectClass: groupOfUniqueNames
cn: admins
uniqueMember: uid=carol,ou=people,{suffix}
`, `dn: cn=staff,ou=groups,{suffix}
objectClass: posixGroup
cn: staff
gidNumber: 5000
memberUid: alice
memberUid: carol
`}, extra...), "\n")
}
