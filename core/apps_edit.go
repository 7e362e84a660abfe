package core

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Apps made in the portal or through the API, beside those the Caddyfile
// declares. Such an app needs no guard: it is usually a client of the
// OpenID Connect provider (its client id is its name). It is stored
// (store.App, its access rules in store.AppAccess as for every
// portal-managed app) and loaded at start; the Caddyfile's apps are
// read-only here.
//
// Who may make one: holders of apps.write, who may set any portal-managed
// app's access (PATCH /api/v1/apps/{app}), so naming groups and users in a
// new app's allow lists gives nothing they could not give already; and,
// for an OIDC client, users.read too: the app receives the name, email and
// groups of every user it lets in, without a consent screen (it is
// first-party), so nobody hands out a reading they could not do
// (principle 3). For the same reason a client secret dies when the person
// who made it loses apps.write or users.read or their account: another
// admin takes the app over by making a new secret. Not while impersonating:
// a secret is a standing credential. An API key with apps.write (and
// users.read) may make apps, for setup scripts: a client secret is an app's
// credential, not a person's.

// AppSecretPrefix starts every client secret made here, so secret
// scanners can recognise one: "gho_" + 43 base62 characters (32 random
// bytes) + a 6-character checksum, like an API key.
const AppSecretPrefix = "gho_"

// Audit actions of apps made in the portal or API.
const (
	actionAppCreate       = "app.create"
	actionAppDelete       = "app.delete"
	actionAppSecretRotate = "oidc.secret.rotate"
)

// maxAppTitle bounds an app's title, in characters.
const maxAppTitle = 64

// AppSpec is what an admin gives to make an app (POST /api/v1/apps).
type AppSpec struct {
	// Name is the app's name and, for an OIDC client, its client id
	// (group-name rules).
	Name string `json:"name"`
	// Title is shown in the portal. Default: Name.
	Title string `json:"title"`
	// URL is where users open the app (shown in the portal). Optional.
	URL string `json:"url"`
	// AllowGroups and AllowUsers restrict access; both empty: every
	// signed-in user.
	AllowGroups []string `json:"allow_groups"`
	AllowUsers  []string `json:"allow_users"`
	// Require2FA lets in only sessions with a second factor.
	Require2FA bool `json:"require_2fa"`
	// AppPasswords lets the guard take app passwords over HTTP Basic.
	AppPasswords bool `json:"app_passwords"`
	// OIDC makes the app a client of the OpenID Connect provider.
	OIDC *AppOIDCSpec `json:"oidc"`
}

// AppOIDCSpec is the "oidc" object of AppSpec (see OIDCClientConfig).
type AppOIDCSpec struct {
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	Public                 bool     `json:"public"`
	// AccessTokenLifetime is a Go duration ("10m"); "" for the default.
	AccessTokenLifetime  string `json:"access_token_lifetime"`
	UserinfoOnlyClaims   bool   `json:"userinfo_only_claims"`
	BackchannelLogoutURI string `json:"backchannel_logout_uri"`
	// Consent marks a third-party app: its users are asked for consent.
	Consent bool `json:"consent"`
}

// AppOIDCView is an app's OIDC client registration as the API shows it.
type AppOIDCView struct {
	// ClientID is the app's name.
	ClientID               string   `json:"client_id"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	Public                 bool     `json:"public"`
	AccessTokenLifetime    string   `json:"access_token_lifetime"`
	UserinfoOnlyClaims     bool     `json:"userinfo_only_claims"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri"`
	// Consent: a third-party app whose users are asked for consent.
	Consent bool `json:"consent"`
	// ClientSecret is set only in the answer that made it.
	ClientSecret string `json:"client_secret,omitempty"`
	// SecretMadeBy names who made the current secret of an app made here.
	SecretMadeBy string `json:"secret_made_by,omitempty"`
	// Warning says why the client cannot sign anyone in now.
	Warning string `json:"warning,omitempty"`
}

