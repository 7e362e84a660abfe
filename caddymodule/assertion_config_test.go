package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestJWTHeaderConfig: `headers { jwt NAME }` takes one header of its
// own; a name that is not a header name, an identity header (in any
// spelling an upstream folds to the same), or a header proxies and apps
// read as something else (credentials, cookies, framing, forwarding) is
// refused at load, naming the line, in the Caddyfile and in JSON alike.
func TestJWTHeaderConfig(t *testing.T) {
	dir := t.TempDir()
	cf := func(headers string) string {
		return "{\n\tgatehouse {\n\t\tportal_url http://localhost\n\t\tstorage " + dir + "\n\t\theaders {\n" + headers +
			"\n\t\t}\n\t}\n\tadmin off\n}\n\n:0 {\n\tgatehouse_portal\n}\n"
	}
	for _, tc := range []struct {
		name    string
		headers string
		want    []string // all must appear in the error
	}{
		{"no value", "\t\t\tjwt", []string{"jwt needs a value", "Caddyfile:6"}},
		{"two values", "\t\t\tjwt X-A X-B", []string{"jwt takes one value", "Caddyfile:6"}},
		{"not a header name", "\t\t\tjwt \"X Gatehouse\"", []string{"headers jwt", `"X Gatehouse"`, "not a valid header name", "Caddyfile:6"}},
		{"colon", "\t\t\tjwt X-JWT:", []string{"headers jwt", "not a valid header name", "Caddyfile:6"}},
		{"Remote-User", "\t\t\tjwt Remote-User", []string{"headers jwt", "identity header", "Caddyfile:6"}},
		{"remote_groups spelling", "\t\t\tjwt remote_groups", []string{"headers jwt", "identity header", "Caddyfile:6"}},
		{"Remote-Role, even unset", "\t\t\tjwt Remote-Role", []string{"headers jwt", "identity header", "Caddyfile:6"}},
		{"Remote-User, even renamed", "\t\t\tuser X-User\n\t\t\tjwt Remote-User", []string{"headers jwt", "identity header", "Caddyfile:7"}},
		{"a renamed identity header", "\t\t\tuser X-User\n\t\t\tjwt X-User", []string{"headers jwt", `"X-User"`, "identity header"}},
		{"Cookie", "\t\t\tjwt Cookie", []string{"headers jwt", `"Cookie"`, "something else", "Caddyfile:6"}},
		{"Authorization", "\t\t\tjwt authorization", []string{"headers jwt", "something else", "Caddyfile:6"}},
		{"Proxy-Authorization", "\t\t\tjwt Proxy-Authorization", []string{"headers jwt", "something else", "Caddyfile:6"}},
		{"Host", "\t\t\tjwt Host", []string{"headers jwt", "something else", "Caddyfile:6"}},
		{"X-Forwarded-User", "\t\t\tjwt X-Forwarded-User", []string{"headers jwt", "something else", "Caddyfile:6"}},
		{"Set-Cookie", "\t\t\tjwt Set_Cookie", []string{"headers jwt", "something else", "Caddyfile:6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLoadError(t, cf(tc.headers), tc.want)
		})
	}

	t.Run("adapts", func(t *testing.T) {
		var cfg struct {
			Apps struct {
				Gatehouse struct {
					Headers map[string]string `json:"headers"`
				} `json:"gatehouse"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(adapt(t, cf("\t\t\tjwt X-Gatehouse-JWT")), &cfg); err != nil {
			t.Fatal(err)
		}
		if got := cfg.Apps.Gatehouse.Headers["jwt"]; got != "X-Gatehouse-JWT" {
			t.Fatalf("headers = %v, want jwt X-Gatehouse-JWT", cfg.Apps.Gatehouse.Headers)
		}
	})

	t.Run("the README's block adapts", func(t *testing.T) {
		block := readmeBlock(t, "## Signed identity assertion", "caddyfile")
		if !strings.Contains(block, "jwt X-Gatehouse-JWT") {
			t.Fatalf("the README's block no longer sets jwt:\n%s", block)
		}
		var cfg struct {
			Apps struct {
				Gatehouse struct {
					Headers map[string]string `json:"headers"`
				} `json:"gatehouse"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(adapt(t, block+"\n:0 {\n\tgatehouse_portal\n}\n"), &cfg); err != nil || cfg.Apps.Gatehouse.Headers["jwt"] != "X-Gatehouse-JWT" {
			t.Fatalf("adapted: %v %v", err, cfg.Apps.Gatehouse.Headers)
		}
	})

	// JSON config is checked at provision time with the same rules.
	for _, name := range []string{"Cookie", "Remote-Email", "X-Forwarded-For", "x y"} {
		t.Run("json "+name, func(t *testing.T) {
			cfg := `{"admin":{"disabled":true},"apps":{"gatehouse":{"portal_url":"http://localhost","storage":` +
				jsonString(dir) + `,"headers":{"jwt":` + jsonString(name) + `}}}}`
			err := caddy.Load([]byte(cfg), true)
			if err == nil {
				_ = caddy.Stop()
				t.Fatal("config loaded, want an error")
			}
			if !strings.Contains(err.Error(), "headers jwt") {
				t.Errorf("error %q does not name headers jwt", err)
			}
		})
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }
