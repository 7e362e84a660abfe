package caddymodule

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestReadmeHeaderContractSnippets runs the Caddyfile snippets of the
// README's "Headers sent to your apps" section through a real Caddy: a
// public path (a web-app manifest) left outside the guard, with forged
// identity headers still removed there; and an app role mapped from a
// Gatehouse group with Caddy's map and request_header.
func TestReadmeHeaderContractSnippets(t *testing.T) {
	h := newHarness(t)
	ports := freePorts(t, 2)
	pwa, grafana := ports[0], ports[1]
	up := strings.TrimPrefix(h.upstream.URL, "http://")
	sites := fmt.Sprintf(`
http://127.0.0.1:%[1]d {
	handle /manifest.json {
		request_header -Remote-*
		request_header Cookie "(^|;) *gatehouse_session[^=;]*=[^;]*" ""
		reverse_proxy %[3]s
	}
	handle {
		gatehouse notes
		reverse_proxy %[3]s
	}
}

http://127.0.0.1:%[2]d {
	gatehouse grafana
	map {header.Remote-Groups} {grafana_role} {
		~(^|,)grafana-admins(,|$) Admin
		default                   Viewer
	}
	request_header X-Grafana-Role {grafana_role}
	reverse_proxy %[3]s
}
`, pwa, grafana, up)
	h.start(h.caddyfile("", sites))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user", "grafana-admins", "staff")
	h.addUser("bob", bobPW, "user", "staff")
	pwaURL := func(p string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", pwa, p) }
	grafanaURL := fmt.Sprintf("http://127.0.0.1:%d/", grafana)

	t.Run("public manifest", func(t *testing.T) {
		anon := h.client()
		before := h.upstreamHits()
		resp, _ := do(t, anon, "GET", pwaURL("/manifest.json"), nil, map[string]string{
			"Accept": "application/json", "Remote-User": "olga", "remote-groups": "admins", "Remote-Impersonator": "x"})
		if resp.StatusCode != http.StatusOK || h.upstreamHits() == before {
			t.Fatalf("anonymous GET /manifest.json: %d", resp.StatusCode)
		}
		seen, _ := h.lastSeen()
		for k := range seen {
			if strings.HasPrefix(strings.ToLower(k), "remote-") {
				t.Errorf("a forged %s reached the app on the public path", k)
			}
		}
		resp, _ = do(t, anon, "GET", pwaURL("/notes"), nil, browser)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.portalURL("/login")) {
			t.Errorf("anonymous GET of the rest of the app: %d %s, want the sign-in redirect", resp.StatusCode, resp.Header.Get("Location"))
		}
		// A signed-in browser's session cookie stays out of the app there.
		alice := h.client()
		h.apiLogin(alice, "alice", alicePW)
		if resp, _ := do(t, alice, "GET", pwaURL("/manifest.json"), nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("alice GET /manifest.json: %d", resp.StatusCode)
		}
		if seen, _ := h.lastSeen(); strings.Contains(seen.Get("Cookie"), "gatehouse") {
			t.Errorf("the session cookie reached the app on the public path: %q", seen.Get("Cookie"))
		}
	})

	t.Run("app role from a group", func(t *testing.T) {
		for _, tc := range []struct{ user, pw, want string }{{"alice", alicePW, "Admin"}, {"bob", bobPW, "Viewer"}} {
			c := h.client()
			h.apiLogin(c, tc.user, tc.pw)
			resp, _ := do(t, c, "GET", grafanaURL, nil, map[string]string{"Accept": "application/json", "X-Grafana-Role": "Admin"})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", tc.user, resp.StatusCode)
			}
			seen, _ := h.lastSeen()
			if got := seen.Values("X-Grafana-Role"); len(got) != 1 || got[0] != tc.want {
				t.Errorf("%s: X-Grafana-Role %q, want %q", tc.user, got, tc.want)
			}
		}
	})
}

// TestReadmeHeaderContractSnippetsAdapt: the Caddyfile snippets of the
// README's "Headers sent to your apps" section, as written there, adapt.
func TestReadmeHeaderContractSnippetsAdapt(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## Headers sent to your apps")
	end := strings.Index(text, "## Putting a real app behind it")
	if start < 0 || end < start {
		t.Fatal("README: no headers section")
	}
	blocks := regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindAllStringSubmatch(text[start:end], -1)
	if len(blocks) < 2 {
		t.Fatalf("README headers section: %d Caddyfile snippets, want the role mapping and the public path", len(blocks))
	}
	for _, b := range blocks {
		cf := "{\n\tgatehouse {\n\t\tportal_url https://auth.example.com\n\t}\n}\n\n" + b[1]
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "README.md"}); err != nil {
			t.Errorf("README snippet does not adapt: %v\n%s", err, b[1])
		}
	}
}
