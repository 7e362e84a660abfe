package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/apachetest"
)

// TestOIDCProviderApacheRelyingParty: a third-party relying party, Debian's
// Apache with mod_auth_openidc, signs alice in through Gatehouse's OpenID
// Connect provider with the whole browser redirect dance (Apache → the
// provider's /authorize → the portal → Apache's redirect URI, where Apache
// exchanges the code at the token endpoint and checks the ID token), and
// the app behind Apache sees her as herself, with her groups. bob, whom
// the app does not admit, gets no code.
func TestOIDCProviderApacheRelyingParty(t *testing.T) {
	h := newHarness(t)
	const secret = "apache-client-secret-0123456789"
	rp := apachetest.Start(t, apachetest.Options{
		Modules: []string{"auth_openidc"},
		Config: `
OIDCProviderMetadataURL ` + h.portalURL("/.well-known/openid-configuration") + `
OIDCClientID apache
OIDCClientSecret ` + secret + `
OIDCRedirectURI {url}/app/redirect_uri
OIDCCryptoPassphrase test-passphrase-0123456789
OIDCScope "openid profile email groups"
OIDCPKCEMethod S256
OIDCRemoteUserClaim preferred_username
OIDCSessionType client-cookie
<Location /app>
  AuthType openid-connect
  Require valid-user
  RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"
  ProxyPass ` + h.upstream.URL + `
</Location>
`})
	h.start(h.caddyfile(`app apache {
			title "Apache"
			allow_groups staff
			oidc {
				redirect_uri `+rp.URL+`/app/redirect_uri
				client_secret `+secret+`
			}
		}`, ""))
	h.addUser("alice", alicePW, "user", "staff", "media")
	h.addUser("bob", bobPW, "user")

	// browse follows redirects the way a browser does, through Apache and
	// the portal, with one cookie jar, and returns the last answer.
	browse := func(c *http.Client, start string) (*http.Response, []byte, []string) {
		t.Helper()
		var hops []string
		u := start
		for range 20 {
			hops = append(hops, u)
			// A browser's Accept: mod_auth_openidc answers other
			// clients 401 rather than sending them to sign in.
			resp, b := do(t, c, "GET", u, nil, map[string]string{"Accept": "text/html,application/xhtml+xml"})
			loc := resp.Header.Get("Location")
			if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
				return resp, b, hops
			}
			next, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := next.Parse(loc)
			if err != nil {
				t.Fatalf("hop %s: Location %q: %v", u, loc, err)
			}
			u = ref.String()
		}
		t.Fatalf("more than 20 redirects:\n%s", strings.Join(hops, "\n"))
		return nil, nil, nil
	}

	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	resp, body, hops := browse(alice, rp.URL+"/app/whoami")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alice at Apache: %d %s\nhops:\n%s\nApache's log:\n%s", resp.StatusCode, body, strings.Join(hops, "\n"), rp.ErrorLog())
	}
	var seen http.Header
	if err := json.Unmarshal(body, &seen); err != nil {
		t.Fatalf("the app's answer: %v\n%s", err, body)
	}
	if got := seen.Get("X-Remote-User"); got != "alice" {
		t.Errorf("REMOTE_USER at the app = %q, want alice; headers: %v", got, seen)
	}
	if got := seen.Get("Oidc_claim_groups"); !strings.Contains(got, "staff") || !strings.Contains(got, "media") {
		t.Errorf("groups claim at the app = %q, want staff and media; headers: %v", got, seen)
	}
	if !strings.Contains(strings.Join(hops, "\n"), "/app/redirect_uri?code=") {
		t.Errorf("no code came back to Apache's redirect URI:\n%s", strings.Join(hops, "\n"))
	}

	// bob is signed in to the portal but the app admits only staff: the
	// provider shows him "no access" and Apache never gets a code.
	bob := h.client()
	h.apiLogin(bob, "bob", bobPW)
	resp, body, hops = browse(bob, rp.URL+"/app/whoami")
	if resp.StatusCode != http.StatusForbidden || strings.Contains(strings.Join(hops, "\n"), "code=") {
		t.Fatalf("bob at Apache: %d %s\nhops:\n%s", resp.StatusCode, body, strings.Join(hops, "\n"))
	}
}
