package caddymodule

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/metrics"
)

// registerMetrics registers Gatehouse's metrics with the metrics registry
// of the config being provisioned, the one Caddy's own metrics live in: they
// are served by Caddy's /metrics (the admin endpoint, or a `metrics`
// handler), with no listener of ours. Each config has its own registry, so
// a reload starts the counters again, as it does Caddy's.
func registerMetrics(ctx caddy.Context, m *metrics.Metrics, c *core.Core) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil // a context made outside a config load (tests)
	}
	err := m.Register(reg, metrics.Sources{
		SessionsActive: c.Sessions.LiveCount,
		HashQueueDepth: c.HashQueueDepth,
		GuardDecisions: c.Access.EachDecisionCount,
	})
	if err != nil {
		return fmt.Errorf("gatehouse: register metrics: %w", err)
	}
	return nil
}
