package caddymodule

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-auth/gatehouse/portal"
)

func init() {
	caddy.RegisterModule(Guard{})
}

// Guard is the `gatehouse` HTTP handler: it lets a request through to the
// app only for a signed-in user the app allows, with the user's identity in
// the request headers. It always removes identity headers sent by the
// client. Not signed in: browsers are redirected to the portal's login page,
// other clients get 401; signed in but not allowed: 403.
//
// On allow it also sets the {http.auth.user.*} placeholders, as Caddy's
// own authentication handler does, so the access log (user_id), header_up
// and request_header can use the user: http.auth.user.id is the username
// (the identity Gatehouse sends as Remote-User; the internal user id is
// only the sub of signed assertions and ID tokens), and
// http.auth.user.email, .name, .groups (comma-
// separated), .role and .impersonator (the administrator's username during
// an impersonation) hold what the identity headers hold, or "" when the
// user has none. Requests that are not let through set none of them.
//
// Refusals (login redirects, the branded "No access" and "Second factor
// needed" pages, JSON errors for scripts) are written by the guard itself
// rather than returned as a caddyhttp.Error, on purpose: they must send the
// browser to the portal with the return address, or tell the user what to
// do, which a site's handle_errors block cannot know; returned as errors,
// they would be replaced by whatever handle_errors answers. The one
// exception is 503 when the session store cannot be read: that is returned
// as a caddyhttp.Error, so handle_errors can brand it.
//
//	gatehouse <app> {
//		title        "Grafana"
//		url          https://grafana.example.com
//		allow_groups admins ops
//		allow_users  alice
//		require_2fa
//	}
//
// (or app_passwords instead of require_2fa: see AppPasswords).
type Guard struct {
	// App names the protected app (lowercase letters, digits, '.', '-',
	// '_'). Several guards may name the same app when they agree on the
	// rest. Required.
	App string `json:"app"`

	// Title is the app's name in the portal. Default: App.
	Title string `json:"title,omitempty"`

	// URL is where users open the app, listed in the portal and accepted as
	// a return target after sign-in. Optional. On a host the session
	// cookie does not reach (another root domain), it turns on single
	// sign-on across domains (portal.HostSignIn).
	URL string `json:"url,omitempty"`

	// AllowGroups lets members of these groups in. Owners and admins reach
	// every app regardless.
	AllowGroups []string `json:"allow_groups,omitempty"`

	// AllowUsers lets these users in.
	AllowUsers []string `json:"allow_users,omitempty"`

	// With neither AllowGroups nor AllowUsers, access is managed in the
	// portal; until an admin sets it, every signed-in user is let in.

	// Require2FA lets in only sessions signed in with a second factor (or
	// a passkey); a password-only session is sent to step up.
	Require2FA bool `json:"require_2fa,omitempty"`

	// AppPasswords lets clients that are not browsers (DAV, git,
	// calendar and mobile apps) in with an app password over HTTP Basic
	// (`Authorization: Basic <user:app password>`); their 401 carries a
	// Basic challenge with the app's title as realm. The account password
	// is never taken over Basic, and the Authorization header never
	// reaches the app. An app that requires a second factor takes no app
	// passwords (an app password is not one). See portal's
	// appPasswordGate.
	AppPasswords bool `json:"app_passwords,omitempty"`

	service *portal.Service
	app     *portal.App
	headers portal.Headers // the identity header names, canonical
	// sso is the single sign-on of an app on another domain (nil when
	// the session cookie reaches its URL); see guard_crossdomain.go.
	sso *portal.HostSignIn
}

// CaddyModule returns the Caddy module information.
func (Guard) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.gatehouse",
		New: func() caddy.Module { return new(Guard) },
	}
}

// Provision registers the app with the gatehouse app.
func (g *Guard) Provision(ctx caddy.Context) error {
	if g.App == "" {
		return errors.New("gatehouse: the app name is required (gatehouse <app>)")
	}
	a, err := gatehouseApp(ctx)
	if err != nil {
		return err
	}
	g.service = a.Service()
	g.headers = a.headers
	g.app, err = g.service.Core().Access.RegisterApp(portal.AppConfig{
		Name:         g.App,
		Title:        g.Title,
		URL:          g.URL,
		AllowGroups:  g.AllowGroups,
		AllowUsers:   g.AllowUsers,
		Require2FA:   g.Require2FA,
		AppPasswords: g.AppPasswords,
		Guarded:      true,
	})
	if err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	g.sso = portal.NewHostSignIn(g.service, g.app)
	return nil
}

// ServeHTTP checks the request and either passes it on with identity
// headers or answers it.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if g.sso != nil && g.serveHandoff(w, r) {
		return nil
	}
	v := g.service.Check(r, g.app)
	switch v.Outcome {
	case portal.Allow:
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			g.setUserPlaceholders(repl, r.Header, v.User.Role)
		}
		return next.ServeHTTP(w, r)
	case portal.Unavailable:
		return caddyhttp.Error(http.StatusServiceUnavailable, errors.New("gatehouse: session store unavailable"))
	}
	if g.sso != nil && g.sso.Refuse(w, r, v, originalURL(r)) {
		return nil
	}
	g.service.WriteRefusal(w, r, v, originalURL(r))
	return nil
}

// setUserPlaceholders sets the {http.auth.user.*} placeholders of an
// allowed request (see Guard) from the identity headers Check has just set
// and the verdict's role. The values are copied into one authUser, and the
// replacer is given pointers to its fields: storing a pointer in an `any`
// does not allocate, so the whole costs one allocation however many
// placeholders are set (a string stored as an `any` costs one each). They
// are not pointers into the header slices, which later handlers may edit in
// place (request_header's search-and-replace): the access log's user_id
// must stay who signed in.
func (g *Guard) setUserPlaceholders(repl *caddy.Replacer, h http.Header, role string) {
	u := &authUser{
		id:           placeholderValue(firstValue(h, g.headers.User)),
		email:        placeholderValue(firstValue(h, g.headers.Email)),
		name:         placeholderValue(firstValue(h, g.headers.Name)),
		groups:       placeholderValue(firstValue(h, g.headers.Groups)),
		impersonator: placeholderValue(firstValue(h, g.headers.Impersonator)),
		role:         placeholderValue(role),
	}
	repl.Set("http.auth.user.id", &u.id)
	repl.Set("http.auth.user.email", &u.email)
	repl.Set("http.auth.user.name", &u.name)
	repl.Set("http.auth.user.groups", &u.groups)
	repl.Set("http.auth.user.impersonator", &u.impersonator)
	repl.Set("http.auth.user.role", &u.role)
}

// authUser holds the values of the {http.auth.user.*} placeholders of one
// request.
type authUser struct {
	id, email, name, groups, impersonator, role placeholderValue
}

// placeholderValue is a placeholder's value, given to the replacer by
// pointer (caddy.ToString calls String).
type placeholderValue string

// String returns the value.
func (p *placeholderValue) String() string { return string(*p) }

// firstValue is the first value of h[name] (a canonical key), or "".
func firstValue(h http.Header, name string) string {
	if vs := h[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// originalURL is the absolute URL the client asked for, before any rewrite
// (Caddy keeps the original URL, not the Host, in the context).
func originalURL(r *http.Request) string {
	uri := r.URL.RequestURI()
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil {
		uri = or.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + uri
}

// gatehouseApp returns the process's gatehouse app for this config.
func gatehouseApp(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("gatehouse")
	if err != nil {
		return nil, fmt.Errorf("gatehouse: %w", err)
	}
	return v.(*App), nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Guard)(nil)
	_ caddyhttp.MiddlewareHandler = (*Guard)(nil)
)
