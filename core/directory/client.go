package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Errors the client returns; a caller tells them apart with errors.Is.
var (
	// ErrUnavailable: the directory could not be reached, did not answer
	// in time, refused the service account or failed a search. The
	// wrapped error says which, for the log.
	ErrUnavailable = errors.New("the directory is unavailable")
	// ErrInvalidCredentials: the directory refused the person's password
	// (or the password was empty, which is never sent).
	ErrInvalidCredentials = errors.New("the directory refused the password")
	// ErrNoSuchUser: no entry, or more than one, matches the login.
	ErrNoSuchUser = errors.New("no such person in the directory")
)

// Entry is a person as the directory holds them.
type Entry struct {
	// DN is the entry's distinguished name, as the directory sent it.
	DN string
	// Username is the username attribute's value, as stored.
	Username string
	// Email and FullName are the e-mail and name attributes' values
	// ("" when the entry has none).
	Email    string
	FullName string
	// Groups are the names of the groups that list the person (with
	// Authenticate: only when asked for), sorted.
	Groups []string
}

// Snapshot is the whole directory as a synchronisation reads it.
type Snapshot struct {
	// Users are every person the filter selects, with their groups.
	Users []Entry
	// Groups are the names of every group the group filter selects.
	Groups []string
	// Skipped counts person entries without a username attribute.
	Skipped int
}

// Client talks to one directory. It holds no connection between calls:
// each call dials, binds, does its work and hangs up, so a directory that
// restarts or fails over costs nothing to recover from. It is safe for
// concurrent use.
type Client struct {
	cfg Config
	tls *tls.Config
}

// New checks cfg, fills its defaults, reads its CA file and returns a
// Client. It does not contact the directory.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return &Client{cfg: cfg, tls: tc}, nil
}

// Config returns the client's configuration, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// unavailable wraps err as ErrUnavailable with what was being done.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}

// conn is a connection bound as the service account, closed when ctx ends.
type conn struct {
	*ldap.Conn
	stop func() bool
}

func (k *conn) close() {
	k.stop()
	k.Close()
}

// dial connects (with TLS as configured) and binds as the service account.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("connect", err)
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: c.cfg.Timeout})}
	if strings.HasPrefix(strings.ToLower(c.cfg.URL), "ldaps:") {
		opts = append(opts, ldap.DialWithTLSConfig(c.tls))
	}
	lc, err := ldap.DialURL(c.cfg.URL, opts...)
	if err != nil {
		return nil, unavailable("connect to "+c.cfg.URL, err)
	}
	lc.SetTimeout(c.cfg.Timeout)
	k := &conn{Conn: lc, stop: context.AfterFunc(ctx, func() { lc.Close() })}
	if c.cfg.StartTLS {
		if err := lc.StartTLS(c.tls); err != nil {
			k.close()
			return nil, unavailable("start TLS", err)
		}
	}
	if err := c.bindService(k); err != nil {
		k.close()
		return nil, err
	}
	return k, nil
}

// bindService binds k as the service account (anonymous when none).
func (c *Client) bindService(k *conn) error {
	var err error
	if c.cfg.BindDN == "" {
		err = k.UnauthenticatedBind("")
	} else {
		err = k.Bind(c.cfg.BindDN, c.cfg.BindPassword)
	}
	if err != nil {
		return unavailable("bind as the service account "+c.cfg.BindDN, err)
	}
	return nil
}

// Check connects and binds as the service account: the directory is
// reachable and the account works.
func (c *Client) Check(ctx context.Context) error {
	k, err := c.dial(ctx)
	if err != nil {
		return err
	}
	k.close()
	return nil
}

// userFilter selects the person whose username (or, for a login with an
// "@", e-mail address) is login. login is escaped: it is never read as
// filter syntax.
func (c *Client) userFilter(login string) string {
	v := ldap.EscapeFilter(login)
	match := "(" + c.cfg.UsernameAttribute + "=" + v + ")"
	if strings.Contains(login, "@") {
		match = "(|" + match + "(" + c.cfg.EmailAttribute + "=" + v + "))"
	}
	return "(&" + c.cfg.Filter + match + ")"
}

