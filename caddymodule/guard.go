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
//	gatehouse <app> {
//		title        "Grafana"
//		url          https://grafana.example.com
//		allow_groups admins ops
//		allow_users  alice
//		require_2fa
//	}
type Guard struct {
	// App names the protected app (lowercase letters, digits, '.', '-',
	// '_'). Several guards may name the same app when they agree on the
	// rest. Required.
	App string `json:"app"`

	// Title is the app's name in the portal. Default: App.
	Title string `json:"title,omitempty"`

	// URL is where users open the app, listed in the portal and accepted as
	// a return target after sign-in. Optional.
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

	service *portal.Service
	app     *portal.App
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
	g.app, err = g.service.RegisterApp(portal.AppConfig{
		Name:        g.App,
		Title:       g.Title,
		URL:         g.URL,
		AllowGroups: g.AllowGroups,
		AllowUsers:  g.AllowUsers,
		Require2FA:  g.Require2FA,
	})
	if err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	return nil
}

// ServeHTTP checks the request and either passes it on with identity
// headers or answers it.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	v := g.service.Check(r, g.app)
	switch v.Outcome {
	case portal.Allow:
		return next.ServeHTTP(w, r)
	case portal.Unavailable:
		return caddyhttp.Error(http.StatusServiceUnavailable, errors.New("gatehouse: session store unavailable"))
	}
	g.service.WriteRefusal(w, r, v, originalURL(r))
	return nil
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
