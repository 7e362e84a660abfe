package ldapserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// testPW follows the default password rules.
const testPW = "Corr3ct-horse"

// fixture is a real directory server over a real core and Badger store,
// listening on a loopback port.
type fixture struct {
	t      *testing.T
	core   *core.Core
	st     *store.Store
	srv    *Server
	addr   string
	owner  *store.User
	secret map[string]string // bind client secrets by name
}

// newFixture starts a server with users alice (group media, dev), bob
// (dev), carol (media, second factor), dave (disabled), erin (expired),
// the owner olivia, and bind clients "all" and "media" (app media: group
// media only).
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c, err := core.New(core.Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Hasher:          password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
		DirectoryBaseDN: cfg.BaseDN})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, core: c, st: st, secret: map[string]string{}}
	ctx := context.Background()
	mk := func(name, role, full string, groups ...string) *store.User {
		u, err := c.Users.CreateUser(ctx, nil, core.NewUser{Username: name, Password: testPW, Role: role, Groups: groups,
			Email: name + "@example.com", FullName: full})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.owner = mk("olivia", policies.RoleOwner, "Olivia Owner")
	mk("alice", policies.RoleUser, "Alice Liddell", "media", "dev")
	mk("bob", policies.RoleUser, "", "dev")
	carol := mk("carol", policies.RoleUser, "Carol", "media")
	if _, err := st.UpdateMFA(carol.ID, func(m *store.MFA) error { m.TOTPSecret = []byte("x"); return nil }); err != nil {
		t.Fatal(err)
	}
	dave := mk("dave", policies.RoleUser, "Dave", "media")
	if _, err := st.UpdateUser(dave.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	erin := mk("erin", policies.RoleUser, "Erin", "media")
	if _, err := st.UpdateUser(erin.ID, func(u *store.User) error { u.ExpiresAt = time.Now().Add(-time.Hour); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Access.RegisterApp(core.AppConfig{Name: "media", AllowGroups: []string{"media"}}); err != nil {
		t.Fatal(err)
	}
	perms, _ := c.PermsOf(f.owner.Role)
	admin := &core.Actor{User: f.owner, Perms: perms, Via: core.ViaAPI}
	for name, app := range map[string]string{"all": "", "media": "media"} {
		v, err := c.Credentials.CreateLDAPClient(admin, core.LDAPClientInput{Name: name, App: app})
		if err != nil {
			t.Fatal(err)
		}
		f.secret[name] = v.Secret
	}
	if f.srv, err = New(c, cfg); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	go func() { _ = f.srv.Serve(l) }()
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

// dial opens a connection, bound as the client name when it is not "".
func (f *fixture) dial(client string) *ldap.Conn {
	f.t.Helper()
	l, err := ldap.DialURL("ldap://" + f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { l.Close() })
	if client != "" {
		if err := l.Bind("cn="+client+",ou=system,"+f.srv.BaseDN(), f.secret[client]); err != nil {
			f.t.Fatalf("bind as client %s: %v", client, err)
		}
	}
	return l
}

// dns runs a search and returns the DNs found, sorted.
func dns(t *testing.T, l *ldap.Conn, base string, scope int, filter string, attrs ...string) []string {
	t.Helper()
	res, err := l.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %s %q: %v", base, filter, err)
	}
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.DN)
	}
	sort.Strings(out)
	return out
}

func code(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0xffff
}

func TestRootDSEAndAnonymous(t *testing.T) {
	f := newFixture(t, Config{})
	l := f.dial("")
	res, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"+"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("root DSE: %v, %v", res, err)
	}
	e := res.Entries[0]
	if e.GetAttributeValue("namingContexts") != "dc=gatehouse" || e.GetAttributeValue("supportedLDAPVersion") != "3" ||
		!slices.Contains(e.GetAttributeValues("supportedControl"), "1.2.840.113556.1.4.319") ||
		!slices.Contains(e.GetAttributeValues("supportedExtension"), "1.3.6.1.4.1.4203.1.11.3") {
		t.Fatalf("root DSE attributes: %v", e.Attributes)
	}
	for _, base := range []string{"dc=gatehouse", "ou=users,dc=gatehouse", "uid=alice,ou=users,dc=gatehouse", "dc=elsewhere"} {
		_, err := l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		if code(err) != ldap.LDAPResultInsufficientAccessRights {
			t.Errorf("anonymous search of %s: %v, want insufficientAccessRights", base, err)
		}
	}
}

