package caddymodule

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestLoginRedirectTargets signs in through the HTML form with hostile and
// friendly rd values: only the portal host, the cookie domain and
// registered apps are followed; everything else lands on the portal home.
func TestLoginRedirectTargets(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", `
http://127.0.0.1:`+strconv.Itoa(freePort(t))+` {
	gatehouse wiki {
		url https://wiki.internal.test
	}
	respond "wiki"
}`))
	h.addUser("alice", alicePW, "user")
	home := h.portalURL("/")

	tests := []struct {
		name, rd, want string
	}{
		{"app on the portal host", h.appURL("/x?y=1"), h.appURL("/x?y=1")},
		{"relative path", "/some/where", h.portalURL("/some/where")},
		{"registered app url", "https://wiki.internal.test/page", "https://wiki.internal.test/page"},
		{"empty", "", home},
		{"protocol-relative", "//evil.com", home},
		{"protocol-relative with path", "//evil.com/login", home},
		{"backslash", `/\evil.com`, home},
		{"double backslash", `\\evil.com`, home},
		{"scheme without slashes", "https:evil.com", home},
		{"scheme with one slash", "http:/evil.com", home},
		{"other host", "https://evil.com/", home},
		{"suffix without dot", "http://127.0.0.1.evil.com/", home},
		{"userinfo trick", "http://127.0.0.1@evil.com/", home},
		{"userinfo on good host", "http://user:pw@127.0.0.1/", home},
		{"javascript", "javascript:alert(1)", home},
		{"data", "data:text/html,<script>alert(1)</script>", home},
		{"encoded slashes", "%2F%2Fevil.com", home},
		{"double encoded slashes", "%252F%252Fevil.com", home},
		{"encoded backslash", "/%5Cevil.com", home},
		{"tab in slashes", "/\t/evil.com", home},
		{"newline", "/\nevil", home},
		{"nul byte", "/%00evil", home},
		{"triple slash", "///evil.com", home},
		{"leading space", " //evil.com", home},
		{"ftp", "ftp://127.0.0.1/", home},
		{"uppercase scheme other host", "HTTPS://EVIL.COM", home},
		{"unregistered sibling", "https://evil.internal.test/", home},
	}
	// The form login applies the policy; so does the login page of a
	// signed-in browser, which sends it straight on. Sign-ins are
	// throttled per IP, so the table goes through the page and a few rows
	// through the form.
	signedIn := h.client()
	h.apiLogin(signedIn, "alice", alicePW)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := do(t, signedIn, "GET", h.portalURL("/login?rd="+url.QueryEscape(tc.rd)), nil, browser)
			if got := resp.Header.Get("Location"); resp.StatusCode != 302 || got != tc.want {
				t.Fatalf("rd %q: page %d to %q, want %q", tc.rd, resp.StatusCode, got, tc.want)
			}
			if i%4 != 0 {
				return
			}
			body, hdr := formBody("username", "alice", "password", alicePW, "rd", tc.rd)
			resp, b := do(t, h.client(), "POST", h.portalURL("/login"), body, hdr)
			if got := formTarget(resp, b); got != tc.want {
				t.Fatalf("rd %q: form %d to %q, want %q", tc.rd, resp.StatusCode, got, tc.want)
			}
		})
	}

	// The login page itself never carries a hostile rd into its form.
	resp, b := do(t, h.client(), "GET", h.portalURL("/login?rd="+url.QueryEscape("//evil.com")), nil, browser)
	if resp.StatusCode != 200 || strings.Contains(string(b), "evil.com") {
		t.Fatalf("login page kept a hostile rd: %d", resp.StatusCode)
	}
}
