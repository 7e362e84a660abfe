package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestBadConfig checks that every bad config fails at load with a message
// that names the directive and the problem (and the line, for Caddyfiles).
func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	global := func(body string) string {
		return "{\n\tgatehouse {\n" + body + "\n\t}\n\tadmin off\n}\n"
	}
	site := "\n:0 {\n\tgatehouse_portal\n}\n"
	tests := []struct {
		name      string
		caddyfile string
		want      []string // all must appear in the error
	}{
		{"unknown global subdirective", global("\t\tportal_url http://localhost\n\t\tcolour blue") + site,
			[]string{`unknown subdirective "colour"`, "Caddyfile:4"}},
		{"bad duration", global("\t\tportal_url http://localhost\n\t\tsession {\n\t\t\tidle soon\n\t\t}") + site,
			[]string{"session idle", `"soon"`, "Caddyfile:5"}},
		{"negative duration", global("\t\tportal_url http://localhost\n\t\tsession {\n\t\t\tlifetime -1h\n\t\t}") + site,
			[]string{"session lifetime", "positive duration"}},
		{"unknown session subdirective", global("\t\tportal_url http://localhost\n\t\tsession {\n\t\t\tforever 1h\n\t\t}") + site,
			[]string{`unknown subdirective "forever"`}},
		{"bad portal url", global("\t\tportal_url auth.example.com") + site,
			[]string{"portal_url", "absolute http or https URL", "Caddyfile:3"}},
		{"portal url with path", global("\t\tportal_url https://auth.example.com/portal") + site,
			[]string{"portal_url", "no path"}},
		{"missing portal url", global("\t\tstorage "+dir) + site,
			[]string{"portal_url is required"}},
		{"missing value", global("\t\tportal_url") + site,
			[]string{"portal_url needs a value"}},
		{"unwritable storage", global("\t\tportal_url http://localhost\n\t\tstorage "+filepath.Join(notADir, "sub")) + site,
			[]string{"storage", notADir}},
		{"bad cookie domain", global("\t\tportal_url http://localhost\n\t\tcookie_domain exa$mple.com") + site,
			[]string{"cookie_domain"}},
		{"cookie domain not containing the portal", global("\t\tportal_url http://auth.example.com\n\t\tcookie_domain other.com\n\t\tstorage "+dir) + site,
			[]string{"cookie domain", "other.com"}},
		{"bad header name", global("\t\tportal_url http://localhost\n\t\theaders {\n\t\t\tuser Remote User\n\t\t}") + site,
			[]string{"user takes one value"}},
		{"guard without app", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) + "\n:0 {\n\tgatehouse\n}\n",
			[]string{"app name is required"}},
		{"guard unknown subdirective", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) + "\n:0 {\n\tgatehouse app {\n\t\tallow_roles admin\n\t}\n}\n",
			[]string{`unknown subdirective "allow_roles"`, "Caddyfile:11"}},
		{"guard empty allow", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) + "\n:0 {\n\tgatehouse app {\n\t\tallow_groups\n\t}\n}\n",
			[]string{"allow_groups needs at least one name"}},
		{"duplicate app with different rules", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) +
			"\n:1 {\n\tgatehouse app {\n\t\tallow_groups a\n\t}\n}\n:2 {\n\tgatehouse app {\n\t\tallow_groups b\n\t}\n}\n",
			[]string{"gatehouse app", "different allow_groups", "first declared at Caddyfile:10", "Caddyfile:17"}},
		{"bad app name", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) + "\n:0 {\n\tgatehouse \"my app\"\n}\n",
			[]string{"app name"}},
		{"smtp bad tls", global("\t\tportal_url http://localhost\n\t\tsmtp {\n\t\t\thost mail.example.com\n\t\t\tfrom gh@example.com\n\t\t\ttls maybe\n\t\t}") + site,
			[]string{"smtp", `"maybe"`, "Caddyfile:7"}},
		{"smtp bad port", global("\t\tportal_url http://localhost\n\t\tsmtp {\n\t\t\thost mail.example.com\n\t\t\tport many\n\t\t}") + site,
			[]string{"smtp port", `"many"`, "Caddyfile:6"}},
		{"smtp without from", global("\t\tportal_url http://localhost\n\t\tsmtp {\n\t\t\thost mail.example.com\n\t\t}") + site,
			[]string{"smtp", "from is required"}},
		{"smtp unknown subdirective", global("\t\tportal_url http://localhost\n\t\tsmtp {\n\t\t\tserver x\n\t\t}") + site,
			[]string{`smtp: unknown subdirective "server"`}},
		{"bad invite lifetime", global("\t\tportal_url http://localhost\n\t\tinvite_lifetime forever") + site,
			[]string{"invite_lifetime", `"forever"`, "Caddyfile:4"}},
		{"oidc unknown subdirective", global("\t\tportal_url http://localhost\n\t\toidc google {\n\t\t\tissuer https://accounts.google.com\n\t\t\tclient_id x\n\t\t\tcolour blue\n\t\t}") + site,
			[]string{"oidc google", `unknown subdirective "colour"`, "Caddyfile:7"}},
		{"oidc missing issuer", global("\t\tportal_url http://localhost\n\t\toidc google {\n\t\t\tclient_id x\n\t\t}") + site,
			[]string{"oidc google", "issuer is required", "Caddyfile:4"}},
		{"oidc missing client id", global("\t\tportal_url http://localhost\n\t\toidc google {\n\t\t\tissuer https://accounts.google.com\n\t\t}") + site,
			[]string{"oidc google", "client_id is required", "Caddyfile:4"}},
		{"oidc bad issuer", global("\t\tportal_url http://localhost\n\t\toidc google {\n\t\t\tissuer accounts.google.com\n\t\t\tclient_id x\n\t\t}") + site,
			[]string{"oidc google", `issuer "accounts.google.com"`, "absolute https URL", "Caddyfile:4"}},
		{"oidc http issuer", global("\t\tportal_url http://localhost\n\t\toidc corp {\n\t\t\tissuer http://sso.example.com\n\t\t\tclient_id x\n\t\t}") + site,
			[]string{"oidc corp", "must be https"}},
		{"oidc bad name", global("\t\tportal_url http://localhost\n\t\toidc \"my idp\" {\n\t\t\tissuer https://sso.example.com\n\t\t\tclient_id x\n\t\t}") + site,
			[]string{"oidc provider name", "my idp", "Caddyfile:4"}},
		{"oidc without name", global("\t\tportal_url http://localhost\n\t\toidc") + site,
			[]string{"oidc needs a provider name"}},
		{"oidc twice", global("\t\tportal_url http://localhost\n\t\toidc g1 {\n\t\t\tissuer https://a.example\n\t\t\tclient_id x\n\t\t}\n\t\toidc g1 {\n\t\t\tissuer https://b.example\n\t\t\tclient_id y\n\t\t}") + site,
			[]string{"oidc g1", "configured twice", "Caddyfile:11"}},
		{"oidc group_map arity", global("\t\tportal_url http://localhost\n\t\toidc g1 {\n\t\t\tissuer https://a.example\n\t\t\tclient_id x\n\t\t\tgroups_claim groups\n\t\t\tgroup_map admins\n\t\t}") + site,
			[]string{"group_map takes an external and a local group name", "Caddyfile:8"}},
		{"oidc bad local group", global("\t\tportal_url http://localhost\n\t\toidc g1 {\n\t\t\tissuer https://a.example\n\t\t\tclient_id x\n\t\t\tgroups_claim groups\n\t\t\tgroup_map admins \"Big Admins\"\n\t\t}") + site,
			[]string{"oidc g1", "group_map admins", "big admins"}},
		{"oidc flag with value", global("\t\tportal_url http://localhost\n\t\toidc g1 {\n\t\t\tissuer https://a.example\n\t\t\tclient_id x\n\t\t\tauto_create yes\n\t\t}") + site,
			[]string{"oidc g1", "auto_create takes no value", "Caddyfile:7"}},
		{"ldap_server without a listener", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tbase_dn dc=example,dc=com\n\t\t}") + site,
			[]string{"ldap_server", "at least one listen", "Caddyfile:4"}},
		{"ldap_server bad listen address", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1\n\t\t}") + site,
			[]string{"ldap_server", `listen address "127.0.0.1"`, "Caddyfile:5"}},
		{"ldap_server port range", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten_tls 127.0.0.1:636-640\n\t\t}") + site,
			[]string{"ldap_server", "one TCP port", "Caddyfile:5"}},
		{"ldap_server bad base_dn", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tbase_dn example.com\n\t\t}") + site,
			[]string{"ldap_server base_dn", `"example.com"`, "Caddyfile:6"}},
		{"ldap_server bad allow", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tallow 10.0.0.0/33\n\t\t}") + site,
			[]string{"ldap_server", `allow "10.0.0.0/33"`, "Caddyfile:6"}},
		{"ldap_server bad size_limit", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tsize_limit none\n\t\t}") + site,
			[]string{"ldap_server size_limit", `"none"`, "Caddyfile:6"}},
		{"ldap_server bad tls_server_name", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\ttls_server_name \"ldap server\"\n\t\t}") + site,
			[]string{"ldap_server", "tls_server_name", "not a host name"}},
		{"ldap_server unknown subdirective", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tanonymous on\n\t\t}") + site,
			[]string{`ldap_server: unknown subdirective "anonymous"`, "Caddyfile:6"}},
		{"ldap_server posix_ids not a range", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tposix_ids 10000\n\t\t}") + site,
			[]string{"ldap_server: posix_ids \"10000\"", "FROM-TO", "Caddyfile:6"}},
		{"ldap_server posix_ids reversed", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tposix_ids 60000-10000\n\t\t}") + site,
			[]string{"posix_ids", "the end is below the start", "Caddyfile:6"}},
		{"ldap_server posix_ids system ids", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tposix_ids 0-5000\n\t\t}") + site,
			[]string{"posix_ids", "1000 or above", "Caddyfile:6"}},
		{"ldap_server posix_ids over nobody", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tposix_ids 10000-70000\n\t\t}") + site,
			[]string{"posix_ids", "65534 (nobody)", "Caddyfile:6"}},
		{"ldap_server posix_ids past 2^31", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t\tposix_ids 100000-4000000000\n\t\t}") + site,
			[]string{"posix_ids", "2147483647 or below", "Caddyfile:6"}},
		{"ldap_server twice", global("\t\tportal_url http://localhost\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3890\n\t\t}\n\t\tldap_server {\n\t\t\tlisten 127.0.0.1:3891\n\t\t}") + site,
			[]string{"ldap_server is given twice", "Caddyfile:7"}},
		{"guard app_passwords with require_2fa", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) + "\n:0 {\n\tgatehouse files {\n\t\trequire_2fa\n\t\tapp_passwords\n\t}\n}\n",
			[]string{"gatehouse files", "app_passwords and require_2fa exclude each other", "not a second factor"}},
		{"guard app_passwords with a value", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) + "\n:0 {\n\tgatehouse files {\n\t\tapp_passwords yes\n\t}\n}\n",
			[]string{"app_passwords takes no value", "Caddyfile:11"}},
		{"duplicate app with different app_passwords", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) +
			"\n:1 {\n\tgatehouse files {\n\t\tapp_passwords\n\t}\n}\n:2 {\n\tgatehouse files\n}\n",
			[]string{"gatehouse files", "different app_passwords"}},
		{"app app_passwords with require_2fa", global("\t\tportal_url http://localhost\n\t\tapp files {\n\t\t\tapp_passwords\n\t\t\trequire_2fa\n\t\t}") + site,
			[]string{"app files", "app_passwords and require_2fa exclude each other", "Caddyfile:4"}},
		{"app oidc without redirect", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\tclient_secret 0123456789abcdef\n\t\t\t}\n\t\t}") + site,
			[]string{"app grafana", "redirect URI", "Caddyfile:4"}},
		{"app oidc wildcard redirect", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\tredirect_uri https://*.example.com/cb\n\t\t\t\tclient_secret 0123456789abcdef\n\t\t\t}\n\t\t}") + site,
			[]string{"app grafana", "redirect uris[0]", "wildcard", "Caddyfile:4"}},
		{"app oidc confidential without secret", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\tredirect_uri https://g.example.com/cb\n\t\t\t}\n\t\t}") + site,
			[]string{"app grafana", "needs client_secret or client_secret_hash", "Caddyfile:4"}},
		{"app oidc public with secret", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\tredirect_uri https://g.example.com/cb\n\t\t\t\tpublic\n\t\t\t\tclient_secret 0123456789abcdef\n\t\t\t}\n\t\t}") + site,
			[]string{"app grafana", "public client has no secret"}},
		{"app oidc short secret", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\tredirect_uri https://g.example.com/cb\n\t\t\t\tclient_secret short\n\t\t\t}\n\t\t}") + site,
			[]string{"app grafana", "at least 16 characters"}},
		{"app oidc bad hash", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\tredirect_uri https://g.example.com/cb\n\t\t\t\tclient_secret_hash $2y$10$abc\n\t\t\t}\n\t\t}") + site,
			[]string{"app grafana", "argon2id PHC"}},
		{"app oidc bad lifetime", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\taccess_token_lifetime 48h\n\t\t\t}\n\t\t}") + site,
			[]string{"access_token_lifetime", `"48h"`, "Caddyfile:6"}},
		{"app oidc unknown subdirective", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\tresponse_type token\n\t\t\t}\n\t\t}") + site,
			[]string{"app grafana", `unknown subdirective "response_type"`, "Caddyfile:6"}},
		{"app unknown subdirective", global("\t\tportal_url http://localhost\n\t\tapp grafana {\n\t\t\tcolour blue\n\t\t}") + site,
			[]string{"app grafana", `unknown subdirective "colour"`, "Caddyfile:5"}},
		{"app bad name", global("\t\tportal_url http://localhost\n\t\tapp \"My App\" {\n\t\t}") + site,
			[]string{"app name", "Caddyfile:4"}},
		{"app twice", global("\t\tportal_url http://localhost\n\t\tapp a1 {\n\t\t}\n\t\tapp a1 {\n\t\t}") + site,
			[]string{"app a1 is declared twice", "Caddyfile:7"}},
		{"app secret placeholder empty", global("\t\tportal_url http://localhost\n\t\tstorage "+dir+"\n\t\tapp grafana {\n\t\t\toidc {\n\t\t\t\tredirect_uri https://g.example.com/cb\n\t\t\t\tclient_secret {env.GATEHOUSE_TEST_UNSET_SECRET}\n\t\t\t}\n\t\t}") + site,
			[]string{"app grafana", "GATEHOUSE_TEST_UNSET_SECRET", "environment variable"}},
		{"guard conflicting with a global app", global("\t\tportal_url http://localhost\n\t\tstorage "+dir+"\n\t\tapp grafana {\n\t\t\tallow_groups ops\n\t\t}") + "\n:0 {\n\tgatehouse grafana {\n\t\tallow_groups devs\n\t}\n}\n",
			[]string{"app grafana", "different allow_groups"}},
		{"oidc_provider bad algorithm", global("\t\tportal_url http://localhost\n\t\toidc_provider {\n\t\t\tsigning_algorithm HS256\n\t\t}") + site,
			[]string{"oidc_provider", "signing_algorithm", `"HS256"`, "RS256 or ES256", "Caddyfile:5"}},
		{"oidc_provider none algorithm", global("\t\tportal_url http://localhost\n\t\toidc_provider {\n\t\t\tsigning_algorithm none\n\t\t}") + site,
			[]string{"oidc_provider", "signing_algorithm", `"none"`, "Caddyfile:5"}},
		{"oidc_provider bad key_rotation", global("\t\tportal_url http://localhost\n\t\toidc_provider {\n\t\t\tkey_rotation soon\n\t\t}") + site,
			[]string{"oidc_provider", "key_rotation", `"soon"`, "Caddyfile:5"}},
		{"oidc_provider negative key_rotation", global("\t\tportal_url http://localhost\n\t\toidc_provider {\n\t\t\tkey_rotation -24h\n\t\t}") + site,
			[]string{"oidc_provider", "key_rotation", `"-24h"`, "Caddyfile:5"}},
		{"oidc_provider short key_rotation", global("\t\tportal_url http://localhost\n\t\toidc_provider {\n\t\t\tkey_rotation 1h\n\t\t}") + site,
			[]string{"oidc_provider", "key_rotation 1h0m0s", "at least 24h", "Caddyfile:5"}},
		{"oidc_provider unknown subdirective", global("\t\tportal_url http://localhost\n\t\toidc_provider {\n\t\t\tissuer https://x.example\n\t\t}") + site,
			[]string{`oidc_provider: unknown subdirective "issuer"`, "Caddyfile:5"}},
		{"oidc_provider with a name", global("\t\tportal_url http://localhost\n\t\toidc_provider google {\n\t\t}") + site,
			[]string{"oidc_provider", `unexpected argument "google"`, "oidc <name>", "Caddyfile:4"}},
		{"oidc_provider twice", global("\t\tportal_url http://localhost\n\t\toidc_provider {\n\t\t}\n\t\toidc_provider {\n\t\t}") + site,
			[]string{"oidc_provider is given twice", "Caddyfile:6"}},
		{"portal with arguments", global("\t\tportal_url http://localhost\n\t\tstorage "+dir) + "\n:0 {\n\tgatehouse_portal extra\n}\n",
			[]string{"gatehouse_portal", "unexpected argument"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantLoadError(t, tc.caddyfile, tc.want)
		})
	}
}

// wantLoadError loads cf and fails t unless that fails with an error
// mentioning every string of want.
func wantLoadError(t *testing.T, cf string, want []string) {
	t.Helper()
	err := loadCaddyfile(cf)
	if err == nil {
		_ = caddy.Stop()
		t.Fatal("config loaded, want an error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// loadCaddyfile adapts and loads a Caddyfile, returning the first error.
func loadCaddyfile(cf string) error {
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return err
	}
	return caddy.Load(cfg, true)
}
