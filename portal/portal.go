package portal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/internal/metrics"
	"github.com/gatehouse-auth/gatehouse/oidcprovider"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Defaults for Options fields left zero.
const (
	DefaultCookieName = "gatehouse_session"
	DefaultIdle       = time.Hour
	DefaultLifetime   = 12 * time.Hour
	DefaultRemember   = 30 * 24 * time.Hour
)

// Headers names the identity headers sent upstream. Empty fields take the
// defaults of DefaultHeaders.
type Headers struct {
	User   string
	Email  string
	Name   string
	Groups string
	// Impersonator carries the username of the administrator acting as
	// the user (see impersonation.go); it is sent only then.
	Impersonator string
	// JWT, when set, carries a signed identity assertion (assertion.go):
	// a short-lived ES256 JWT an app can verify with the JWKS. Empty (the
	// default): none is sent.
	JWT string
	// Role carries the user's Gatehouse role (owner, admin, user or a
	// custom role's name). Empty: no role header is sent, and a client's
	// Remote-Role is still removed (DefaultRoleHeader).
	Role string
}

// DefaultRoleHeader is removed from every request passed on even when no
// role header is configured, so an app set up to trust it never sees a
// client's value.
const DefaultRoleHeader = "Remote-Role"

// DefaultHeaders is the header contract of DESIGN.md §3.
var DefaultHeaders = Headers{
	User:         "Remote-User",
	Email:        "Remote-Email",
	Name:         "Remote-Name",
	Groups:       "Remote-Groups",
	Impersonator: "Remote-Impersonator",
}

// Options configures a Service. Store and PortalURL are required.
type Options struct {
	// Store is the persistence layer; the Service does not close it.
	Store *store.Store
	// PortalURL is the portal's public base URL (scheme and host, no path).
	PortalURL *url.URL
	// CookieName names the session cookie. Default: gatehouse_session.
	CookieName string
	// CookieDomain, when set, is the session cookie's Domain so the
	// session reaches every app under it. Empty: host-only cookie.
	CookieDomain string
	// Idle ends a session after this long without a request. Default: 1h.
	Idle time.Duration
	// Lifetime ends a session this long after sign-in. Default: 12h.
	Lifetime time.Duration
	// Remember is the lifetime of a "keep me signed in" session, which has
	// no idle limit. Default: 720h.
	Remember time.Duration
	// Headers names the identity headers. Default: DefaultHeaders.
	Headers Headers
	// PasswordRules apply to new passwords. Default: policies.DefaultPasswordRules.
	PasswordRules *policies.PasswordRules
	// Hasher hashes and verifies passwords in a bounded pool. Default: a
	// Hasher with password.DefaultParams.
	Hasher *password.Hasher
	// ClientIP returns the client address of a request (for the audit log).
	// Default: the host of r.RemoteAddr.
	ClientIP func(r *http.Request) string
	// TrustedProxy reports whether a request comes from one of the
	// server's trusted proxies, whose X-Forwarded-* headers the
	// forward-auth endpoints believe (forwardauth.go). Default: none is.
	TrustedProxy func(r *http.Request) bool
	// InviteLifetime is how long an invitation link works, unless the
	// stored settings say otherwise. Default: 72h.
	InviteLifetime time.Duration
	// ResetLifetime is how long a password-reset link works, unless the
	// stored settings say otherwise. Default: 1h.
	ResetLifetime time.Duration
	// SecretKey (32 bytes) encrypts second-factor secrets at rest. Nil: a
	// key generated once and kept in the store.
	SecretKey []byte
	// Mail sends invitation and reset links. Nil: links are only shown to
	// the admin who made them.
	Mail *mail.Sender
	// OIDC lists the external OpenID Connect providers people may sign in
	// with ("Sign in with …"). Their metadata is fetched at the first
	// sign-in, not here, so an unreachable provider does not stop the
	// portal.
	OIDC []OIDCProvider
	// Directory, when set, is the external LDAP directory people sign in
	// with (see core.DirectoryOptions).
	Directory *core.DirectoryOptions
	// Logger receives operational and audit log lines. Default: discard.
	Logger *slog.Logger
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// DirectoryBaseDN is the directory server's base DN, under which the
	// bind DNs of its clients are made. Default: core.DefaultDirectoryBaseDN.
	DirectoryBaseDN string
	// DirectoryServer, when set, says where the directory server listens,
	// for the page of its bind clients (/admin/ldap). Nil: the server is
	// off.
	DirectoryServer *DirectoryServerInfo
	// Metrics counts sign-ins, guard decisions and the like for
	// Prometheus (see internal/metrics). Nil: nothing is counted.
	Metrics *metrics.Metrics
	// OIDCSigningAlgorithm signs the OpenID Connect provider's ID tokens:
	// RS256 or ES256. Default: RS256.
	OIDCSigningAlgorithm string
	// OIDCKeyRotation, when positive, rotates the provider's signing key
	// once it is that old. Zero: rotation by command only.
	OIDCKeyRotation time.Duration

	// Backup configures the backups the server writes itself (see
	// core.BackupOptions); nil: none.
	Backup *core.BackupOptions
	// OnBackup, when set, is called after every backup attempt (see
	// core.Options.OnBackup).
	OnBackup func(core.BackupResult)
}

