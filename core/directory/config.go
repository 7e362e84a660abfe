// Package directory is the client side of an external LDAP directory
// (OpenLDAP, Active Directory, another Gatehouse's LDAP server…) used as
// the source of people: it checks a person's password by binding as them,
// and reads the people and groups the directory holds, page by page.
//
// It knows LDAP and nothing of Gatehouse's accounts: the core decides what
// a directory entry becomes. Every value put into a search filter is
// escaped, a bind never goes out with an empty password (that would be an
// unauthenticated bind, which many servers accept as anonymous), and every
// network step has a timeout, so a slow directory costs its own callers a
// bounded wait and nobody else anything.
package directory

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Defaults for Config fields left zero.
const (
	DefaultFilter            = "(objectClass=inetOrgPerson)"
	DefaultUsernameAttribute = "uid"
	DefaultEmailAttribute    = "mail"
	DefaultNameAttribute     = "cn"
	DefaultGroupName         = "cn"
	DefaultMemberAttribute   = "member"
	DefaultTimeout           = 5 * time.Second
	DefaultPageSize          = 500
	// MinSyncInterval is the shortest sync_interval accepted: a
	// synchronisation reads the whole directory.
	MinSyncInterval = time.Minute
)

// The group member attributes a Config may name.
const (
	MemberDN       = "member"       // groupOfNames, AD's group: member DNs
	UniqueMemberDN = "uniqueMember" // groupOfUniqueNames: member DNs
	MemberUID      = "memberUid"    // posixGroup: usernames
)

// Config configures the connection to the directory and what its entries
// mean. Zero fields take the defaults above.
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port]. Required.
	URL string `json:"url"`
	// StartTLS upgrades an ldap:// connection to TLS before anything is
	// sent (not with ldaps://).
	StartTLS bool `json:"start_tls,omitempty"`
	// CAFile is a PEM file of the certificate authorities to trust for
	// the directory's certificate. Default: the system's.
	CAFile string `json:"ca_file,omitempty"`
	// BindDN and BindPassword are the service account that searches the
	// directory. Empty BindDN: searches are anonymous.
	BindDN       string `json:"bind_dn,omitempty"`
	BindPassword string `json:"bind_password,omitempty"`
	// BaseDN is where people are searched (the whole subtree). Required.
	BaseDN string `json:"base_dn"`
	// Filter selects the entries that are people. Default:
	// (objectClass=inetOrgPerson).
	Filter string `json:"filter,omitempty"`
	// UsernameAttribute holds the username. Default: uid
	// (sAMAccountName for Active Directory).
	UsernameAttribute string `json:"username_attribute,omitempty"`
	// EmailAttribute holds the e-mail address. Default: mail.
	EmailAttribute string `json:"email_attribute,omitempty"`
	// NameAttribute holds the full name. Default: cn.
	NameAttribute string `json:"name_attribute,omitempty"`
	// GroupBaseDN is where groups are searched. Default: BaseDN.
	GroupBaseDN string `json:"group_base_dn,omitempty"`
	// GroupFilter selects the entries that are groups. Default by
	// GroupMemberAttribute: (objectClass=groupOfNames),
	// (objectClass=groupOfUniqueNames) or (objectClass=posixGroup).
	GroupFilter string `json:"group_filter,omitempty"`
	// GroupNameAttribute holds a group's name. Default: cn.
	GroupNameAttribute string `json:"group_name_attribute,omitempty"`
	// GroupMemberAttribute lists a group's members: member or
	// uniqueMember (member DNs) or memberUid (usernames). Default: member.
	GroupMemberAttribute string `json:"group_member_attribute,omitempty"`
	// Timeout bounds connecting and each request. Default: 5s.
	Timeout time.Duration `json:"timeout,omitempty"`
	// PageSize is the page size of searches that list the directory
	// (the paged results control). Default: 500.
	PageSize uint32 `json:"page_size,omitempty"`
}

