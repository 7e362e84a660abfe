package caddymodule

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// recipeHosts are the sites of examples/recipes/Caddyfile, one recipe each.
var recipeHosts = []string{"app.example.com", "wiki.example.com", "media.example.com", "files.example.com"}

// recipeSites reads examples/recipes/Caddyfile and makes it run here: each
// host becomes a loopback port, the app's address the harness's upstream.
// Nothing else is changed.
func recipeSites(t *testing.T, h *harness) (string, map[string]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "recipes", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	site := string(b)
	base := map[string]string{}
	ports := freePorts(t, len(recipeHosts))
	repl := [][2]string{{"127.0.0.1:8080", strings.TrimPrefix(h.upstream.URL, "http://")}}
	for i, host := range recipeHosts {
		base[host] = fmt.Sprintf("http://127.0.0.1:%d", ports[i])
		repl = append(repl, [2]string{host + " {", base[host] + " {"})
	}
	for _, r := range repl {
		if !strings.Contains(site, r[0]) {
			t.Fatalf("examples/recipes/Caddyfile no longer holds %q", r[0])
		}
		site = strings.ReplaceAll(site, r[0], r[1])
	}
	return site, base
}

// forgedIdentity is what a client sends to pass for someone else, in the
// spellings upstreams read as the same header.
var forgedIdentity = map[string]string{
	"Remote-User": "mallory", "remote_user": "mallory", "Remote.Groups": "admins",
	"Remote-Email": "mallory@example.com", "Remote-Impersonator": "olga", "Remote-Role": "owner",
}

func withHeaders(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// clientFrom is a client behind the trusted loopback proxy whose
// X-Forwarded-For is xff, as the proxy wrote it.
func clientFrom(xff string) *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     forwardedFor{ip: xff, next: noKeepAlive},
	}
}

// untrustedClient connects from 127.0.0.2, an address trusted_proxies
// does not name, and forges X-Forwarded-For: xff.
func untrustedClient(xff string) *http.Client {
	tr := noKeepAlive.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp4", addr)
	}
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     forwardedFor{ip: xff, next: tr},
	}
}

// checkReached sends the request and checks the status and whether it
// reached the app, as user (Remote-User; "" for nobody) and without any
// forged identity header.
func checkReached(t *testing.T, h *harness, c *http.Client, method, u string, hdr map[string]string, status int, user string) {
	t.Helper()
	before := h.upstreamHits()
	resp, body := do(t, c, method, u, nil, hdr)
	if resp.StatusCode != status {
		t.Errorf("%s %s: %d %.200s, want %d", method, u, resp.StatusCode, body, status)
		return
	}
	seen, n := h.lastSeen()
	if status != http.StatusOK {
		if n != before {
			t.Errorf("%s %s: answered %d but reached the app", method, u, status)
		}
		return
	}
	if n != before+1 {
		t.Errorf("%s %s: reached the app %d times, want once", method, u, n-before)
		return
	}
	if ck := strings.Join(seen.Values("Cookie"), "; "); strings.Contains(ck, "gatehouse") {
		t.Errorf("%s %s: the app saw Gatehouse's cookie: %q", method, u, ck)
	}
	if got := seen.Get("Remote-User"); got != user {
		t.Errorf("%s %s: the app saw Remote-User %q, want %q", method, u, got, user)
	}
	for name, vs := range seen {
		v := strings.Join(vs, " ")
		if strings.Contains(v, "mallory") || strings.Contains(v, "olga") || (strings.HasPrefix(strings.ToLower(name), "remote") && strings.Contains(v, "admins") && user == "") {
			t.Errorf("%s %s: a forged header reached the app: %s: %q", method, u, name, vs)
		}
	}
}

