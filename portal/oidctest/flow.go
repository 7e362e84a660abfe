package oidctest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// maxRedirects bounds the redirects Follow follows.
const maxRedirects = 10

// SignInURL is the address of the portal's "Sign in with ..." button for
// the provider named provider (as configured in Gatehouse), with rd as the
// address to return to ("" for none). portal is the portal's base URL,
// without a trailing slash.
func SignInURL(portal, provider, rd string) string {
	u := portal + "/login/oidc/" + provider
	if rd != "" {
		u += "?rd=" + url.QueryEscape(rd)
	}
	return u
}

// SignIn queues u at p and follows the sign-in that starts at start (see
// SignInURL) to the portal and back, returning the first answer that is
// not a redirect and its body.
func (p *Provider) SignIn(t testing.TB, c *http.Client, start string, u User) (*http.Response, string) {
	t.Helper()
	p.QueueUser(u)
	return Follow(t, c, start)
}

// Follow sends a browser's GET to rawURL and follows the 302 and 303
// redirects (to the provider and back, with c's cookie jar) until an
// answer that is not one. It returns that answer, whose body has been
// read and closed, and the body. It calls t.Fatal on a transport error
// or after too many redirects.
func Follow(t testing.TB, c *http.Client, rawURL string) (*http.Response, string) {
	t.Helper()
	for range maxRedirects {
		resp, body := get(t, c, rawURL)
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			return resp, body
		}
		rawURL = location(t, resp)
	}
	t.Fatalf("oidctest: too many redirects, the last to %s", rawURL)
	return nil, ""
}

// Start opens the portal's sign-in address start (see SignInURL) and
// returns the authorization request it redirects to, without following
// it. It calls t.Fatal unless the answer is a 302.
func Start(t testing.TB, c *http.Client, start string) *url.URL {
	t.Helper()
	return step(t, c, start, "start")
}

// Authorize opens the authorization request authz at the provider, which
// signs in the next queued user, and returns the callback address the
// provider redirects to (with the code and the state), without following
// it. It calls t.Fatal unless the answer is a 302.
func Authorize(t testing.TB, c *http.Client, authz string) *url.URL {
	t.Helper()
	return step(t, c, authz, "authorization request")
}

// step GETs rawURL and returns where its 302 sends the browser.
func step(t testing.TB, c *http.Client, rawURL, what string) *url.URL {
	t.Helper()
	resp, body := get(t, c, rawURL)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("oidctest: %s %s: %d, want a redirect (302)\n%s", what, rawURL, resp.StatusCode, body)
	}
	u, err := url.Parse(location(t, resp))
	if err != nil {
		t.Fatalf("oidctest: %s: %v", what, err)
	}
	return u
}

// get sends a browser's GET and reads the answer.
func get(t testing.TB, c *http.Client, rawURL string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("oidctest: GET %s: %v", rawURL, err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("oidctest: GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatalf("oidctest: read the answer to GET %s: %v", rawURL, err)
	}
	return resp, b.String()
}

// location is the absolute address a redirect sends the browser to.
func location(t testing.TB, resp *http.Response) string {
	t.Helper()
	next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("oidctest: redirect from %s: %v", resp.Request.URL, err)
	}
	return next.String()
}
