package caddymodule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/portal"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("gatehouse", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("gatehouse", parseGuard)
	httpcaddyfile.RegisterDirectiveOrder("gatehouse", httpcaddyfile.Before, "basic_auth")
	httpcaddyfile.RegisterHandlerDirective("gatehouse_portal", parsePortal)
	httpcaddyfile.RegisterDirectiveOrder("gatehouse_portal", httpcaddyfile.After, "respond")
}

// parseGlobalOption turns the `gatehouse { … }` global option into the
// gatehouse app's JSON config. Syntax: see App.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("gatehouse: the global option is given twice; use one block")
	}
	a := new(App)
	d.Next() // the option name
	if d.NextArg() {
		return nil, d.Errf("gatehouse: unexpected argument %q (options go in a block)", d.Val())
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "storage":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			a.Storage = v
		case "portal_url":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if _, err := parsePortalURL(v); err != nil {
				return nil, d.Err(err.Error())
			}
			a.PortalURL = strings.TrimSuffix(v, "/")
		case "cookie_domain":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			v = strings.TrimPrefix(strings.ToLower(v), ".")
			if !validDomain(v) {
				return nil, d.Errf("gatehouse: cookie_domain %q: not a domain name", v)
			}
			a.CookieDomain = v
		case "cookie_name":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			a.CookieName = v
		case "session":
			if d.NextArg() {
				return nil, d.Errf("gatehouse: session: unexpected argument %q (timeouts go in a block)", d.Val())
			}
			if a.Session == nil {
				a.Session = new(SessionConfig)
			}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				var dst *caddy.Duration
				switch d.Val() {
				case "idle":
					dst = &a.Session.Idle
				case "lifetime":
					dst = &a.Session.Lifetime
				case "remember":
					dst = &a.Session.Remember
				default:
					return nil, d.Errf("gatehouse: session: unknown subdirective %q (want idle, lifetime or remember)", d.Val())
				}
				name := d.Val()
				v, err := oneArg(d)
				if err != nil {
					return nil, err
				}
				dur, err := caddy.ParseDuration(v)
				if err != nil || dur <= 0 {
					return nil, d.Errf("gatehouse: session %s: %q is not a positive duration (e.g. 30m, 12h, 30d)", name, v)
				}
				*dst = caddy.Duration(dur)
			}
		case "headers":
			if d.NextArg() {
				return nil, d.Errf("gatehouse: headers: unexpected argument %q (names go in a block)", d.Val())
			}
			if a.Headers == nil {
				a.Headers = new(HeaderNames)
			}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				var dst *string
				switch d.Val() {
				case "user":
					dst = &a.Headers.User
				case "email":
					dst = &a.Headers.Email
				case "name":
					dst = &a.Headers.Name
				case "groups":
					dst = &a.Headers.Groups
				case "impersonator":
					dst = &a.Headers.Impersonator
				case "role":
					dst = &a.Headers.Role
				case "jwt":
					dst = &a.Headers.JWT
				default:
					return nil, d.Errf("gatehouse: headers: unknown subdirective %q (want user, email, name, groups, impersonator, role or jwt)", d.Val())
				}
				v, err := oneArg(d)
				if err != nil {
					return nil, err
				}
				*dst = v
				if dst == &a.Headers.JWT {
					// Checked here too, so the error names this line.
					if err := portal.CheckJWTHeader(v, portal.Headers{}); err != nil {
						return nil, d.Errf("gatehouse: %v", err)
					}
				}
			}
			if err := checkHeaderNames(*a.Headers); err != nil {
				return nil, d.Err(err.Error())
			}
		case "invite_lifetime", "reset_lifetime":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("gatehouse: %s: %q is not a positive duration (e.g. 1h, 72h, 7d)", opt, v)
			}
			if opt == "invite_lifetime" {
				a.InviteLifetime = caddy.Duration(dur)
			} else {
				a.ResetLifetime = caddy.Duration(dur)
			}
		case "smtp":
			mc, err := parseSMTP(d)
			if err != nil {
				return nil, err
			}
			a.SMTP = mc
		case "oidc":
			oc, err := parseOIDC(d)
			if err != nil {
				return nil, err
			}
			for _, prev := range a.OIDC {
				if prev.Name == oc.Name {
					return nil, d.Errf("gatehouse: oidc %s: the provider is configured twice", oc.Name)
				}
			}
			a.OIDC = append(a.OIDC, oc)
		case "oidc_provider":
			if a.OIDCProvider != nil {
				return nil, d.Err("gatehouse: oidc_provider is given twice; use one block")
			}
			pc, err := parseOIDCProviderConfig(d)
			if err != nil {
				return nil, err
			}
			a.OIDCProvider = pc
		case "directory":
			if a.Directory != nil {
				return nil, d.Err("gatehouse: directory is given twice; configure one directory")
			}
			dc, err := parseDirectory(d)
			if err != nil {
				return nil, err
			}
			a.Directory = dc
		case "ldap_server":
			if a.LDAPServer != nil {
				return nil, d.Err("gatehouse: ldap_server is given twice; use one block")
			}
			lc, err := parseLDAPServer(d)
			if err != nil {
				return nil, err
			}
			a.LDAPServer = lc
		case "app":
			ad, err := parseAppDecl(d)
			if err != nil {
				return nil, err
			}
			for _, prev := range a.Apps {
				if prev.Name == ad.Name {
					return nil, d.Errf("gatehouse: app %s is declared twice in the global block", ad.Name)
				}
			}
			a.Apps = append(a.Apps, ad)
		case "backup":
			if a.Backup != nil {
				return nil, d.Err("gatehouse: backup is given twice; use one block")
			}
			bc, err := parseBackup(d)
			if err != nil {
				return nil, err
			}
			a.Backup = bc
		default:
			return nil, d.Errf("gatehouse: unknown subdirective %q (want storage, portal_url, cookie_domain, cookie_name, session, headers, invite_lifetime, reset_lifetime, smtp, oidc, oidc_provider, directory, ldap_server, app or backup)", opt)
		}
	}
	return httpcaddyfile.App{Name: "gatehouse", Value: caddyconfig.JSON(a, nil)}, nil
}

