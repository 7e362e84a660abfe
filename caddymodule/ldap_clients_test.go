package caddymodule

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestLDAPClientSettings replays, through a real Caddy with the directory
// server, the LDAP operations Jellyfin, Nextcloud and Gitea/Forgejo make
// (taken from each app's source, named at each step) with the settings
// of examples/ldap/, read from those files. The apps themselves are not
// run (none can be installed here); the replay sends what their code
// sends and checks what their code reads.
//
// Each app gets a bind client scoped to the harness's "admins-only" app
// (group admins): alice (admins) and olga (the owner) are its users, bob
// is not; alice is an admin by the example admin filters, olga is not.
func TestLDAPClientSettings(t *testing.T) {
	h, env, _, cfg := startLDAPHarnessConfig(t, "")
	// The examples use dc=example,dc=com.
	h.start(strings.Replace(cfg, "EXTRA", "base_dn dc=example,dc=com", 1))
	srv := clientServer{t: t, env: env}
	for _, tc := range []struct {
		app    string
		replay func(t *testing.T, s clientServer, secret string)
	}{
		{"jellyfin", replayJellyfin},
		{"nextcloud", replayNextcloud},
		{"gitea", replayGitea},
	} {
		t.Run(tc.app, func(t *testing.T) {
			secret := makeScopedClient(t, h, tc.app, "admins-only", "dc=example,dc=com")
			tc.replay(t, srv, secret)
		})
	}
}