// The kinds of app (App.Kind).
const (
	AppKindGuarded = "guarded"
	AppKindOIDC    = "oidc"
	AppKindBoth    = "both"
	// AppKindLink is an app made in the portal that is neither guarded
	// nor an OIDC client: a link on the portal's home page.
	AppKindLink = "link"
)

// Kind says how the app is reached: through the guard, as an OIDC client,
// both, or neither (a link).
func (a *App) Kind() string {
	switch g, o := a.guarded.Load(), a.OIDC() != nil; {
	case g && o:
		return AppKindBoth
	case o:
		return AppKindOIDC
	case g:
		return AppKindGuarded
	}
	// Neither guarded nor a client: a link in the portal (an app made
	// there, or a global `app` block without a guard).
	return AppKindLink
}

// Guarded reports whether a guard directive protects the app.
func (a *App) Guarded() bool { return a.guarded.Load() }

// appDetails adds what AppViewOf shows beyond the access rules.
func (s *Access) appDetails(a *App, v *AppView) {
	v.Kind, v.InCaddyfile, v.CreatedBy = a.Kind(), !a.Made, a.CreatedBy
	v.CreatedAt = TimeOrNil(a.CreatedAt)
	c := a.OIDC()
	if c == nil {
		return
	}
	o := &AppOIDCView{ClientID: a.Name, RedirectURIs: slices.Clone(c.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs), Public: c.Public,
		AccessTokenLifetime: c.AccessTokenLifetime.String(), UserinfoOnlyClaims: c.UserinfoOnlyClaims,
		BackchannelLogoutURI: c.BackchannelLogoutURI, Consent: c.Consent, SecretMadeBy: c.maker}
	if o.PostLogoutRedirectURIs == nil {
		o.PostLogoutRedirectURIs = []string{}
	}
	if c.maker != "" && !s.appMakerMay(c.maker) {
		o.Warning = "the client secret no longer works: " + c.maker + " made it and no longer holds " +
			string(policies.PermAppsWrite) + " and " + string(policies.PermUsersRead) + "; make a new secret"
	}
	v.OIDC = o
}

// needAppMaker refuses actors who may not make, change or delete apps
// (see the top of this file); oidc says whether the app is an OIDC client.
func needAppMaker(c *Actor, oidc bool) error {
	if err := Need(c, policies.PermAppsWrite); err != nil {
		return err
	}
	if c.Impersonating() {
		return fmt.Errorf("%w: apps cannot be made, changed or deleted while impersonating; stop impersonating first", ErrImpersonating)
	}
	if oidc && !c.Can(policies.PermUsersRead) {
		return fmt.Errorf("%w: an OIDC client receives the profiles of the users it lets in, which needs the %s permission too",
			ErrForbidden, policies.PermUsersRead)
	}
	return nil
}

// appMakerMay reports whether the active user called username may still
// make an OIDC client: apps.write and users.read. It reads the in-memory
// directory only.
func (s *Access) appMakerMay(username string) bool {
	acct, err := s.store.AccountNamed(username)
	if err != nil || !acct.Active(s.now()) {
		return false
	}
	perms, _ := s.PermsOf(acct.Role)
	return perms.Has(policies.PermAppsWrite) && perms.Has(policies.PermUsersRead)
}

