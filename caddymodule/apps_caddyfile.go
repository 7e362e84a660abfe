package caddymodule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// AppDecl declares an app in the global gatehouse block, with or without a
// guard: an app whose users sign in through Gatehouse's OpenID Connect
// provider needs no `gatehouse <app>` directive.
//
//	app grafana {
//		title        Grafana
//		url          https://grafana.example.com
//		allow_groups ops
//		allow_users  alice
//		require_2fa
//		oidc {
//			redirect_uri             https://grafana.example.com/login/generic_oauth
//			post_logout_redirect_uri https://grafana.example.com/
//			client_secret            {env.GRAFANA_OIDC_SECRET}
//			access_token_lifetime    10m
//			userinfo_only_claims
//			consent
//		}
//	}
//
// A guard `gatehouse grafana` with no settings of its own protects the same
// app with these rules; a guard that declares different rules is refused.
type AppDecl struct {
	// Name is the app's name and, for an OIDC client, its client id.
	Name string `json:"name"`
	// Title, URL, AllowGroups, AllowUsers and Require2FA are as in Guard.
	Title       string   `json:"title,omitempty"`
	URL         string   `json:"url,omitempty"`
	AllowGroups []string `json:"allow_groups,omitempty"`
	AllowUsers  []string `json:"allow_users,omitempty"`
	Require2FA  bool     `json:"require_2fa,omitempty"`
	// AppPasswords is as in Guard.
	AppPasswords bool `json:"app_passwords,omitempty"`
	// OIDC makes the app a client of the OpenID Connect provider.
	OIDC *AppOIDC `json:"oidc,omitempty"`
}

// AppOIDC is an app's `oidc { … }` block: see core.OIDCClientConfig.
type AppOIDC struct {
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	Public                 bool     `json:"public,omitempty"`
	// ClientSecret may hold placeholders such as {env.X}, replaced at
	// provision time.
	ClientSecret         string         `json:"client_secret,omitempty"`
	ClientSecretHash     string         `json:"client_secret_hash,omitempty"`
	AccessTokenLifetime  caddy.Duration `json:"access_token_lifetime,omitempty"`
	UserinfoOnlyClaims   bool           `json:"userinfo_only_claims,omitempty"`
	BackchannelLogoutURI string         `json:"backchannel_logout_uri,omitempty"`
	// Consent marks a third-party app: its users are asked for consent.
	Consent bool `json:"consent,omitempty"`
}

// config returns the declaration as core takes it, placeholders replaced
// by repl.
func (d *AppDecl) config(repl *caddy.Replacer) core.AppConfig {
	c := core.AppConfig{Global: true, Name: d.Name, Title: d.Title, URL: d.URL, AllowGroups: d.AllowGroups, AllowUsers: d.AllowUsers, Require2FA: d.Require2FA, AppPasswords: d.AppPasswords}
	if o := d.OIDC; o != nil {
		c.OIDC = &core.OIDCClientConfig{
			RedirectURIs: o.RedirectURIs, PostLogoutRedirectURIs: o.PostLogoutRedirectURIs, Public: o.Public,
			Secret: repl.ReplaceKnown(o.ClientSecret, ""), SecretHash: repl.ReplaceKnown(o.ClientSecretHash, ""),
			AccessTokenLifetime: time.Duration(o.AccessTokenLifetime), UserinfoOnlyClaims: o.UserinfoOnlyClaims,
			BackchannelLogoutURI: o.BackchannelLogoutURI, Consent: o.Consent,
		}
	}
	return c
}

// check validates the declaration without placeholders (they are checked
// once replaced, at provision time).
func (d *AppDecl) check() error {
	c := d.config(caddy.NewReplacer())
	if c.AppPasswords && c.Require2FA {
		return errors.New("app_passwords and require_2fa exclude each other: an app password is not a second factor, so an app that requires one takes none")
	}
	if c.OIDC != nil {
		if strings.Contains(d.OIDC.ClientSecret, "{") {
			c.OIDC.Secret = "placeholder-placeholder"
		}
		if strings.Contains(d.OIDC.ClientSecretHash, "{") {
			c.OIDC.SecretHash = "$argon2id$placeholder"
		}
		if _, err := core.CheckOIDCClientConfig(*c.OIDC, make([]byte, 32)); err != nil {
			return err
		}
		if !c.OIDC.Public && c.OIDC.Secret == "" && c.OIDC.SecretHash == "" {
			return errors.New("a confidential client needs client_secret or client_secret_hash (or declare it public)")
		}
	}
	return nil
}

