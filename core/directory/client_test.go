package directory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-auth/gatehouse/internal/slapdtest"
)

const (
	people = slapdtest.People
	reader = slapdtest.ReaderDN
)

// testLDIF is slapdtest's example directory.
func testLDIF(extra ...string) string { return slapdtest.ExampleLDIF(extra...) }

func testConfig(s *slapdtest.Server) Config {
	return Config{URL: s.URL, BindDN: reader, BindPassword: "reader-pw", BaseDN: "dc=example,dc=org", Timeout: 3 * time.Second}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuthenticate(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: testLDIF()})
	c := newClient(t, testConfig(s))
	ctx := context.Background()
	for _, tc := range []struct {
		name, login, pw string
		want            error
		user            string
	}{
		{"right password", "alice", "alice-pw", nil, "alice"},
		{"username in another case", "ALICE", "alice-pw", nil, "alice"},
		{"e-mail address", "bob@example.org", "bob-pw", nil, "bob"},
		{"wrong password", "alice", "bob-pw", ErrInvalidCredentials, ""},
		{"another person's password", "bob", "alice-pw", ErrInvalidCredentials, ""},
		{"unknown person", "mallory", "alice-pw", ErrNoSuchUser, ""},
		{"empty login", "", "alice-pw", ErrNoSuchUser, ""},
		{"empty password", "alice", "", ErrInvalidCredentials, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := c.Authenticate(ctx, tc.login, tc.pw, false)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want %v", tc.login, e, err, tc.want)
			}
			if e.Username != tc.user {
				t.Errorf("username = %q, want %q", e.Username, tc.user)
			}
		})
	}
	e, err := c.Authenticate(ctx, "alice", "alice-pw", true)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{DN: "uid=alice," + people, Username: "alice", Email: "alice@example.org", FullName: "Alice Liddell", Groups: []string{"Ops Team", "devs"}}
	if !equalEntry(e, want) {
		t.Errorf("entry = %+v\nwant %+v", e, want)
	}
}

func equalEntry(a, b Entry) bool {
	return strings.EqualFold(a.DN, b.DN) && a.Username == b.Username && a.Email == b.Email && a.FullName == b.FullName && slices.Equal(a.Groups, b.Groups)
}

// TestFilterInjection: a login is a value, never filter syntax. Each login
// below, pasted into the filter unescaped, selects alice (or several
// people), and with alice's password would sign in; escaped, it matches
// nobody.
func TestFilterInjection(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: testLDIF()})
	c := newClient(t, testConfig(s))
	k, err := c.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	for _, tc := range []struct {
		login string
		// selects: pasted into the filter unescaped, the login selects
		// alice (and, with her password, would sign in as her).
		selects bool
	}{
		{"*", false}, // selects everyone: ambiguous, still refused
		{"al*", true},
		{"*ice", true},
		{"alice)(|(uid=*)", true},
		{"*)(|(uid=alice)", true},
		{"*)(uid=alice", true},
		{"alice\x00", false},
		{`\61lice`, true},
		{"(uid=alice)", false},
		{"alice*@example.org", false},
		{"*@example.org", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.login), func(t *testing.T) {
			raw := "(&" + c.cfg.Filter + "(uid=" + tc.login + "))"
			res, err := k.Search(ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, raw, []string{"uid"}, nil))
			if tc.selects && (err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("uid") != "alice") {
				t.Fatalf("the unescaped filter %s should select alice (what makes this case an attack): %v, %v", raw, res, err)
			}
			e, err := c.Authenticate(context.Background(), tc.login, "alice-pw", true)
			if err == nil {
				t.Fatalf("login %q signed in as %s", tc.login, e.DN)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Fatalf("login %q broke the search: %v", tc.login, err)
			}
		})
	}
}

