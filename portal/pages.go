package portal

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The admin pages. Every handler is registered in routes_pages.go behind
// the permission of the JSON API call it mirrors, and calls the same
// service method, so the pages and the API enforce the same rules.

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// pageNames are the templates under web/templates, each parsed with
// layout.html and partials.html into its own set.
var pageNames = []string{
	"login", "setup", "home", "logout", "error",
	// Self-service.
	"profile", "password", "forgot", "forgot_sent", "reset", "reset_done", "invite", "owner_login", "email_confirm",
	// Second factors.
	"login_2fa", "totp_setup", "backup_codes",
	// Administration.
	"users", "user_new", "user_import", "user", "link",
	"groups", "group", "apps", "app", "app_secret", "roles", "role", "ldap",
	"sessions", "invitations", "audit", "settings",
	// Sign-in with external providers.
	"oidc_error",
	// The OpenID Connect provider's consent page.
	"oidc_consent",
}

// pageFuncs are the helpers templates may call, besides the ones of the
// page's language and time zone (pages_lang.go: t, thtml, lang, ago,
// until, date, datetime).
var pageFuncs = template.FuncMap{
	"iso":     func(v any) string { return fmtTime(v, time.RFC3339) },
	"join":    strings.Join,
	"dur":     fmtDuration,
	"userURL": userURL,
	"esc":     url.PathEscape,
	"has":     func(list []string, v string) bool { return slices.Contains(list, v) },
	"initial": initial,
	"dict":    dict,
	// languages are the languages of the catalogue.
	"languages": func() []string { return i18n.Supported },

	// Bound to each Service by bindPages.
	"mailEnabled": func() bool { return false },
	"brand":       func() brandView { return brandView{Name: core.DefaultBrandName, LogoURL: defaultLogoPath} },
	"rules":       func() string { return "" },

	// Bound to each Service by bindOIDCPages (oidc.go).
	"oidcProviders":  func() []oidcButton { return nil },
	"linkedAccounts": func(string) (*linkedAccounts, error) { return nil, nil },
}

// bindPages points the page templates' service helpers at s: whether
// email is set up (pages offer email only then), the branding, and the
// messages naming the product by the brand name setting.
func (s *Service) bindPages() {
	s.pages.funcs(template.FuncMap{"mailEnabled": s.mail.Enabled, "brand": brandingAPI{s}.brandView})
	for tag, pages := range s.pages.base {
		l := i18n.Get(tag)
		fm := langFuncs(l, s.core.BrandName)
		fm["rules"] = func() string { return describeRules(l.Branded(s.core.BrandName()), s.core.PasswordRules()) }
		for _, t := range pages {
			t.Funcs(fm)
		}
	}
}

// dict builds the argument of a partial template from key, value pairs.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, errors.New("dict: keys must be strings")
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// staticFS is served under /assets/.
func staticFS() http.FileSystem {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return http.FS(sub)
}

// page is the data every template receives.
type page struct {
	Title         string
	User          *pageUser
	Flash         string
	Error         string
	ErrorField    string // the form field Error is about, filled in by render
	Form          map[string]string
	Apps          []pageApp
	PasswordRules string
	Status        int
	Message       string
	// Portal is the portal's origin on the pages the guard serves on an
	// app's host (renderGuardPage): links and assets start with it, and
	// forms become links. Empty on the portal.
	Portal string

	// The fields below are set on the pages of a signed-in user.

	// Nav is the navigation the caller may use; Section names the
	// current entry.
	Nav     []navItem
	Section string
	// Can holds the caller's permissions by name, so templates show only
	// the controls the caller may use (the server checks again).
	Can map[string]bool
	// CSRF is the token every POST form carries in its "csrf" field.
	CSRF string
	// Now is the service's clock, for relative times.
	Now time.Time
	// Data is the page's own content.
	Data any
	// Impersonating, when set, shows the banner of an impersonation with
	// its Stop button.
	Impersonating *pageImpersonation
}

type pageUser struct {
	Username, FullName, Email, Role string
	Groups                          []string
	// Language and TimeZone choose the page's language and the zone of
	// its times (pages_lang.go).
	Language, TimeZone string
}

type pageApp struct{ Name, Title, URL string }

// navItem is one entry of the signed-in navigation.
type navItem struct {
	Key, Label, Href string
	Admin            bool
}

