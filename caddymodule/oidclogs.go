package caddymodule

import (
	"log/slog"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap/exp/zapslog"

	"github.com/gatehouse-auth/gatehouse/oidcprovider"
)

var routeSlogOnce sync.Once

// routeSlog makes slog's default handler send the OpenID Connect provider
// library's log lines (it logs only through slog's default logger) to the
// gatehouse app's logger, and everything else to Caddy's default logger, as
// before (where the standard library's log package went through Caddy).
// Done once per process.
func routeSlog() {
	routeSlogOnce.Do(func() {
		slog.SetDefault(slog.New(oidcprovider.LogHandler(func() slog.Handler {
			return zapslog.NewHandler(caddy.Log().Core())
		})))
	})
}