func TestSearchTree(t *testing.T) {
	f := newFixture(t, Config{BaseDN: "dc=example,dc=com"})
	l := f.dial("all")
	b := "dc=example,dc=com"
	u := func(n string) string { return "uid=" + n + ",ou=users," + b }
	g := func(n string) string { return "cn=" + n + ",ou=groups," + b }
	tests := []struct {
		name   string
		base   string
		scope  int
		filter string
		want   []string
	}{
		{"every active user", b, ldap.ScopeWholeSubtree, "(objectClass=inetOrgPerson)", []string{u("alice"), u("bob"), u("carol"), u("olivia")}},
		{"one level of users", "ou=users," + b, ldap.ScopeSingleLevel, "(objectClass=*)", []string{u("alice"), u("bob"), u("carol"), u("olivia")}},
		{"base of the tree", b, ldap.ScopeBaseObject, "(objectClass=*)", []string{b}},
		{"the OUs", b, ldap.ScopeSingleLevel, "(objectClass=organizationalUnit)", []string{"ou=groups," + b, "ou=system," + b, "ou=users," + b}},
		{"groups with active members", "ou=groups," + b, ldap.ScopeSingleLevel, "(objectClass=groupOfNames)", []string{g("dev"), g("media")}},
		{"a user by uid, any case", b, ldap.ScopeWholeSubtree, "(&(objectClass=person)(UID=ALICE))", []string{u("alice")}},
		{"a user by mail", b, ldap.ScopeWholeSubtree, "(mail=bob@example.com)", []string{u("bob")}},
		{"or", b, ldap.ScopeWholeSubtree, "(|(uid=alice)(uid=bob)(uid=dave))", []string{u("alice"), u("bob")}},
		{"not", "ou=users," + b, ldap.ScopeSingleLevel, "(!(uid=alice))", []string{u("bob"), u("carol"), u("olivia")}},
		{"substring", b, ldap.ScopeWholeSubtree, "(cn=*lid*)", []string{u("alice")}},
		{"initial and final", b, ldap.ScopeWholeSubtree, "(mail=c*@example.com)", []string{u("carol")}},
		{"greater or equal", "ou=users," + b, ldap.ScopeSingleLevel, "(uid>=c)", []string{u("carol"), u("olivia")}},
		{"less or equal", "ou=users," + b, ldap.ScopeSingleLevel, "(uid<=b)", []string{u("alice")}},
		{"presence of givenName", "ou=users," + b, ldap.ScopeSingleLevel, "(givenName=*)", []string{u("alice"), u("olivia")}},
		{"memberOf", b, ldap.ScopeWholeSubtree, "(memberOf=CN=Media,OU=Groups," + b + ")", []string{u("alice"), u("carol")}},
		{"memberOf, Active Directory's in-chain rule", b, ldap.ScopeWholeSubtree, "(memberOf:1.2.840.113556.1.4.1941:=cn=dev,ou=groups," + b + ")", []string{u("alice"), u("bob")}},
		{"member", b, ldap.ScopeWholeSubtree, "(member=uid=bob,ou=users," + b + ")", []string{g("dev")}},
		{"uniqueMember", b, ldap.ScopeWholeSubtree, "(uniqueMember=uid=carol,ou=users," + b + ")", []string{g("media")}},
		{"an attribute the tree does not hold is absent", "ou=users," + b, ldap.ScopeSingleLevel, "(&(uid=a*)(!(nsAccountLock=TRUE)))", []string{u("alice")}},
		{"a disabled user is not there", b, ldap.ScopeWholeSubtree, "(uid=dave)", nil},
		{"an expired user is not there", b, ldap.ScopeWholeSubtree, "(uid=erin)", nil},
		{"the client's own entry", "ou=system," + b, ldap.ScopeSingleLevel, "(objectClass=*)", []string{"cn=all,ou=system," + b}},
		{"absolute true", u("bob"), ldap.ScopeBaseObject, "(&)", []string{u("bob")}},
		{"one level under a leaf", u("bob"), ldap.ScopeSingleLevel, "(objectClass=*)", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dns(t, l, tc.base, tc.scope, tc.filter); !slices.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
	for _, base := range []string{u("dave"), u("zed"), g("nobody"), "ou=other," + b, "dc=other"} {
		_, err := l.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		if code(err) != ldap.LDAPResultNoSuchObject {
			t.Errorf("search of %s: %v, want noSuchObject", base, err)
		}
	}
	if _, err := l.Search(ldap.NewSearchRequest("not a dn", 0, 0, 0, 0, false, "(objectClass=*)", nil, nil)); code(err) != ldap.LDAPResultInvalidDNSyntax {
		t.Errorf("bad base: %v", err)
	}
}

func TestAttributes(t *testing.T) {
	f := newFixture(t, Config{})
	l := f.dial("all")
	get := func(dn string, attrs ...string) *ldap.Entry {
		t.Helper()
		res, err := l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", attrs, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read %s: %v %v", dn, res, err)
		}
		return res.Entries[0]
	}
	a := get("uid=alice,ou=users,dc=gatehouse")
	want := map[string][]string{
		"objectClass": {"top", "person", "organizationalPerson", "inetOrgPerson"},
		"uid":         {"alice"}, "cn": {"Alice Liddell"}, "sn": {"Liddell"}, "givenName": {"Alice"},
		"displayName": {"Alice Liddell"}, "mail": {"alice@example.com"},
		"memberOf": {"cn=dev,ou=groups,dc=gatehouse", "cn=media,ou=groups,dc=gatehouse"},
	}
	for k, v := range want {
		if got := a.GetAttributeValues(k); !slices.Equal(got, v) {
			t.Errorf("alice %s = %v, want %v", k, got, v)
		}
	}
	uuid := a.GetAttributeValue("entryUUID")
	if len(uuid) != 36 || uuid[14] != '4' {
		t.Errorf("entryUUID %q is not a UUID", uuid)
	}
	if a.GetAttributeValue("entryDN") != "" {
		t.Error("an operational attribute came with *")
	}
	if b := get("uid=bob,ou=users,dc=gatehouse"); b.GetAttributeValue("cn") != "bob" || b.GetAttributeValue("sn") != "bob" {
		t.Errorf("bob without a full name: cn %q sn %q", b.GetAttributeValue("cn"), b.GetAttributeValue("sn"))
	}
	if e := get("uid=alice,ou=users,dc=gatehouse", "MAIL", "UID"); len(e.Attributes) != 2 || e.Attributes[0].Name != "uid" {
		t.Errorf("named attributes: %v", e.Attributes)
	}
	if e := get("uid=alice,ou=users,dc=gatehouse", "1.1"); len(e.Attributes) != 0 {
		t.Errorf("1.1: %v", e.Attributes)
	}
	if e := get("uid=alice,ou=users,dc=gatehouse", "+"); e.GetAttributeValue("entryDN") != "uid=alice,ou=users,dc=gatehouse" || e.GetAttributeValue("uid") != "" {
		t.Errorf("+: %v", e.Attributes)
	}
	grp := get("cn=media,ou=groups,dc=gatehouse")
	if m := grp.GetAttributeValues("member"); !slices.Equal(m, []string{"uid=alice,ou=users,dc=gatehouse", "uid=carol,ou=users,dc=gatehouse"}) {
		t.Errorf("media members (disabled and expired users left out): %v", m)
	}
	if !slices.Equal(grp.GetAttributeValues("uniqueMember"), grp.GetAttributeValues("member")) {
		t.Error("uniqueMember differs from member")
	}
}

