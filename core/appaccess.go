package core

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

const actionAppAccess = "app.access"

// AppView is an app as the API shows it.
type AppView struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	URL   string `json:"url"`
	// Configured: access is set in the Caddyfile and read-only here.
	Configured  bool     `json:"configured"`
	AllowGroups []string `json:"allow_groups"`
	AllowUsers  []string `json:"allow_users"`
	// Open: every signed-in user may use the app.
	Open bool `json:"open"`
	// Operators may change this app's access without other admin rights.
	Operators []string `json:"operators"`
	// Require2FA: only sessions with a second factor get in.
	Require2FA bool `json:"require_2fa"`
	// AppPasswords: the guard takes app passwords over HTTP Basic.
	AppPasswords bool `json:"app_passwords"`
	// Kind is how the app is reached: guarded, oidc, both, or link (see
	// App.Kind).
	Kind string `json:"kind"`
	// InCaddyfile: the app is declared in the Caddyfile (read-only here);
	// false for an app made in the portal or API, by CreatedBy at
	// CreatedAt.
	InCaddyfile bool       `json:"in_caddyfile"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
	// OIDC is the app's OpenID Connect client registration, if any.
	OIDC *AppOIDCView `json:"oidc,omitempty"`
	// LastUsedAt is when the OpenID Connect provider last issued the
	// app tokens (filled in by the portal; nil when never).
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// AppAccessInput changes a portal-managed app's access; nil fields stay.
type AppAccessInput struct {
	AllowGroups *[]string `json:"allow_groups"`
	AllowUsers  *[]string `json:"allow_users"`
	Operators   *[]string `json:"operators"`
	Require2FA  *bool     `json:"require_2fa"`
	// AppPasswords switches HTTP Basic with app passwords on or off.
	AppPasswords *bool `json:"app_passwords"`
}

// AppViewOf is the app a as the API shows it.
func (s *Access) AppViewOf(a *App) AppView {
	acc := a.Access()
	v := AppView{Name: a.Name, Title: a.Title, URL: a.URL, Configured: a.Configured,
		AllowGroups: acc.AllowGroups(), AllowUsers: acc.AllowUsers(), Open: acc.Open(), Operators: []string{},
		Require2FA: a.RequiresSecondFactor(), AppPasswords: a.TakesAppPasswords()}
	if st, err := s.store.AppAccess(a.Name); err == nil && st.Operators != nil {
		v.Operators = st.Operators
	}
	if v.AllowGroups == nil {
		v.AllowGroups = []string{}
	}
	if v.AllowUsers == nil {
		v.AllowUsers = []string{}
	}
	s.appDetails(a, &v)
	return v
}

// AppNamed returns the registered app called name.
func (s *Access) AppNamed(name string) (*App, error) {
	s.apps.mu.RLock()
	defer s.apps.mu.RUnlock()
	a, ok := s.apps.apps[name]
	if !ok {
		return nil, NotFoundf("app %q", name)
	}
	return a, nil
}

// IsAppOperator reports whether u is one of the operators of app.
func (s *Access) IsAppOperator(u *store.User, app string) bool {
	st, err := s.store.AppAccess(app)
	return err == nil && slices.Contains(st.Operators, u.Username)
}

// MayEditApp: apps.write, or operator of this app.
func (s *Access) MayEditApp(c *Actor, app string) bool {
	return c.Can(policies.PermAppsWrite) || s.IsAppOperator(c.User, app)
}

func normalizeNames(field string, in []string, check func(string) error) ([]string, error) {
	out := []string{}
	for _, n := range in {
		n = policies.NormalizeUsername(n)
		if n == "" {
			continue
		}
		if err := check(n); err != nil {
			return nil, Input(field, "%q: %v", n, err)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// UpdateAppAccess changes who may use a portal-managed app, effective on
// the next request. Only holders of apps.write change its operators.
func (s *Access) UpdateAppAccess(c *Actor, name string, in AppAccessInput) (AppView, error) {
	a, err := s.AppNamed(name)
	if err != nil {
		return AppView{}, err
	}
	if !s.MayEditApp(c, a.Name) {
		return AppView{}, fmt.Errorf("%w: changing app access needs the %s permission or being this app's operator", ErrForbidden, policies.PermAppsWrite)
	}
	if a.Require2FAConfigured && in.Require2FA != nil && !*in.Require2FA {
		return AppView{}, fmt.Errorf("%w: app %s requires a second factor in the Caddyfile", ErrForbidden, a.Name)
	}
	if a.AppPasswordsConfigured && in.AppPasswords != nil && !*in.AppPasswords {
		return AppView{}, fmt.Errorf("%w: app %s takes app passwords in the Caddyfile", ErrForbidden, a.Name)
	}
	if a.Configured && (in.AllowGroups != nil || in.AllowUsers != nil) {
		return AppView{}, fmt.Errorf("%w: the access of app %s is set in the Caddyfile and is read-only here", ErrForbidden, a.Name)
	}
	if in.Operators != nil && !c.Can(policies.PermAppsWrite) {
		return AppView{}, fmt.Errorf("%w: changing an app's operators needs the %s permission", ErrForbidden, policies.PermAppsWrite)
	}
	rec, err := s.store.AppAccess(a.Name)
	if errors.Is(err, store.ErrNotFound) {
		acc := a.Access()
		rec, err = &store.AppAccess{App: a.Name}, nil
		if !a.Configured {
			rec.AllowGroups, rec.AllowUsers = acc.AllowGroups(), acc.AllowUsers()
		}
	}
	if err != nil {
		return AppView{}, fmt.Errorf("core: app access: %w", err)
	}
	if in.AllowGroups != nil {
		if rec.AllowGroups, err = normalizeNames("allow_groups", *in.AllowGroups, policies.ValidateGroupName); err != nil {
			return AppView{}, err
		}
	}
	if in.AllowUsers != nil {
		if rec.AllowUsers, err = normalizeNames("allow_users", *in.AllowUsers, policies.ValidateGroupName); err != nil {
			return AppView{}, err
		}
	}
	if in.Operators != nil {
		exists := func(n string) error {
			if _, err := s.store.UserByUsername(n); err != nil {
				return errors.New("no such user")
			}
			return nil
		}
		if rec.Operators, err = normalizeNames("operators", *in.Operators, exists); err != nil {
			return AppView{}, err
		}
	}
	if in.Require2FA != nil {
		rec.Require2FA = *in.Require2FA
	}
	if in.AppPasswords != nil {
		rec.AppPasswords = *in.AppPasswords
	}
	if err := s.store.PutAppAccess(rec); err != nil {
		return AppView{}, fmt.Errorf("core: store app access: %w", err)
	}
	if !a.Configured {
		a.access.Store(policies.CompileAccess(rec.AllowGroups, rec.AllowUsers))
	}
	a.require2FA.Store(a.Require2FAConfigured || rec.Require2FA)
	a.appPasswords.Store(a.AppPasswordsConfigured || rec.AppPasswords)
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionAppAccess, Resource: "app:" + a.Name, Outcome: OutcomeSuccess,
		Reason: "groups [" + strings.Join(rec.AllowGroups, ",") + "] users [" + strings.Join(rec.AllowUsers, ",") +
			"] operators [" + strings.Join(rec.Operators, ",") + "] require_2fa " + strconv.FormatBool(a.RequiresSecondFactor()) +
			" app_passwords " + strconv.FormatBool(a.TakesAppPasswords())})
	return s.AppViewOf(a), nil
}

// reloadAppAccess re-reads the stored access of every portal-managed app,
// after a group rename or delete rewrote it.
func (s *Access) reloadAppAccess() {
	for _, a := range s.Apps() {
		if a.Configured {
			continue
		}
		if st, err := s.store.AppAccess(a.Name); err == nil {
			a.access.Store(policies.CompileAccess(st.AllowGroups, st.AllowUsers))
		}
	}
}
