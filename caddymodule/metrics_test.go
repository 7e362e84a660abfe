package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/metrics"
)

// scrapeMetrics reads Caddy's admin /metrics and returns every sample as
// name{label="value",…} (labels sorted; a histogram as its _count and
// _sum) → value, and every label value seen.
func scrapeMetrics(t *testing.T, h *harness) (samples map[string]float64, labelValues []string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", h.admin))
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	samples = map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				labelValues = append(labelValues, l.GetValue())
			}
			slices.Sort(ls)
			key := func(n string) string {
				if len(ls) == 0 {
					return n
				}
				return n + "{" + strings.Join(ls, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				samples[key(name)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				samples[key(name)] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				samples[key(name+"_count")] = float64(m.GetHistogram().GetSampleCount())
				samples[key(name+"_sum")] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return samples, labelValues
}

// TestMetricsThroughCaddy drives a scripted set of sign-ins, second steps
// and guarded requests through a real Caddy, then scrapes Caddy's own
// admin /metrics and checks the exact count of every Gatehouse series the
// script touched (and zero for those it did not), next to Caddy's own
// metrics; no label carries a username.
func TestMetricsThroughCaddy(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("alice", alicePW, "user")
	h.addUser("bob", bobPW, "user")
	h.addUser("carol", alicePW, "user")
	login := func(c *http.Client, user, pw string) int {
		t.Helper()
		resp, _ := do(t, c, "POST", h.portalURL("/api/v1/login"),
			strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`), jsonAPI)
		return resp.StatusCode
	}
	api := func(c *http.Client, method, path, body string) (int, []byte) {
		t.Helper()
		resp, b := do(t, c, method, h.portalURL(path), strings.NewReader(body), jsonAPI)
		return resp.StatusCode, b
	}
	get := func(c *http.Client, u string, hdr map[string]string) int {
		t.Helper()
		resp, _ := do(t, c, "GET", u, nil, hdr)
		return resp.StatusCode
	}

	// Before anything: every fixed series is there, at zero.
	before, _ := scrapeMetrics(t, h)
	for _, k := range []string{`gatehouse_sign_ins_total{method="passkey",result="success"}`, `gatehouse_lockouts_total`,
		`gatehouse_throttled_total{surface="guard"}`, `gatehouse_sessions_active`, `gatehouse_ldap_operations_total{op="bind",result="failure"}`} {
		if v, ok := before[k]; !ok || v != 0 {
			t.Errorf("before any sign-in: %s = %v (present %v), want 0", k, v, ok)
		}
	}

	// Password sign-ins: one right, one wrong, one unknown user.
	alice := h.client()
	if got := login(alice, "alice", alicePW); got != 200 {
		t.Fatalf("alice: %d", got)
	}
	if got := login(h.client(), "alice", "Wrong-passw0rd"); got != 401 {
		t.Fatalf("alice, wrong password: %d", got)
	}
	if got := login(h.client(), "nobody-at-all", "Wrong-passw0rd"); got != 401 {
		t.Fatalf("unknown user: %d", got)
	}
	// bob: wrong passwords until the account locks, then the right one
	// is refused as locked.
	for i := range core.DefaultLockoutThreshold {
		if got := login(h.client(), "bob", "Wrong-passw0rd"); got != 401 {
			t.Fatalf("bob, wrong password %d: %d", i, got)
		}
	}
	if got := login(h.client(), "bob", bobPW); got != 401 {
		t.Fatalf("bob, locked: %d", got)
	}
	// One address guessing until it is throttled.
	hammer := h.client()
	guesses := 0
	for ; guesses < 30; guesses++ {
		if got := login(hammer, "mallory", "x"); got == 429 {
			break
		}
	}
	if guesses != 10 {
		t.Fatalf("throttled after %d guesses, want 10 (the burst)", guesses)
	}

	// carol enrolls TOTP, then signs in with a wrong code and a right one.
	carol := h.client()
	if got := login(carol, "carol", alicePW); got != 200 {
		t.Fatalf("carol: %d", got)
	}
	secret, _ := secEnrollTOTP(t, h, carol)
	carol2 := h.client()
	if got := login(carol2, "carol", alicePW); got != 200 {
		t.Fatalf("carol, first factor: %d", got)
	}
	wrong := totpCode(t, secret, time.Now().Add(-10*time.Minute))
	if got, b := api(carol2, "POST", "/api/v1/login/totp", `{"code":"`+wrong+`"}`); got != 401 {
		t.Fatalf("carol, wrong code: %d %s", got, b)
	}
	if got, b := api(carol2, "POST", "/api/v1/login/totp", `{"code":"`+totpCode(t, secret, time.Now())+`"}`); got != 200 {
		t.Fatalf("carol, right code: %d %s", got, b)
	}

	// The guard: alice in (3), kept out of admins-only (2), an anonymous
	// client sent to sign in (1).
	for range 3 {
		if got := get(alice, h.appURL("/"), jsonAPI); got != 200 {
			t.Fatalf("alice on whoami: %d", got)
		}
	}
	for range 2 {
		if got := get(alice, h.adminsURL("/"), jsonAPI); got != 403 {
			t.Fatalf("alice on admins-only: %d", got)
		}
	}
	if got := get(h.client(), h.appURL("/"), jsonAPI); got != 401 {
		t.Fatalf("anonymous on whoami: %d", got)
	}
	// An API key: used once (allow), and a made-up one (login).
	got, b := api(alice, "POST", "/api/v1/keys", `{"label":"script"}`)
	var key struct{ Key string }
	if got != 201 || json.Unmarshal(b, &key) != nil || key.Key == "" {
		t.Fatalf("create key: %d %s", got, b)
	}
	if got := get(h.client(), h.appURL("/"), map[string]string{"Authorization": "Bearer " + key.Key, "Accept": "application/json"}); got != 200 {
		t.Fatalf("API key on whoami: %d", got)
	}
	if got := get(h.client(), h.appURL("/"), map[string]string{"Authorization": "Bearer gh_not_a_key", "Accept": "application/json"}); got != 401 {
		t.Fatalf("made-up key on whoami: %d", got)
	}

	samples, labels := scrapeMetrics(t, h)
	fails := 1 + 1 + core.DefaultLockoutThreshold + guesses
	want := map[string]float64{
		`gatehouse_sign_ins_total{method="password",result="success"}`:           3, // alice, carol twice
		`gatehouse_sign_ins_total{method="password",result="failure"}`:           float64(fails),
		`gatehouse_sign_ins_total{method="password",result="locked"}`:            1,
		`gatehouse_sign_ins_total{method="password",result="throttled"}`:         1,
		`gatehouse_sign_ins_total{method="password",result="busy"}`:              0,
		`gatehouse_sign_ins_total{method="passkey",result="success"}`:            0,
		`gatehouse_second_factor_total{method="totp",result="failure"}`:          1,
		`gatehouse_second_factor_total{method="totp",result="success"}`:          1,
		`gatehouse_lockouts_total`:                                               1,
		`gatehouse_throttled_total{surface="portal"}`:                            1,
		`gatehouse_throttled_total{surface="guard"}`:                             0,
		`gatehouse_guard_decisions_total{app="whoami",outcome="allow"}`:          4,
		`gatehouse_guard_decisions_total{app="whoami",outcome="login"}`:          2,
		`gatehouse_guard_decisions_total{app="admins-only",outcome="forbidden"}`: 2,
		`gatehouse_guard_decisions_total{app="admins-only",outcome="allow"}`:     0,
		`gatehouse_api_key_uses_total`:                                           1,
		`gatehouse_app_password_uses_total{result="success"}`:                    0,
		`gatehouse_sessions_active`:                                              3, // alice, carol's two
		`gatehouse_hash_queue_depth`:                                             0,
		`gatehouse_oidc_tokens_issued_total{grant="authorization_code"}`:         0,
	}
	for k, v := range want {
		if got, ok := samples[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// Every password check waited for the pool once: 3 users made, and
	// every sign-in attempt but the throttled one.
	hashes := float64(3 + 1 + fails + 1 + 2)
	if got := samples[`gatehouse_hash_wait_seconds_count`]; got != hashes {
		t.Errorf("gatehouse_hash_wait_seconds_count = %v, want %v", got, hashes)
	}
	// Next to Caddy's own metrics, on Caddy's endpoint.
	if samples[`caddy_config_last_reload_successful`] != 1 {
		var caddy []string
		for k := range samples {
			if strings.HasPrefix(k, "caddy_") {
				caddy = append(caddy, k)
			}
		}
		t.Errorf("Caddy's own admin metrics missing from the scrape; caddy series: %v", caddy)
	}
	// Every series of ours is one we document, and no label carries a
	// username or a login that was tried.
	for k := range samples {
		if !strings.HasPrefix(k, "gatehouse_") {
			continue
		}
		name, _, _ := strings.Cut(k, "{")
		name = strings.TrimSuffix(strings.TrimSuffix(name, "_count"), "_sum")
		if !slices.Contains(metrics.Names, name) {
			t.Errorf("series %s is not in metrics.Names", k)
		}
	}
	for _, v := range labels {
		for _, who := range []string{"alice", "bob", "carol", "mallory", "nobody"} {
			if strings.Contains(v, who) {
				t.Errorf("a label carries a username: %q", v)
			}
		}
	}

	// A reload registers the metrics in the new config's registry (no
	// duplicate registration): counters start again, as Caddy's do, and
	// the live sessions, read from the shared store, are still there.
	h.start(h.caddyfile("", ""))
	if got := get(alice, h.appURL("/"), jsonAPI); got != 200 {
		t.Fatalf("alice on whoami after the reload: %d", got)
	}
	after, _ := scrapeMetrics(t, h)
	for k, v := range map[string]float64{
		`gatehouse_guard_decisions_total{app="whoami",outcome="allow"}`: 1,
		`gatehouse_sign_ins_total{method="password",result="success"}`:  0,
		`gatehouse_sessions_active`:                                     3,
	} {
		if got, ok := after[k]; !ok || got != v {
			t.Errorf("after a reload: %s = %v (present %v), want %v", k, got, ok, v)
		}
	}
}