// attrName is an LDAP attribute description: a name (letters, digits,
// hyphens, starting with a letter) or a numeric OID.
var attrName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]{0,63}|[0-9]+(\.[0-9]+){1,31})$`)

// withDefaults returns c with its defaults filled in and its values
// checked; it reads no file.
func (c Config) withDefaults() (Config, error) {
	c.URL = strings.TrimSpace(c.URL)
	if c.URL == "" {
		return c, errors.New("url is required (ldap://host or ldaps://host)")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Hostname() == "" {
		return c, fmt.Errorf("url %q: must be ldap://host[:port] or ldaps://host[:port]", c.URL)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return c, fmt.Errorf("url %q: must be scheme://host[:port] only (put the base DN in base_dn)", c.URL)
	}
	if c.StartTLS && u.Scheme == "ldaps" {
		return c, errors.New("start_tls: not with an ldaps:// url, which is TLS from the start")
	}
	if strings.TrimSpace(c.BaseDN) == "" {
		return c, errors.New("base_dn is required (e.g. dc=example,dc=com)")
	}
	for _, f := range []struct{ name, dn string }{{"base_dn", c.BaseDN}, {"bind_dn", c.BindDN}, {"group_base_dn", c.GroupBaseDN}} {
		if f.dn == "" {
			continue
		}
		if _, err := ldap.ParseDN(f.dn); err != nil {
			return c, fmt.Errorf("%s %q: not a DN: %v", f.name, f.dn, err)
		}
	}
	if c.BindDN != "" && c.BindPassword == "" {
		return c, errors.New("bind_password is required with bind_dn (an empty password is an unauthenticated bind)")
	}
	if c.BindDN == "" && c.BindPassword != "" {
		return c, errors.New("bind_password without bind_dn")
	}
	or := func(v *string, def string) {
		if *v = strings.TrimSpace(*v); *v == "" {
			*v = def
		}
	}
	or(&c.Filter, DefaultFilter)
	or(&c.UsernameAttribute, DefaultUsernameAttribute)
	or(&c.EmailAttribute, DefaultEmailAttribute)
	or(&c.NameAttribute, DefaultNameAttribute)
	or(&c.GroupBaseDN, c.BaseDN)
	or(&c.GroupNameAttribute, DefaultGroupName)
	or(&c.GroupMemberAttribute, DefaultMemberAttribute)
	switch strings.ToLower(c.GroupMemberAttribute) {
	case strings.ToLower(MemberDN):
		c.GroupMemberAttribute = MemberDN
		or(&c.GroupFilter, "(objectClass=groupOfNames)")
	case strings.ToLower(UniqueMemberDN):
		c.GroupMemberAttribute = UniqueMemberDN
		or(&c.GroupFilter, "(objectClass=groupOfUniqueNames)")
	case strings.ToLower(MemberUID):
		c.GroupMemberAttribute = MemberUID
		or(&c.GroupFilter, "(objectClass=posixGroup)")
	default:
		return c, fmt.Errorf("group_member_attribute %q: must be member, uniqueMember or memberUid", c.GroupMemberAttribute)
	}
	for _, f := range []struct{ name, filter string }{{"filter", c.Filter}, {"group_filter", c.GroupFilter}} {
		if !strings.HasPrefix(f.filter, "(") || !strings.HasSuffix(f.filter, ")") {
			return c, fmt.Errorf("%s %q: must be an LDAP filter in parentheses, e.g. (objectClass=person)", f.name, f.filter)
		}
		if _, err := ldap.CompileFilter(f.filter); err != nil {
			return c, fmt.Errorf("%s %q: %v", f.name, f.filter, err)
		}
	}
	for _, f := range []struct{ name, attr string }{{"username_attribute", c.UsernameAttribute}, {"email_attribute", c.EmailAttribute},
		{"name_attribute", c.NameAttribute}, {"group_name_attribute", c.GroupNameAttribute}} {
		if !attrName.MatchString(f.attr) {
			return c, fmt.Errorf("%s %q: not an attribute name", f.name, f.attr)
		}
	}
	if c.Timeout < 0 {
		return c, errors.New("timeout must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	return c, nil
}

// Validate checks c without touching the network or the file system.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// tlsConfig returns the TLS settings for the directory's host: the CA file
// when set, else the system's roots.
func (c Config) tlsConfig() (*tls.Config, error) {
	u, _ := url.Parse(c.URL)
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if c.CAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", c.CAFile)
	}
	tc.RootCAs = pool
	return tc, nil
}