// checkAppSpec checks in and returns it as the records to store (without
// the secret).
func (s *Access) checkAppSpec(in AppSpec) (*store.App, *store.AppAccess, error) {
	name := policies.NormalizeUsername(in.Name)
	if err := policies.ValidateGroupName(name); err != nil {
		return nil, nil, Input("name", `may contain only lowercase letters, digits, ".", "-" and "_" (2 to 32 characters)`)
	}
	title := strings.TrimSpace(in.Title)
	switch {
	case title == "":
		title = name
	case len([]rune(title)) > maxAppTitle:
		return nil, nil, Input("title", "may be at most %d characters", maxAppTitle)
	case strings.IndexFunc(title, unicode.IsControl) >= 0:
		return nil, nil, Input("title", "must not contain control characters")
	}
	if in.URL != "" {
		u, err := url.Parse(in.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(in.URL) > 2048 {
			return nil, nil, Input("url", "must be an absolute http(s) URL")
		}
	}
	acc := &store.AppAccess{App: name, Require2FA: in.Require2FA, AppPasswords: in.AppPasswords}
	var err error
	if acc.AllowGroups, err = listedNames("allow_groups", in.AllowGroups); err != nil {
		return nil, nil, err
	}
	if acc.AllowUsers, err = listedNames("allow_users", in.AllowUsers); err != nil {
		return nil, nil, err
	}
	rec := &store.App{Name: name, Title: title, URL: in.URL}
	if in.OIDC == nil {
		return rec, acc, nil
	}
	o := &store.AppOIDC{RedirectURIs: in.OIDC.RedirectURIs, PostLogoutRedirectURIs: in.OIDC.PostLogoutRedirectURIs,
		Public: in.OIDC.Public, UserinfoOnlyClaims: in.OIDC.UserinfoOnlyClaims, BackchannelLogout: in.OIDC.BackchannelLogoutURI,
		Consent: in.OIDC.Consent}
	if l := in.OIDC.AccessTokenLifetime; l != "" {
		d, err := time.ParseDuration(l)
		if err != nil || d < time.Second {
			return nil, nil, Input("oidc.access_token_lifetime", "must be a duration between 1s and 24h, such as 10m")
		}
		o.AccessTokenLifetime = d
	}
	if _, err := s.clientOf(o); err != nil {
		return nil, nil, err
	}
	rec.OIDC = o
	return rec, acc, nil
}

// listedNames normalizes the group or user names of an allow list; an
// error names the entry ("allow_groups[1]").
func listedNames(field string, in []string) ([]string, error) {
	out := []string{}
	for i, n := range in {
		n = policies.NormalizeUsername(n)
		if err := policies.ValidateGroupName(n); err != nil {
			return nil, Input(fmt.Sprintf("%s[%d]", field, i), "%q: %v", n, err)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// clientOf is the checked client of a stored registration.
func (s *Access) clientOf(o *store.AppOIDC) (*OIDCClient, error) {
	cl, err := CheckOIDCClientConfig(OIDCClientConfig{RedirectURIs: o.RedirectURIs, PostLogoutRedirectURIs: o.PostLogoutRedirectURIs,
		Public: o.Public, AccessTokenLifetime: o.AccessTokenLifetime, UserinfoOnlyClaims: o.UserinfoOnlyClaims,
		BackchannelLogoutURI: o.BackchannelLogout, Consent: o.Consent}, s.keyMAC)
	if err != nil {
		return nil, err
	}
	if len(o.SecretMAC) > 0 && !o.Public {
		m := slices.Clone(o.SecretMAC)
		cl.secretMAC.Store(&m)
		cl.maker = o.SecretBy
	}
	return cl, nil
}

// madeApp is the registered app of stored records.
func (s *Access) madeApp(rec *store.App, acc *store.AppAccess) (*App, error) {
	a := &App{Name: rec.Name, Title: rec.Title, URL: rec.URL, Made: true, CreatedBy: rec.CreatedBy, CreatedAt: rec.CreatedAt}
	a.access.Store(policies.CompileAccess(acc.AllowGroups, acc.AllowUsers))
	a.require2FA.Store(acc.Require2FA)
	a.appPasswords.Store(acc.AppPasswords)
	if rec.OIDC != nil {
		cl, err := s.clientOf(rec.OIDC)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", rec.Name, err)
		}
		a.oidc.Store(cl)
	}
	return a, nil
}

// loadMadeApps registers the apps made in the portal or API; an app whose
// record no longer checks is left out and logged.
func (s *Access) loadMadeApps() error {
	recs, err := s.store.ListAppDefs()
	if err != nil {
		return fmt.Errorf("core: load apps: %w", err)
	}
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	for _, rec := range recs {
		acc, err := s.store.AppAccess(rec.Name)
		if errors.Is(err, store.ErrNotFound) {
			acc, err = &store.AppAccess{App: rec.Name}, nil
		}
		if err != nil {
			return fmt.Errorf("core: load app %s: %w", rec.Name, err)
		}
		a, err := s.madeApp(rec, acc)
		if err != nil {
			s.log.Error("an app made in the portal is left out", "app", rec.Name, "error", err)
			continue
		}
		s.apps.apps[a.Name] = a
	}
	return nil
}

// guardMadeApp lets a guard directive (declaration c) protect a made
// earlier in the portal, whose access stays managed there; called with
// apps.mu held.
func (s *Access) guardMadeApp(a *App, c AppConfig, configured bool, client *OIDCClient, host string) (*App, error) {
	switch {
	case configured:
		return nil, fmt.Errorf("app %s was made in the portal, where its access is managed: remove allow_groups/allow_users from the Caddyfile, or delete the app in the portal", a.Name)
	case client != nil || !c.Guarded:
		return nil, fmt.Errorf("app %s was made in the portal: delete it there before declaring it in the Caddyfile", a.Name)
	}
	a.guarded.Store(true)
	if c.Require2FA {
		a.Require2FAConfigured = true
		a.require2FA.Store(true)
	}
	if c.AppPasswords {
		a.AppPasswordsConfigured = true
		a.appPasswords.Store(true)
	}
	if host != "" {
		if a.URL == "" {
			a.URL = c.URL
		}
		s.addAppHost(host)
	}
	return a, nil
}

// appTaken is the conflict of a name already used by a.
func appTaken(a *App) error {
	if a.Made {
		return conflictMsg("an app called %q already exists", a.Name)
	}
	return conflictMsg("app %q is declared in the Caddyfile; pick another name", a.Name)
}

// CreateApp makes an app and returns it with, for a confidential OIDC
// client, its client secret (shown this once; only its keyed hash is
// kept). A name already taken, by the Caddyfile or the portal, is a
// conflict.
func (s *Access) CreateApp(c *Actor, in AppSpec) (AppView, string, error) {
	if err := needAppMaker(c, in.OIDC != nil); err != nil {
		return AppView{}, "", err
	}
	rec, acc, err := s.checkAppSpec(in)
	if err != nil {
		return AppView{}, "", err
	}
	if a, err := s.AppNamed(rec.Name); err == nil {
		return AppView{}, "", appTaken(a)
	}
	rec.CreatedBy = c.User.Username
	var secret string
	if rec.OIDC != nil && !rec.OIDC.Public {
		secret = newAppSecret()
		rec.OIDC.SecretMAC, rec.OIDC.SecretBy, rec.OIDC.SecretAt = clientSecretMAC(s.keyMAC, secret), c.User.Username, s.now()
	}
	if err := s.store.CreateApp(rec, acc); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return AppView{}, "", conflictMsg("an app called %q already exists", rec.Name)
		}
		return AppView{}, "", fmt.Errorf("core: create app: %w", err)
	}
	a, err := s.madeApp(rec, acc)
	if err == nil {
		s.apps.mu.Lock()
		if old, ok := s.apps.apps[a.Name]; ok {
			err = appTaken(old) // declared meanwhile
		} else {
			s.apps.apps[a.Name] = a
		}
		s.apps.mu.Unlock()
	}
	if err != nil {
		if derr := s.store.DeleteApp(rec.Name); derr != nil {
			s.log.Error("undo an app's creation", "app", rec.Name, "error", derr)
		}
		return AppView{}, "", err
	}
	kind := "link"
	if rec.OIDC != nil && rec.OIDC.Public {
		kind = "public OIDC client"
	} else if rec.OIDC != nil {
		kind = "confidential OIDC client"
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionAppCreate, Resource: "app:" + a.Name, Outcome: OutcomeSuccess,
		Reason: kind + ", groups [" + strings.Join(acc.AllowGroups, ",") + "] users [" + strings.Join(acc.AllowUsers, ",") + "]"})
	return s.AppViewOf(a), secret, nil
}

