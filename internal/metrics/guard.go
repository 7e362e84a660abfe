package metrics

import "github.com/prometheus/client_golang/prometheus"

// guardDesc describes gatehouse_guard_decisions_total.
var guardDesc = prometheus.NewDesc(Namespace+"_guard_decisions_total",
	"Decisions of the guard (the Caddy handler and forward-auth) by app and outcome.",
	[]string{"app", "outcome"}, nil)

// guardCollector reports the guard's decisions, which the core counts in
// atomic counters on each app (no label lookup on the request's path), at
// scrape time.
type guardCollector func(yield func(app, outcome string, n uint64))

// Describe sends the metric's description.
func (g guardCollector) Describe(ch chan<- *prometheus.Desc) { ch <- guardDesc }

// Collect sends one series per app and outcome.
func (g guardCollector) Collect(ch chan<- prometheus.Metric) {
	g(func(app, outcome string, n uint64) {
		ch <- prometheus.MustNewConstMetric(guardDesc, prometheus.CounterValue, float64(n), app, outcome)
	})
}
