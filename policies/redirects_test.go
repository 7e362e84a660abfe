package policies

import (
	"net/url"
	"strings"
	"testing"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// testPolicy is the policy most rows run against: an https portal on a
// non-default port, a cookie domain and two app hosts outside it.
func testPolicy(t testing.TB) RedirectPolicy {
	return RedirectPolicy{
		Portal:       mustURL(t, "https://auth.example.com:8443"),
		CookieDomain: "example.com",
		AppHosts:     []string{"grafana.internal", "Wiki.Other.org:8080"},
	}
}

func TestRedirectClean(t *testing.T) {
	main := testPolicy(t)
	httpPortal := RedirectPolicy{Portal: mustURL(t, "http://localhost:8080")}
	ipv6Portal := RedirectPolicy{Portal: mustURL(t, "http://[::1]:8080")}
	noPortal := RedirectPolicy{CookieDomain: "example.com"}

	tests := []struct {
		name   string
		policy *RedirectPolicy // nil: main
		rd     string
		want   string // "" when refused
	}{
		// Allowed.
		{name: "root path", rd: "/", want: "https://auth.example.com:8443/"},
		{name: "relative path with query and fragment", rd: "/apps?tab=all&x=1#top", want: "https://auth.example.com:8443/apps?tab=all&x=1#top"},
		{name: "relative path with encoded space", rd: "/search?q=a%20b", want: "https://auth.example.com:8443/search?q=a%20b"},
		{name: "encoded url in query stays on portal", rd: "/next?rd=https%3A%2F%2Fevil.com", want: "https://auth.example.com:8443/next?rd=https%3A%2F%2Fevil.com"},
		{name: "dot segments resolve on portal", rd: "/a/../b", want: "https://auth.example.com:8443/b"},
		{name: "dot segments above root stay on portal", rd: "/x/../..//evil.com", want: "https://auth.example.com:8443/evil.com"},
		{name: "portal host same port", rd: "https://auth.example.com:8443/me", want: "https://auth.example.com:8443/me"},
		{name: "portal host other port", rd: "https://auth.example.com:9443/x", want: "https://auth.example.com:9443/x"},
		{name: "cookie domain itself", rd: "https://example.com/", want: "https://example.com/"},
		{name: "subdomain of cookie domain", rd: "https://grafana.example.com/d/abc?orgId=1", want: "https://grafana.example.com/d/abc?orgId=1"},
		{name: "deep subdomain of cookie domain", rd: "https://a.b.example.com/", want: "https://a.b.example.com/"},
		{name: "app host", rd: "https://grafana.internal/", want: "https://grafana.internal/"},
		{name: "app host listed with port, other case", rd: "https://wiki.other.org:8080/page", want: "https://wiki.other.org:8080/page"},
		{name: "uppercase good host and scheme", rd: "HTTPS://GRAFANA.EXAMPLE.COM/Path", want: "https://grafana.example.com/Path"},
		{name: "trailing dot host", rd: "https://app.example.com./", want: "https://app.example.com/"},
		{name: "fullwidth host maps to ascii", rd: "https://ａｐｐ.example.com/", want: "https://app.example.com/"},
		{name: "http portal allows http", policy: &httpPortal, rd: "http://localhost:8080/x", want: "http://localhost:8080/x"},
		{name: "http portal relative", policy: &httpPortal, rd: "/x", want: "http://localhost:8080/x"},
		{name: "ipv6 portal", policy: &ipv6Portal, rd: "http://[::1]:8080/", want: "http://[::1]:8080/"},
		{name: "no portal, cookie domain", policy: &noPortal, rd: "https://app.example.com/", want: "https://app.example.com/"},

		// Refused.
		{name: "empty", rd: ""},
		{name: "too long", rd: "/" + strings.Repeat("a", MaxRedirectLength)},
		{name: "too long once escaped", rd: "/]{" + strings.Repeat("(", 1000)},
		{name: "ipv4 mapped ipv6 loopback", rd: "https://[::ffff:127.0.0.1]/"},
		{name: "no portal, relative", policy: &noPortal, rd: "/x"},
		{name: "bare host", rd: "evil.com"},
		{name: "relative without slash", rd: "apps"},
		{name: "other host", rd: "https://evil.com"},
		{name: "uppercase other host", rd: "HTTPS://EVIL.COM"},
		{name: "scheme relative", rd: "//evil.com"},
		{name: "scheme relative with leading space", rd: " //evil.com"},
		{name: "triple slash", rd: "///evil.com"},
		{name: "slash backslash", rd: `/\evil.com`},
		{name: "double backslash", rd: `\\evil.com`},
		{name: "scheme without slashes", rd: "https:evil.com"},
		{name: "scheme with one slash", rd: "http:/evil.com"},
		{name: "scheme with three slashes", rd: "https:///evil.com"},
		{name: "scheme with four slashes", rd: "https:////evil.com"},
		{name: "javascript", rd: "javascript:alert(1)"},
		{name: "javascript with newline", rd: "java\nscript:alert(1)"},
		{name: "data", rd: "data:text/html,<script>alert(1)</script>"},
		{name: "vbscript", rd: "vbscript:msgbox(1)"},
		{name: "ftp", rd: "ftp://app.example.com/file"},
		{name: "userinfo with allowed name", rd: "https://example.com@evil.com"},
		{name: "userinfo on allowed host", rd: "https://user:pw@app.example.com"},
		{name: "userinfo looking like a port", rd: "https://evil.com:443@app.example.com/"},
		{name: "encoded slash in userinfo", rd: "https://app.example.com%2F@evil.com"},
		{name: "backslash before at", rd: `https://evil.com\@example.com`},
		{name: "backslash in host", rd: `https://evil.com\.example.com`},
		{name: "percent in host", rd: "https://evil.com%2F.example.com"},
		{name: "encoded letter in host", rd: "https://%65xample.com/"},
		{name: "cookie domain as prefix", rd: "https://example.com.evil.com"},
		{name: "cookie domain as suffix without dot", rd: "https://evilexample.com"},
		{name: "empty label", rd: "https://.example.com/"},
		{name: "double dot", rd: "https://app..example.com/"},
		{name: "fragment before allowed name", rd: "https://evil.com#.example.com"},
		{name: "http when portal is https", rd: "http://auth.example.com:8443/"},
		{name: "ipv6 loopback", rd: "http://[::1]"},
		{name: "ipv4 loopback", rd: "https://127.0.0.1/"},
		{name: "decimal ipv4", rd: "https://2130706433/"},
		{name: "hex ipv4", rd: "https://0x7f.1/"},
		{name: "port out of range", rd: "https://app.example.com:99999/"},
		{name: "space in host", rd: "https://exa mple.com/"},
		{name: "nul raw", rd: "/foo\x00bar"},
		{name: "nul encoded", rd: "/foo%00bar"},
		{name: "crlf raw", rd: "/foo\r\nLocation: https://evil.com"},
		{name: "crlf encoded", rd: "/foo%0d%0aSet-Cookie:%20x=1"},
		{name: "tab raw", rd: "/\t/evil.com"},
		{name: "tab encoded", rd: "/%09/evil.com"},
		{name: "tab double encoded", rd: "/%2509/evil.com"},
		{name: "encoded slashes without leading slash", rd: "%2F%2Fevil.com"},
		{name: "encoded slash after slash", rd: "/%2Fevil.com"},
		{name: "encoded slashes after slash", rd: "/%2F%2Fevil.com"},
		{name: "double encoded slashes", rd: "%252F%252Fevil.com"},
		{name: "double encoded slashes after slash", rd: "/%252F%252Fevil.com"},
		{name: "triple encoded slash after slash", rd: "/%25252Fevil.com"},
		{name: "encoded backslash", rd: "/%5Cevil.com"},
		{name: "double encoded backslash", rd: "/%255Cevil.com"},
		{name: "encoded slashes in path of allowed host", rd: "https://app.example.com/%2F%2Fevil.com"},
		{name: "double slash path on allowed host", rd: "https://app.example.com//evil.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := main
			if tt.policy != nil {
				p = *tt.policy
			}
			got, ok := p.Clean(tt.rd)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("Clean(%q) = %q, %v; want %q, %v", tt.rd, got, ok, tt.want, tt.want != "")
			}
		})
	}
}