// DirectoryServerInfo is where the directory server listens.
type DirectoryServerInfo struct {
	// Listen are the plain LDAP (StartTLS) addresses; ListenTLS the LDAPS
	// ones.
	Listen, ListenTLS []string
	// TLSServerName is the name of its certificate.
	TLSServerName string
}

// Service is the identity service of one Gatehouse configuration.
type Service struct {
	// core holds the accounts and their rules; the Service is its HTTP
	// surface.
	core     *core.Core
	store    *store.Store
	portal   *url.URL
	cookie   cookieConfig
	headers  Headers
	identity identityHeaderSet // the names of headers, folded (access.go)
	clientIP func(*http.Request) string
	log      *slog.Logger
	now      func() time.Time
	mail     *mail.Sender

	// trustedProxy is Options.TrustedProxy; nil trusts no proxy.
	trustedProxy func(*http.Request) bool

	// pageKeyCache holds the CSRF/flash key once read from the store.
	pageKeyCache atomic.Pointer[[]byte]

	// wa is the WebAuthn relying party; nil when the portal's host cannot
	// be one (an IP address), which turns security keys and passkeys off.
	wa      *waRP
	pages   *pageSets
	handler http.Handler

	// throttle limits attempts per client IP on the routes that check a
	// secret (see throttle.go); clientThrottle the client authentications
	// of apps at the OpenID Connect provider.
	throttle, clientThrottle *throttle

	// oidc holds the external sign-in providers, in configuration order
	// (see oidc.go).
	oidc []*oidcProvider

	// syncWorker, backupsWorker and mailWorker are the background workers Start starts and
	// Stop ends and waits for: the scheduled directory synchronisation,
	// the backup schedule and the security e-mail queue's worker.
	syncWorker, backupsWorker, mailWorker worker

	// dirServer is where the directory server listens; nil when it is
	// off.
	dirServer *DirectoryServerInfo

	// op is the OpenID Connect provider; nil until Start finds an app
	// that is one of its clients.
	op   atomic.Pointer[oidcprovider.Provider]
	opMu sync.Mutex // held while the provider starts
	// opKeys configures the provider's signing keys (oidckeys.go).
	opKeys oidcKeys
	// assertions signs the identity assertions (assertion.go); nil when
	// Headers.JWT is not set.
	assertions *oidcprovider.Assertions
}

// New validates opts, fills defaults and returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("portal: no store")
	}
	pu, err := checkPortalURL(opts.PortalURL)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:          opts.Store,
		portal:         pu,
		headers:        opts.Headers.withDefaults(),
		clientIP:       opts.ClientIP,
		log:            opts.Logger,
		now:            opts.Now,
		throttle:       newThrottle(throttleMaxClients, throttleBurst),
		clientThrottle: newThrottle(throttleMaxClients, clientThrottleBurst),
		mail:           opts.Mail,

		dirServer:    opts.DirectoryServer,
		trustedProxy: opts.TrustedProxy,
	}
	s.identity = newIdentityHeaderSet(s.headers)
	if s.clientIP == nil {
		s.clientIP = remoteHost
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.cookie = cookieConfig{
		name:   opts.CookieName,
		domain: strings.TrimPrefix(strings.ToLower(opts.CookieDomain), "."),
		secure: pu.Scheme == "https",
	}
	if s.cookie.name == "" {
		s.cookie.name = DefaultCookieName
	}
	if err := CheckCookie(s.cookie.name, s.cookie.domain, pu); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if s.core, err = core.New(core.Options{
		Store: opts.Store, PortalURL: pu, CookieDomain: s.cookie.domain,
		Idle: opts.Idle, Lifetime: opts.Lifetime, Remember: opts.Remember, PasswordRules: opts.PasswordRules,
		Hasher: opts.Hasher, InviteLifetime: opts.InviteLifetime, ResetLifetime: opts.ResetLifetime,
		SecretKey: opts.SecretKey, Mail: s.mail, Logger: s.log, Now: s.now, Directory: opts.Directory,
		DirectoryBaseDN: opts.DirectoryBaseDN, Metrics: opts.Metrics, Backup: opts.Backup, OnBackup: opts.OnBackup,
	}); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if s.opKeys, err = newOIDCKeys(opts.OIDCSigningAlgorithm, opts.OIDCKeyRotation); err != nil {
		return nil, err
	}
	if s.assertions, err = newAssertions(s.core, pu, s.headers, opts.OIDCKeyRotation); err != nil {
		return nil, err
	}
	if s.oidc, err = s.signInUI().newOIDCProviders(opts.OIDC); err != nil {
		return nil, err
	}
	if s.wa, err = newRelyingParty(pu, s.cookie.domain); err != nil {
		s.log.Warn("security keys and passkeys are off", "error", err)
		s.wa, err = nil, nil
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.pages.defaultLang = func() string { return s.core.Settings().DefaultLanguage }
	s.pages.brand = s.core.BrandName
	s.signInUI().bindOIDCPages()
	s.bindPages()
	s.handler = s.routes()
	return s, nil
}

// checkPortalURL accepts an absolute http(s) URL with a host and no path,
// query or fragment, and returns it normalised (no trailing slash).
func checkPortalURL(u *url.URL) (*url.URL, error) {
	if u == nil {
		return nil, errors.New("portal: no portal URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("portal: portal URL %q: scheme must be http or https", u)
	}
	if u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("portal: portal URL %q: needs a host and no user info", u)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("portal: portal URL %q: must not have a path, query or fragment", u)
	}
	return &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}, nil
}

