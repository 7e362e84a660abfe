package core

import (
	"sync/atomic"

	"github.com/gatehouse-auth/gatehouse/internal/metrics"
	"github.com/gatehouse-auth/gatehouse/store"
)

// outcomeCount is the number of Outcomes.
const outcomeCount = int(Throttled) + 1

// outcomeNames are the outcomes as the guard-decision metric labels them.
var outcomeNames = [outcomeCount]string{
	Allow:          "allow",
	SignIn:         "login",
	Deny:           "forbidden",
	Unavailable:    "unavailable",
	ChangePassword: "change_password",
	StepUp:         "step_up",
	Throttled:      "throttled",
}

// decisionCounts counts the guard's decisions for one app, by outcome. It
// is padded to cache lines of its own, so the counting writes of one core
// do not slow down the app's access rule that every core reads.
type decisionCounts struct {
	_ [64]byte
	n [outcomeCount]atomic.Uint64
	_ [64]byte
}

// CountDecision counts one decision of the guard for a: a single atomic
// add, on the request's hot path (portal.Service.Check).
func (a *App) CountDecision(o Outcome) {
	if int(o) < outcomeCount {
		a.decisions.n[o].Add(1)
	}
}

// EachDecisionCount calls yield with every registered app, every outcome
// and how many decisions of the guard for that app had that outcome (the
// gatehouse_guard_decisions_total metric, read at scrape time). Apps are
// bounded (declared in the Caddyfile or made by admins), so the label set
// is.
func (s *Access) EachDecisionCount(yield func(app, outcome string, n uint64)) {
	for _, a := range s.Apps() {
		for o := range outcomeCount {
			yield(a.Name, outcomeNames[o], a.decisions.n[o].Load())
		}
	}
}

// Metrics returns the core's metrics (nil when none are kept; nil-safe).
func (c *Core) Metrics() *metrics.Metrics { return c.metrics }

// HashQueueDepth returns how many password hashes wait for a worker now.
func (c *Core) HashQueueDepth() int { return c.hasher.Waiting() }

// LiveCount returns how many sessions are live now (the
// gatehouse_sessions_active metric), from the in-memory session index.
func (s *Sessions) LiveCount() int { return store.LiveSessions(s.store, s.now()) }