func TestPagingAndSizeLimit(t *testing.T) {
	f := newFixture(t, Config{SizeLimit: 3})
	ctx := context.Background()
	for i := range 40 {
		if _, err := f.core.Users.CreateUser(ctx, nil, core.NewUser{Username: "user" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Password: testPW, Role: policies.RoleUser, Groups: []string{"bulk"}}); err != nil {
			t.Fatal(err)
		}
	}
	l := f.dial("all")
	req := ldap.NewSearchRequest("dc=gatehouse", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil)
	_, err := l.Search(req)
	if code(err) != ldap.LDAPResultSizeLimitExceeded {
		t.Fatalf("unpaged search of 44 users with a limit of 3: %v, want sizeLimitExceeded", err)
	}
	res, err := l.SearchWithPaging(req, 2)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range res.Entries {
		if seen[e.DN] {
			t.Fatalf("%s twice", e.DN)
		}
		seen[e.DN] = true
	}
	if len(seen) != 44 {
		t.Fatalf("paged search found %d users, want 44", len(seen))
	}
	// A page bigger than the server's limit is cut to it.
	req = ldap.NewSearchRequest("dc=gatehouse", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid"}, nil)
	res, err = l.SearchWithPaging(req, 1000)
	if err != nil {
		t.Fatalf("big pages: %v", err)
	}
	if len(res.Entries) != 44 {
		t.Fatalf("big pages: %d entries, want 44", len(res.Entries))
	}
}

func TestBinds(t *testing.T) {
	f := newFixture(t, Config{})
	tests := []struct {
		name, dn, pw string
		want         uint16
	}{
		{"user DN", "uid=alice,ou=users,dc=gatehouse", testPW, 0},
		{"user DN, any case", "UID=Alice,OU=Users,DC=Gatehouse", testPW, 0},
		{"bare username", "alice", testPW, 0},
		{"e-mail address", "alice@example.com", testPW, 0},
		{"client", "cn=all,ou=system,dc=gatehouse", f.secret["all"], 0},
		{"wrong password", "uid=alice,ou=users,dc=gatehouse", "wrong", ldap.LDAPResultInvalidCredentials},
		{"unknown user", "uid=zed,ou=users,dc=gatehouse", testPW, ldap.LDAPResultInvalidCredentials},
		{"disabled user", "uid=dave,ou=users,dc=gatehouse", testPW, ldap.LDAPResultInvalidCredentials},
		{"expired user", "uid=erin,ou=users,dc=gatehouse", testPW, ldap.LDAPResultInvalidCredentials},
		{"second factor", "uid=carol,ou=users,dc=gatehouse", testPW, ldap.LDAPResultInvalidCredentials},
		{"client, wrong secret", "cn=all,ou=system,dc=gatehouse", f.secret["media"], ldap.LDAPResultInvalidCredentials},
		{"a DN of another tree", "uid=alice,ou=users,dc=other", testPW, ldap.LDAPResultInvalidCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := f.dial("")
			err := l.Bind(tc.dn, tc.pw)
			if code(err) != tc.want && !(tc.want == 0 && err == nil) {
				t.Fatalf("bind: %v, want code %d", err, tc.want)
			}
			if err != nil {
				var le *ldap.Error
				errors.As(err, &le)
				if le.Err != nil && le.Err.Error() != "" && !strings.Contains(le.Err.Error(), "Invalid Credentials") {
					t.Errorf("the failure says more than invalidCredentials: %q", le.Err)
				}
				return
			}
			who, err := l.WhoAmI(nil)
			if err != nil || !strings.HasPrefix(who.AuthzID, "dn:") {
				t.Fatalf("whoami: %v %v", who, err)
			}
		})
	}
	l := f.dial("")
	if err := l.UnauthenticatedBind("uid=alice,ou=users,dc=gatehouse"); code(err) != ldap.LDAPResultUnwillingToPerform {
		t.Errorf("unauthenticated bind: %v", err)
	}
	// A user sees only themselves.
	l = f.dial("")
	if err := l.Bind("alice", testPW); err != nil {
		t.Fatal(err)
	}
	if got := dns(t, l, "dc=gatehouse", ldap.ScopeWholeSubtree, "(objectClass=person)"); !slices.Equal(got, []string{"uid=alice,ou=users,dc=gatehouse"}) {
		t.Errorf("alice sees %v", got)
	}
}

