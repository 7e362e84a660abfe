// Package metrics defines Gatehouse's Prometheus metrics: sign-ins, second
// factors, lockouts, throttling, guard decisions, live sessions, API keys
// and app passwords, the password-hashing queue, the directory server and
// the OpenID Connect provider. Every metric has a fixed set of label
// values: a value outside it is counted as "other", so no username, address
// or other caller-chosen string ever becomes a series.
//
// A *Metrics is nil-safe: every method of a nil *Metrics does nothing, so
// code built without metrics (tests, the CLI) needs no checks. Counting
// never allocates nor hashes labels: every series is resolved when the
// Metrics is made. Caddy's glue registers it with Caddy's registry
// (Register), so the series appear on Caddy's /metrics.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric name.
const Namespace = "gatehouse"

// Other is the label value of anything outside a label's fixed set.
const Other = "other"

// Label values. Each list is the whole set of its label, "other" last.
var (
	// SignInMethods are the methods of gatehouse_sign_ins_total.
	SignInMethods = []string{"password", "temp_password", "passkey", "oidc", "directory", "ldap", "owner_login", Other}
	// SignInResults are the results of gatehouse_sign_ins_total.
	SignInResults = []string{"success", "failure", "throttled", "locked", "busy", Other}
	// SecondFactorMethods are the methods of gatehouse_second_factor_total.
	SecondFactorMethods = []string{"totp", "backup_code", "webauthn", Other}
	// SecondFactorResults are the results of gatehouse_second_factor_total.
	SecondFactorResults = []string{"success", "failure", Other}
	// ThrottleSurfaces are the surfaces of gatehouse_throttled_total.
	ThrottleSurfaces = []string{"portal", "guard", "ldap", Other}
	// AppPasswordResults are the results of gatehouse_app_password_uses_total.
	AppPasswordResults = []string{"success", "failure", "throttled", Other}
	// LDAPOps are the operations of gatehouse_ldap_operations_total.
	LDAPOps = []string{"bind", "search", Other}
	// LDAPResults are the results of gatehouse_ldap_operations_total.
	LDAPResults = []string{"success", "failure", "throttled", Other}
	// OIDCGrants are the grants of gatehouse_oidc_tokens_issued_total.
	OIDCGrants = []string{"authorization_code", "refresh_token", Other}
	// BackupResults are the results of gatehouse_backups_total.
	BackupResults = []string{"success", "failure", Other}
)

// HashWaitBuckets are the buckets of gatehouse_hash_wait_seconds: from no
// wait (a free worker) to the seconds a flood queues for.
var HashWaitBuckets = []float64{0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Names lists every metric this package exports, for documentation and
// for the dashboard's test.
var Names = []string{
	"gatehouse_sign_ins_total",
	"gatehouse_second_factor_total",
	"gatehouse_lockouts_total",
	"gatehouse_throttled_total",
	"gatehouse_guard_decisions_total",
	"gatehouse_sessions_active",
	"gatehouse_api_key_uses_total",
	"gatehouse_app_password_uses_total",
	"gatehouse_hash_wait_seconds",
	"gatehouse_hash_queue_depth",
	"gatehouse_ldap_operations_total",
	"gatehouse_oidc_tokens_issued_total",
	"gatehouse_backups_total",
}

// Metrics holds Gatehouse's collectors. Make it with New; the zero value
// and nil count nothing.
type Metrics struct {
	signIns      grid
	secondFactor grid
	throttled    grid
	appPasswords grid
	ldap         grid
	oidcTokens   grid
	backups      grid
	lockouts     prometheus.Counter
	apiKeyUses   prometheus.Counter
	hashWait     prometheus.Histogram
	collectors   []prometheus.Collector
}

// New makes the collectors, with every series of every fixed label set
// present from the start (at zero), so dashboards and alerts see them
// before the first event.
func New() *Metrics {
	m := &Metrics{
		signIns: newGrid("sign_ins_total", "Sign-ins by method and result (a sign-in that needs a second factor counts here once its first factor passes; see gatehouse_second_factor_total).",
			[]string{"method", "result"}, SignInMethods, SignInResults),
		secondFactor: newGrid("second_factor_total", "Second steps of sign-in by method and result.",
			[]string{"method", "result"}, SecondFactorMethods, SecondFactorResults),
		throttled: newGrid("throttled_total", "Requests refused because their client address made too many failed attempts, by surface.",
			[]string{"surface"}, ThrottleSurfaces),
		appPasswords: newGrid("app_password_uses_total", "App passwords presented to the guard over HTTP Basic, by result.",
			[]string{"result"}, AppPasswordResults),
		ldap: newGrid("ldap_operations_total", "Directory server operations by operation and result.",
			[]string{"op", "result"}, LDAPOps, LDAPResults),
		oidcTokens: newGrid("oidc_tokens_issued_total", "Tokens issued by the OpenID Connect provider, by grant.",
			[]string{"grant"}, OIDCGrants),
		backups: newGrid("backups_total", "Backups the server wrote itself (scheduled or Back up now), by result; a failure is also shown in the portal.",
			[]string{"result"}, BackupResults),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "lockouts_total",
			Help: "Accounts or trusted devices locked after too many failed sign-ins."}),
		apiKeyUses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "api_key_uses_total",
			Help: "Valid API keys presented, at the guard or to the JSON API."}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "hash_wait_seconds",
			Help: "Time a password hash or verification waited for a worker of the bounded argon2id pool.", Buckets: HashWaitBuckets}),
	}
	m.collectors = []prometheus.Collector{m.signIns.vec, m.secondFactor.vec, m.throttled.vec, m.appPasswords.vec,
		m.ldap.vec, m.oidcTokens.vec, m.backups.vec, m.lockouts, m.apiKeyUses, m.hashWait}
	return m
}