// TestEmptyPasswordNeverBinds: against a directory that takes a DN with
// an empty password as an anonymous (unauthenticated) bind, an empty
// password is still refused, and never sent.
func TestEmptyPasswordNeverBinds(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: testLDIF(), AllowUnauthenticatedBind: true})
	k, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.SimpleBind(&ldap.SimpleBindRequest{Username: "uid=alice," + people, AllowEmptyPassword: true}); err != nil {
		t.Fatalf("this directory should accept an unauthenticated bind (the danger under test): %v", err)
	}
	c := newClient(t, testConfig(s))
	for _, login := range []string{"alice", "uid=alice," + people} {
		if e, err := c.Authenticate(context.Background(), login, "", false); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("empty password for %q: %+v, %v; want ErrInvalidCredentials", login, e, err)
		}
	}
}

// TestSnapshotPages: listing the directory pages through more people than
// one search may return.
func TestSnapshotPages(t *testing.T) {
	var extra []string
	for i := range 120 {
		extra = append(extra, slapdtest.Person(people, fmt.Sprintf("user%03d", i), "pw", "", fmt.Sprintf("User %d", i)))
	}
	s := slapdtest.Start(t, slapdtest.Options{LDIF: testLDIF(extra...), SizeLimit: 50})
	cfg := testConfig(s)
	cfg.PageSize = 40
	c := newClient(t, cfg)

	// Without paging, the directory stops at its size limit.
	k, err := c.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Search(ldap.NewSearchRequest(cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, c.cfg.Filter, []string{"uid"}, nil))
	k.close()
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("a plain search of 123 people: %v, want sizeLimitExceeded (the limit the test relies on)", err)
	}

	snap, err := c.Snapshot(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 123 {
		t.Errorf("snapshot has %d people, want 123", len(snap.Users))
	}
	byName := map[string]Entry{}
	for _, u := range snap.Users {
		byName[u.Username] = u
	}
	if g := byName["alice"].Groups; !slices.Equal(g, []string{"Ops Team", "devs"}) {
		t.Errorf("alice's groups = %q", g)
	}
	if g := byName["bob"].Groups; !slices.Equal(g, []string{"devs"}) {
		t.Errorf("bob's groups = %q (his member DN is spelled differently)", g)
	}
	if g := byName["user007"].Groups; len(g) != 0 {
		t.Errorf("user007's groups = %q", g)
	}
	if !slices.Equal(snap.Groups, []string{"Ops Team", "devs"}) {
		t.Errorf("groups = %q (groupOfNames only by default)", snap.Groups)
	}
}

// TestMemberAttributes: uniqueMember and memberUid groups.
func TestMemberAttributes(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: testLDIF()})
	for _, tc := range []struct {
		attr   string
		user   string
		groups []string
	}{
		{"uniqueMember", "carol", []string{"admins"}},
		{"memberUid", "carol", []string{"staff"}},
		{"memberUid", "alice", []string{"staff"}},
		{"member", "carol", nil},
	} {
		t.Run(tc.attr+" "+tc.user, func(t *testing.T) {
			cfg := testConfig(s)
			cfg.GroupMemberAttribute = tc.attr
			c := newClient(t, cfg)
			e, err := c.Authenticate(context.Background(), tc.user, tc.user+"-pw", true)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.Groups, tc.groups) {
				t.Errorf("groups at sign-in = %q, want %q", e.Groups, tc.groups)
			}
			snap, err := c.Snapshot(context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range snap.Users {
				if u.Username == tc.user && !slices.Equal(u.Groups, tc.groups) {
					t.Errorf("groups in the snapshot = %q, want %q", u.Groups, tc.groups)
				}
			}
		})
	}
}