// TestAppScopedClient: a client made for an app sees and signs in only
// the users that app lets in (the owner reaches every app).
func TestAppScopedClient(t *testing.T) {
	f := newFixture(t, Config{})
	l := f.dial("media")
	if got := dns(t, l, "dc=gatehouse", ldap.ScopeWholeSubtree, "(objectClass=person)"); !slices.Equal(got,
		[]string{"uid=alice,ou=users,dc=gatehouse", "uid=carol,ou=users,dc=gatehouse", "uid=olivia,ou=users,dc=gatehouse"}) {
		t.Errorf("media client sees %v", got)
	}
	if got := dns(t, l, "ou=groups,dc=gatehouse", ldap.ScopeSingleLevel, "(cn=dev)", "member"); !slices.Equal(got, []string{"cn=dev,ou=groups,dc=gatehouse"}) {
		t.Errorf("dev group: %v", got)
	}
	if err := l.Bind("uid=bob,ou=users,dc=gatehouse", testPW); code(err) != ldap.LDAPResultInvalidCredentials {
		t.Errorf("bob on the media client's connection: %v, want invalidCredentials", err)
	}
	if err := l.Bind("uid=alice,ou=users,dc=gatehouse", testPW); err != nil {
		t.Errorf("alice on the media client's connection: %v", err)
	}
}