// madeAppNamed returns the app called name for a change by c: it must
// exist and have been made in the portal or API.
func (s *Access) madeAppNamed(c *Actor, name string, oidc bool) (*App, error) {
	if err := needAppMaker(c, oidc); err != nil {
		return nil, err
	}
	a, err := s.AppNamed(name)
	if err != nil {
		return nil, err
	}
	if !a.Made {
		return nil, fmt.Errorf("%w: app %s is declared in the Caddyfile and is read-only here; change it there", ErrForbidden, a.Name)
	}
	return a, nil
}

// RotateClientSecret gives the confidential OIDC client app a new secret
// and returns it (shown this once); the old one stops working at once.
// Tokens already issued stay valid until they expire.
func (s *Access) RotateClientSecret(c *Actor, app string) (string, error) {
	a, err := s.madeAppNamed(c, app, true)
	if err != nil {
		return "", err
	}
	cl := a.OIDC()
	switch {
	case cl == nil:
		return "", conflictMsg("app %s is not an OIDC client", a.Name)
	case cl.Public:
		return "", conflictMsg("app %s is a public client, which has no secret", a.Name)
	}
	secret := newAppSecret()
	rec, err := s.store.UpdateAppDef(a.Name, func(r *store.App) error {
		if r.OIDC == nil || r.OIDC.Public {
			return errors.New("no longer a confidential client")
		}
		r.OIDC.SecretMAC, r.OIDC.SecretBy, r.OIDC.SecretAt = clientSecretMAC(s.keyMAC, secret), c.User.Username, s.now()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("core: rotate client secret: %w", err)
	}
	next, err := s.clientOf(rec.OIDC)
	if err != nil {
		return "", fmt.Errorf("core: rotate client secret: %w", err)
	}
	a.oidc.Store(next)
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionAppSecretRotate, Resource: "app:" + a.Name, Outcome: OutcomeSuccess})
	return secret, nil
}

