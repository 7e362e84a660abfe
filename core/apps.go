package core

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// AppConfig declares an app protected by the guard, as written in a
// `gatehouse <app> { … }` directive.
type AppConfig struct {
	// Name identifies the app; several directives may share it when they
	// agree on everything else.
	Name string
	// Title is shown in the portal. Default: Name.
	Title string
	// URL is where users open the app (shown in the portal and allowed as
	// a return target after login). Optional.
	URL string
	// AllowGroups and AllowUsers restrict access. When both are empty the
	// app's access is managed in the portal (default: every signed-in user).
	AllowGroups []string
	AllowUsers  []string
	// Require2FA lets in only sessions with a second factor. For a
	// portal-managed app the portal can also switch it on.
	Require2FA bool
	// AppPasswords lets the guard take app passwords over HTTP Basic from
	// non-browser clients (see Credentials.CheckAppPasswordAccess). For a
	// portal-managed app the portal can also switch it on.
	AppPasswords bool
	// OIDC, when set, makes the app a client of the OpenID Connect
	// provider (client id: Name).
	OIDC *OIDCClientConfig
	// Guarded is set by the `gatehouse <app>` guard directive: requests to
	// the app pass through the guard (see App.Kind).
	Guarded bool
	// Global marks a declaration of the Caddyfile's global block (`app
	// <name> { … }`): a later bare declaration of the same name (a guard
	// with no settings of its own) uses it rather than conflicting.
	Global bool
}

// bare reports whether c declares nothing but its name.
func (c *AppConfig) bare() bool {
	return c.Title == "" && c.URL == "" && len(c.AllowGroups) == 0 && len(c.AllowUsers) == 0 && !c.Require2FA && !c.AppPasswords && c.OIDC == nil
}

// App is a registered app: its declaration and its current access rule.
type App struct {
	Name  string
	Title string
	URL   string
	// Configured is true when access comes from the Caddyfile (read-only
	// in the portal).
	Configured bool

	// Require2FAConfigured is the Caddyfile's require_2fa.
	Require2FAConfigured bool
	// AppPasswordsConfigured is the Caddyfile's app_passwords.
	AppPasswordsConfigured bool

	// Made is true for an app made in the portal or through the API
	// (apps_edit.go) rather than declared in the Caddyfile; CreatedBy and
	// CreatedAt say by whom and when.
	Made      bool
	CreatedBy string
	CreatedAt time.Time

	guarded atomic.Bool
	// global is AppConfig.Global of the first declaration.
	global bool

	access     atomic.Pointer[policies.Access]
	require2FA atomic.Bool
	// appPasswords: the guard takes app passwords over HTTP Basic.
	appPasswords atomic.Bool
	oidc         atomic.Pointer[OIDCClient]
	// decisions counts the guard's decisions (appdecisions.go).
	decisions decisionCounts
}

// OIDC returns the app's registration with the OpenID Connect provider, or
// nil when it is not a client.
func (a *App) OIDC() *OIDCClient { return a.oidc.Load() }

// RequiresSecondFactor reports whether the app lets in only sessions with a
// second factor.
func (a *App) RequiresSecondFactor() bool { return a.require2FA.Load() }

// TakesAppPasswords reports whether the guard takes app passwords over
// HTTP Basic for the app.
func (a *App) TakesAppPasswords() bool { return a.appPasswords.Load() }

// Access returns the app's current access rule.
func (a *App) Access() *policies.Access { return a.access.Load() }

// Registry holds the protected apps by name.
type Registry struct {
	mu    sync.RWMutex
	apps  map[string]*App
	hosts []string
	// onDelete run after an app made in the portal is deleted (see
	// Access.OnAppDelete).
	onDelete []func(app string)
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{apps: make(map[string]*App)} }

