package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-auth/gatehouse/portal"
)

func init() {
	caddy.RegisterModule(Portal{})
}

// Portal is the `gatehouse_portal` HTTP handler: it serves the login portal
// (pages and the JSON API under /api/v1) on its site. It terminates the
// request; put it in the site of portal_url.
//
//	auth.example.com {
//		gatehouse_portal
//	}
type Portal struct {
	service *portal.Service
}

// CaddyModule returns the Caddy module information.
func (Portal) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.gatehouse_portal",
		New: func() caddy.Module { return new(Portal) },
	}
}

// Provision finds the gatehouse app.
func (p *Portal) Provision(ctx caddy.Context) error {
	a, err := gatehouseApp(ctx)
	if err != nil {
		return err
	}
	p.service = a.Service()
	return nil
}

// ServeHTTP serves the portal.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	p.service.ServeHTTP(w, r)
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Portal)(nil)
	_ caddyhttp.MiddlewareHandler = (*Portal)(nil)
)