// personAttrs are the attributes read from a person entry.
func (c *Client) personAttrs() []string {
	return []string{c.cfg.UsernameAttribute, c.cfg.EmailAttribute, c.cfg.NameAttribute}
}

// entryOf reads a person entry; ok is false when it has no username.
func (c *Client) entryOf(e *ldap.Entry) (Entry, bool) {
	out := Entry{DN: e.DN, Username: strings.TrimSpace(e.GetEqualFoldAttributeValue(c.cfg.UsernameAttribute)),
		Email: strings.TrimSpace(e.GetEqualFoldAttributeValue(c.cfg.EmailAttribute)), FullName: strings.TrimSpace(e.GetEqualFoldAttributeValue(c.cfg.NameAttribute))}
	return out, out.Username != ""
}

// find returns the one person login names.
func (c *Client) find(k *conn, login string) (Entry, error) {
	req := ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, int(c.cfg.Timeout.Seconds()), false,
		c.userFilter(login), c.personAttrs(), nil)
	res, err := k.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return Entry{}, fmt.Errorf("%w: more than one entry matches", ErrNoSuchUser)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return Entry{}, unavailable("search "+c.cfg.BaseDN, err)
	case err != nil:
		return Entry{}, unavailable("search for a person", err)
	}
	var found []Entry
	for _, e := range res.Entries {
		if en, ok := c.entryOf(e); ok {
			found = append(found, en)
		}
	}
	switch len(found) {
	case 0:
		return Entry{}, ErrNoSuchUser
	case 1:
		return found[0], nil
	}
	return Entry{}, fmt.Errorf("%w: more than one entry matches", ErrNoSuchUser)
}

// Authenticate checks login's password by binding as their entry: it
// finds the entry with the service account (by username, or also by
// e-mail address for a login with an "@"), reads its groups when
// withGroups, then binds as its DN. An empty password never reaches the
// directory.
func (c *Client) Authenticate(ctx context.Context, login, password string, withGroups bool) (Entry, error) {
	if password == "" {
		return Entry{}, fmt.Errorf("%w: empty password", ErrInvalidCredentials)
	}
	if strings.TrimSpace(login) == "" {
		return Entry{}, ErrNoSuchUser
	}
	k, err := c.dial(ctx)
	if err != nil {
		return Entry{}, err
	}
	defer k.close()
	e, err := c.entry(k, login, withGroups)
	if err != nil {
		return Entry{}, err
	}
	err = k.Bind(e.DN, password)
	switch {
	case err == nil:
		return e, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials),
		ldap.IsErrorWithCode(err, ldap.LDAPResultInappropriateAuthentication),
		ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform),
		ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights),
		ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation):
		// 49 is the usual answer; AD and password policies also answer
		// 48, 50, 53 or 19 for a locked or expired account.
		return Entry{}, fmt.Errorf("%w: %v", ErrInvalidCredentials, err)
	}
	return Entry{}, unavailable("bind as the person", err)
}

// Lookup returns the person login names, with their groups when
// withGroups, without checking any password.
func (c *Client) Lookup(ctx context.Context, login string, withGroups bool) (Entry, error) {
	k, err := c.dial(ctx)
	if err != nil {
		return Entry{}, err
	}
	defer k.close()
	return c.entry(k, login, withGroups)
}

// entry finds the person login names on the connection k, with their
// groups when withGroups.
func (c *Client) entry(k *conn, login string, withGroups bool) (Entry, error) {
	e, err := c.find(k, login)
	if err != nil {
		return Entry{}, err
	}
	if withGroups {
		if e.Groups, err = c.groupsOf(k, e); err != nil {
			return Entry{}, err
		}
	}
	return e, nil
}

