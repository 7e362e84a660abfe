package caddymodule

import "testing"

// TestMetricsLDAPThroughCaddy: binds and searches of Debian's OpenLDAP
// tools against the directory server are counted on Caddy's /metrics,
// and a user's bind is a sign-in of method "ldap".
func TestMetricsLDAPThroughCaddy(t *testing.T) {
	h, env, _ := startLDAPHarness(t, "")
	clientDN, secret := makeClient(t, h, "nextcloud", "")
	if out, code := env.run("ldapwhoami", "-x", "-H", env.plain, "-D", "alice", "-w", alicePW); code != 0 {
		t.Fatalf("alice's bind: exit %d %s", code, out)
	}
	if out, code := env.run("ldapwhoami", "-x", "-H", env.plain, "-D", "alice", "-w", "Wrong-passw0rd"); code != 49 {
		t.Fatalf("alice's bind with a wrong password: exit %d %s, want 49", code, out)
	}
	if dns, out, code := env.search(env.plain, clientDN, secret, "ou=users,dc=gatehouse", "(uid=bob)"); code != 0 || len(dns) != 1 {
		t.Fatalf("client search: exit %d %v %s", code, dns, out)
	}
	samples, labels := scrapeMetrics(t, h)
	want := map[string]float64{
		`gatehouse_ldap_operations_total{op="bind",result="success"}`:   2, // alice, the client
		`gatehouse_ldap_operations_total{op="bind",result="failure"}`:   1,
		`gatehouse_ldap_operations_total{op="bind",result="throttled"}`: 0,
		`gatehouse_ldap_operations_total{op="search",result="success"}`: 1,
		`gatehouse_sign_ins_total{method="ldap",result="success"}`:      1,
		`gatehouse_sign_ins_total{method="ldap",result="failure"}`:      1,
		`gatehouse_throttled_total{surface="ldap"}`:                     0,
	}
	for k, v := range want {
		if got, ok := samples[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	for _, v := range labels {
		if v == "alice" || v == "nextcloud" {
			t.Errorf("a label carries a name: %q", v)
		}
	}
}