func TestWritesRefused(t *testing.T) {
	f := newFixture(t, Config{})
	l := f.dial("all")
	add := ldap.NewAddRequest("uid=new,ou=users,dc=gatehouse", nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	mod := ldap.NewModifyRequest("uid=alice,ou=users,dc=gatehouse", nil)
	mod.Replace("mail", []string{"x@example.com"})
	for name, err := range map[string]error{
		"add":             l.Add(add),
		"modify":          l.Modify(mod),
		"delete":          l.Del(ldap.NewDelRequest("uid=alice,ou=users,dc=gatehouse", nil)),
		"modrdn":          l.ModifyDN(ldap.NewModifyDNRequest("uid=alice,ou=users,dc=gatehouse", "uid=al", true, "")),
		"password modify": func() error { _, err := l.PasswordModify(ldap.NewPasswordModifyRequest("", "", "x")); return err }(),
	} {
		if code(err) != ldap.LDAPResultUnwillingToPerform {
			t.Errorf("%s: %v, want unwillingToPerform", name, err)
		}
	}
	if got := dns(t, l, "ou=users,dc=gatehouse", ldap.ScopeSingleLevel, "(uid=alice)"); len(got) != 1 {
		t.Error("the connection did not survive the refusals")
	}
}

// TestAllowList: an address outside the list is disconnected before it
// can send anything.
func TestAllowList(t *testing.T) {
	f := newFixture(t, Config{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read from a refused connection: %d, %v; want it closed", n, err)
	}
}

// TestMalformedCloseOnlyThatConnection: garbage, an oversized length, an
// indefinite length and a deep filter each close their connection; the
// server and the other connections go on.
func TestMalformedCloseOnlyThatConnection(t *testing.T) {
	f := newFixture(t, Config{})
	good := f.dial("all")
	deep := strings.Repeat("(!", 40) + "(uid=a)" + strings.Repeat(")", 40)
	for name, msg := range map[string][]byte{
		"not a sequence":    []byte("GET / HTTP/1.1\r\n\r\n"),
		"huge length":       {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"indefinite length": {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},
		"bad envelope":      {0x30, 0x03, 0x04, 0x01, 0x41},
	} {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(msg)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("%s: the connection stayed open", name)
				}
				break
			}
		}
		c.Close()
	}
	if _, err := good.Search(ldap.NewSearchRequest("dc=gatehouse", 2, 0, 0, 0, false, deep, nil, nil)); err == nil {
		t.Error("a filter 40 levels deep was evaluated")
	}
	if got := dns(t, f.dial("all"), "ou=users,dc=gatehouse", ldap.ScopeSingleLevel, "(uid=bob)"); len(got) != 1 {
		t.Error("the server stopped answering")
	}
}

// TestRevocation: deleting a client or disabling a user ends what their
// open connections may read at the next search.
func TestRevocation(t *testing.T) {
	f := newFixture(t, Config{})
	l := f.dial("all")
	perms, _ := f.core.PermsOf(f.owner.Role)
	if err := f.core.Credentials.DeleteLDAPClient(&core.Actor{User: f.owner, Perms: perms, Via: core.ViaAPI}, "all"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Search(ldap.NewSearchRequest("dc=gatehouse", 2, 0, 0, 0, false, "(uid=*)", nil, nil)); code(err) != ldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("search after the client was deleted: %v", err)
	}
}

// TestLockoutAndThrottle: wrong passwords through LDAP lock the account
// like any sign-in (the right password then fails the same way), and one
// address past ten failures is throttled (busy) whatever names it tries.
func TestLockoutAndThrottle(t *testing.T) {
	f := newFixture(t, Config{})
	l := f.dial("")
	for i := range core.DefaultLockoutThreshold {
		if err := l.Bind("alice", "wrong"); code(err) != ldap.LDAPResultInvalidCredentials {
			t.Fatalf("wrong password %d: %v", i+1, err)
		}
	}
	if err := l.Bind("alice", testPW); code(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("right password on a locked account: %v, want invalidCredentials", err)
	}
	evs, _, _ := f.st.ListAudit(store.AuditFilter{Actor: "alice"}, "", 1)
	if len(evs) != 1 || evs[0].Reason != "account locked" || evs[0].Via != "ldap" {
		t.Fatalf("audit of the locked bind: %+v", evs)
	}
	var err error
	for i := 0; i < 2*bindBurst && code(err) != ldap.LDAPResultBusy; i++ {
		err = l.Bind("uid=nobody"+string(rune('a'+i))+",ou=users,dc=gatehouse", "wrong")
	}
	if code(err) != ldap.LDAPResultBusy {
		t.Fatalf("after %d failures from one address: %v, want busy", 2*bindBurst, err)
	}
	// The budget is charged before the check, so a flood cannot race past
	// it: the address waits, whatever it sends.
	if err := f.dial("").Bind("cn=all,ou=system,dc=gatehouse", f.secret["all"]); code(err) != ldap.LDAPResultBusy {
		t.Fatalf("throttled address, right secret: %v, want busy", err)
	}
}

