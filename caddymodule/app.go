package caddymodule

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/internal/metrics"
	"github.com/gatehouse-auth/gatehouse/portal"
	"github.com/gatehouse-auth/gatehouse/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `gatehouse` Caddy app. It owns the store and the identity
// service of the process; the guard and portal handlers use it. It is
// configured from the Caddyfile's global options block:
//
//	{
//		gatehouse {
//			storage       /var/lib/gatehouse
//			portal_url    https://auth.example.com
//			cookie_domain example.com
//			cookie_name   gatehouse_session
//			session {
//				idle     1h
//				lifetime 12h
//				remember 720h
//			}
//			headers {
//				user         Remote-User
//				email        Remote-Email
//				name         Remote-Name
//				groups       Remote-Groups
//				impersonator Remote-Impersonator
//				role         Remote-Role
//				jwt          X-Gatehouse-JWT
//			}
//			invite_lifetime 72h
//			reset_lifetime  1h
//			smtp {
//				host     smtp.example.com
//				port     587
//				username gatehouse@example.com
//				password {env.SMTP_PASSWORD}
//				from     "Gatehouse <gatehouse@example.com>"
//				tls      starttls
//			}
//			oidc google {
//				issuer        https://accounts.google.com
//				client_id     1234.apps.googleusercontent.com
//				client_secret {env.GOOGLE_CLIENT_SECRET}
//				display_name  Google
//				link_by_email
//			}
//			directory ldap {
//				url           ldaps://ldap.example.com
//				bind_dn       cn=gatehouse,ou=system,dc=example,dc=com
//				bind_password {env.LDAP_PASSWORD}
//				base_dn       ou=people,dc=example,dc=com
//				auto_create
//				sync_groups
//			}
//			backup {
//				every 24h
//				keep  14
//				dir   /var/backups/gatehouse
//			}
//		}
//	}
type App struct {
	// Storage is the directory of the embedded Badger database. It is
	// created (mode 0700) if missing. It may hold placeholders such as
	// {env.GATEHOUSE_DIR}, replaced at provision time. Default: Caddy's
	// data directory + "/gatehouse".
	//
	// Or a PostgreSQL URL, postgres://user:password@host:5432/db?sslmode=…
	// (e.g. with {env.PGPASSWORD}): see store.Open and keyDirOf.
	Storage string `json:"storage,omitempty"`

	// PortalURL is the public base URL of the portal, e.g.
	// "https://auth.example.com": where unauthenticated users are sent to
	// sign in, and the base of every link Gatehouse makes. Required.
	PortalURL string `json:"portal_url,omitempty"`

	// CookieDomain is the Domain of the session cookie, so one sign-in
	// reaches every app under it (e.g. "example.com" for
	// grafana.example.com). It must contain the portal's host. Default:
	// empty, a host-only cookie (apps on the portal's host, any port).
	CookieDomain string `json:"cookie_domain,omitempty"`

	// CookieName is the name of the session cookie. Default:
	// "gatehouse_session".
	CookieName string `json:"cookie_name,omitempty"`

	// Session sets session timeouts.
	Session *SessionConfig `json:"session,omitempty"`

	// Headers renames the identity headers sent upstream.
	Headers *HeaderNames `json:"headers,omitempty"`

	// InviteLifetime is how long an invitation link works; the portal's
	// settings page can override it. Default: 72h.
	InviteLifetime caddy.Duration `json:"invite_lifetime,omitempty"`

	// ResetLifetime is how long a password-reset link works; the portal's
	// settings page can override it. Default: 1h.
	ResetLifetime caddy.Duration `json:"reset_lifetime,omitempty"`

	// SMTP, when set, lets Gatehouse email invitation and reset links.
	// Its string fields may hold placeholders such as {env.SMTP_PASSWORD},
	// replaced at provision time. Without it, links are only shown to the
	// admin who made them.
	SMTP *mail.Config `json:"smtp,omitempty"`

	// OIDC lists the external OpenID Connect providers people may sign in
	// with ("Sign in with …" on the login page). A provider's metadata is
	// fetched at the first sign-in through it, so a provider that is down
	// never stops Caddy from loading the config.
	OIDC []*OIDCConfig `json:"oidc,omitempty"`

	// Directory is the external directory (LDAP, Active Directory) whose
	// people sign in with their directory password; see LDAPDirectory. A
	// directory that is down never stops Caddy from loading the config,
	// nor local accounts from signing in.
	Directory *DirectoryConfig `json:"directory,omitempty"`
	// LDAPServer, when set, runs the directory server (see
	// LDAPServerConfig).
	LDAPServer *LDAPServerConfig `json:"ldap_server,omitempty"`
	// Apps declares apps in the global block (see AppDecl): OpenID
	// Connect clients, and rules a bare `gatehouse <app>` guard uses.
	Apps []*AppDecl `json:"apps,omitempty"`
	// OIDCProvider configures Gatehouse's own OpenID Connect provider's
	// signing keys (see OIDCProviderConfig).
	OIDCProvider *OIDCProviderConfig `json:"oidc_provider,omitempty"`
	// Backup makes the server take backups on a schedule and on request
	// (see BackupConfig).
	Backup *BackupConfig `json:"backup,omitempty"`

	dir     string         // the storage: a directory or a PostgreSQL URL
	keyDir  string         // where the server key is: dir, or Caddy's data directory for PostgreSQL
	headers portal.Headers // canonical names, defaults filled in
	service *portal.Service
	store   *store.Store
	ldap    *ldapRuntime
}