// makeScopedClient creates a bind client for app through the API and
// returns its secret.
func makeScopedClient(t *testing.T, h *harness, name, app, base string) string {
	t.Helper()
	c := h.client()
	h.apiLogin(c, "olga", ownerPW)
	body, _ := json.Marshal(map[string]string{"name": name, "app": app})
	resp, b := do(t, c, "POST", h.portalURL("/api/v1/ldap/clients"), bytes.NewReader(body), jsonAPI)
	var v struct {
		BindDN string `json:"bind_dn"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &v); err != nil || resp.StatusCode != http.StatusCreated ||
		v.BindDN != "cn="+name+",ou=system,"+base || v.Secret == "" {
		t.Fatalf("create client %s: %d %s", name, resp.StatusCode, b)
	}
	return v.Secret
}

// clientServer dials the test server the way an app configured with an
// example's host, port and TLS mode would: the example's host
// (ldap.example.com) is the test's 127.0.0.1, its LDAPS port (6360) the
// harness's listen_tls port and its plain port (3890) the listen port;
// certificates are checked against Caddy's local CA.
type clientServer struct {
	t   *testing.T
	env *ldapEnv
}

// Ports of the examples.
const (
	examplePlainPort = 3890
	exampleTLSPort   = 6360
)

// dial connects as an app with port and TLS mode (ldaps: TLS from the
// start; startTLS: StartTLS after connecting) would.
func (s clientServer) dial(port int, ldaps, startTLS bool) *ldap.Conn {
	s.t.Helper()
	pem, err := os.ReadFile(s.env.ca)
	if err != nil {
		s.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	var addr string
	switch port {
	case examplePlainPort:
		addr = s.env.plain
	case exampleTLSPort:
		addr = s.env.ldaps
	default:
		s.t.Fatalf("the example's port %d is neither %d nor %d", port, examplePlainPort, exampleTLSPort)
	}
	u, err := url.Parse(addr)
	if err != nil {
		s.t.Fatal(err)
	}
	var c *ldap.Conn
	// Caddy issues the certificate in the background: the first TLS dial
	// may come before it.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if ldaps {
			c, err = ldap.DialURL("ldaps://"+u.Host, ldap.DialWithTLSConfig(tc))
		} else if c, err = ldap.DialURL("ldap://" + u.Host); err == nil && startTLS {
			if err = c.StartTLS(tc); err != nil {
				c.Close()
			}
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		s.t.Fatalf("dial port %d (ldaps %v, StartTLS %v): %v", port, ldaps, startTLS, err)
	}
	if ldaps || startTLS {
		if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
			s.t.Fatal("the connection is not TLS")
		}
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// isInvalidCredentials reports whether err is LDAP result 49.
func isInvalidCredentials(err error) bool {
	return ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials)
}

// exampleFile reads examples/ldap/name.
func exampleFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "ldap", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shellWords splits a POSIX shell command line into words: blanks
// separate, '…' is literal, "…" is kept with $VAR unexpanded, a
// backslash-newline continues the line. Comments are not handled (give
// it command lines only).
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote, in = ch, true
		case ch == '\\' && i+1 < len(line) && line[i+1] == '\n':
			i++
		case ch == ' ' || ch == '\t' || ch == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// --- Jellyfin ---------------------------------------------------------

// jellyfinConfig is the LDAP-Auth plugin's PluginConfiguration
// (jellyfin-plugin-ldapauth, LDAP-Auth/Config/PluginConfiguration.cs).
type jellyfinConfig struct {
	LdapServer                    string
	LdapPort                      int
	UseSsl                        bool
	UseStartTls                   bool
	SkipSslVerify                 bool
	LdapBindUser                  string
	LdapBindPassword              string
	LdapBaseDn                    string
	LdapSearchFilter              string
	LdapAdminBaseDn               string
	LdapAdminFilter               string
	LdapSearchAttributes          string
	EnableCaseInsensitiveUsername bool
	CreateUsersFromLdap           bool
	LdapUsernameAttribute         string
}

// replayJellyfin replays LdapAuthenticationProviderPlugin.Authenticate
// (jellyfin-plugin-ldapauth, LDAP-Auth/LDAPAuthenticationProviderPlugin.cs).
func replayJellyfin(t *testing.T, s clientServer, secret string) {
	var conf jellyfinConfig
	if err := xml.Unmarshal([]byte(exampleFile(t, "jellyfin.xml")), &conf); err != nil {
		t.Fatalf("jellyfin.xml: %v", err)
	}
	if conf.LdapServer != "ldap.example.com" || conf.SkipSslVerify || !conf.UseSsl && !conf.UseStartTls {
		t.Fatalf("jellyfin.xml: want ldap.example.com with certificate checks and TLS: %+v", conf)
	}
	conf.LdapBindPassword = secret
	// LdapUsernameAttributes: LdapSearchAttributes without blanks, split at commas.
	attrs := strings.Split(strings.ReplaceAll(conf.LdapSearchAttributes, " ", ""), ",")

	type result struct {
		dn, username string
		admin        bool
	}
	authenticate := func(login, password string) (result, error) {
		// LocateLdapUser: connect (UseSsl / UseStartTls), bind as LdapBindUser.
		c := s.dial(conf.LdapPort, conf.UseSsl, conf.UseStartTls)
		if err := c.Bind(conf.LdapBindUser, conf.LdapBindPassword); err != nil {
			t.Fatalf("bind as %s: %v", conf.LdapBindUser, err)
		}
		// Search(LdapBaseDn, scope 2 (subtree), LdapSearchFilter,
		// LdapUsernameAttributes): every user the filter matches; the
		// plugin compares the login with each value of each of those
		// attributes (ignoring case with EnableCaseInsensitiveUsername).
		sr, err := c.Search(ldap.NewSearchRequest(conf.LdapBaseDn, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			conf.LdapSearchFilter, attrs, nil))
		if err != nil {
			t.Fatalf("user search: %v", err)
		}
		var found *ldap.Entry
	entries:
		for _, e := range sr.Entries {
			for _, a := range attrs {
				for _, v := range e.GetAttributeValues(a) {
					if v == login || conf.EnableCaseInsensitiveUsername && strings.EqualFold(v, login) {
						found = e
						break entries
					}
				}
			}
		}
		if found == nil {
			return result{}, errors.New("found no LDAP users matching provided username")
		}
		// Authenticate: a new connection, Bind(ldapUser.Dn, password).
		uc := s.dial(conf.LdapPort, conf.UseSsl, conf.UseStartTls)
		if err := uc.Bind(found.DN, password); err != nil {
			return result{dn: found.DN}, err
		}
		// The username is the entry's LdapUsernameAttribute, from the
		// search above (so it must be among LdapSearchAttributes).
		r := result{dn: found.DN, username: found.GetAttributeValue(conf.LdapUsernameAttribute)}
		// For a new user, bound as that user: Search(LdapAdminBaseDn or
		// the user's DN, scope 0 (base), LdapAdminFilter with :username
		// replaced, LdapUsernameAttributes); any entry makes an admin.
		base := conf.LdapAdminBaseDn
		if base == "" {
			base = found.DN
		}
		ar, err := uc.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			strings.ReplaceAll(conf.LdapAdminFilter, ":username", login), attrs, nil))
		if err != nil {
			t.Fatalf("admin search as %s: %v", found.DN, err)
		}
		r.admin = len(ar.Entries) > 0
		return r, nil
	}

	for _, tc := range []struct {
		login, password string
		want            result
	}{
		{"alice", alicePW, result{"uid=alice,ou=users,dc=example,dc=com", "alice", true}},
		{"ALICE", alicePW, result{"uid=alice,ou=users,dc=example,dc=com", "alice", true}},
		{"alice@example.com", alicePW, result{"uid=alice,ou=users,dc=example,dc=com", "alice", true}},
		{"olga", ownerPW, result{"uid=olga,ou=users,dc=example,dc=com", "olga", false}},
	} {
		got, err := authenticate(tc.login, tc.password)
		if err != nil || got != tc.want {
			t.Errorf("sign in as %s: %+v, %v; want %+v", tc.login, got, err, tc.want)
		}
	}
	if _, err := authenticate("alice", "wrong"); !isInvalidCredentials(err) {
		t.Errorf("wrong password: %v, want invalidCredentials (49)", err)
	}
	// bob exists but may not use the app: the bind client does not see him.
	if r, err := authenticate("bob", alicePW); err == nil || r.dn != "" {
		t.Errorf("bob (not allowed by the app) was found: %+v, %v", r, err)
	}
}

// --- Nextcloud --------------------------------------------------------

// replayNextcloud replays Nextcloud's user_ldap (apps/user_ldap/lib):
// the connection (Connection.php), a login (User_LDAP::checkPassword →
// Access::fetchUsersByLoginName, Access::areCredentialsValid), mapping a
// user (Access::dn2ocname: UUID, display name, username), listing users
// and groups (Access::fetchListOfUsers / fetchListOfGroups, paged) and
// group memberships (Group_LDAP: the member association attribute of a
// group, memberOf of a user).
func replayNextcloud(t *testing.T, s clientServer, secret string) {
	conf := map[string]string{}
	for _, line := range strings.Split(exampleFile(t, "nextcloud.sh"), "\n") {
		if !strings.HasPrefix(line, "php occ ldap:set-config ") {
			continue
		}
		w, err := shellWords(line)
		if err != nil || len(w) != 6 || w[3] != "$CONFIG" {
			t.Fatalf("nextcloud.sh: %q: %v", line, err)
		}
		conf[w[4]] = w[5]
	}
	if conf["ldapAgentPassword"] != "$SECRET" {
		t.Fatalf("nextcloud.sh: ldapAgentPassword %q", conf["ldapAgentPassword"])
	}
	conf["ldapAgentPassword"] = secret
	host := strings.TrimPrefix(strings.TrimPrefix(conf["ldapHost"], "ldaps://"), "ldap://")
	port, _ := strconv.Atoi(conf["ldapPort"])
	ldaps := strings.HasPrefix(conf["ldapHost"], "ldaps://")
	startTLS := conf["ldapTLS"] == "1"
	pageSize, _ := strconv.Atoi(conf["ldapPagingSize"])
	if host != "ldap.example.com" || !ldaps && !startTLS || pageSize <= 0 {
		t.Fatalf("nextcloud.sh: want ldap.example.com with TLS and a page size: %v", conf)
	}
	lower := func(k string) string { return strings.ToLower(conf[k]) } // Access::readAttribute lowercases
	// parens: PHP's ldap_read takes a bare "objectClass=*" (Access's
	// default filter); go-ldap wants the parenthesized form, the same
	// filter on the wire.
	parens := func(f string) string {
		if strings.HasPrefix(f, "(") {
			return f
		}
		return "(" + f + ")"
	}

	// Connection::establishConnection / doConnect / bind: connect,
	// StartTLS with ldapTLS, bind as ldapAgentName.
	agent := func() *ldap.Conn {
		c := s.dial(port, ldaps, startTLS)
		if err := c.Bind(conf["ldapAgentName"], conf["ldapAgentPassword"]); err != nil {
			t.Fatalf("bind as %s: %v", conf["ldapAgentName"], err)
		}
		return c
	}
	c := agent()
	// Access::readAttribute → executeRead: a base-scope read of dn with
	// filter (default objectClass=*) asking for the one attribute.
	readAttribute := func(dn, attr, filter string) []string {
		t.Helper()
		sr, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, parens(filter), []string{attr}, nil))
		if err != nil {
			t.Fatalf("read %s of %s: %v", attr, dn, err)
		}
		if len(sr.Entries) == 0 {
			return nil
		}
		// getAttributes lowercases the names PHP sees (executeRead).
		return sr.Entries[0].GetEqualFoldAttributeValues(attr)
	}
	// Access::search with paging (initPagedSearch): ldapPagingSize a page.
	paged := func(base, filter string, attrs []string, size int) []*ldap.Entry {
		t.Helper()
		sr, err := c.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, parens(filter), attrs, nil), uint32(size))
		if err != nil {
			t.Fatalf("paged search of %s for %s: %v", base, filter, err)
		}
		return sr.Entries
	}
	userAttrs := []string{"dn", lower("ldapUserDisplayName"), lower("ldapEmailAttribute"), lower("ldapExpertUUIDUserAttr"), lower("ldapExpertUsernameAttr"), "memberof"}
	// checkPassword: fetchUsersByLoginName (ldapLoginFilter with %uid the
	// escaped login, a paged search of ldapBaseUsers; exactly one user),
	// then areCredentialsValid: a fresh connection binds as that DN.
	login := func(name, password string) (string, error) {
		filter := strings.ReplaceAll(conf["ldapLoginFilter"], "%uid", ldap.EscapeFilter(name))
		users := paged(conf["ldapBaseUsers"], filter, userAttrs, pageSize)
		if len(users) != 1 {
			return "", fmt.Errorf("%d users for login %s", len(users), name)
		}
		uc := s.dial(port, ldaps, startTLS)
		return users[0].DN, uc.Bind(users[0].DN, password)
	}
	alice := "uid=alice,ou=users,dc=example,dc=com"
	admins := "cn=admins,ou=groups,dc=example,dc=com"
	for _, name := range []string{"alice", "alice@example.com"} {
		if dn, err := login(name, alicePW); err != nil || dn != alice {
			t.Errorf("login as %s: %s, %v", name, dn, err)
		}
	}
	if _, err := login("alice", "wrong"); !isInvalidCredentials(err) {
		t.Errorf("wrong password: %v, want invalidCredentials (49)", err)
	}
	if dn, err := login("bob", alicePW); err == nil || dn != "" {
		t.Errorf("bob (not allowed by the app) was found: %s, %v", dn, err)
	}

	// dn2ocname: the UUID (readAttribute of ldapExpertUUIDUserAttr), the
	// display name read with ldapUserFilter, the username attribute.
	if v := readAttribute(alice, lower("ldapExpertUUIDUserAttr"), "objectClass=*"); len(v) != 1 || len(v[0]) != 36 {
		t.Errorf("%s of alice: %q, want one UUID", conf["ldapExpertUUIDUserAttr"], v)
	}
	if v := readAttribute(alice, lower("ldapUserDisplayName"), conf["ldapUserFilter"]); !slices.Equal(v, []string{"Alice"}) {
		t.Errorf("%s of alice read with the user filter: %q", conf["ldapUserDisplayName"], v)
	}
	if v := readAttribute(alice, lower("ldapExpertUsernameAttr"), "objectClass=*"); !slices.Equal(v, []string{"alice"}) {
		t.Errorf("%s of alice: %q", conf["ldapExpertUsernameAttr"], v)
	}
	if v := readAttribute(alice, lower("ldapEmailAttribute"), "objectClass=*"); !slices.Equal(v, []string{"alice@example.com"}) {
		t.Errorf("%s of alice: %q", conf["ldapEmailAttribute"], v)
	}

	// User listing (the users page, the sync job): ldapUserFilter, paged
	// with ldapPagingSize, and with one a page to cross page boundaries.
	for _, size := range []int{pageSize, 1} {
		var dns []string
		for _, e := range paged(conf["ldapBaseUsers"], conf["ldapUserFilter"], userAttrs, size) {
			dns = append(dns, e.DN)
		}
		slices.Sort(dns)
		if want := []string{alice, "uid=olga,ou=users,dc=example,dc=com"}; !slices.Equal(dns, want) {
			t.Errorf("users, %d a page: %v, want %v (bob is not the app's)", size, dns, want)
		}
	}

	// Groups: fetchListOfGroups (ldapGroupFilter over ldapBaseGroups,
	// paged), each mapped by its UUID attribute.
	var groups []string
	for _, e := range paged(conf["ldapBaseGroups"], conf["ldapGroupFilter"], []string{"dn", lower("ldapGroupDisplayName"), lower("ldapExpertUUIDGroupAttr")}, pageSize) {
		groups = append(groups, e.DN)
		if len(e.GetEqualFoldAttributeValues(conf["ldapExpertUUIDGroupAttr"])) == 0 {
			t.Errorf("group %s has no %s", e.DN, conf["ldapExpertUUIDGroupAttr"])
		}
	}
	if !slices.Contains(groups, admins) {
		t.Errorf("groups %v lack %s", groups, admins)
	}
	// Group_LDAP::usersInGroup: readAttribute(group, ldapGroupMemberAssocAttr).
	if v := readAttribute(admins, lower("ldapGroupMemberAssocAttr"), "objectClass=*"); !slices.Contains(v, alice) {
		t.Errorf("%s of admins: %q, want alice's DN", conf["ldapGroupMemberAssocAttr"], v)
	}
	// Group_LDAP::getUserGroups with useMemberOfToDetectMembership: the
	// user's memberOf, each group then checked against ldapGroupFilter
	// (a base read of the group with that filter).
	if conf["useMemberOfToDetectMembership"] == "1" {
		v := readAttribute(alice, "memberof", "objectClass=*")
		if !slices.Contains(v, admins) {
			t.Errorf("memberOf of alice: %q", v)
		}
		if g := readAttribute(admins, lower("ldapGroupDisplayName"), conf["ldapGroupFilter"]); !slices.Equal(g, []string{"admins"}) {
			t.Errorf("admins read with the group filter: %q", g)
		}
	}
}

// --- Gitea / Forgejo --------------------------------------------------

// replayGitea replays Gitea's LDAP (via BindDN) source
// (services/auth/source/ldap/source_search.go): SearchEntry (a sign-in)
// and SearchEntries (the user sync), with the flags of
// `gitea admin auth add-ldap` (cmd/admin_auth_ldap.go).
func replayGitea(t *testing.T, s clientServer, secret string) {
	var cmd string
	for _, line := range strings.SplitAfter(exampleFile(t, "gitea.sh"), "\n") {
		if strings.HasPrefix(line, "gitea ") || cmd != "" && strings.HasPrefix(line, "  --") {
			cmd += line
		}
	}
	w, err := shellWords(cmd)
	if err != nil || len(w) < 4 || w[0] != "gitea" || w[3] != "add-ldap" {
		t.Fatalf("gitea.sh: %q: %v", cmd, err)
	}
	flag := map[string]string{}
	for i := 4; i < len(w); i++ {
		name, ok := strings.CutPrefix(w[i], "--")
		if !ok {
			t.Fatalf("gitea.sh: %q is not a flag", w[i])
		}
		if name == "synchronize-users" { // the one boolean flag used
			flag[name] = "true"
			continue
		}
		if i+1 >= len(w) {
			t.Fatalf("gitea.sh: --%s has no value", name)
		}
		flag[name] = w[i+1]
		i++
	}
	if flag["bind-password"] != "$SECRET" || flag["host"] != "ldap.example.com" {
		t.Fatalf("gitea.sh: %v", flag)
	}
	port, _ := strconv.Atoi(flag["port"])
	proto := strings.ToLower(flag["security-protocol"]) // findLdapSecurityProtocolByName ignores case
	if proto != "ldaps" && proto != "starttls" {
		t.Fatalf("gitea.sh: --security-protocol %q, want LDAPS or StartTLS", flag["security-protocol"])
	}
	pageSize, _ := strconv.Atoi(flag["page-size"])
	// dial: LDAPS → DialTLS; StartTLS → Dial then StartTLS; ServerName the host.
	dial := func() *ldap.Conn { return s.dial(port, proto == "ldaps", proto == "starttls") }
	attribs := []string{flag["username-attribute"], flag["firstname-attribute"], flag["surname-attribute"], flag["email-attribute"], flag["public-ssh-key-attribute"]}

	// checkAdmin / checkRestricted: a subtree search based at the user's
	// DN with the filter, asking for AttributeName; any entry matches.
	matches := func(l *ldap.Conn, dn, filter string) bool {
		t.Helper()
		sr, err := l.Search(ldap.NewSearchRequest(dn, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter,
			[]string{flag["firstname-attribute"]}, nil))
		if err != nil {
			t.Fatalf("filter %s on %s: %v", filter, dn, err)
		}
		return len(sr.Entries) > 0
	}
	type result struct {
		username, mail string
		admin          bool
	}
	// SearchEntry(name, passwd, directBind=false), AttributesInBind off.
	searchEntry := func(name, passwd string) (result, error) {
		l := dial()
		// Bind as BindDN.
		if err := l.Bind(flag["bind-dn"], secret); err != nil {
			t.Fatalf("bind as %s: %v", flag["bind-dn"], err)
		}
		// sanitizedUserQuery: refuses \x00 ( ) * \, then Sprintf(Filter, name).
		if strings.ContainsAny(name, "\x00()*\\") {
			return result{}, errors.New("invalid query characters")
		}
		userFilter := fmt.Sprintf(flag["user-filter"], name)
		// findUserDN: subtree search of UserBase, no attributes; exactly one.
		sr, err := l.Search(ldap.NewSearchRequest(flag["user-search-base"], ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, userFilter, []string{}, nil))
		if err != nil {
			t.Fatalf("findUserDN %s: %v", userFilter, err)
		}
		if len(sr.Entries) != 1 {
			return result{}, fmt.Errorf("%d entries for %s", len(sr.Entries), name)
		}
		userDN := sr.Entries[0].DN
		// bindUser on the same connection: the password check.
		if err := l.Bind(userDN, passwd); err != nil {
			return result{}, err
		}
		// Bound as the user: subtree search based at the user's DN with
		// the user filter, for the attributes.
		sr, err = l.Search(ldap.NewSearchRequest(userDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, userFilter, attribs, nil))
		if err != nil || len(sr.Entries) < 1 {
			t.Fatalf("attributes of %s as the user: %v (%d entries)", userDN, err, len(sr.Entries))
		}
		e := sr.Entries[0]
		r := result{username: e.GetAttributeValue(flag["username-attribute"]), mail: e.GetAttributeValue(flag["email-attribute"])}
		if f := flag["admin-filter"]; f != "" {
			r.admin = matches(l, userDN, f)
		}
		if f := flag["restricted-filter"]; f != "" && f != "*" && !r.admin {
			matches(l, userDN, f)
		}
		return r, nil
	}
	for _, tc := range []struct {
		name, pw string
		want     result
	}{
		{"alice", alicePW, result{"alice", "alice@example.com", true}},
		{"alice@example.com", alicePW, result{"alice", "alice@example.com", true}},
		{"olga", ownerPW, result{"olga", "olga@example.com", false}},
	} {
		if got, err := searchEntry(tc.name, tc.pw); err != nil || got != tc.want {
			t.Errorf("sign in as %s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := searchEntry("alice", "wrong"); !isInvalidCredentials(err) {
		t.Errorf("wrong password: %v, want invalidCredentials (49)", err)
	}
	if r, err := searchEntry("bob", alicePW); err == nil {
		t.Errorf("bob (not allowed by the app) signed in: %+v", r)
	}
	// A login that would widen the filter is refused by Gitea itself; one
	// that reaches the server escaped or not, finds nobody else.
	if r, err := searchEntry("*", alicePW); err == nil {
		t.Errorf("login * signed in: %+v", r)
	}

	// SearchEntries (synchronize-users): bind, Filter with %s → "*",
	// paged with page-size; checkAdmin for each entry as the bind DN.
	if flag["synchronize-users"] == "true" {
		l := dial()
		if err := l.Bind(flag["bind-dn"], secret); err != nil {
			t.Fatal(err)
		}
		req := ldap.NewSearchRequest(flag["user-search-base"], ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			fmt.Sprintf(flag["user-filter"], "*"), attribs, nil)
		var sr *ldap.SearchResult
		if pageSize > 0 {
			sr, err = l.SearchWithPaging(req, uint32(pageSize))
		} else {
			sr, err = l.Search(req)
		}
		if err != nil {
			t.Fatalf("sync search: %v", err)
		}
		got := map[string]bool{}
		for _, e := range sr.Entries {
			got[e.GetAttributeValue(flag["username-attribute"])] = matches(l, e.DN, flag["admin-filter"])
		}
		if want := map[string]bool{"alice": true, "olga": false}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sync: users (admin) %v, want %v", got, want)
		}
	}
}
