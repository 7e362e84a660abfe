package caddymodule

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parseDirectory reads the `directory ldap { … }` block of the global
// option. Syntax: see LDAPDirectory. A bad value is refused with its line.
func parseDirectory(d *caddyfile.Dispenser) (*DirectoryConfig, error) {
	at := *d // errors about the whole block point at its first line
	if !d.NextArg() {
		return nil, d.Err("gatehouse: directory needs a kind: directory ldap { … }")
	}
	if kind := d.Val(); kind != "ldap" {
		return nil, d.Errf("gatehouse: directory %q: the only kind is ldap", kind)
	}
	if d.NextArg() {
		return nil, d.Errf("gatehouse: directory ldap: unexpected argument %q (settings go in a block)", d.Val())
	}
	l := new(LDAPDirectory)
	flag := func(dst *bool) error {
		if name := d.Val(); d.NextArg() {
			return d.Errf("gatehouse: directory ldap: %s takes no value", name)
		}
		*dst = true
		return nil
	}
	duration := func(dst *caddy.Duration) error {
		name := d.Val()
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		dur, err := caddy.ParseDuration(v)
		if err != nil || dur < 0 {
			return d.Errf("gatehouse: directory ldap: %s %q is not a duration (e.g. 30s, 15m, 1h; 0 for off)", name, v)
		}
		*dst = caddy.Duration(dur)
		return nil
	}
	strs := map[string]*string{
		"url": &l.URL, "ca_file": &l.CAFile, "bind_dn": &l.BindDN, "bind_password": &l.BindPassword,
		"base_dn": &l.BaseDN, "filter": &l.Filter, "username_attribute": &l.UsernameAttribute,
		"email_attribute": &l.EmailAttribute, "name_attribute": &l.NameAttribute, "group_base_dn": &l.GroupBaseDN,
		"group_filter": &l.GroupFilter, "group_name_attribute": &l.GroupNameAttribute,
		"group_member_attribute": &l.GroupMemberAttribute,
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] {
			return nil, d.Errf("gatehouse: directory ldap: %s is given twice", sub)
		}
		seen[sub] = true
		var err error
		switch sub {
		case "start_tls":
			err = flag(&l.StartTLS)
		case "auto_create":
			err = flag(&l.AutoCreate)
		case "sync_groups":
			err = flag(&l.SyncGroups)
		case "sync_interval":
			err = duration(&l.SyncInterval)
		case "timeout":
			err = duration(&l.Timeout)
		case "page_size":
			var v string
			if v, err = oneArg(d); err == nil {
				n, perr := strconv.Atoi(v)
				if perr != nil || n < 1 || n > 10000 {
					return nil, d.Errf("gatehouse: directory ldap: page_size %q: must be a number from 1 to 10000", v)
				}
				l.PageSize = n
			}
		default:
			dst, ok := strs[sub]
			if !ok {
				return nil, d.Errf("gatehouse: directory ldap: unknown subdirective %q (want url, start_tls, ca_file, bind_dn, bind_password, base_dn, filter, username_attribute, email_attribute, name_attribute, group_base_dn, group_filter, group_name_attribute, group_member_attribute, auto_create, sync_groups, sync_interval, timeout or page_size)", sub)
			}
			*dst, err = oneArg(d)
			if err == nil {
				if e := checkDirectoryValue(sub, *dst); e != "" {
					return nil, d.Errf("gatehouse: directory ldap: %s", e)
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	// Placeholders ({env.…}) are replaced at provision time; check the
	// rest now, with stand-ins for them.
	check := *l
	for _, f := range []struct {
		v    *string
		with string
	}{{&check.URL, "ldap://placeholder.invalid"}, {&check.BindDN, "cn=placeholder"}, {&check.BindPassword, "placeholder"},
		{&check.BaseDN, "dc=placeholder"}, {&check.CAFile, ""}} {
		if strings.Contains(*f.v, "{") {
			*f.v = f.with
		}
	}
	if _, err := check.config(caddy.NewReplacer()); err != nil {
		return nil, at.Errf("%s", err)
	}
	return &DirectoryConfig{LDAP: l}, nil
}

// checkDirectoryValue checks one value on its own line, so the error
// points at it; "" when it is fine.
func checkDirectoryValue(name, v string) string {
	c := LDAPDirectory{URL: "ldap://check.invalid", BaseDN: "dc=check"}
	switch name {
	case "url":
		c.URL = v
	case "base_dn":
		c.BaseDN = v
	case "bind_dn":
		c.BindDN, c.BindPassword = v, "check"
	case "group_base_dn":
		c.GroupBaseDN = v
	case "filter":
		c.Filter = v
	case "group_filter":
		c.GroupFilter = v
	case "username_attribute":
		c.UsernameAttribute = v
	case "email_attribute":
		c.EmailAttribute = v
	case "name_attribute":
		c.NameAttribute = v
	case "group_name_attribute":
		c.GroupNameAttribute = v
	case "group_member_attribute":
		c.GroupMemberAttribute = v
	default:
		return ""
	}
	if strings.Contains(v, "{") {
		return "" // a placeholder: checked once replaced
	}
	if _, err := c.config(caddy.NewReplacer()); err != nil {
		return strings.TrimPrefix(err.Error(), "gatehouse: directory ldap: ")
	}
	return ""
}