// TestAppPasswordBinds: an app password binds where the account password
// cannot (a user with a second factor), only for its own app, and only
// for users the connection's app lets in.
func TestAppPasswordBinds(t *testing.T) {
	f := newFixture(t, Config{})
	mkAP := func(name, app string) string {
		t.Helper()
		u, err := f.st.UserByUsername(name)
		if err != nil {
			t.Fatal(err)
		}
		perms, _ := f.core.PermsOf(u.Role)
		a := &core.Actor{User: u, Perms: perms, Via: core.ViaPortal, Credential: core.CredSession, SessionID: store.SessionID{1}}
		v, err := f.core.Credentials.CreateAppPassword(a, core.AppPasswordInput{Name: "ldap", App: app})
		if err != nil {
			t.Fatal(err)
		}
		return v.Password
	}
	carolAny := mkAP("carol", "")
	aliceMedia := mkAP("alice", "media")
	bobAny := mkAP("bob", "")
	tests := []struct {
		name, client, dn, secret string
		want                     uint16
	}{
		{"second-factor user with an app password", "", "uid=carol,ou=users,dc=gatehouse", carolAny, 0},
		{"second-factor user with the account password", "", "uid=carol,ou=users,dc=gatehouse", testPW, ldap.LDAPResultInvalidCredentials},
		{"someone else's app password", "", "uid=bob,ou=users,dc=gatehouse", carolAny, ldap.LDAPResultInvalidCredentials},
		{"an app's password without that app", "", "uid=alice,ou=users,dc=gatehouse", aliceMedia, ldap.LDAPResultInvalidCredentials},
		{"an app's password through that app's client", "media", "uid=alice,ou=users,dc=gatehouse", aliceMedia, 0},
		{"a user the app keeps out", "media", "uid=bob,ou=users,dc=gatehouse", bobAny, ldap.LDAPResultInvalidCredentials},
		{"a wrong app password", "", "uid=bob,ou=users,dc=gatehouse", core.AppPasswordPrefix + strings.Repeat("a", 30), ldap.LDAPResultInvalidCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := f.dial(tc.client)
			err := l.Bind(tc.dn, tc.secret)
			if code(err) != tc.want && !(tc.want == 0 && err == nil) {
				t.Fatalf("bind: %v, want code %d", err, tc.want)
			}
		})
	}
}

// TestCheapBindsSpendOnlyOnFailure: binds with a secret nobody can guess
// (a bind client's, an app password) are charged to the address only when
// wrong, so an app's many concurrent binds pass; their failures are still
// bounded. Password binds stay charged first (TestLockoutAndThrottle).
func TestCheapBindsSpendOnlyOnFailure(t *testing.T) {
	f := newFixture(t, Config{})
	n := 3 * bindBurst
	errs := make(chan error, n)
	conns := make([]*ldap.Conn, n)
	for i := range conns {
		conns[i] = f.dial("")
	}
	start := make(chan struct{})
	for _, l := range conns {
		go func() {
			<-start
			errs <- l.Bind("cn=all,ou=system,dc=gatehouse", f.secret["all"])
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("one of %d concurrent client binds: %v", n, err)
		}
	}
	l := f.dial("")
	var err error
	for i := 0; i < 2*bindBurst && code(err) != ldap.LDAPResultBusy; i++ {
		err = l.Bind("cn=all,ou=system,dc=gatehouse", "ghl_wrong")
	}
	if code(err) != ldap.LDAPResultBusy {
		t.Fatalf("after %d wrong client secrets: %v, want busy", 2*bindBurst, err)
	}
}
