package caddymodule

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/nginxtest"
)

// nginxExample is examples/nginx/app.conf made to run here: each of the
// example's placeholders is replaced by its value, and a placeholder the
// example no longer holds fails the test (the README shows that file).
func nginxExample(t *testing.T, portal, app, upstream string) string {
	t.Helper()
	return nginxExampleFile(t, "app.conf", portal, app, upstream)
}

// nginxExampleFile is nginxExample for the file name in examples/nginx;
// app-cached.conf also keeps its cache in the server's directory and names
// app in its cache key.
func nginxExampleFile(t *testing.T, name, portal, app, upstream string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "nginx", name))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	replace := [][2]string{
		{"listen 80;", "listen {listen};"},
		{"https://auth.example.com", portal},
		{"?app=wiki", "?app=" + app},
		{"http://127.0.0.1:8080", upstream},
	}
	if name == "app-cached.conf" {
		replace = append(replace, [2]string{"/dev/shm/nginx-gatehouse", "{dir}/auth-cache"},
			[2]string{`proxy_cache_key "wiki|`, `proxy_cache_key "` + app + `|`})
	}
	for _, r := range replace {
		if !strings.Contains(conf, r[0]) {
			t.Fatalf("examples/nginx/%s no longer holds %q", name, r[0])
		}
		conf = strings.ReplaceAll(conf, r[0], r[1])
	}
	return conf
}

// TestForwardAuthNginx runs the README's nginx example (Debian's nginx,
// auth_request to the portal) in front of an app: anonymous browsers are
// sent to the portal's login page and return to the URL they asked for,
// other anonymous clients get 401, a signed-in user the app admits reaches
// it with the identity headers and without the session cookie, one it
// does not admit gets 403, and identity headers a client forges never
// reach the app.
func TestForwardAuthNginx(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("app wiki {\n\t\t\ttitle Wiki\n\t\t\tallow_groups staff\n\t\t}\n\t\tapp vault {\n\t\t\trequire_2fa\n\t\t}", ""))
	h.addUser("alice", alicePW, "user", "staff")
	h.addUser("bob", bobPW, "user")
	ngx := nginxtest.Start(t, nginxtest.Options{Config: nginxExample(t, h.portalURL(""), "wiki", h.upstream.URL)})

	forged := map[string]string{
		"Remote-User": "mallory", "remote-groups": "admins", "REMOTE-EMAIL": "mallory@example.com",
		"Remote-Name": "Mallory", "Remote-Impersonator": "olga", "Remote-Role": "owner",
	}
	with := func(a, b map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range a {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		return m
	}
	target := ngx.URL + "/wiki/page?id=7&edit=1"

	// Anonymous: browsers go to the portal, with the page as rd; other
	// clients get 401. Forged headers change nothing.
	anon := h.client()
	resp, b := do(t, anon, "GET", target, nil, with(browser, forged))
	want := h.portalURL("/login?rd=" + url.QueryEscape(target))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("anonymous browser: %d Location %q, want 302 to %s\n%s\n%s", resp.StatusCode, resp.Header.Get("Location"), want, b, ngx.ErrorLog())
	}
	if resp, b := do(t, anon, "GET", target, nil, with(jsonAPI, forged)); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Fatalf("anonymous API client: %d Location %q %s, want 401", resp.StatusCode, resp.Header.Get("Location"), b)
	}
	if n := h.upstreamHits(); n != 0 {
		t.Fatalf("%d anonymous requests reached the app", n)
	}

	// Signed in at the portal: the cookie (host-only, 127.0.0.1) reaches
	// nginx's port too, and the app sees alice, never the forged identity
	// nor the session cookie; the app's own cookies pass.
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	u, _ := url.Parse(ngx.URL)
	alice.Jar.SetCookies(u, []*http.Cookie{{Name: "wiki_prefs", Value: "dark"}})
	resp, b = do(t, alice, "GET", target, nil, with(browser, forged))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alice: %d %s\n%s", resp.StatusCode, b, ngx.ErrorLog())
	}
	seen, n := h.lastSeen()
	if n != 1 {
		t.Fatalf("the app saw %d requests, want 1", n)
	}
	for name, want := range map[string]string{"Remote-User": "alice", "Remote-Email": "alice@example.com", "Remote-Name": "Alice", "Remote-Groups": "staff", "Remote-Impersonator": "", "Remote-Role": ""} {
		if got := seen.Values(name); strings.Join(got, ",") != want {
			t.Errorf("the app saw %s %q, want %q", name, got, want)
		}
	}
	cookies := strings.Join(seen.Values("Cookie"), "; ")
	if strings.Contains(cookies, "gatehouse") || !strings.Contains(cookies, "wiki_prefs=dark") {
		t.Errorf("the app saw Cookie %q: want its own cookie and no session", cookies)
	}
	for name := range seen {
		if strings.Contains(strings.ToLower(strings.Join(seen[name], " ")), "mallory") {
			t.Errorf("a forged header reached the app: %s: %q", name, seen[name])
		}
	}

	// A user the app does not admit: 403, the app sees nothing.
	bob := h.client()
	h.apiLogin(bob, "bob", bobPW)
	if resp, b := do(t, bob, "GET", target, nil, with(browser, forged)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob: %d %s, want 403", resp.StatusCode, b)
	}
	if n := h.upstreamHits(); n != 1 {
		t.Fatalf("the app saw %d requests, want still 1", n)
	}

	// An administrator impersonating alice: the app sees alice and who
	// impersonates her, not the impersonator a client forges.
	h.addUser("adam", ownerPW, "admin", "admins")
	adam := h.client()
	h.apiLogin(adam, "adam", ownerPW)
	if resp, b := do(t, adam, "POST", h.portalURL("/api/v1/users/alice/impersonate"), nil, jsonAPI); resp.StatusCode != http.StatusOK {
		t.Fatalf("adam impersonates alice: %d %s", resp.StatusCode, b)
	}
	if resp, b := do(t, adam, "GET", target, nil, with(browser, forged)); resp.StatusCode != http.StatusOK {
		t.Fatalf("adam as alice: %d %s", resp.StatusCode, b)
	}
	seen, n = h.lastSeen()
	if n != 2 || seen.Get("Remote-User") != "alice" || strings.Join(seen.Values("Remote-Impersonator"), ",") != "adam" {
		t.Fatalf("the app saw (%d requests) Remote-User %q Remote-Impersonator %q, want alice by adam", n, seen.Get("Remote-User"), seen.Values("Remote-Impersonator"))
	}

	// An app that requires a second factor, alice signed in with a
	// password only: her browser is sent to confirm one and come back; a
	// script gets 403.
	vault := nginxtest.Start(t, nginxtest.Options{Config: nginxExample(t, h.portalURL(""), "vault", h.upstream.URL)})
	resp, b = do(t, alice, "GET", vault.URL+"/secret", nil, browser)
	want = h.portalURL("/login/2fa?rd=" + url.QueryEscape(vault.URL+"/secret"))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("alice on a require_2fa app: %d Location %q %s, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), b, want)
	}
	if resp, b := do(t, alice, "GET", vault.URL+"/secret", nil, jsonAPI); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("alice's script on a require_2fa app: %d %s, want 403", resp.StatusCode, b)
	}
	if n := h.upstreamHits(); n != 2 {
		t.Fatalf("the app saw %d requests, want still 2", n)
	}
}