// guardDecl remembers where an app was declared, to report conflicting
// declarations with both positions.
type guardDecl struct {
	guard Guard
	where string
}

const stateGuards = "gatehouse.guards"

// parseGuard sets up the guard from `gatehouse <app> { … }`. Syntax: see Guard.
func parseGuard(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // the directive name
	g := new(Guard)
	if !h.NextArg() {
		return nil, h.Err("gatehouse: the app name is required: gatehouse <app> { … }")
	}
	g.App = strings.ToLower(h.Val())
	if h.NextArg() {
		return nil, h.Errf("gatehouse %s: unexpected argument %q (options go in a block)", g.App, h.Val())
	}
	where := fmt.Sprintf("%s:%d", h.File(), h.Line())
	for h.NextBlock(0) {
		opt := h.Val()
		switch opt {
		case "title":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			g.Title = v
		case "url":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			g.URL = v
		case "allow_groups", "allow_users":
			args := h.RemainingArgs()
			if len(args) == 0 {
				return nil, h.Errf("gatehouse %s: %s needs at least one name", g.App, opt)
			}
			if opt == "allow_groups" {
				g.AllowGroups = append(g.AllowGroups, args...)
			} else {
				g.AllowUsers = append(g.AllowUsers, args...)
			}
		case "require_2fa":
			if h.NextArg() {
				return nil, h.Errf("gatehouse %s: require_2fa takes no value", g.App)
			}
			g.Require2FA = true
		case "app_passwords":
			if h.NextArg() {
				return nil, h.Errf("gatehouse %s: app_passwords takes no value", g.App)
			}
			g.AppPasswords = true
		default:
			return nil, h.Errf("gatehouse %s: unknown subdirective %q (want title, url, allow_groups, allow_users, require_2fa or app_passwords)", g.App, opt)
		}
	}
	if g.AppPasswords && g.Require2FA {
		return nil, h.Errf("gatehouse %s: app_passwords and require_2fa exclude each other: an app password is not a second factor, so an app that requires one takes none", g.App)
	}

	decls, _ := h.State[stateGuards].(map[string]guardDecl)
	if decls == nil {
		decls = make(map[string]guardDecl)
		h.State[stateGuards] = decls
	}
	if prev, ok := decls[g.App]; ok {
		if diff := prev.guard.differsFrom(g); diff != "" {
			return nil, h.Errf("gatehouse %s: declared again with different %s (first declared at %s)", g.App, diff, prev.where)
		}
	} else {
		decls[g.App] = guardDecl{guard: *g, where: where}
	}
	return g, nil
}

// differsFrom names the first setting in which two declarations of the same
// app disagree, or returns "".
func (g *Guard) differsFrom(o *Guard) string {
	norm := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = strings.ToLower(s)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	switch {
	case !slices.Equal(norm(g.AllowGroups), norm(o.AllowGroups)):
		return "allow_groups"
	case !slices.Equal(norm(g.AllowUsers), norm(o.AllowUsers)):
		return "allow_users"
	case g.Require2FA != o.Require2FA:
		return "require_2fa"
	case g.AppPasswords != o.AppPasswords:
		return "app_passwords"
	case g.Title != o.Title:
		return "title"
	case g.URL != "" && o.URL != "" && g.URL != o.URL:
		return "url"
	}
	return ""
}

// parsePortal sets up `gatehouse_portal`, which takes no arguments.
func parsePortal(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // the directive name
	if h.NextArg() {
		return nil, h.Errf("gatehouse_portal: unexpected argument %q (it takes none; configure it in the global gatehouse block)", h.Val())
	}
	if h.NextBlock(0) {
		return nil, h.Errf("gatehouse_portal: unexpected block (configure the portal in the global gatehouse block)")
	}
	return new(Portal), nil
}

// oneArg reads exactly one argument for the current subdirective.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	name := d.Val()
	if !d.NextArg() {
		return "", d.Errf("gatehouse: %s needs a value", name)
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.Errf("gatehouse: %s takes one value, got another: %q", name, d.Val())
	}
	return v, nil
}