// TestRecipes runs examples/recipes/Caddyfile through a real Caddy and
// checks both sides of each rule: what it lets through without sign-in or
// to a stricter group, and what it still gates; and that a client's
// identity headers never reach the app on the public routes, where no
// guard runs to remove them.
func TestRecipes(t *testing.T) {
	h := newHarness(t)
	site, base := recipeSites(t, h)
	h.start(h.caddyfile("", site))
	h.addUser("alice", alicePW, "user", "staff")
	h.addUser("bob", bobPW, "user")
	h.addUser("ann", "Quarterly-Report9", "user", "admins")
	alice, bob, ann := h.client(), h.client(), h.client()
	h.apiLogin(alice, "alice", alicePW)
	h.apiLogin(bob, "bob", bobPW)
	h.apiLogin(ann, "ann", "Quarterly-Report9")
	anonAPI := withHeaders(jsonAPI, forgedIdentity)

	t.Run("health path", func(t *testing.T) {
		app := base["app.example.com"]
		anon := h.client()
		checkReached(t, h, anon, "GET", app+"/healthz", anonAPI, http.StatusOK, "")
		checkReached(t, h, anon, "HEAD", app+"/healthz", anonAPI, http.StatusOK, "")
		for _, p := range []string{"/", "/secret", "/healthz/x", "/healthzx", "/healthz/../secret", "/healthz%2F..%2Fsecret", "/x/../healthz/../secret"} {
			checkReached(t, h, anon, "GET", app+p, anonAPI, http.StatusUnauthorized, "")
		}
		resp, _ := do(t, anon, "GET", app+"/secret", nil, browser)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.portalURL("/login?rd=")) {
			t.Errorf("anonymous browser on /secret: %d %q, want 302 to the login page", resp.StatusCode, resp.Header.Get("Location"))
		}
		checkReached(t, h, alice, "GET", app+"/secret", withHeaders(jsonAPI, forgedIdentity), http.StatusOK, "alice")
		// A signed-in browser on the public path: its session cookie stays
		// out of the app there too, the app's own cookies go through.
		u, _ := url.Parse(app + "/healthz")
		alice.Jar.SetCookies(u, []*http.Cookie{{Name: "app_prefs", Value: "dark"}, {Name: "gatehouse_session_act", Value: "tok"}})
		checkReached(t, h, alice, "GET", app+"/healthz", anonAPI, http.StatusOK, "")
		if seen, _ := h.lastSeen(); !strings.Contains(seen.Get("Cookie"), "app_prefs=dark") {
			t.Errorf("the app's own cookie did not reach it on /healthz: %q", seen.Get("Cookie"))
		}
	})

	t.Run("stricter admin path", func(t *testing.T) {
		wiki := base["wiki.example.com"]
		admin := []string{"/admin", "/admin/", "/admin/users", "/Admin/users", "/ADMIN", "//admin/users", "/a/../admin/users", "/./admin/users", "/%61dmin/users", "/admin%2Fusers"}
		checkReached(t, h, alice, "GET", wiki+"/page", anonAPI, http.StatusOK, "alice")
		checkReached(t, h, alice, "GET", wiki+"/administrator", anonAPI, http.StatusOK, "alice")
		for _, p := range admin {
			checkReached(t, h, alice, "GET", wiki+p, anonAPI, http.StatusForbidden, "")
			checkReached(t, h, ann, "GET", wiki+p, anonAPI, http.StatusOK, "ann")
		}
		// The two apps' rules are separate: admins-only ann is not staff.
		checkReached(t, h, ann, "GET", wiki+"/page", anonAPI, http.StatusForbidden, "")
		checkReached(t, h, bob, "GET", wiki+"/page", anonAPI, http.StatusForbidden, "")
		checkReached(t, h, bob, "GET", wiki+"/admin/users", anonAPI, http.StatusForbidden, "")
		checkReached(t, h, h.client(), "GET", wiki+"/admin/users", anonAPI, http.StatusUnauthorized, "")
	})

	t.Run("LAN without sign-in", func(t *testing.T) {
		media := base["media.example.com"]
		checkReached(t, h, clientFrom("192.168.1.20"), "GET", media+"/movies", anonAPI, http.StatusOK, "")
		checkReached(t, h, clientFrom("192.168.1.20"), "POST", media+"/movies", anonAPI, http.StatusOK, "")
		for _, xff := range []string{"203.0.113.7", "10.1.2.3", "192.169.0.1"} {
			checkReached(t, h, clientFrom(xff), "GET", media+"/movies", anonAPI, http.StatusUnauthorized, "")
		}
		// Someone who is not a trusted proxy cannot claim to be on the LAN.
		checkReached(t, h, untrustedClient("192.168.1.20"), "GET", media+"/movies", anonAPI, http.StatusUnauthorized, "")
		// Off the LAN, signing in still works.
		checkReached(t, h, alice, "GET", media+"/movies", anonAPI, http.StatusOK, "alice")
	})

	t.Run("reads public, writes gated", func(t *testing.T) {
		files := base["files.example.com"]
		anon := h.client()
		for _, m := range []string{"GET", "HEAD"} {
			checkReached(t, h, anon, m, files+"/report.pdf", anonAPI, http.StatusOK, "")
		}
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "PROPFIND", "MKCOL", "get"} {
			checkReached(t, h, anon, m, files+"/report.pdf", anonAPI, http.StatusUnauthorized, "")
			checkReached(t, h, bob, m, files+"/report.pdf", anonAPI, http.StatusForbidden, "")
		}
		checkReached(t, h, alice, "PUT", files+"/report.pdf", anonAPI, http.StatusOK, "alice")
		checkReached(t, h, alice, "GET", files+"/report.pdf", anonAPI, http.StatusOK, "")
		// A public GET cannot be turned into a DELETE by the app.
		override := map[string]string{"X-HTTP-Method-Override": "DELETE", "X-HTTP-Method": "DELETE", "X-Method-Override": "DELETE"}
		checkReached(t, h, anon, "GET", files+"/report.pdf", withHeaders(anonAPI, override), http.StatusOK, "")
		seen, _ := h.lastSeen()
		for k := range override {
			if v := seen.Get(k); v != "" {
				t.Errorf("a public GET reached the app with %s: %s", k, v)
			}
		}
	})
}

