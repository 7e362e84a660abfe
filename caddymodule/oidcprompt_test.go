package caddymodule

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestOIDCPrompt: prompt=none answers without a page (login_required,
// access_denied, interaction_required at the app's redirect URI, or a code
// for a signed-in user the app admits); prompt=login and a max_age older
// than the sign-in show the sign-in form again even to a signed-in user,
// and a sign-in made after the request then gets the code.
func TestOIDCPrompt(t *testing.T) {
	o := startOIDC(t)
	grafana := o.conf("grafana", rpSecret, rpRedirect, "profile")
	vault := o.conf("vault", rpSecret, "http://127.0.0.1:9/vcb")
	// start runs an authorization request with extra parameters and
	// returns the last answer of the redirects on the portal.
	start := func(c *http.Client, conf *oauth2.Config, params ...string) *http.Response {
		t.Helper()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(oauth2.GenerateVerifier())}
		for i := 0; i+1 < len(params); i += 2 {
			opts = append(opts, oauth2.SetAuthURLParam(params[i], params[i+1]))
		}
		resp, _ := o.authorize(c, conf.AuthCodeURL("st", opts...))
		return resp
	}
	// answer is the app's redirect URI's query, or nil for another answer.
	answer := func(resp *http.Response, conf *oauth2.Config) url.Values {
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, conf.RedirectURL+"?") {
			return nil
		}
		u, _ := url.Parse(loc)
		return u.Query()
	}
	alice, bob := o.signedIn("alice"), o.signedIn("bob")

	for _, tc := range []struct {
		name   string
		c      *http.Client
		conf   *oauth2.Config
		params []string
		want   string // the error, or "code"
	}{
		{"none, not signed in", o.h.client(), grafana, []string{"prompt", "none"}, "login_required"},
		{"none, signed in", alice, grafana, []string{"prompt", "none"}, "code"},
		{"none, not admitted", bob, grafana, []string{"prompt", "none"}, "access_denied"},
		{"none, a step-up needed", alice, vault, []string{"prompt", "none"}, "interaction_required"},
		{"none with another value", alice, grafana, []string{"prompt", "none login"}, "invalid_request"},
		{"a max_age the sign-in meets", alice, grafana, []string{"max_age", "3600"}, "code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := start(tc.c, tc.conf, tc.params...)
			q := answer(resp, tc.conf)
			switch {
			case q == nil:
				t.Fatalf("%d %s: no answer at the app", resp.StatusCode, resp.Header.Get("Location"))
			case q.Get("state") != "st" || q.Get("iss") != o.issuer:
				t.Fatalf("answer %v: no state or iss", q)
			case tc.want == "code" && q.Get("code") == "":
				t.Fatalf("answer %v, want a code", q)
			case tc.want != "code" && (q.Get("error") != tc.want || q.Has("code")):
				t.Fatalf("answer %v, want error %s", q, tc.want)
			}
		})
	}

	for _, params := range [][]string{{"prompt", "login"}, {"max_age", "0"}} {
		t.Run(strings.Join(params, "=")+": the sign-in form again, then the code", func(t *testing.T) {
			c := o.signedIn("alice")
			resp := start(c, grafana, params...)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/login?reauth=1&rd=") {
				t.Fatalf("%d %s, want the sign-in page", resp.StatusCode, loc)
			}
			page, body := do(t, c, "GET", o.h.portalURL(loc), nil, browser)
			if page.StatusCode != http.StatusOK || !strings.Contains(string(body), `name="password"`) {
				t.Fatalf("the sign-in page for a signed-in user: %d %s", page.StatusCode, page.Header.Get("Location"))
			}
			o.h.apiLogin(c, "alice", "Correct horse battery 9")
			rd, _ := url.Parse(loc)
			resp, _ = o.authorize(c, rd.Query().Get("rd"))
			if q := answer(resp, grafana); q == nil || q.Get("code") == "" {
				t.Fatalf("after signing in again: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}