// parseAppDecl reads an `app <name> { … }` block of the global option.
func parseAppDecl(d *caddyfile.Dispenser) (*AppDecl, error) {
	at := *d
	if !d.NextArg() {
		return nil, d.Err("gatehouse: app needs a name: app <name> { … }")
	}
	a := &AppDecl{Name: strings.ToLower(d.Val())}
	if d.NextArg() {
		return nil, d.Errf("gatehouse: app %s: unexpected argument %q (settings go in a block)", a.Name, d.Val())
	}
	flag := func(dst *bool) error {
		if name := d.Val(); d.NextArg() {
			return d.Errf("gatehouse: app %s: %s takes no value", a.Name, name)
		}
		*dst = true
		return nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch sub := d.Val(); sub {
		case "title":
			a.Title, err = oneArg(d)
		case "url":
			a.URL, err = oneArg(d)
		case "allow_groups", "allow_users":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Errf("gatehouse: app %s: %s needs at least one name", a.Name, sub)
			}
			if sub == "allow_groups" {
				a.AllowGroups = append(a.AllowGroups, args...)
			} else {
				a.AllowUsers = append(a.AllowUsers, args...)
			}
		case "require_2fa":
			err = flag(&a.Require2FA)
		case "app_passwords":
			err = flag(&a.AppPasswords)
		case "oidc":
			if a.OIDC != nil {
				return nil, d.Errf("gatehouse: app %s: oidc is given twice", a.Name)
			}
			a.OIDC, err = parseAppOIDC(d, a.Name)
		default:
			return nil, d.Errf("gatehouse: app %s: unknown subdirective %q (want title, url, allow_groups, allow_users, require_2fa, app_passwords or oidc)", a.Name, sub)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := policies.ValidateGroupName(a.Name); err != nil {
		return nil, at.Errf("gatehouse: app name %q: use lowercase letters, digits, '.', '-' or '_' (2–32 characters)", a.Name)
	}
	if err := a.check(); err != nil {
		return nil, at.Errf("gatehouse: app %s: %v", a.Name, err)
	}
	return a, nil
}

// parseAppOIDC reads the `oidc { … }` block of an app.
func parseAppOIDC(d *caddyfile.Dispenser, app string) (*AppOIDC, error) {
	if d.NextArg() {
		return nil, d.Errf("gatehouse: app %s: oidc: unexpected argument %q (settings go in a block)", app, d.Val())
	}
	o := new(AppOIDC)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		var err error
		switch sub {
		case "redirect_uri", "post_logout_redirect_uri":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Errf("gatehouse: app %s: oidc %s needs at least one URI", app, sub)
			}
			if sub == "redirect_uri" {
				o.RedirectURIs = append(o.RedirectURIs, args...)
			} else {
				o.PostLogoutRedirectURIs = append(o.PostLogoutRedirectURIs, args...)
			}
		case "client_secret":
			o.ClientSecret, err = oneArg(d)
		case "client_secret_hash":
			o.ClientSecretHash, err = oneArg(d)
		case "backchannel_logout_uri":
			o.BackchannelLogoutURI, err = oneArg(d)
		case "public", "userinfo_only_claims", "consent":
			dst := &o.Public
			switch sub {
			case "userinfo_only_claims":
				dst = &o.UserinfoOnlyClaims
			case "consent":
				dst = &o.Consent
			}
			if d.NextArg() {
				return nil, d.Errf("gatehouse: app %s: oidc %s takes no value", app, sub)
			}
			*dst = true
		case "access_token_lifetime":
			var v string
			if v, err = oneArg(d); err == nil {
				dur, perr := caddy.ParseDuration(v)
				if perr != nil || dur <= 0 || dur > 24*time.Hour {
					return nil, d.Errf("gatehouse: app %s: oidc access_token_lifetime %q: want a duration from 1s to 24h (e.g. 10m)", app, v)
				}
				o.AccessTokenLifetime = caddy.Duration(dur)
			}
		default:
			return nil, d.Errf("gatehouse: app %s: oidc: unknown subdirective %q (want redirect_uri, post_logout_redirect_uri, client_secret, client_secret_hash, public, access_token_lifetime, userinfo_only_claims, backchannel_logout_uri or consent)", app, sub)
		}
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

// registerApps registers the apps of the global block with core, before
// any guard (a guard's Provision asks for the gatehouse app first).
func (a *App) registerApps() error {
	repl := caddy.NewReplacer()
	for _, d := range a.Apps {
		if d == nil {
			continue
		}
		c := d.config(repl)
		if c.OIDC != nil && c.OIDC.Secret == "" && d.OIDC.ClientSecret != "" {
			return fmt.Errorf("gatehouse: app %s: oidc client_secret %q is empty once its placeholders are replaced: set the environment variable it names", d.Name, d.OIDC.ClientSecret)
		}
		if _, err := a.service.Core().Access.RegisterApp(c); err != nil {
			return fmt.Errorf("gatehouse: %w", err)
		}
	}
	return nil
}
