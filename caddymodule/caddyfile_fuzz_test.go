package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// balanced reports whether the braces of s never close more than they
// open and end even, so a fuzzed block body cannot step out of its block
// into the rest of the Caddyfile (where it would fuzz Caddy, not us).
func balanced(s string) bool {
	depth := 0
	for _, c := range s {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// adaptFuzz adapts cf and, when that works, checks that the JSON is valid
// and that the gatehouse app and every gatehouse handler in it decode
// strictly into our types and encode back to the same JSON.
func adaptFuzz(t *testing.T, cf string) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("adapt %q: empty error", cf)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("adapt %q: invalid JSON %q", cf, out)
	}
	roundTrip(t, out)
}

var globalSeeds = []string{
	"",
	"storage /var/lib/gatehouse\nportal_url https://auth.example.com",
	"cookie_domain example.com\ncookie_name gh_session",
	"session {\nidle 30m\nlifetime 8h\nremember 720h\n}",
	"session {\nidle nope\n}",
	"headers {\nuser X-User\nemail X-Email\nname X-Name\ngroups X-Groups\nimpersonator X-Impersonator\n}",
	"invite_lifetime 48h\nreset_lifetime 30m",
	"smtp {\nhost smtp.example.com\nport 587\nusername u\npassword {env.SMTP_PASSWORD}\nfrom \"G <g@example.com>\"\ntls starttls\n}",
	"smtp {\nport 99999999999999999999\n}",
	"oidc google {\nissuer https://accounts.google.com\nclient_id id\nclient_secret s\ndisplay_name \"Google\"\nlink_by_email\n}",
	"oidc a {\nscopes openid email\ngroups_claim groups\ngroup_map \"A B\" admins\nauto_create\ntrusted_mfa\n}",
	"oidc\noidc a\noidc a {\n}\noidc a {\n}",
	"storage\nstorage a b\nunknown_option x",
	"portal_url \"\"\ncookie_name `x y`",
}

// FuzzCaddyfileGlobal fuzzes the body of the gatehouse global option.
func FuzzCaddyfileGlobal(f *testing.F) {
	for _, s := range globalSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if !balanced(body) {
			t.Skip()
		}
		adaptFuzz(t, "{\n\tgatehouse {\n"+body+"\n\t}\n}\n\nauth.example.com {\n\tgatehouse_portal\n}\n")
	})
}

// FuzzCaddyfileGuard fuzzes the app name and block of the gatehouse
// handler directive.
func FuzzCaddyfileGuard(f *testing.F) {
	for _, s := range [][2]string{
		{"grafana", "title \"Grafana\"\nurl https://grafana.example.com\nallow_groups admins ops\nallow_users alice"},
		{"wiki", ""},
		{"Wiki", "require_2fa"},
		{"x", "require_2fa yes\ntitle"},
		{"x", "title a b\nurl"},
		{"", "title t"},
		{"a b", ""},
		{"x", "allow_groups\nallow_users"},
		{"x", "unknown 1"},
		{"\"quoted app\"", "url \"not a url\""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, app, body string) {
		if !balanced(app+body) || strings.ContainsAny(app, "{}\n") {
			t.Skip()
		}
		adaptFuzz(t, "example.com {\n\tgatehouse "+app+" {\n"+body+"\n\t}\n\treverse_proxy 127.0.0.1:3000\n}\n")
	})
}