func validDomain(s string) bool {
	if s == "" || len(s) > 253 || strings.HasPrefix(s, "-") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !(r == '.' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z') {
			return false
		}
	}
	return true
}

// Interface guard.
var _ httpcaddyfile.UnmarshalGlobalFunc = parseGlobalOption

// parseSMTP reads the `smtp { … }` block of the global option.
func parseSMTP(d *caddyfile.Dispenser) (*mail.Config, error) {
	if d.NextArg() {
		return nil, d.Errf("gatehouse: smtp: unexpected argument %q (settings go in a block)", d.Val())
	}
	mc := new(mail.Config)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		v, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		switch sub {
		case "host":
			mc.Host = v
		case "port":
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return nil, d.Errf("gatehouse: smtp port: %q is not a port number", v)
			}
			mc.Port = p
		case "username":
			mc.Username = v
		case "password":
			mc.Password = v
		case "from":
			mc.From = v
		case "tls":
			if v != mail.TLSStartTLS && v != mail.TLSImplicit && v != mail.TLSNone {
				return nil, d.Errf("gatehouse: smtp tls: %q is not one of starttls, tls, none", v)
			}
			mc.TLS = v
		default:
			return nil, d.Errf("gatehouse: smtp: unknown subdirective %q (want host, port, username, password, from or tls)", sub)
		}
	}
	// Placeholders ({env.…}) are replaced at provision time; check the rest now.
	check := *mc
	for _, f := range []*string{&check.Host, &check.Username, &check.Password, &check.From} {
		if strings.Contains(*f, "{") {
			*f = "placeholder"
		}
	}
	if strings.Contains(mc.From, "{") {
		check.From = "placeholder@example.com"
	}
	if strings.Contains(mc.Host, "{") {
		// Checked again once expanded, at provision time (mail.New).
		check.Host = "localhost"
	}
	if err := check.Validate(); err != nil {
		return nil, d.Errf("gatehouse: smtp: %s", strings.TrimPrefix(err.Error(), "mail: "))
	}
	return mc, nil
}

// parseOIDC reads an `oidc <name> { … }` block of the global option: one
// external OpenID Connect provider. Syntax: see OIDCConfig.
func parseOIDC(d *caddyfile.Dispenser) (*OIDCConfig, error) {
	at := *d // errors about the whole block point at its first line
	if !d.NextArg() {
		return nil, d.Err("gatehouse: oidc needs a provider name: oidc <name> { … }")
	}
	oc := &OIDCConfig{Name: strings.ToLower(d.Val())}
	if d.NextArg() {
		return nil, d.Errf("gatehouse: oidc %s: unexpected argument %q (settings go in a block)", oc.Name, d.Val())
	}
	flag := func(dst *bool) error {
		if name := d.Val(); d.NextArg() {
			return d.Errf("gatehouse: oidc %s: %s takes no value", oc.Name, name)
		}
		*dst = true
		return nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		var err error
		switch sub {
		case "issuer":
			oc.Issuer, err = oneArg(d)
		case "client_id":
			oc.ClientID, err = oneArg(d)
		case "client_secret":
			oc.ClientSecret, err = oneArg(d)
		case "display_name":
			oc.DisplayName, err = oneArg(d)
		case "groups_claim":
			oc.GroupsClaim, err = oneArg(d)
		case "scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Errf("gatehouse: oidc %s: scopes needs at least one scope", oc.Name)
			}
			oc.Scopes = append(oc.Scopes, args...)
		case "group_map":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Errf("gatehouse: oidc %s: group_map takes an external and a local group name: group_map <external> <local>", oc.Name)
			}
			if _, dup := oc.GroupMap[args[0]]; dup {
				return nil, d.Errf("gatehouse: oidc %s: group_map %q is mapped twice", oc.Name, args[0])
			}
			if oc.GroupMap == nil {
				oc.GroupMap = map[string]string{}
			}
			oc.GroupMap[args[0]] = strings.ToLower(args[1])
		case "auto_create":
			err = flag(&oc.AutoCreate)
		case "link_by_email":
			err = flag(&oc.LinkByEmail)
		case "trusted_mfa":
			err = flag(&oc.TrustedMFA)
		default:
			return nil, d.Errf("gatehouse: oidc %s: unknown subdirective %q (want issuer, client_id, client_secret, scopes, display_name, groups_claim, group_map, auto_create, link_by_email or trusted_mfa)", oc.Name, sub)
		}
		if err != nil {
			return nil, err
		}
	}
	// Placeholders ({env.…}) are replaced at provision time; check the rest now.
	check := oc.provider(caddy.NewReplacer())
	if strings.Contains(oc.Issuer, "{") {
		check.Issuer = "https://placeholder.invalid"
	}
	if strings.Contains(oc.ClientID, "{") {
		check.ClientID = "placeholder"
	}
	if err := check.Validate(); err != nil {
		return nil, at.Errf("gatehouse: %s", err)
	}
	return oc, nil
}