// SessionConfig sets session timeouts. Zero fields take their defaults.
type SessionConfig struct {
	// Idle ends a session after this long without a request. Default: 1h.
	Idle caddy.Duration `json:"idle,omitempty"`
	// Lifetime ends a session this long after sign-in, active or not.
	// Default: 12h.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	// Remember is the lifetime of a "keep me signed in" session, which has
	// no idle limit and a persistent cookie. Default: 720h (30 days).
	Remember caddy.Duration `json:"remember,omitempty"`
}

// OIDCConfig configures one external OpenID Connect provider:
//
//	oidc <name> {
//		issuer        <url>
//		client_id     <id>
//		client_secret <secret>
//		scopes        <scope>…
//		display_name  <text>
//		groups_claim  <claim>
//		group_map     <external group> <local group>
//		auto_create
//		link_by_email
//		trusted_mfa
//	}
//
// Register <portal_url>/login/oidc/<name>/callback as the redirect URI at
// the provider.
type OIDCConfig struct {
	// Name identifies the provider in URLs (/login/oidc/<name>), in the
	// audit log and in how a session signed in ("oidc:<name>"). Group-name
	// rules: 2–32 lowercase letters, digits, ".", "-" and "_". Required.
	Name string `json:"name"`

	// Issuer is the provider's issuer URL, e.g.
	// "https://accounts.google.com"; its discovery document is
	// Issuer + "/.well-known/openid-configuration". It must be https
	// (http only on localhost). May hold placeholders such as {env.X}.
	// Required.
	Issuer string `json:"issuer"`

	// ClientID is the client registered at the provider. May hold
	// placeholders. Required.
	ClientID string `json:"client_id"`

	// ClientSecret is the client's secret; use a placeholder such as
	// {env.GOOGLE_CLIENT_SECRET} to keep it out of the config. Empty for a
	// public client.
	ClientSecret string `json:"client_secret,omitempty"`

	// Scopes are requested at the provider ("openid" is always added).
	// Default: openid email profile.
	Scopes []string `json:"scopes,omitempty"`

	// DisplayName is the provider's name on the login page ("Sign in with
	// <DisplayName>") and the profile. Default: Name.
	DisplayName string `json:"display_name,omitempty"`

	// GroupsClaim names the claim that lists the account's groups, e.g.
	// "groups". Empty: groups are not taken from the provider.
	GroupsClaim string `json:"groups_claim,omitempty"`

	// GroupMap maps external group names (as the provider sends them) to
	// local group names. With a map only mapped groups are given; without
	// one every external group that is a valid group name is. Groups are
	// added to the user at each sign-in (and created when missing), never
	// removed.
	GroupMap map[string]string `json:"group_map,omitempty"`

	// AutoCreate makes a local user (role user, no password) at the first
	// sign-in of an account that is not linked to anyone.
	AutoCreate bool `json:"auto_create,omitempty"`

	// LinkByEmail links an account that is not linked yet to the local
	// user with the same email address, when the provider says the
	// address is verified.
	LinkByEmail bool `json:"link_by_email,omitempty"`

	// TrustedMFA says the provider enforces multi-factor authentication:
	// a sign-in through it is a two-factor session. Otherwise it is the
	// first factor only, and users with a second factor (or under
	// mandatory 2FA) must still pass it.
	TrustedMFA bool `json:"trusted_mfa,omitempty"`
}

