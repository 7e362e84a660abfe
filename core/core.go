package core

import (
	"crypto/cipher"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/internal/metrics"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Defaults for Options fields left zero.
const (
	DefaultIdle     = time.Hour
	DefaultLifetime = 12 * time.Hour
	DefaultRemember = 30 * 24 * time.Hour
)

// Options configures a Core. Store is required.
type Options struct {
	// Store is the persistence layer; the Core does not close it.
	Store *store.Store
	// PortalURL is the portal's public base URL, for the links the core
	// makes (invitations, resets, the setup link). Required.
	PortalURL *url.URL
	// CookieDomain is the session cookie's domain ("" for host-only): the
	// hosts a return URL may point to.
	CookieDomain string
	// Idle, Lifetime and Remember are the session limits the stored
	// settings start from (see Settings). Defaults: 1h, 12h, 720h.
	Idle     time.Duration
	Lifetime time.Duration
	Remember time.Duration
	// PasswordRules apply to new passwords unless the stored settings say
	// otherwise. Default: policies.DefaultPasswordRules.
	PasswordRules *policies.PasswordRules
	// Hasher hashes and verifies passwords in a bounded pool. Default: a
	// Hasher with password.DefaultParams.
	Hasher *password.Hasher
	// InviteLifetime and ResetLifetime are how long invitation and reset
	// links work unless the stored settings say otherwise. Defaults: 72h,
	// 1h.
	InviteLifetime time.Duration
	ResetLifetime  time.Duration
	// SecretKey (32 bytes) encrypts second-factor secrets at rest and
	// keys the API-key and device-cookie MACs. Nil: a key generated once
	// and kept in the store.
	SecretKey []byte
	// Mail sends links and notices. Nil: nothing is mailed.
	Mail *mail.Sender
	// Directory, when set, is the external LDAP directory whose people
	// sign in with their directory password (see directory_signin.go).
	Directory *DirectoryOptions
	// Logger receives operational and audit log lines. Default: discard.
	Logger *slog.Logger
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// DirectoryBaseDN is the base DN of the directory server, under which
	// the bind DNs of its clients are made. Default: DefaultDirectoryBaseDN.
	DirectoryBaseDN string
	// Metrics counts sign-ins, lockouts and the like for Prometheus. Nil:
	// nothing is counted.
	Metrics *metrics.Metrics
	// Backup configures the backups the server writes itself (see
	// Backups); nil or an empty Dir: none.
	Backup *BackupOptions
	// OnBackup, when set, is called after every backup attempt (e.g. to
	// count them in metrics); it must not block.
	OnBackup func(BackupResult)
}

// Core is the identity core of one Gatehouse configuration. Its methods
// are safe for concurrent use.
type Core struct {
	store  *store.Store
	hasher *password.Hasher
	mail   *mail.Sender
	// metrics is Options.Metrics (nil-safe).
	metrics *metrics.Metrics
	// mailWake wakes the mail queue's worker (mailqueue.go).
	mailWake chan struct{}
	// digestNow makes the worker look for due digests at once (a changed
	// choice) instead of at its next minute.
	digestNow atomic.Bool
	// resetMu serialises replacing a user's reset link (issueReset), so
	// two requests at once never leave two working links.
	resetMu sync.Mutex
	log     *slog.Logger
	now     func() time.Time

	// defaults are the settings before anything is stored.
	defaults Settings
	settings atomic.Pointer[Settings]
	// logo is the uploaded brand logo, nil for none (branding_logo.go).
	logo atomic.Pointer[BrandLogo]
	// customRoles holds the custom roles compiled (see roles.go).
	customRoles atomic.Pointer[map[string]policies.PermissionSet]

	sealer cipher.AEAD
	// keyMAC is the HMAC key of API keys and device cookies, derived from
	// the server key; keyMACs pools its HMAC states for the hot path.
	keyMAC  []byte
	keyMACs sync.Pool
	// hosts keys the host cookies of apps on other domains (crossdomain.go).
	hosts hostSessions

	// portal is the portal's base URL.
	portal *url.URL
	// dirBase is the directory server's base DN (ldapclients.go).
	dirBase string
	// apps are the protected apps (see apps.go); redirect is the
	// return-URL policy, widened by the apps' hosts.
	apps     *Registry
	redirect policies.RedirectPolicy

	setupMu  sync.Mutex
	setupURL string

	// dir is the external directory (nil: none); see directory_sync.go
	// for the synchronisation's state.
	dir  *DirectoryOptions
	sync directorySync

	backup backupState

	// The core's parts, by resource; each embeds the Core, so they share
	// its store, settings and audit log and reach one another through it.
	Users       *Users
	Access      *Access
	Credentials *Credentials
	Auth        *Auth
	Sessions    *Sessions
	Directory   *Directory
	Backups     *Backups
}

// Users creates, changes, imports and lists accounts and profiles.
type Users struct{ *Core }

// Access is groups, roles and the protected apps: who may reach what.
type Access struct{ *Core }

// Credentials are what proves an account and the links that set one:
// passwords, reset and invitation links, temporary passwords, the setup
// and owner sign-in links, and API keys.
type Credentials struct{ *Core }

// Auth checks passwords and second factors, with the lockout and the
// trusted devices that keep it from locking out the account's owner.
type Auth struct{ *Core }

// Sessions lists and ends sessions and rules on impersonation.
type Sessions struct{ *Core }

// Directory is the external LDAP directory as a source of people:
// sign-in by a bind against it, and its synchronisation.
type Directory struct{ *Core }

// New fills opts' defaults, loads the stored settings, roles and server
// key, and returns a Core.
func New(opts Options) (*Core, error) {
	if opts.Store == nil {
		return nil, errors.New("core: no store")
	}
	if opts.PortalURL == nil {
		return nil, errors.New("core: no portal URL")
	}
	if opts.Directory != nil && opts.Directory.Client == nil {
		return nil, errors.New("core: a directory without a client")
	}
	c := &Core{store: opts.Store, hasher: opts.Hasher, mail: opts.Mail, log: opts.Logger, now: opts.Now, apps: NewRegistry(), dir: opts.Directory, metrics: opts.Metrics,
		portal: opts.PortalURL, mailWake: make(chan struct{}, 1), redirect: policies.RedirectPolicy{Portal: opts.PortalURL, CookieDomain: opts.CookieDomain}}
	if c.hasher == nil {
		c.hasher = password.NewHasher(password.HasherOptions{Params: password.DefaultParams(), OnWait: opts.Metrics.HashWait})
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.dirBase = opts.DirectoryBaseDN; c.dirBase == "" {
		c.dirBase = DefaultDirectoryBaseDN
	}
	rules := policies.DefaultPasswordRules()
	if opts.PasswordRules != nil {
		rules = *opts.PasswordRules
	}
	c.defaults = Settings{
		SessionIdle:      Duration(orDuration(opts.Idle, DefaultIdle)),
		SessionLifetime:  Duration(orDuration(opts.Lifetime, DefaultLifetime)),
		SessionRemember:  Duration(orDuration(opts.Remember, DefaultRemember)),
		LockoutThreshold: DefaultLockoutThreshold,
		LockoutDuration:  Duration(DefaultLockoutDuration),
		PasswordRules:    rules,
		InviteLifetime:   Duration(orDuration(opts.InviteLifetime, DefaultInviteLifetime)),
		ResetLifetime:    Duration(orDuration(opts.ResetLifetime, DefaultResetLifetime)),
		AuditRetention:   Duration(DefaultAuditRetention),

		ImpersonationLifetime: Duration(DefaultImpersonationLifetime),
		TempPasswordLifetime:  Duration(DefaultTempPasswordLifetime),
		BrandName:             DefaultBrandName,
	}
	c.Users, c.Access, c.Credentials, c.Auth, c.Sessions = &Users{c}, &Access{c}, &Credentials{c}, &Auth{c}, &Sessions{c}
	c.Directory = &Directory{c}
	c.Backups = &Backups{c}
	if opts.Backup != nil {
		c.backup.opts = *opts.Backup
	}
	c.backup.onBackup = opts.OnBackup
	if err := c.loadSettings(); err != nil {
		return nil, err
	}
	if err := c.ReloadRoles(); err != nil {
		return nil, err
	}
	if err := c.loadSecretKey(opts.SecretKey); err != nil {
		return nil, err
	}
	if err := c.Access.loadMadeApps(); err != nil {
		return nil, err
	}
	store.ClusterOf(c.store).OnRemoteChange(c.applyRemote) // other nodes' writes (cluster.go)
	return c, nil
}

// Store returns the store the core keeps its records in.
func (c *Core) Store() *store.Store { return c.store }

// Hasher returns the password hashing pool.
func (c *Core) Hasher() *password.Hasher { return c.hasher }

// Mail returns the mail sender, or nil when none is configured.
func (c *Core) Mail() *mail.Sender { return c.mail }

// Log returns the logger.
func (c *Core) Log() *slog.Logger { return c.log }

// Now returns the current time by the core's clock.
func (c *Core) Now() time.Time { return c.now() }

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