// PortalURL returns the portal's base URL.
func (s *Service) PortalURL() *url.URL { u := *s.portal; return &u }

// Start runs the start-up duties: it drops audit events older than the
// retention setting and, when no user exists yet, makes a one-time setup
// link and logs it. It is called once per configuration.
func (s *Service) Start() error {
	s.core.PruneAudit()
	if err := startOIDCProvider(s); err != nil {
		return err
	}
	if s.core.Directory.Enabled() {
		s.syncWorker.start(s.core.Directory.RunSync)
	}
	s.backupsWorker.start(s.core.Backups.RunSchedule)
	s.mailWorker.start(s.core.RunMailQueue)
	return s.core.Credentials.OfferSetup()
}

// Stop ends what Start started and waits for it: a directory
// synchronisation, a backup being written or an e-mail being sent is
// cancelled through its context, or finishes.
func (s *Service) Stop() {
	s.syncWorker.stop()
	s.backupsWorker.stop()
	s.mailWorker.stop()
}

// worker is a background goroutine of the portal, started once.
type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs fn in a goroutine until stop, unless it is running already.
func (w *worker) start(fn func(context.Context)) {
	if w.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		fn(ctx)
	}(w.done)
}

// stop cancels the goroutine's context and waits until it returns.
func (w *worker) stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	w.cancel, w.done = nil, nil
}

// ServeHTTP serves the portal pages and the JSON API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveForwardAuth(w, r) {
		return
	}
	if serveOIDCProvider(s, w, r) {
		return
	}
	s.handler.ServeHTTP(w, r)
}

func (h Headers) withDefaults() Headers {
	if h.User == "" {
		h.User = DefaultHeaders.User
	}
	if h.Email == "" {
		h.Email = DefaultHeaders.Email
	}
	if h.Name == "" {
		h.Name = DefaultHeaders.Name
	}
	if h.Groups == "" {
		h.Groups = DefaultHeaders.Groups
	}
	if h.Impersonator == "" {
		h.Impersonator = DefaultHeaders.Impersonator
	}
	h.User = http.CanonicalHeaderKey(h.User)
	h.Email = http.CanonicalHeaderKey(h.Email)
	h.Name = http.CanonicalHeaderKey(h.Name)
	h.Groups = http.CanonicalHeaderKey(h.Groups)
	h.Impersonator = http.CanonicalHeaderKey(h.Impersonator)
	if h.Role != "" {
		h.Role = http.CanonicalHeaderKey(h.Role)
	}
	if h.JWT != "" {
		h.JWT = http.CanonicalHeaderKey(h.JWT)
	}
	return h
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// CheckCookie checks the session cookie's name (empty: the default) and
// domain (empty: host-only) against the portal URL pu: a name of letters,
// digits, '-' and '_', and a domain that contains the portal's host. The
// Caddy app calls it before it opens the store.
func CheckCookie(name, domain string, pu *url.URL) error {
	if name != "" && !validCookieName(name) {
		return fmt.Errorf("cookie name %q: only letters, digits, '-' and '_' are allowed", name)
	}
	domain = strings.TrimPrefix(strings.ToLower(domain), ".")
	if domain != "" && !hostWithin(pu.Hostname(), domain) {
		return fmt.Errorf("cookie domain %q does not contain the portal host %q", domain, pu.Hostname())
	}
	return nil
}

// hostWithin reports whether host is domain or a subdomain of it.
func hostWithin(host, domain string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == domain || strings.HasSuffix(host, "."+domain)
}

// Core returns the identity core the portal is the HTTP surface of; the
// other surfaces (the guard, the CLI) call it directly.
func (s *Service) Core() *core.Core { return s.core }