// provider returns oc as portal options, with placeholders in its issuer,
// client id and secret replaced by repl.
func (oc *OIDCConfig) provider(repl *caddy.Replacer) portal.OIDCProvider {
	return portal.OIDCProvider{
		Name:         oc.Name,
		DisplayName:  oc.DisplayName,
		Issuer:       repl.ReplaceKnown(oc.Issuer, ""),
		ClientID:     repl.ReplaceKnown(oc.ClientID, ""),
		ClientSecret: repl.ReplaceKnown(oc.ClientSecret, ""),
		Scopes:       oc.Scopes,
		GroupsClaim:  oc.GroupsClaim,
		GroupMap:     oc.GroupMap,
		AutoCreate:   oc.AutoCreate,
		LinkByEmail:  oc.LinkByEmail,
		TrustedMFA:   oc.TrustedMFA,
	}
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "gatehouse",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision checks the whole config, then opens (or shares) the store and
// builds the identity service. A bad config is refused before the storage
// directory is touched. When a step after opening the store fails, the
// store stays referenced until Cleanup, which Caddy calls after a failed
// Provision, lets go of it.
func (a *App) Provision(ctx caddy.Context) error {
	opts, err := a.options()
	if err != nil {
		return err
	}
	log := ctx.Slogger()
	routeSlog()
	st, err := openStore(a.dir, log)
	if err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	a.store = st
	if err := os.MkdirAll(a.keyDir, 0o700); err != nil {
		return fmt.Errorf("gatehouse: server key: %w", err)
	}
	key, err := loadSecretKey(filepath.Join(a.keyDir, secretKeyFile))
	if err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	opts.Store, opts.SecretKey, opts.Logger = st, key, log
	opts.Metrics = metrics.New()
	if a.service, err = portal.New(opts); err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	if err := registerMetrics(ctx, opts.Metrics, a.service.Core()); err != nil {
		return err
	}
	if err := a.registerApps(); err != nil {
		return err
	}
	return a.provisionLDAP(ctx, a.service.Core())
}

// options checks the config and returns it as portal options (without the
// store, key and logger), with a.dir and a.headers set. It touches no file.
func (a *App) options() (portal.Options, error) {
	pu, err := parsePortalURL(a.PortalURL)
	if err != nil {
		return portal.Options{}, err
	}
	var sess SessionConfig
	if a.Session != nil {
		sess = *a.Session
	}
	for name, d := range map[string]caddy.Duration{"idle": sess.Idle, "lifetime": sess.Lifetime, "remember": sess.Remember} {
		if d < 0 {
			return portal.Options{}, fmt.Errorf("gatehouse: session %s: must not be negative", name)
		}
	}
	if a.InviteLifetime < 0 || a.ResetLifetime < 0 {
		return portal.Options{}, errors.New("gatehouse: invite_lifetime and reset_lifetime must not be negative")
	}
	var hn HeaderNames
	if a.Headers != nil {
		hn = *a.Headers
	}
	if err := checkHeaderNames(hn); err != nil {
		return portal.Options{}, err
	}
	headers := portal.Headers{User: hn.User, Email: hn.Email, Name: hn.Name, Groups: hn.Groups, Impersonator: hn.Impersonator, Role: hn.Role, JWT: hn.JWT}
	a.headers = canonicalHeaders(headers)
	if err := portal.CheckCookie(a.CookieName, a.CookieDomain, pu); err != nil {
		return portal.Options{}, fmt.Errorf("gatehouse: %w", err)
	}
	var sender *mail.Sender
	if a.SMTP != nil {
		mc := *a.SMTP
		repl := caddy.NewReplacer()
		for _, f := range []*string{&mc.Host, &mc.Username, &mc.Password, &mc.From} {
			*f = repl.ReplaceKnown(*f, "")
		}
		if sender, err = mail.New(mc); err != nil {
			return portal.Options{}, fmt.Errorf("gatehouse: smtp: %w", err)
		}
	}
	baseDN := ""
	var dirServer *portal.DirectoryServerInfo
	if lc := a.LDAPServer; lc != nil {
		if err := lc.check(); err != nil {
			return portal.Options{}, fmt.Errorf("gatehouse: %w", err)
		}
		baseDN = lc.BaseDN
		dirServer = &portal.DirectoryServerInfo{Listen: lc.Listen, ListenTLS: lc.ListenTLS, TLSServerName: lc.TLSServerName}
		if dirServer.TLSServerName == "" {
			dirServer.TLSServerName = pu.Hostname()
		}
	}
	var providers []portal.OIDCProvider
	for _, oc := range a.OIDC {
		if oc == nil {
			continue
		}
		p := oc.provider(caddy.NewReplacer())
		if err := p.Validate(); err != nil {
			return portal.Options{}, fmt.Errorf("gatehouse: %w", err)
		}
		for _, q := range providers {
			if q.Name == p.Name {
				return portal.Options{}, fmt.Errorf("gatehouse: oidc provider %q is configured twice", p.Name)
			}
		}
		providers = append(providers, p)
	}
	opc := OIDCProviderConfig{}
	if a.OIDCProvider != nil {
		if err := a.OIDCProvider.check(); err != nil {
			return portal.Options{}, fmt.Errorf("gatehouse: %w", err)
		}
		opc = *a.OIDCProvider
	}
	var backup *core.BackupOptions
	if a.Backup != nil {
		if backup, err = a.Backup.options(); err != nil {
			return portal.Options{}, err
		}
	}
	var dirOpts *core.DirectoryOptions
	if a.Directory != nil && a.Directory.LDAP != nil {
		if dirOpts, err = a.Directory.LDAP.options(caddy.NewReplacer()); err != nil {
			return portal.Options{}, err
		}
	}

	a.dir = caddy.NewReplacer().ReplaceKnown(a.Storage, "")
	if a.dir == "" && a.Storage != "" {
		return portal.Options{}, fmt.Errorf("gatehouse: storage %q is empty once its placeholders are replaced: set the environment variable it names", a.Storage)
	}
	if a.dir == "" {
		a.dir = filepath.Join(caddy.AppDataDir(), "gatehouse")
	}
	if !store.IsPostgresURL(a.dir) {
		if a.dir, err = filepath.Abs(a.dir); err != nil {
			return portal.Options{}, fmt.Errorf("gatehouse: storage %s: %w", a.Storage, err)
		}
	}
	a.keyDir = keyDirOf(a.dir)
	return portal.Options{
		PortalURL:    pu,
		CookieName:   a.CookieName,
		CookieDomain: a.CookieDomain,
		Idle:         time.Duration(sess.Idle),
		Lifetime:     time.Duration(sess.Lifetime),
		Remember:     time.Duration(sess.Remember),
		Headers:      headers,
		ClientIP:     clientIP,
		// Caddy marks a request from one of the server's trusted_proxies.
		TrustedProxy: func(r *http.Request) bool {
			trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
			return trusted
		},

		InviteLifetime:  time.Duration(a.InviteLifetime),
		ResetLifetime:   time.Duration(a.ResetLifetime),
		Mail:            sender,
		OIDC:            providers,
		Directory:       dirOpts,
		DirectoryBaseDN: baseDN,
		DirectoryServer: dirServer,

		OIDCSigningAlgorithm: opc.SigningAlgorithm,
		OIDCKeyRotation:      time.Duration(opc.KeyRotation),
		Backup:               backup,
	}, nil
}

// Start logs the first-owner setup link when the store has no user, and
// starts the directory server when configured.
func (a *App) Start() error {
	if err := a.service.Start(); err != nil {
		return err
	}
	return a.startLDAP()
}

// Stop stops the directory server and the scheduled directory
// synchronisation; the store outlives a reload and is closed in Cleanup.
func (a *App) Stop() error {
	if a.service != nil {
		a.service.Stop()
	}
	return a.stopLDAP()
}

// Cleanup lets go of the shared store; the last config to do so closes it.
// Caddy calls it after a failed Provision too, so a store opened before the
// failure is released (its Badger lock freed); it does nothing when the
// store was never opened, or on a second call.
func (a *App) Cleanup() error {
	if a.store == nil {
		return nil
	}
	a.store = nil
	return releaseStore(a.dir)
}

// Service returns the identity service (for the handlers and admin API).
func (a *App) Service() *portal.Service { return a.service }

// parsePortalURL checks the portal_url option.
func parsePortalURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("gatehouse: portal_url is required (e.g. portal_url https://auth.example.com)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gatehouse: portal_url %q: must be an absolute http or https URL", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("gatehouse: portal_url %q: must be scheme://host[:port] only, with no path, query or user info", raw)
	}
	return u, nil
}

// clientIP is Caddy's idea of the client address (it honours the server's
// trusted_proxies).
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// secretKeyFile holds the server key that encrypts second-factor secrets.
// It lives beside the database files (Badger ignores it) with mode 0600, so
// a copy of the database alone does not reveal TOTP secrets when backups
// leave it out.
const secretKeyFile = "secret.key"

// loadSecretKey reads the 32-byte server key at path, creating it on first
// start.
func loadSecretKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make server key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return loadSecretKey(path) // another config made it first
		}
		if err != nil {
			return nil, fmt.Errorf("create server key %s: %w", path, err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("write server key %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("write server key %s: %w", path, err)
		}
		return key, f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("read server key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("server key %s: want 32 bytes, found %d (restore the original file; without it TOTP secrets cannot be read)", path, len(key))
	}
	return key, nil
}