func pageUserOf(u *store.User) *pageUser {
	if u == nil {
		return nil
	}
	return &pageUser{Username: u.Username, FullName: u.FullName, Email: u.Email, Role: u.Role, Groups: u.Groups,
		Language: u.Language, TimeZone: u.TimeZone}
}

// render executes page name into a buffer first, so a template error never
// sends half a page. The page is in the language of p.User's profile, else
// of r's Accept-Language (r may be nil), with times in p.User's zone.
func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.Error != "" && p.ErrorField == "" {
		p.ErrorField = errorField(p.Error)
	}
	var profile, zone, accept string
	if p.User != nil {
		profile, zone = p.User.Language, p.User.TimeZone
	}
	if r != nil {
		accept = r.Header.Get("Accept-Language")
	}
	tag := i18n.Negotiate(profile, accept, s.core.Settings().DefaultLanguage)
	if tag != i18n.Default {
		l := i18n.Get(tag).Branded(s.core.BrandName())
		p.Error, p.Message = s.pages.msgs.say(l, p.Error), s.pages.msgs.say(l, p.Message)
	}
	var buf bytes.Buffer
	t, err := s.pages.page(tag, zone, name)
	if err == nil {
		err = t.ExecuteTemplate(&buf, "layout", p)
	}
	if err != nil {
		s.log.Error("render page", "page", name, "language", tag, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", tag)
	setPageSecurityHeaders(h)
	if p.Portal != "" {
		h.Set("Content-Security-Policy", guardPageCSP(p.Portal))
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows the error page. When u is the signed-in user of a
// portal request, the page keeps their navigation.
func (s *Service) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string, u *store.User) {
	if u != nil && r != nil && strings.EqualFold(r.Host, s.portal.Host) {
		if c, res := s.callerOf(r); res == resolvedOK && c.User.ID == u.ID {
			s.pageError(w, r, c, status, title, msg)
			return
		}
	}
	s.render(w, r, status, "error", page{Title: title, Status: status, Message: msg, User: pageUserOf(u)})
}

// basePage returns the page data every signed-in page starts from: the
// caller, their navigation and permissions, the CSRF token and the flash
// message left by the previous request (which it consumes).
func (s *Service) basePage(w http.ResponseWriter, r *http.Request, c *caller, title, section string) page {
	p := page{
		Title:   title,
		User:    pageUserOf(c.User),
		Section: section,
		Can:     map[string]bool{},
		CSRF:    s.csrfToken(c),
		Now:     s.now(),
		Form:    map[string]string{},

		Impersonating: impersonationBanner(c),
	}
	for _, perm := range policies.AllPermissions() {
		if c.Can(perm) {
			p.Can[string(perm)] = true
		}
	}
	p.Nav = s.navFor(c)
	if w != nil && r != nil {
		p.Flash = s.takeFlash(w, r, c)
	}
	return p
}

// navFor lists the pages c may open, in the order shown.
func (s *Service) navFor(c *caller) []navItem {
	nav := []navItem{{Key: "home", Label: s.pages.tr(c, "nav.home"), Href: "/"}, {Key: "profile", Label: s.pages.tr(c, "nav.profile"), Href: "/profile"}}
	add := func(ok bool, key, label string) {
		if ok {
			nav = append(nav, navItem{Key: key, Label: label, Href: "/admin/" + key, Admin: true})
		}
	}
	add(c.Can(policies.PermUsersRead), "users", "Users")
	add(c.Can(policies.PermGroupsRead), "groups", "Groups")
	add(c.Can(policies.PermAppsRead) || s.operatesAnyApp(c.User), "apps", "Apps")
	add(c.Can(policies.PermRolesRead), "roles", "Roles")
	add(c.Can(policies.PermSessionsRead), "sessions", "Sessions")
	add(c.Can(policies.PermInvitationsRead), "invitations", "Invitations")
	add(c.Can(policies.PermAuditRead), "audit", "Audit log")
	add(c.Can(policies.PermSettingsRead), "settings", "Settings")
	add(c.Can(policies.PermSettingsWrite), "ldap", s.pages.tr(c, "nav.ldap"))
	return nav
}

// operatesAnyApp reports whether u is an operator of at least one app.
func (s *Service) operatesAnyApp(u *store.User) bool {
	for _, a := range s.core.Access.Apps() {
		if s.core.Access.IsAppOperator(u, a.Name) {
			return true
		}
	}
	return false
}

// pageError shows the error page to a signed-in caller, with navigation.
func (s *Service) pageError(w http.ResponseWriter, r *http.Request, c *caller, status int, title, msg string) {
	p := s.basePage(nil, nil, c, title, "")
	p.Status, p.Message = status, msg
	s.render(w, r, status, "error", p)
}

// pageFail shows err (a service error) as an error page with its status.
func (s *Service) pageFail(w http.ResponseWriter, r *http.Request, c *caller, err error) {
	status, msg := s.statusOf(err)
	s.pageError(w, r, c, status, s.pages.tr(c, statusTitle(status)), sentence(msg))
}

// statusTitle is the catalogue ID of the title of an error page.
func statusTitle(status int) string {
	switch status {
	case 400, 401, 403, 404, 409, 410, 413, 429, 500, 503:
		return "status." + strconv.Itoa(status)
	}
	return "status.other"
}

// The caller's page access.

// signedIn wraps a page that needs a signed-in caller: nobody signed in is
// sent to the login page; a caller whose password expired is sent to
// /profile/password; a POST must carry the session's CSRF token (checked
// before anything changes); and perm, when not empty, must be held.
func (s *Service) signedIn(perm policies.Permission, h func(w http.ResponseWriter, r *http.Request, c *caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c := s.pageCaller(w, r, perm, false); c != nil {
			h(w, r, c)
		}
	}
}

// signedInExpired is signedIn for the pages a user whose password expired
// may still use (changing it).
func (s *Service) signedInExpired(h func(w http.ResponseWriter, r *http.Request, c *caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c := s.pageCaller(w, r, "", true); c != nil {
			h(w, r, c)
		}
	}
}

func (s *Service) pageCaller(w http.ResponseWriter, r *http.Request, perm policies.Permission, expiredOK bool) *caller {
	c, res := s.callerOf(r)
	switch res {
	case resolvedUnavailable:
		l := s.pages.lang(r.Header, nil)
		s.renderError(w, r, http.StatusServiceUnavailable, l.S("error.unavailable.title"), l.S("error.unavailable"), nil)
		return nil
	case resolvedNone:
		to := "/login"
		if r.Method == http.MethodGet && r.URL.Path != "/" {
			to += "?rd=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, to, redirectStatus(r))
		return nil
	}
	if !expiredOK && s.core.PasswordExpired(c.User.PasswordChangedAt) {
		to := "/profile/password"
		if r.Method == http.MethodGet && r.URL.Path != "/" {
			to += "?rd=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, to, redirectStatus(r))
		return nil
	}
	if r.Method == http.MethodPost {
		if err := parsePageForm(r); err != nil {
			status, msg := http.StatusBadRequest, s.pages.tr(c, "error.form_unreadable")
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status, msg = http.StatusRequestEntityTooLarge, s.pages.tr(c, "error.form_too_large")
			}
			s.pageError(w, r, c, status, s.pages.tr(c, "error.bad_request"), msg)
			return nil
		}
		if !s.csrfValid(c, r.PostFormValue("csrf")) {
			s.log.Warn("page form refused: missing or bad CSRF token", "path", r.URL.Path, "user", c.User.Username)
			s.pageError(w, r, c, http.StatusForbidden, s.pages.tr(c, "error.csrf.title"), s.pages.tr(c, "error.csrf"))
			return nil
		}
	}
	if perm != "" && !c.Can(perm) {
		s.pageError(w, r, c, http.StatusForbidden, s.pages.tr(c, "error.no_access"), s.pages.tr(c, "error.needs_permission", "Permission", string(perm)))
		return nil
	}
	return c
}

func redirectStatus(r *http.Request) int {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return http.StatusFound
	}
	return http.StatusSeeOther
}

// renderFormError answers a form that could not be read: 413 when it was
// too large, else 400.
func (s *Service) renderFormError(w http.ResponseWriter, r *http.Request, err error) {
	l := s.pages.lang(r.Header, nil)
	if bodyErrorStatus(err) == http.StatusRequestEntityTooLarge {
		s.renderError(w, r, http.StatusRequestEntityTooLarge, l.S("error.bad_request"), l.S("error.form_too_large"), nil)
		return
	}
	s.renderError(w, r, http.StatusBadRequest, l.S("error.bad_request"), l.S("error.form_unreadable"), nil)
}

// parsePageForm reads a POST body: URL-encoded or multipart (imports).
func parsePageForm(r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		return r.ParseMultipartForm(1 << 20)
	}
	return r.ParseForm()
}