// Sources are the values read at scrape time rather than counted.
type Sources struct {
	// SessionsActive returns how many sessions are live now.
	SessionsActive func() int
	// HashQueueDepth returns how many hashes wait for a worker now.
	HashQueueDepth func() int
	// GuardDecisions calls yield for every protected app and guard
	// outcome with the number of decisions so far.
	GuardDecisions func(yield func(app, outcome string, n uint64))
}

// Register registers the collectors and the scrape-time sources with reg
// (Caddy's registry, caddy.Context.GetMetricsRegistry). It fails when a
// collector of the same name is already registered there.
func (m *Metrics) Register(reg prometheus.Registerer, src Sources) error {
	if m == nil {
		return nil
	}
	cs := append([]prometheus.Collector(nil), m.collectors...)
	if f := src.SessionsActive; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "sessions_active",
			Help: "Live sessions (signed in, not expired), from the in-memory session index."}, func() float64 { return float64(f()) }))
	}
	if f := src.HashQueueDepth; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "hash_queue_depth",
			Help: "Password hashes waiting for a worker of the argon2id pool."}, func() float64 { return float64(f()) }))
	}
	if src.GuardDecisions != nil {
		cs = append(cs, guardCollector(src.GuardDecisions))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// SignIn counts a sign-in of method (SignInMethods) with result
// (SignInResults).
func (m *Metrics) SignIn(method, result string) {
	if m != nil {
		m.signIns.inc(method, result)
	}
}

// SecondFactor counts a second step of method (SecondFactorMethods) with
// result (SecondFactorResults).
func (m *Metrics) SecondFactor(method, result string) {
	if m != nil {
		m.secondFactor.inc(method, result)
	}
}

// Lockout counts an account or trusted device locked.
func (m *Metrics) Lockout() {
	if m != nil {
		m.lockouts.Inc()
	}
}

// Throttled counts a request refused by the per-address throttle of
// surface (ThrottleSurfaces).
func (m *Metrics) Throttled(surface string) {
	if m != nil {
		m.throttled.inc(surface, "")
	}
}

// APIKeyUse counts a valid API key presented.
func (m *Metrics) APIKeyUse() {
	if m != nil {
		m.apiKeyUses.Inc()
	}
}

// AppPasswordUse counts an app password presented over HTTP Basic, with
// result (AppPasswordResults).
func (m *Metrics) AppPasswordUse(result string) {
	if m != nil {
		m.appPasswords.inc(result, "")
	}
}

// Backup counts a backup written with result (BackupResults).
func (m *Metrics) Backup(result string) {
	if m != nil {
		m.backups.inc(result, "")
	}
}

// HashWait records how long a hash waited for a worker.
func (m *Metrics) HashWait(d time.Duration) {
	if m != nil {
		m.hashWait.Observe(d.Seconds())
	}
}

// LDAP counts a directory server operation op (LDAPOps) with result
// (LDAPResults).
func (m *Metrics) LDAP(op, result string) {
	if m != nil {
		m.ldap.inc(op, result)
	}
}

// OIDCToken counts tokens issued by the OpenID Connect provider through
// grant (OIDCGrants).
func (m *Metrics) OIDCToken(grant string) {
	if m != nil {
		m.oidcTokens.inc(grant, "")
	}
}
