package caddymodule

import (
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/directory"
)

// DirectoryConfig is the external directory people sign in with.
type DirectoryConfig struct {
	// LDAP is an LDAP directory: OpenLDAP, Active Directory, another
	// Gatehouse's LDAP server…
	LDAP *LDAPDirectory `json:"ldap,omitempty"`
}

// LDAPDirectory configures an external LDAP directory as a source of
// people:
//
//	directory ldap {
//		url                    ldaps://ldap.example.com
//		start_tls
//		ca_file                /etc/ssl/ldap-ca.pem
//		bind_dn                cn=gatehouse,ou=system,dc=example,dc=com
//		bind_password          {env.LDAP_PASSWORD}
//		base_dn                ou=people,dc=example,dc=com
//		filter                 (objectClass=inetOrgPerson)
//		username_attribute     uid
//		email_attribute        mail
//		name_attribute         cn
//		group_base_dn          ou=groups,dc=example,dc=com
//		group_filter           (objectClass=groupOfNames)
//		group_name_attribute   cn
//		group_member_attribute member
//		auto_create
//		sync_groups
//		sync_interval          1h
//		timeout                5s
//		page_size              500
//	}
//
// A directory person signs in with their directory password: Gatehouse
// finds their entry with the bind account, then binds as it. The password
// is never stored. Local accounts (the owner) never depend on the
// directory.
type LDAPDirectory struct {
	// URL is ldap://host[:port] or ldaps://host[:port]. May hold
	// placeholders such as {env.LDAP_URL}. Required.
	URL string `json:"url"`
	// StartTLS upgrades an ldap:// connection to TLS first.
	StartTLS bool `json:"start_tls,omitempty"`
	// CAFile is a PEM file of the authorities that sign the directory's
	// certificate. Default: the system's. May hold placeholders.
	CAFile string `json:"ca_file,omitempty"`
	// BindDN and BindPassword are the account that searches the
	// directory; use a placeholder such as {env.LDAP_PASSWORD} for the
	// password. Empty: anonymous searches.
	BindDN       string `json:"bind_dn,omitempty"`
	BindPassword string `json:"bind_password,omitempty"`
	// BaseDN is where people are searched (subtree). May hold
	// placeholders. Required.
	BaseDN string `json:"base_dn"`
	// Filter selects people. Default: (objectClass=inetOrgPerson).
	Filter string `json:"filter,omitempty"`
	// UsernameAttribute holds usernames. Default: uid (sAMAccountName for
	// Active Directory).
	UsernameAttribute string `json:"username_attribute,omitempty"`
	// EmailAttribute holds e-mail addresses. Default: mail.
	EmailAttribute string `json:"email_attribute,omitempty"`
	// NameAttribute holds full names. Default: cn (displayName for
	// Active Directory).
	NameAttribute string `json:"name_attribute,omitempty"`
	// GroupBaseDN is where groups are searched. Default: BaseDN.
	GroupBaseDN string `json:"group_base_dn,omitempty"`
	// GroupFilter selects groups. Default by GroupMemberAttribute:
	// (objectClass=groupOfNames), (objectClass=groupOfUniqueNames) or
	// (objectClass=posixGroup).
	GroupFilter string `json:"group_filter,omitempty"`
	// GroupNameAttribute holds group names. Default: cn. A directory
	// group "Ops Team" is the group ops-team here.
	GroupNameAttribute string `json:"group_name_attribute,omitempty"`
	// GroupMemberAttribute lists members: member, uniqueMember (DNs) or
	// memberUid (usernames). Default: member.
	GroupMemberAttribute string `json:"group_member_attribute,omitempty"`
	// AutoCreate makes the account (role user) of a directory person at
	// their first sign-in. Without it only a synchronisation makes
	// accounts.
	AutoCreate bool `json:"auto_create,omitempty"`
	// SyncGroups takes the directory's groups: they are created here, and
	// directory users' memberships of them follow the directory.
	SyncGroups bool `json:"sync_groups,omitempty"`
	// SyncInterval synchronises this often (at least 1m). Default: 0,
	// only when asked (the users page, POST /api/v1/directory/sync,
	// caddy gatehouse directory sync).
	SyncInterval caddy.Duration `json:"sync_interval,omitempty"`
	// Timeout bounds connecting and each request. Default: 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// PageSize is the page size of listings. Default: 500.
	PageSize int `json:"page_size,omitempty"`
}

// options returns l as core options, with the placeholders of its url,
// ca_file, bind_dn, bind_password and base_dn replaced by repl, checked
// (the CA file is read).
func (l *LDAPDirectory) options(repl *caddy.Replacer) (*core.DirectoryOptions, error) {
	cfg, err := l.config(repl)
	if err != nil {
		return nil, err
	}
	client, err := directory.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("gatehouse: directory ldap: %s", strings.TrimPrefix(err.Error(), "directory: "))
	}
	return &core.DirectoryOptions{Client: client, AutoCreate: l.AutoCreate, SyncGroups: l.SyncGroups,
		SyncInterval: time.Duration(l.SyncInterval)}, nil
}

// config is l as a client configuration, checked without touching the
// network or the file system.
func (l *LDAPDirectory) config(repl *caddy.Replacer) (directory.Config, error) {
	if l.SyncInterval < 0 || (l.SyncInterval > 0 && time.Duration(l.SyncInterval) < directory.MinSyncInterval) {
		return directory.Config{}, fmt.Errorf("gatehouse: directory ldap: sync_interval %s: must be 0 (only when asked) or at least %s",
			time.Duration(l.SyncInterval), directory.MinSyncInterval)
	}
	if l.PageSize < 0 || l.PageSize > 10000 {
		return directory.Config{}, fmt.Errorf("gatehouse: directory ldap: page_size %d: must be between 1 and 10000", l.PageSize)
	}
	cfg := directory.Config{
		URL: repl.ReplaceKnown(l.URL, ""), StartTLS: l.StartTLS, CAFile: repl.ReplaceKnown(l.CAFile, ""),
		BindDN: repl.ReplaceKnown(l.BindDN, ""), BindPassword: repl.ReplaceKnown(l.BindPassword, ""),
		BaseDN: repl.ReplaceKnown(l.BaseDN, ""), Filter: l.Filter, UsernameAttribute: l.UsernameAttribute,
		EmailAttribute: l.EmailAttribute, NameAttribute: l.NameAttribute, GroupBaseDN: l.GroupBaseDN,
		GroupFilter: l.GroupFilter, GroupNameAttribute: l.GroupNameAttribute, GroupMemberAttribute: l.GroupMemberAttribute,
		Timeout: time.Duration(l.Timeout), PageSize: uint32(l.PageSize),
	}
	if err := cfg.Validate(); err != nil {
		return directory.Config{}, fmt.Errorf("gatehouse: directory ldap: %w", err)
	}
	return cfg, nil
}