// allowedByTestPolicy is testPolicy's rule written out by hand.
func allowedByTestPolicy(host string) bool {
	switch host {
	case "auth.example.com", "example.com", "grafana.internal", "wiki.other.org":
		return true
	}
	return strings.HasSuffix(host, ".example.com")
}

func FuzzRedirectClean(f *testing.F) {
	for _, s := range []string{
		"/", "/apps?x=1#y", "//evil.com", `/\evil.com`, "https://example.com@evil.com",
		"https://grafana.example.com/", "HTTPS://APP.EXAMPLE.COM./", "/%2F%2Fevil.com",
		"https://ａｐｐ.example.com/", "http://[::1]:8080/", "https://evilexample.com",
		"/%252F%252Fevil.com", "https://wiki.other.org:8080/x?y#z",
	} {
		f.Add(s)
	}
	p := testPolicy(f)
	f.Fuzz(func(t *testing.T, rd string) {
		out, ok := p.Clean(rd)
		if !ok {
			if out != "" {
				t.Fatalf("Clean(%q) refused but returned %q", rd, out)
			}
			return
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("Clean(%q) = %q, which does not parse: %v", rd, out, err)
		}
		if u.Scheme != "https" || u.Opaque != "" || u.Host == "" {
			t.Fatalf("Clean(%q) = %q: not an absolute https URL", rd, out)
		}
		if u.User != nil {
			t.Fatalf("Clean(%q) = %q: has user info", rd, out)
		}
		if !allowedByTestPolicy(u.Hostname()) {
			t.Fatalf("Clean(%q) = %q: host %q is not allowed", rd, out, u.Hostname())
		}
		if strings.ContainsAny(out, "\\ \t\r\n\x00") {
			t.Fatalf("Clean(%q) = %q: holds a backslash, space or control character", rd, out)
		}
		if again, ok := p.Clean(out); !ok || again != out {
			t.Fatalf("Clean(%q) = %q, but Clean of that = %q, %v", rd, out, again, ok)
		}
	})
}
