package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNilMetricsCountNothing: every method of a nil *Metrics is a no-op,
// so code built without metrics needs no checks.
func TestNilMetricsCountNothing(t *testing.T) {
	var m *Metrics
	m.SignIn("password", "success")
	m.SecondFactor("totp", "failure")
	m.Lockout()
	m.Throttled("portal")
	m.APIKeyUse()
	m.AppPasswordUse("success")
	m.HashWait(time.Second)
	m.LDAP("bind", "success")
	m.OIDCToken("refresh_token")
	if err := m.Register(prometheus.NewRegistry(), Sources{}); err != nil {
		t.Fatal(err)
	}
}

// TestLabelsAreBounded: a value outside a label's set, such as a
// username passed by mistake or by an attacker, is counted as "other" and
// never becomes a series.
func TestLabelsAreBounded(t *testing.T) {
	m := New()
	reg := prometheus.NewPedanticRegistry()
	if err := m.Register(reg, Sources{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		count        func()
		metric, want string
	}{
		{"known", func() { m.SignIn("passkey", "locked") }, "gatehouse_sign_ins_total", `method="passkey",result="locked"`},
		{"unknown method", func() { m.SignIn("alice", "success") }, "gatehouse_sign_ins_total", `method="other",result="success"`},
		{"unknown result", func() { m.SignIn("oidc", "10.0.0.1") }, "gatehouse_sign_ins_total", `method="oidc",result="other"`},
		{"second factor", func() { m.SecondFactor("sms", "failure") }, "gatehouse_second_factor_total", `method="other",result="failure"`},
		{"surface", func() { m.Throttled("../etc") }, "gatehouse_throttled_total", `surface="other"`},
		{"ldap", func() { m.LDAP("modify", "success") }, "gatehouse_ldap_operations_total", `op="other",result="success"`},
		{"grant", func() { m.OIDCToken("password") }, "gatehouse_oidc_tokens_issued_total", `grant="other"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.count()
			n, err := testutil.GatherAndCount(reg, tc.metric)
			if err != nil {
				t.Fatal(err)
			}
			fams, _ := reg.Gather()
			found := false
			for _, f := range fams {
				for _, mm := range f.GetMetric() {
					var ls []string
					for _, l := range mm.GetLabel() {
						ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
					}
					if f.GetName() == tc.metric && strings.Join(ls, ",") == tc.want && mm.GetCounter().GetValue() == 1 {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("%s{%s} is not 1 after counting once", tc.metric, tc.want)
			}
			if n != wantSeries(tc.metric) {
				t.Errorf("%s has %d series, want the fixed %d", tc.metric, n, wantSeries(tc.metric))
			}
		})
	}
}

// wantSeries is the number of series of a fixed-label metric.
func wantSeries(name string) int {
	switch name {
	case "gatehouse_sign_ins_total":
		return len(SignInMethods) * len(SignInResults)
	case "gatehouse_second_factor_total":
		return len(SecondFactorMethods) * len(SecondFactorResults)
	case "gatehouse_throttled_total":
		return len(ThrottleSurfaces)
	case "gatehouse_ldap_operations_total":
		return len(LDAPOps) * len(LDAPResults)
	case "gatehouse_oidc_tokens_issued_total":
		return len(OIDCGrants)
	}
	return -1
}

// TestRegisterEveryName: registered with every source, the registry holds
// exactly the metrics of Names; a second registration in the same
// registry is refused rather than silently doubling.
func TestRegisterEveryName(t *testing.T) {
	m := New()
	reg := prometheus.NewPedanticRegistry()
	src := Sources{
		SessionsActive: func() int { return 7 },
		HashQueueDepth: func() int { return 2 },
		GuardDecisions: func(yield func(app, outcome string, n uint64)) { yield("grafana", "allow", 5) },
	}
	if err := m.Register(reg, src); err != nil {
		t.Fatal(err)
	}
	m.HashWait(30 * time.Millisecond)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fams {
		got = append(got, f.GetName())
	}
	want := slices.Clone(Names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("registered %v\nwant %v", got, want)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gatehouse_sessions_active Live sessions (signed in, not expired), from the in-memory session index.
# TYPE gatehouse_sessions_active gauge
gatehouse_sessions_active 7
# HELP gatehouse_hash_queue_depth Password hashes waiting for a worker of the argon2id pool.
# TYPE gatehouse_hash_queue_depth gauge
gatehouse_hash_queue_depth 2
# HELP gatehouse_guard_decisions_total Decisions of the guard (the Caddy handler and forward-auth) by app and outcome.
# TYPE gatehouse_guard_decisions_total counter
gatehouse_guard_decisions_total{app="grafana",outcome="allow"} 5
`), "gatehouse_sessions_active", "gatehouse_hash_queue_depth", "gatehouse_guard_decisions_total"); err != nil {
		t.Error(err)
	}
	if err := New().Register(reg, src); err == nil {
		t.Error("a second Metrics registered in the same registry")
	}
}

// TestDashboardUsesOurMetrics: every query of the Grafana dashboard in
// examples/metrics reads only metrics this package exports (a histogram
// through its _bucket, _count or _sum), and every metric is on the
// dashboard.
func TestDashboardUsesOurMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "metrics", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	used := map[string]bool{}
	exprs := 0
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs++
			ours := 0
			for _, id := range ident.FindAllString(tg.Expr, -1) {
				if !strings.HasPrefix(id, "gatehouse_") {
					continue
				}
				ours++
				name := id
				if strings.HasPrefix(id, "gatehouse_hash_wait_seconds_") {
					name = "gatehouse_hash_wait_seconds"
					if s := strings.TrimPrefix(id, name+"_"); s != "bucket" && s != "count" && s != "sum" {
						name = id
					}
				}
				if !slices.Contains(Names, name) {
					t.Errorf("panel %q reads %s, which is not exported (expr %s)", p.Title, id, tg.Expr)
				}
				used[name] = true
			}
			if ours == 0 {
				t.Errorf("panel %q: query %q reads none of our metrics", p.Title, tg.Expr)
			}
		}
	}
	if exprs < len(Names) {
		t.Errorf("only %d queries", exprs)
	}
	for _, n := range Names {
		if !used[n] {
			t.Errorf("metric %s is on no panel", n)
		}
	}
}