// OnAppDelete registers f to run after an app made in the portal is
// deleted, for what is kept about it elsewhere: the OpenID Connect
// provider revokes its tokens, codes and consents there.
func (s *Access) OnAppDelete(f func(app string)) {
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	s.apps.onDelete = append(s.apps.onDelete, f)
}

// DeleteApp removes an app made in the portal or API, with its access
// rules; it can no longer sign anyone in. An app a guard protects is
// removed from the Caddyfile first.
func (s *Access) DeleteApp(c *Actor, app string) error {
	a, err := s.madeAppNamed(c, app, false)
	if err != nil {
		return err
	}
	if a.Guarded() {
		return conflictMsg("a gatehouse guard in the Caddyfile protects app %s: remove it there first", a.Name)
	}
	if err := s.store.DeleteApp(a.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("core: delete app: %w", err)
	}
	s.apps.mu.Lock()
	if s.apps.apps[a.Name] == a {
		delete(s.apps.apps, a.Name)
	}
	hooks := slices.Clone(s.apps.onDelete)
	s.apps.mu.Unlock()
	// The client is gone from the registry, so no new token is issued for
	// it; the hooks revoke what was issued (the OIDC provider registers
	// one when it starts).
	for _, f := range hooks {
		f(a.Name)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionAppDelete, Resource: "app:" + a.Name, Outcome: OutcomeSuccess})
	return nil
}

// newAppSecret returns a new client secret.
func newAppSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	body := base62(b[:], keyBodyLen)
	sum := keyChecksum(body)
	return AppSecretPrefix + body + string(sum[:])
}