// memberValue is how a group lists e: its DN, or its username for
// memberUid.
func (c *Client) memberValue(e Entry) string {
	if c.cfg.GroupMemberAttribute == MemberUID {
		return e.Username
	}
	return e.DN
}

// groupsOf returns the names of the groups that list e.
func (c *Client) groupsOf(k *conn, e Entry) ([]string, error) {
	filter := "(&" + c.cfg.GroupFilter + "(" + c.cfg.GroupMemberAttribute + "=" + ldap.EscapeFilter(c.memberValue(e)) + "))"
	req := ldap.NewSearchRequest(c.cfg.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, []string{c.cfg.GroupNameAttribute}, nil)
	res, err := k.SearchWithPaging(req, c.cfg.PageSize)
	if err != nil {
		return nil, unavailable("search the groups of "+e.DN, err)
	}
	var out []string
	for _, g := range res.Entries {
		if n := strings.TrimSpace(g.GetEqualFoldAttributeValue(c.cfg.GroupNameAttribute)); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Snapshot reads every person and every group, page by page (the paged
// results control), and returns the people with their groups.
func (c *Client) Snapshot(ctx context.Context, withGroups bool) (*Snapshot, error) {
	k, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer k.close()
	req := ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		c.cfg.Filter, c.personAttrs(), nil)
	res, err := k.SearchWithPaging(req, c.cfg.PageSize)
	if err != nil {
		return nil, unavailable("list the people under "+c.cfg.BaseDN, err)
	}
	snap := &Snapshot{Users: make([]Entry, 0, len(res.Entries))}
	for _, e := range res.Entries {
		en, ok := c.entryOf(e)
		if !ok {
			snap.Skipped++
			continue
		}
		snap.Users = append(snap.Users, en)
	}
	if !withGroups {
		return snap, nil
	}
	req = ldap.NewSearchRequest(c.cfg.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		c.cfg.GroupFilter, []string{c.cfg.GroupNameAttribute, c.cfg.GroupMemberAttribute}, nil)
	if res, err = k.SearchWithPaging(req, c.cfg.PageSize); err != nil {
		return nil, unavailable("list the groups under "+c.cfg.GroupBaseDN, err)
	}
	member := map[string][]string{} // member key -> group names
	for _, g := range res.Entries {
		name := strings.TrimSpace(g.GetEqualFoldAttributeValue(c.cfg.GroupNameAttribute))
		if name == "" {
			continue
		}
		snap.Groups = append(snap.Groups, name)
		for _, m := range g.GetEqualFoldAttributeValues(c.cfg.GroupMemberAttribute) {
			key := c.memberKey(m)
			member[key] = append(member[key], name)
		}
	}
	slices.Sort(snap.Groups)
	snap.Groups = slices.Compact(snap.Groups)
	for i := range snap.Users {
		gs := member[c.memberKey(c.memberValue(snap.Users[i]))]
		slices.Sort(gs)
		snap.Users[i].Groups = slices.Compact(slices.Clone(gs))
	}
	return snap, nil
}

// memberKey is a group member value in a form that compares equal however
// the directory spelled it: a DN with its attribute types and values
// lower-cased and its spaces and escapes normalised, or a lower-cased
// username.
func (c *Client) memberKey(v string) string {
	if c.cfg.GroupMemberAttribute == MemberUID {
		return strings.ToLower(strings.TrimSpace(v))
	}
	return DNKey(v)
}

// DNKey is dn in a form that compares equal for equal DNs: parsed, with
// attribute types and values lower-cased. A string that does not parse
// is only lower-cased.
func DNKey(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	var b strings.Builder
	for i, rdn := range d.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdn.Attributes {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(strings.ToLower(a.Type))
			b.WriteByte('=')
			b.WriteString(ldap.EscapeDN(strings.ToLower(a.Value)))
		}
	}
	return b.String()
}