// TestRecipesOneRulePerApp shows why the admin recipe names a second app:
// two guards for one app name with different rules are refused when the
// Caddyfile is adapted, naming the setting and the first declaration.
func TestRecipesOneRulePerApp(t *testing.T) {
	cf := `:8080 {
	handle /admin/* {
		gatehouse wiki {
			allow_groups admins
		}
	}
	handle {
		gatehouse wiki {
			allow_groups staff
		}
	}
}`
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err == nil || !strings.Contains(err.Error(), "declared again with different allow_groups (first declared at Caddyfile:") {
		t.Fatalf("two rules for app wiki: %v, want refused", err)
	}
}

// TestRecipesTrustedProxiesStrict checks the LAN recipe's advice: a proxy
// that appends to X-Forwarded-For passes on the address the client wrote
// first. Without trusted_proxies_strict Caddy reads that one, so an
// outsider passes for a LAN client; with it, Caddy reads from the right
// and the outsider signs in like everyone else.
func TestRecipesTrustedProxiesStrict(t *testing.T) {
	h := newHarness(t)
	site, base := recipeSites(t, h)
	media := base["media.example.com"] + "/movies"
	appended := "192.168.1.20, 203.0.113.7" // client's claim, then what the proxy saw
	const trusted = "trusted_proxies static 127.0.0.1/32"
	cf := h.caddyfile("", site)
	if !strings.Contains(cf, trusted) {
		t.Fatalf("the harness no longer trusts %q", trusted)
	}

	h.start(cf)
	checkReached(t, h, clientFrom(appended), "GET", media, jsonAPI, http.StatusOK, "")

	h.start(strings.Replace(cf, trusted, trusted+"\n\t\ttrusted_proxies_strict", 1))
	checkReached(t, h, clientFrom(appended), "GET", media, jsonAPI, http.StatusUnauthorized, "")
	checkReached(t, h, clientFrom("192.168.1.20"), "GET", media, jsonAPI, http.StatusOK, "")
	checkReached(t, h, clientFrom("203.0.113.7, 192.168.1.20"), "GET", media, jsonAPI, http.StatusOK, "")
}

// TestRecipesPublicRouteNeedsStrip shows why each public route of the
// recipes imports (public): the guard removes a client's identity headers
// only on the routes it runs on, so without those request_header lines a
// forged Remote-User reaches the app on /healthz.
func TestRecipesPublicRouteNeedsStrip(t *testing.T) {
	h := newHarness(t)
	site, base := recipeSites(t, h)
	const imp = "\t\timport public\n"
	if !strings.Contains(site, imp) {
		t.Fatalf("examples/recipes/Caddyfile no longer holds %q", imp)
	}
	h.start(h.caddyfile("", strings.ReplaceAll(site, imp, "")))
	resp, body := do(t, h.client(), "GET", base["app.example.com"]+"/healthz", nil, map[string]string{"Remote-User": "mallory", "Remote-Groups": "admins"})
	seen, _ := h.lastSeen()
	if resp.StatusCode != http.StatusOK || seen.Get("Remote-User") != "mallory" || seen.Get("Remote-Groups") != "admins" {
		t.Fatalf("without the strip: %d %s; the app saw %v, want the forged headers (else the recipe's advice is stale)", resp.StatusCode, body, seen)
	}
}

// TestRecipesReadme: the README shows the recipes' (public) snippet as the
// file has it, so what readers copy is what TestRecipes runs.
func TestRecipesReadme(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	recipes, err := os.ReadFile(filepath.Join("..", "examples", "recipes", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(recipes), "(public) {")
	if i < 0 {
		t.Fatal("examples/recipes/Caddyfile has no (public) snippet")
	}
	snippet := string(recipes[i:])
	snippet = snippet[:strings.Index(snippet, "\n}\n")+2]
	shown := "  " + strings.ReplaceAll(snippet, "\n", "\n  ") // inside a list item
	if !strings.Contains(string(readme), shown) {
		t.Errorf("the README's Rules section does not show the recipes' snippet as it is:\n%s", shown)
	}
}