// TestUnavailable: a directory that is down, answers nothing, or refuses
// the service account is ErrUnavailable, within the timeout.
func TestUnavailable(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: testLDIF()})
	badAccount := testConfig(s)
	badAccount.BindPassword = "wrong"
	wrongBase := testConfig(s)
	wrongBase.BaseDN = "dc=nowhere,dc=org"

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	hanging := testConfig(s)
	hanging.URL = "ldap://" + silent.Addr().String()
	hanging.Timeout = 300 * time.Millisecond

	down := slapdtest.Start(t, slapdtest.Options{LDIF: testLDIF()})
	stopped := testConfig(down)
	down.Stop()

	for name, cfg := range map[string]Config{"wrong service password": badAccount, "base DN missing": wrongBase,
		"server never answers": hanging, "server stopped": stopped} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, cfg)
			start := time.Now()
			if _, err := c.Authenticate(context.Background(), "alice", "alice-pw", false); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Authenticate: %v, want ErrUnavailable", err)
			}
			if _, err := c.Snapshot(context.Background(), true); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Snapshot: %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > 4*cfg.Timeout+2*time.Second {
				t.Errorf("took %v with a %v timeout", d, cfg.Timeout)
			}
		})
	}
	t.Run("context canceled", func(t *testing.T) {
		c := newClient(t, hanging)
		c.cfg.Timeout = time.Minute
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := c.Authenticate(ctx, "alice", "alice-pw", false); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Authenticate: %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a canceled sign-in took %v", d)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	ok := Config{URL: "ldap://ldap.example.com", BaseDN: "dc=example,dc=com"}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"minimal", func(*Config) {}, ""},
		{"ldaps with port", func(c *Config) { c.URL = "ldaps://ad.example.com:636" }, ""},
		{"no url", func(c *Config) { c.URL = "" }, "url is required"},
		{"http url", func(c *Config) { c.URL = "http://example.com" }, "must be ldap://"},
		{"url with a path", func(c *Config) { c.URL = "ldap://h/dc=example" }, "base_dn"},
		{"start_tls with ldaps", func(c *Config) { c.URL, c.StartTLS = "ldaps://h", true }, "start_tls"},
		{"no base", func(c *Config) { c.BaseDN = " " }, "base_dn is required"},
		{"bad base", func(c *Config) { c.BaseDN = "example.com" }, "base_dn"},
		{"bind dn without password", func(c *Config) { c.BindDN = "cn=reader,dc=example,dc=com" }, "unauthenticated"},
		{"password without bind dn", func(c *Config) { c.BindPassword = "x" }, "without bind_dn"},
		{"filter without parentheses", func(c *Config) { c.Filter = "objectClass=person" }, "in parentheses"},
		{"broken filter", func(c *Config) { c.Filter = "(&(objectClass=person)" }, "filter"},
		{"bad group filter", func(c *Config) { c.GroupFilter = "(cn=a))(" }, "group_filter"},
		{"bad attribute", func(c *Config) { c.UsernameAttribute = "uid)(x" }, "username_attribute"},
		{"member attribute", func(c *Config) { c.GroupMemberAttribute = "members" }, "group_member_attribute"},
		{"member attribute case", func(c *Config) { c.GroupMemberAttribute = "MEMBERUID" }, ""},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	c, err := New(Config{URL: "ldap://h", BaseDN: "dc=x", GroupMemberAttribute: "memberuid"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := c.Config(); cfg.GroupFilter != "(objectClass=posixGroup)" || cfg.GroupMemberAttribute != MemberUID || cfg.GroupBaseDN != "dc=x" {
		t.Errorf("defaults: %+v", cfg)
	}
	if _, err := New(Config{URL: "ldaps://h", BaseDN: "dc=x", CAFile: "/nonexistent.pem"}); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("missing CA file: %v", err)
	}
}

func TestDNKey(t *testing.T) {
	for _, tc := range [][2]string{
		{"uid=alice,ou=people,dc=example,dc=org", "UID=Alice, OU=People, DC=Example, DC=Org"},
		{`cn=a\,b,dc=x`, `CN=A\2cB,DC=x`},
	} {
		if DNKey(tc[0]) != DNKey(tc[1]) {
			t.Errorf("DNKey(%q) = %q != DNKey(%q) = %q", tc[0], DNKey(tc[0]), tc[1], DNKey(tc[1]))
		}
	}
	if DNKey("uid=alice,dc=x") == DNKey("uid=alicf,dc=x") {
		t.Error("different DNs compare equal")
	}
}