// RegisterApp declares an app and returns its handle for Check. Declaring the
// same name again returns the same App when the declarations agree, and an
// error naming the difference when they do not.
func (s *Access) RegisterApp(c AppConfig) (*App, error) {
	name := strings.TrimSpace(c.Name)
	if err := policies.ValidateGroupName(name); err != nil {
		return nil, fmt.Errorf("app name %q: use lowercase letters, digits, '.', '-' or '_' (2–32 characters)", c.Name)
	}
	for _, g := range c.AllowGroups {
		if err := policies.ValidateGroupName(policies.NormalizeUsername(g)); err != nil {
			return nil, fmt.Errorf("app %s: allow_groups %q: %v", name, g, err)
		}
	}
	for _, u := range c.AllowUsers {
		// Character rules only: a reserved name is harmless in an allow list.
		if err := policies.ValidateGroupName(policies.NormalizeUsername(u)); err != nil {
			return nil, fmt.Errorf("app %s: allow_users %q: %v", name, u, err)
		}
	}
	if c.AppPasswords && c.Require2FA {
		return nil, fmt.Errorf("app %s: app_passwords and require_2fa exclude each other: an app password is not a second factor, so an app that requires one takes none", name)
	}
	var host string
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("app %s: url %q: must be an absolute http(s) URL", name, c.URL)
		}
		host = strings.ToLower(u.Hostname())
	}
	var client *OIDCClient
	if c.OIDC != nil {
		var err error
		if client, err = CheckOIDCClientConfig(*c.OIDC, s.keyMAC); err != nil {
			return nil, fmt.Errorf("app %s: %w", name, err)
		}
		if client.Confidential() && !client.HasSecret() {
			return nil, fmt.Errorf("app %s: oidc: a confidential client needs client_secret or client_secret_hash (or declare it public)", name)
		}
	}
	title := c.Title
	if title == "" {
		title = name
	}
	access := policies.CompileAccess(c.AllowGroups, c.AllowUsers)
	configured := !access.Open()

	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	if a, ok := s.apps.apps[name]; ok && a.Made {
		return s.guardMadeApp(a, c, configured, client, host)
	} else if ok {
		if a.global && c.bare() && !c.Global {
			// A bare guard for an app the global block declares.
			if c.Guarded {
				a.guarded.Store(true)
			}
			return a, nil
		}
		switch {
		case a.Configured != configured || (configured && !a.Access().Equal(access)):
			return nil, fmt.Errorf("app %s is declared twice with different allow_groups/allow_users", name)
		case a.Require2FAConfigured != c.Require2FA:
			return nil, fmt.Errorf("app %s is declared twice with different require_2fa", name)
		case a.AppPasswordsConfigured != c.AppPasswords:
			return nil, fmt.Errorf("app %s is declared twice with different app_passwords", name)
		case a.Title != title:
			return nil, fmt.Errorf("app %s is declared twice with different titles (%q and %q)", name, a.Title, title)
		case c.URL != "" && a.URL != "" && a.URL != c.URL:
			return nil, fmt.Errorf("app %s is declared twice with different urls (%q and %q)", name, a.URL, c.URL)
		}
		if client != nil && a.OIDC() != nil {
			return nil, fmt.Errorf("app %s declares oidc twice", name)
		}
		if a.URL == "" && c.URL != "" {
			a.URL = c.URL
			s.addAppHost(host)
		}
		if client != nil {
			a.oidc.Store(client)
		}
		if c.Guarded {
			a.guarded.Store(true)
		}
		return a, nil
	}
	a := &App{Name: name, Title: title, URL: c.URL, Configured: configured, Require2FAConfigured: c.Require2FA,
		AppPasswordsConfigured: c.AppPasswords, global: c.Global}
	require2FA, appPasswords := c.Require2FA, c.AppPasswords
	if stored, err := s.store.AppAccess(name); err == nil {
		// Portal-managed access: the stored rule, or open to every
		// signed-in user until an admin sets one. A stored require_2fa
		// adds to the Caddyfile's, never removes it.
		if !configured {
			access = policies.CompileAccess(stored.AllowGroups, stored.AllowUsers)
		}
		require2FA = require2FA || stored.Require2FA
		appPasswords = appPasswords || stored.AppPasswords
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("app %s: load access: %w", name, err)
	}
	a.access.Store(access)
	a.require2FA.Store(require2FA)
	a.appPasswords.Store(appPasswords)
	if client != nil {
		a.oidc.Store(client)
	}
	a.guarded.Store(c.Guarded)
	s.apps.apps[name] = a
	s.addAppHost(host)
	return a, nil
}

// addAppHost allows host as a return target; called with apps.mu held.
func (s *Access) addAppHost(host string) {
	if host == "" || slices.Contains(s.apps.hosts, host) {
		return
	}
	s.apps.hosts = append(s.apps.hosts, host)
	rp := s.redirect
	rp.AppHosts = slices.Clone(s.apps.hosts)
	s.redirect = rp
}

// Apps returns the registered apps sorted by title.
func (s *Access) Apps() []*App {
	s.apps.mu.RLock()
	defer s.apps.mu.RUnlock()
	out := make([]*App, 0, len(s.apps.apps))
	for _, a := range s.apps.apps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Title) < strings.ToLower(out[j].Title) })
	return out
}

// RedirectPolicy returns the current return-URL policy.
func (s *Access) RedirectPolicy() policies.RedirectPolicy {
	s.apps.mu.RLock()
	defer s.apps.mu.RUnlock()
	return s.redirect
}

// AppsFor returns the apps u may open.
func (s *Access) AppsFor(u *store.User) []*App {
	var out []*App
	acct := store.AccountOf(u)
	subj := s.SubjectOf(&acct)
	for _, a := range s.Apps() {
		if a.Access().Decide(subj).Allow {
			out = append(out, a)
		}
	}
	return out
}

// Admits reports whether app's access rules let the account u in (the
// rules alone: not the password's age nor the app's second-factor rule,
// which Decide adds for the guard).
func (s *Access) Admits(app *App, u *store.Account) bool {
	return app.Access().Decide(s.SubjectOf(u)).Allow
}

// SubjectOf is the account u as the access rules of package policies
// see it.
func (s *Access) SubjectOf(u *store.Account) policies.Subject {
	perms, _ := s.PermsOf(u.Role)
	return policies.Subject{Username: u.Username, Groups: u.Groups, AccessAll: perms.Has(policies.PermAppsAccessAll)}
}
