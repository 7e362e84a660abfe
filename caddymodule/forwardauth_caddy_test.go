package caddymodule

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestForwardAuthCaddy runs the README's second-Caddy example
// (examples/caddy-forward-auth: Caddy's own forward_auth, no Gatehouse
// module) in front of an app: anonymous browsers are sent to the login
// page with the page as rd, API clients get 401, a user the app admits
// reaches it as themselves without the session cookie, one it does not
// admit gets 403, forged identity headers never reach the app.
func TestForwardAuthCaddy(t *testing.T) {
	h := newHarness(t)
	b, err := os.ReadFile(filepath.Join("..", "examples", "caddy-forward-auth", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	site := string(b)
	for _, r := range [][2]string{
		{"app.example.com {", fmt.Sprintf("http://127.0.0.1:%d {", port)},
		{"https://auth.example.com", h.portalURL("")},
		{"?app=wiki", "?app=wiki"},
		{"127.0.0.1:8080", strings.TrimPrefix(h.upstream.URL, "http://")},
	} {
		if !strings.Contains(site, r[0]) {
			t.Fatalf("examples/caddy-forward-auth/Caddyfile no longer holds %q", r[0])
		}
		site = strings.ReplaceAll(site, r[0], r[1])
	}
	h.start(h.caddyfile("app wiki {\n\t\t\tallow_groups staff\n\t\t}", site))
	h.addUser("alice", alicePW, "user", "staff")
	h.addUser("bob", bobPW, "user")
	target := fmt.Sprintf("http://127.0.0.1:%d/wiki/page?id=7&edit=1", port)
	forged := map[string]string{"Remote-User": "mallory", "remote-groups": "admins", "Remote_User": "mallory", "Remote-Impersonator": "olga", "Remote-Role": "owner"}
	merge := func(a, b map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range []map[string]string{a, b} {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}

	anon := h.client()
	resp, body := do(t, anon, "GET", target, nil, merge(browser, forged))
	if want := h.portalURL("/login?rd=" + url.QueryEscape(target)); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("anonymous browser: %d Location %q %s, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), body, want)
	}
	if resp, body := do(t, anon, "GET", target, nil, merge(jsonAPI, forged)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous API client: %d %s, want 401", resp.StatusCode, body)
	}
	if n := h.upstreamHits(); n != 0 {
		t.Fatalf("%d anonymous requests reached the app", n)
	}

	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	u, _ := url.Parse(target)
	alice.Jar.SetCookies(u, []*http.Cookie{{Name: "wiki_prefs", Value: "dark"}})
	if resp, body := do(t, alice, "GET", target, nil, merge(browser, forged)); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice: %d %s", resp.StatusCode, body)
	}
	seen, n := h.lastSeen()
	if n != 1 {
		t.Fatalf("the app saw %d requests, want 1", n)
	}
	for name, want := range map[string]string{"Remote-User": "alice", "Remote-Email": "alice@example.com", "Remote-Name": "Alice", "Remote-Groups": "staff", "Remote-Impersonator": "", "Remote-Role": ""} {
		if got := strings.Join(seen.Values(name), ","); got != want {
			t.Errorf("the app saw %s %q, want %q", name, got, want)
		}
	}
	if ck := strings.Join(seen.Values("Cookie"), "; "); strings.Contains(ck, "gatehouse") || !strings.Contains(ck, "wiki_prefs=dark") {
		t.Errorf("the app saw Cookie %q: want its own cookie and no session", ck)
	}
	for name, vs := range seen {
		if strings.Contains(strings.Join(vs, " "), "mallory") || strings.Contains(strings.Join(vs, " "), "admins") {
			t.Errorf("a forged header reached the app: %s: %q", name, vs)
		}
	}

	bob := h.client()
	h.apiLogin(bob, "bob", bobPW)
	if resp, body := do(t, bob, "GET", target, nil, browser); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob: %d %s, want 403", resp.StatusCode, body)
	}
	if n := h.upstreamHits(); n != 1 {
		t.Fatalf("the app saw %d requests, want still 1", n)
	}
}
