package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestForwardAuthEndpoints asks the forward-auth endpoints directly, as
// Traefik, another Caddy or nginx would: the original request in
// X-Forwarded-*, the client's cookie or API key as it came. Browsers are
// sent to the portal (with rd only for an allowed return target), other
// clients get 401, forbidden 403, step-up as the guard; 200 carries the
// identity and the client's cookies without ours; the auth-request
// endpoint never redirects; bad input and an untrusted proxy get 400.
func TestForwardAuthEndpoints(t *testing.T) {
	h := newHarness(t)
	cf := h.caddyfile("app wiki {\n\t\t\tallow_groups staff\n\t\t}\n\t\tapp vault {\n\t\t\trequire_2fa\n\t\t}", "")
	h.start(cf)
	h.addUser("alice", alicePW, "user", "staff")
	h.addUser("bob", bobPW, "user")
	h.addUser("olga", ownerPW, "owner")
	alice, bob, anon := h.client(), h.client(), h.client()
	h.apiLogin(alice, "alice", alicePW)
	h.apiLogin(bob, "bob", bobPW)
	resp, b := do(t, alice, "POST", h.portalURL("/api/v1/keys"), strings.NewReader(`{"label":"proxy test"}`), jsonAPI)
	var key struct{ Key string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &key) != nil || key.Key == "" {
		t.Fatalf("create key: %d %s", resp.StatusCode, b)
	}

	original := func(method, host, uri string) map[string]string {
		return map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Proto": "https", "X-Forwarded-Host": host, "X-Forwarded-Uri": uri}
	}
	fwd := original("GET", "127.0.0.1", "/page?id=7&x=%2F")
	back := "https://127.0.0.1/page?id=7&x=%2F"
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	login := h.portalURL("/login?rd=" + url.QueryEscape(back))
	forged := map[string]string{"Remote-User": "mallory", "Remote-Groups": "admins"}
	bearer := map[string]string{"Authorization": "Bearer " + key.Key}

	for _, c := range []struct {
		name     string
		client   *http.Client
		endpoint string
		hdr      map[string]string
		status   int
		location string
		user     string
	}{
		{"anonymous browser: login with rd", anon, "forward-auth?app=wiki", merge(browser, fwd, forged), 302, login, ""},
		{"anonymous browser, a host that is no return target: login without rd", anon, "forward-auth?app=wiki", merge(browser, original("GET", "evil.example.net", "/x"), forged), 302, h.portalURL("/login"), ""},
		{"anonymous browser posting: 401, no redirect", anon, "forward-auth?app=wiki", merge(browser, original("POST", "127.0.0.1", "/x")), 401, "", ""},
		{"anonymous API client: 401", anon, "forward-auth?app=wiki", merge(jsonAPI, fwd, forged), 401, "", ""},
		{"alice: 200 as alice", alice, "forward-auth?app=wiki", merge(browser, fwd, forged), 200, "", "alice"},
		{"alice on a path with commas: 200 as alice", alice, "forward-auth?app=wiki", merge(browser, original("GET", "127.0.0.1", "/a,b?x=1,2")), 200, "", "alice"},
		{"a list of hosts: 400", alice, "forward-auth?app=wiki", merge(browser, original("GET", "127.0.0.1, evil.example.net", "/")), 400, "", ""},
		{"alice's API key: 200 as alice", h.client(), "forward-auth?app=wiki", merge(jsonAPI, fwd, forged, bearer), 200, "", "alice"},
		{"a forged key: 401", h.client(), "forward-auth?app=wiki", merge(jsonAPI, fwd, map[string]string{"Authorization": "Bearer gth_forged"}), 401, "", ""},
		{"bob, not admitted: 403", bob, "forward-auth?app=wiki", merge(browser, fwd), 403, "", ""},
		{"alice without a second factor on a require_2fa app: step up", alice, "forward-auth?app=vault", merge(browser, fwd), 302, h.portalURL("/login/2fa?rd=" + url.QueryEscape(back)), ""},
		{"the guarded app admins-only: bob 403", bob, "forward-auth?app=admins-only", merge(jsonAPI, fwd), 403, "", ""},

		{"auth-request, anonymous browser: 401 with the login in Location", anon, "auth-request?app=wiki", merge(browser, fwd), 401, login, ""},
		{"auth-request, anonymous API client: 401", anon, "auth-request?app=wiki", merge(jsonAPI, fwd), 401, "", ""},
		{"auth-request, alice: 200", alice, "auth-request?app=wiki", merge(browser, fwd, forged), 200, "", "alice"},
		{"auth-request, bob: 403", bob, "auth-request?app=wiki", merge(browser, fwd), 403, "", ""},
		{"auth-request, step up: 403", alice, "auth-request?app=vault", merge(jsonAPI, fwd), 403, "", ""},

		{"no app: 400", alice, "forward-auth", merge(browser, fwd), 400, "", ""},
		{"unknown app: 404", alice, "forward-auth?app=nope", merge(browser, fwd), 404, "", ""},
		{"no X-Forwarded-Proto: 400", alice, "auth-request?app=wiki", merge(browser, original("GET", "127.0.0.1", "/"), map[string]string{"X-Forwarded-Proto": "ftp"}), 400, "", ""},
		{"no X-Forwarded-Host: 400", alice, "forward-auth?app=wiki", merge(browser, original("GET", "", "/")), 400, "", ""},
		{"a URI that is not a path: 400", alice, "forward-auth?app=wiki", merge(browser, original("GET", "127.0.0.1", "//evil.example.net/")), 400, "", ""},
		{"a host with user info: 400", alice, "forward-auth?app=wiki", merge(browser, original("GET", "x@evil.example.net", "/")), 400, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, b := do(t, c.client, "GET", h.portalURL("/api/authz/"+c.endpoint), nil, c.hdr)
			if resp.StatusCode != c.status || resp.Header.Get("Location") != c.location {
				t.Fatalf("%d Location %q %s, want %d %q", resp.StatusCode, resp.Header.Get("Location"), b, c.status, c.location)
			}
			if got := resp.Header.Get("Remote-User"); got != c.user {
				t.Fatalf("Remote-User %q, want %q", got, c.user)
			}
			if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if c.status == 400 && !strings.Contains(string(b), "X-Forwarded") && !strings.Contains(string(b), `"field":"app"`) {
				t.Errorf("400 names neither the header nor the app parameter: %s", b)
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("the answer sets cookies: %v", resp.Cookies())
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store (a proxy must not keep an answer about one client)", cc)
			}
			if c.status != 200 {
				// Traefik and Caddy's forward_auth pass a refusal on to
				// the client, body and headers: the portal's own.
				for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
					if got := resp.Header.Get(name); got != want {
						t.Errorf("%s %q on a refusal, want %q", name, got, want)
					}
				}
				if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
					t.Errorf("no Content-Security-Policy on a refusal: %v", resp.Header)
				}
			}
			if c.user == "" {
				return
			}
			for name, want := range map[string]string{"Remote-Email": "alice@example.com", "Remote-Name": "Alice", "Remote-Groups": "staff"} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
			if ck := resp.Header.Get("Cookie"); strings.Contains(ck, "gatehouse") {
				t.Errorf("the answer passes our cookie on: Cookie %q", ck)
			}
			if strings.Contains(strings.Join(resp.Header.Values("Authorization"), ""), key.Key) {
				t.Error("the answer passes the API key on")
			}
		})
	}

	// The endpoints answer GET and HEAD only, ahead of the route chain
	// or through it: any other method is refused (405 or 404, as the
	// route table answers it) and lets nobody in.
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		resp, _ := do(t, alice, m, h.portalURL("/api/authz/auth-request?app=wiki"), nil, merge(browser, fwd))
		if (resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound) || resp.Header.Get("Remote-User") != "" {
			t.Errorf("%s: %d Remote-User %q, want 405 or 404 and nobody", m, resp.StatusCode, resp.Header.Get("Remote-User"))
		}
	}
	if resp, _ := do(t, alice, "HEAD", h.portalURL("/api/authz/auth-request?app=wiki"), nil, merge(browser, fwd)); resp.StatusCode != 200 || resp.Header.Get("Remote-User") != "alice" {
		t.Errorf("HEAD: %d Remote-User %q, want 200 as alice", resp.StatusCode, resp.Header.Get("Remote-User"))
	}

	// Audited as the guard audits: the forged key's failed use, via the
	// guard.
	olga := h.client()
	h.apiLogin(olga, "olga", ownerPW)
	resp, b = do(t, olga, "GET", h.portalURL("/api/v1/audit?action=key.use"), nil, jsonAPI)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"via":"guard"`) || !strings.Contains(string(b), "malformed key") {
		t.Errorf("audit of the forged key: %d %s", resp.StatusCode, b)
	}

	// Without trusted_proxies, the X-Forwarded-* headers cannot be
	// believed: 400 naming the setting.
	h.start(strings.Replace(cf, "trusted_proxies static 127.0.0.1/32", "trusted_proxies static 192.0.2.0/24", 1))
	for _, ep := range []string{"forward-auth", "auth-request"} {
		resp, b := do(t, alice, "GET", h.portalURL("/api/authz/"+ep+"?app=wiki"), nil, merge(browser, fwd))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "trusted_proxies") {
			t.Errorf("%s from an untrusted address: %d %s, want 400 naming trusted_proxies", ep, resp.StatusCode, b)
		}
	}
}

// TestForwardAuthReadmeExamples: the README's forward-auth section shows
// each example file as it is, so what the README shows is what the tests
// run.
func TestForwardAuthReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"nginx/app.conf", "caddy-forward-auth/Caddyfile", "traefik/dynamic.yml"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "\n"+string(b)+"```") {
			t.Errorf("the README does not show examples/%s as it is", f)
		}
	}
}
