package portal

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

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
	"groups", "group", "apps", "app", "roles", "role",
	"sessions", "invitations", "audit", "settings",
	// Sign-in with external providers.
	"oidc_error",
}

// pageFuncs are the helpers templates may call.
var pageFuncs = template.FuncMap{
	"date":     func(v any) string { return fmtTime(v, "2 Jan 2006") },
	"datetime": func(v any) string { return fmtTime(v, "2 Jan 2006, 15:04 UTC") },
	"iso":      func(v any) string { return fmtTime(v, time.RFC3339) },
	"ago":      fmtAgo,
	"until":    fmtUntil,
	"join":     strings.Join,
	"dur":      fmtDuration,
	"userURL":  userURL,
	"esc":      url.PathEscape,
	"has":      func(list []string, v string) bool { return slices.Contains(list, v) },
	"initial":  initial,
	"dict":     dict,

	// Bound to each Service by bindPages.
	"mailEnabled": func() bool { return false },

	// Bound to each Service by bindOIDCPages (oidc.go).
	"oidcProviders":  func() []oidcButton { return nil },
	"linkedAccounts": func(string) (*linkedAccounts, error) { return nil, nil },
}

// bindPages points the page templates' service helpers at s: whether
// email is set up (pages offer email only then).
func (s *Service) bindPages() {
	fm := template.FuncMap{"mailEnabled": s.mail.Enabled}
	for _, t := range s.pages {
		t.Funcs(fm)
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

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(pageFuncs).ParseFS(webFS,
			"web/templates/layout.html", "web/templates/partials.html", "web/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: parse page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
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
	return &pageUser{Username: u.Username, FullName: u.FullName, Email: u.Email, Role: u.Role, Groups: u.Groups}
}

// render executes page name into a buffer first, so a template error never
// sends half a page.
func (s *Service) render(w http.ResponseWriter, status int, name string, p page) {
	if p.Error != "" && p.ErrorField == "" {
		p.ErrorField = errorField(p.Error)
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
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
		if c, res := s.callerOf(r); res == resolvedOK && c.user.ID == u.ID {
			s.pageError(w, r, c, status, title, msg)
			return
		}
	}
	s.render(w, status, "error", page{Title: title, Status: status, Message: msg, User: pageUserOf(u)})
}

// basePage returns the page data every signed-in page starts from: the
// caller, their navigation and permissions, the CSRF token and the flash
// message left by the previous request (which it consumes).
func (s *Service) basePage(w http.ResponseWriter, r *http.Request, c *caller, title, section string) page {
	p := page{
		Title:   title,
		User:    pageUserOf(c.user),
		Section: section,
		Can:     map[string]bool{},
		CSRF:    s.csrfToken(c),
		Now:     s.now(),
		Form:    map[string]string{},

		Impersonating: impersonationBanner(c),
	}
	for _, perm := range policies.AllPermissions() {
		if c.can(perm) {
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
	nav := []navItem{{Key: "home", Label: "Home", Href: "/"}, {Key: "profile", Label: "Profile", Href: "/profile"}}
	add := func(ok bool, key, label string) {
		if ok {
			nav = append(nav, navItem{Key: key, Label: label, Href: "/admin/" + key, Admin: true})
		}
	}
	add(c.can(policies.PermUsersRead), "users", "Users")
	add(c.can(policies.PermGroupsRead), "groups", "Groups")
	add(c.can(policies.PermAppsRead) || s.operatesAnyApp(c.user), "apps", "Apps")
	add(c.can(policies.PermRolesRead), "roles", "Roles")
	add(c.can(policies.PermSessionsRead), "sessions", "Sessions")
	add(c.can(policies.PermInvitationsRead), "invitations", "Invitations")
	add(c.can(policies.PermAuditRead), "audit", "Audit log")
	add(c.can(policies.PermSettingsRead), "settings", "Settings")
	return nav
}

// operatesAnyApp reports whether u is an operator of at least one app.
func (s *Service) operatesAnyApp(u *store.User) bool {
	for _, a := range s.Apps() {
		if s.isAppOperator(u, a.Name) {
			return true
		}
	}
	return false
}

// pageError shows the error page to a signed-in caller, with navigation.
func (s *Service) pageError(w http.ResponseWriter, r *http.Request, c *caller, status int, title, msg string) {
	p := s.basePage(nil, nil, c, title, "")
	p.Status, p.Message = status, msg
	s.render(w, status, "error", p)
}

// pageFail shows err (a service error) as an error page with its status.
func (s *Service) pageFail(w http.ResponseWriter, r *http.Request, c *caller, err error) {
	status, msg := s.statusOf(err)
	s.pageError(w, r, c, status, http.StatusText(status), sentence(msg))
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
		s.renderError(w, r, http.StatusServiceUnavailable, "Unavailable", "The sign-in service is unavailable. Try again shortly.", nil)
		return nil
	case resolvedNone:
		to := "/login"
		if r.Method == http.MethodGet && r.URL.Path != "/" {
			to += "?rd=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, to, redirectStatus(r))
		return nil
	}
	if !expiredOK && s.passwordExpired(c.user.PasswordChangedAt) {
		to := "/profile/password"
		if r.Method == http.MethodGet && r.URL.Path != "/" {
			to += "?rd=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, to, redirectStatus(r))
		return nil
	}
	if r.Method == http.MethodPost {
		if err := parsePageForm(r); err != nil {
			status, msg := http.StatusBadRequest, "The form could not be read."
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status, msg = http.StatusRequestEntityTooLarge, "The form is too large."
			}
			s.pageError(w, r, c, status, "Bad request", msg)
			return nil
		}
		if !s.csrfValid(c, r.PostFormValue("csrf")) {
			s.log.Warn("page form refused: missing or bad CSRF token", "path", r.URL.Path, "user", c.user.Username)
			s.pageError(w, r, c, http.StatusForbidden, "Request refused",
				"This form was not sent from a current page of the portal, so nothing was changed. Go back, reload the page and try again.")
			return nil
		}
	}
	if perm != "" && !c.can(perm) {
		s.pageError(w, r, c, http.StatusForbidden, "No access",
			"This page needs the "+string(perm)+" permission, which your role does not have.")
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
	if bodyErrorStatus(err) == http.StatusRequestEntityTooLarge {
		s.renderError(w, r, http.StatusRequestEntityTooLarge, "Bad request", "The form is too large.", nil)
		return
	}
	s.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.", nil)
}

// parsePageForm reads a POST body: URL-encoded or multipart (imports).
func parsePageForm(r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		return r.ParseMultipartForm(1 << 20)
	}
	return r.ParseForm()
}

// CSRF tokens and flash messages are HMACs under a key kept in the store,
// so they survive a reload of the configuration and a restart.

const pageKeySetting = "csrf_key"

var pageKeyMu sync.Mutex

// pageKey returns the 32-byte key of CSRF tokens and flash messages,
// creating it on first use.
func (s *Service) pageKey() ([]byte, error) {
	if k := s.pageKeyCache.Load(); k != nil {
		return *k, nil
	}
	key, err := s.loadPageKey()
	if err == nil {
		s.pageKeyCache.Store(&key)
	}
	return key, err
}

// loadPageKey reads the page key from the store, creating it once.
func (s *Service) loadPageKey() ([]byte, error) {
	var key []byte
	err := s.store.Setting(pageKeySetting, &key)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	pageKeyMu.Lock()
	defer pageKeyMu.Unlock()
	if err := s.store.Setting(pageKeySetting, &key); err == nil && len(key) == 32 {
		return key, nil
	}
	key = make([]byte, 32)
	_, _ = rand.Read(key)
	if err := s.store.PutSetting(pageKeySetting, key); err != nil {
		return nil, err
	}
	return key, nil
}

func (s *Service) pageMAC(msg string) []byte {
	key, err := s.pageKey()
	if err != nil {
		s.log.Error("page key", "error", err)
		return nil
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// csrfToken is the CSRF token of c's session: base64url(HMAC-SHA256(key,
// "csrf:" + hex(session id))). It is "" when the key cannot be read, and
// then no form is accepted.
func (s *Service) csrfToken(c *caller) string {
	mac := s.pageMAC("csrf:" + c.sid.String())
	if mac == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(mac)
}

// csrfValid checks a submitted token in constant time.
func (s *Service) csrfValid(c *caller, tok string) bool {
	want := s.csrfToken(c)
	return want != "" && hmac.Equal([]byte(tok), []byte(want))
}

func (s *Service) flashCookie() string { return s.cookie.name + "_flash" }

// setFlash leaves msg for the next page c opens in this browser.
func (s *Service) setFlash(w http.ResponseWriter, c *caller, msg string) {
	msg = truncate(msg, 300)
	mac := s.pageMAC("flash:" + c.sid.String() + ":" + msg)
	if mac == nil {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     s.flashCookie(),
		Value:    base64.RawURLEncoding.EncodeToString([]byte(msg)) + "." + base64.RawURLEncoding.EncodeToString(mac),
		Path:     "/",
		MaxAge:   120,
		HttpOnly: true,
		Secure:   s.cookie.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash returns the flash message left for c, if genuine, and clears it.
func (s *Service) takeFlash(w http.ResponseWriter, r *http.Request, c *caller) string {
	ck, err := r.Cookie(s.flashCookie())
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: s.flashCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.cookie.secure, SameSite: http.SameSiteLaxMode})
	b64msg, b64mac, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return ""
	}
	msg, err1 := base64.RawURLEncoding.DecodeString(b64msg)
	mac, err2 := base64.RawURLEncoding.DecodeString(b64mac)
	if err1 != nil || err2 != nil {
		return ""
	}
	want := s.pageMAC("flash:" + c.sid.String() + ":" + string(msg))
	if want == nil || !hmac.Equal(mac, want) {
		return ""
	}
	return string(msg)
}

// done ends a successful form: a flash message and a 303 to the page to.
func (s *Service) done(w http.ResponseWriter, r *http.Request, c *caller, to, msg string) {
	if msg != "" {
		s.setFlash(w, c, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// Template helpers.

// asTime reads a time.Time or *time.Time; anything else is the zero time.
func asTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case *time.Time:
		if x != nil {
			return *x
		}
	}
	return time.Time{}
}

// fmtTime formats a time.Time or *time.Time in UTC; a zero or nil time is
// "—".
func fmtTime(v any, layout string) string {
	t := asTime(v)
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(layout)
}

// fmtAgo says how long before now t was: "just now", "5 minutes ago".
func fmtAgo(now time.Time, v any) string {
	t := asTime(v)
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + span(-d)
	}
	if d < time.Minute {
		return "just now"
	}
	return span(d) + " ago"
}

// fmtUntil says how long after now t is: "in 3 days".
func fmtUntil(now time.Time, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "expired"
	}
	return "in " + span(d)
}

// spanUnits are the units span counts in, each used while the rounded
// count stays below limit.
var spanUnits = []struct {
	size, limit time.Duration
	name        string
}{
	{time.Minute, time.Hour, "minute"},
	{time.Hour, 48 * time.Hour, "hour"},
	{24 * time.Hour, 60 * 24 * time.Hour, "day"},
	{30 * 24 * time.Hour, 730 * 24 * time.Hour, "month"},
	{365 * 24 * time.Hour, 1<<63 - 1, "year"},
}

// span says how long d is in its largest fitting unit, rounded to the
// nearest whole unit: an invitation made a few seconds ago for 72 hours
// expires "in 3 days", not "in 2 days".
func span(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	for _, u := range spanUnits {
		n := (d + u.size/2) / u.size
		if n*u.size < u.limit || u.name == "year" {
			name := u.name
			if n != 1 {
				name += "s"
			}
			return strconv.Itoa(int(n)) + " " + name
		}
	}
	return "" // unreachable: the last unit has no limit
}

// fmtDuration writes a settings duration the way parseDuration reads it:
// whole days as "90d", else Go's form without zero units ("1h30m").
func fmtDuration(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case Duration:
		d = time.Duration(x)
	case time.Duration:
		d = x
	}
	if d == 0 {
		return "0"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

// fixedUserPaths are the pages under /admin/users/ that are not users.
var fixedUserPaths = []string{"new", "import"}

// userURL is the page of the user called name. A user whose name is one
// of the fixed pages is found through the search instead.
func userURL(name string) string {
	if name == "" {
		return "/admin/users"
	}
	if slices.Contains(fixedUserPaths, name) {
		return "/admin/users?q=" + url.QueryEscape(name)
	}
	return "/admin/users/" + url.PathEscape(name)
}

// userPath is the page of u, by id when its name is a fixed page.
func userPath(u *store.User) string {
	if slices.Contains(fixedUserPaths, u.Username) {
		return "/admin/users/" + url.PathEscape(u.ID)
	}
	return "/admin/users/" + url.PathEscape(u.Username)
}

func initial(name string) string {
	for _, r := range name {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// errorField is the form field an error message is about, found by the
// name it starts with ("The username … is already taken." is about
// "username"); "" when it names none. Messages name their field this way
// (InputError.Error, the policies' messages), so no page has to pass the
// field along with the message.
func errorField(msg string) string {
	m := strings.ToLower(msg)
	if strings.HasPrefix(m, "the two ") && strings.Contains(m, "passwords do not match") {
		return "password2"
	}
	best, bestLen := "", 0
	for field := range fieldLabels {
		name := strings.ToLower(fieldName(field))
		if strings.HasPrefix(m, "the "+name+" ") && len(name) > bestLen {
			best, bestLen = field, len(name)
		}
	}
	return best
}

// sentence makes a service message a sentence: capitalised, with a full
// stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// The admin pages. Every handler is registered in routes_pages.go behind
// the permission of the JSON API call it mirrors, and calls the same
// service method, so the pages and the API enforce the same rules.

// splitList reads a list typed into one field: names separated by commas,
// semicolons, spaces or line breaks.
func splitList(v string) []string {
	out := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	if out == nil {
		out = []string{}
	}
	return out
}

// failMsg is statusOf for a page: the status, and the message as a
// sentence naming the form field by its label.
func (s *Service) failMsg(err error) (int, string) {
	status, msg := s.statusOf(err)
	return status, sentence(msg)
}

// fieldLabels name the fields of service errors as the forms label them.
var fieldLabels = map[string]string{
	"username": "Username", "email": "Email", "fallback_email": "Fallback email", "full_name": "Full name",
	"role": "Role", "groups": "Groups", "password": "Password", "current_password": "Current password",
	"expires_at": "Expiry date", "name": "Name", "description": "Description",
	"allow_groups": "Allowed groups", "allow_users": "Allowed users", "operators": "Operators",
	"permissions": "Permissions", "to": "Recipient", "user": "User", "action": "Action", "since": "From",
	"until": "To", "session_idle": "Idle timeout", "session_lifetime": "Session lifetime",
	"session_remember": "“Keep me signed in” lifetime", "lockout_threshold": "Lockout threshold",
	"lockout_duration": "Lockout duration", "password_max_age": "Password maximum age",
	"password_rules": "Password rules", "min_length": "Minimum length", "max_length": "Maximum length",
	"invite_lifetime": "Invitation lifetime", "reset_lifetime": "Reset link lifetime",
	"audit_retention": "Audit retention", "impersonation_lifetime": "Impersonation lifetime",
	"temp_password_lifetime": "Temporary password lifetime",
}
