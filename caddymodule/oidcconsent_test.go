package caddymodule

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// consentGlobal adds a third-party app to oidcGlobal.
const consentGlobal = oidcGlobal + `
		app forum {
			title Forum
			url https://forum.example.com
			oidc {
				redirect_uri http://127.0.0.1:9/fcb
				client_secret ` + rpSecret + `
				consent
			}
		}`

func startOIDCWith(t *testing.T, global string) *oidcRig {
	h := newHarness(t)
	h.start(h.caddyfile(global, ""))
	h.addUser("alice", "Correct horse battery 9", "user", "ops")
	h.addUser("bob", "Correct horse battery 9", "user")
	h.addUser("carol", "Correct horse battery 9", "admin")
	issuer := h.portalURL("")
	p, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &oidcRig{h: h, provider: p, issuer: issuer}
}

var consentIDInPage = regexp.MustCompile(`name="id" value="([^"]+)"`)

// consentPage runs /authorize for c and returns the consent page, failing
// when the app got an answer instead.
func (o *oidcRig) consentPage(c *http.Client, conf *oauth2.Config, state string, opts ...oauth2.AuthCodeOption) string {
	o.h.t.Helper()
	resp, body := o.authorize(c, conf.AuthCodeURL(state, opts...))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(string(body), "Allow") {
		o.h.t.Fatalf("want the consent page, got %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return string(body)
}

// answer posts the consent page's form with decision and returns the
// response.
func (o *oidcRig) answer(c *http.Client, page, decision string, withCSRF bool) (*http.Response, []byte) {
	o.h.t.Helper()
	id := consentIDInPage.FindStringSubmatch(page)
	csrf := csrfInPage.FindStringSubmatch(page)
	if id == nil || csrf == nil {
		o.h.t.Fatal("the consent page has no id or csrf field")
	}
	kv := []string{"id", html.UnescapeString(id[1]), "decision", decision}
	if withCSRF {
		kv = append(kv, "csrf", html.UnescapeString(csrf[1]))
	}
	body, hdr := formBody(kv...)
	return do(o.h.t, c, "POST", o.issuer+"/oidc/continue", body, hdr)
}

func (o *oidcRig) audit(c *http.Client, action string) []map[string]any {
	o.h.t.Helper()
	resp, body := do(o.h.t, c, "GET", o.h.portalURL("/api/v1/audit?action="+url.QueryEscape(action)), nil, jsonAPI)
	if resp.StatusCode != 200 {
		o.h.t.Fatalf("audit: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		o.h.t.Fatal(err)
	}
	var evs []map[string]any
	for _, e := range out.Items {
		if e["action"] == action {
			evs = append(evs, e)
		}
	}
	return evs
}

func TestOIDCConsent(t *testing.T) {
	o := startOIDCWith(t, consentGlobal)
	ctx := context.Background()
	forum := o.conf("forum", rpSecret, "http://127.0.0.1:9/fcb", "profile", "email", "offline_access")
	alice := o.signedIn("alice")
	pkce := func() (string, oauth2.AuthCodeOption) {
		v := oauth2.GenerateVerifier()
		return v, oauth2.S256ChallengeOption(v)
	}

	t.Run("a first-party app asks nothing", func(t *testing.T) {
		_, ch := pkce()
		o.code(alice, o.conf("grafana", rpSecret, rpRedirect, "profile"), "g1", ch)
	})

	t.Run("the consent page names the app and the scopes in plain words", func(t *testing.T) {
		_, ch := pkce()
		page := o.consentPage(alice, forum, "f0", ch)
		for _, want := range []string{"Allow Forum?", "https://forum.example.com", "read your username and name", "read your e-mail address",
			"stay signed in (offline access)", `name="decision" value="deny"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the consent page lacks %q", want)
			}
		}
		if strings.Contains(page, "your groups") {
			t.Error("the consent page lists a scope the app did not ask for")
		}
	})

	t.Run("without the CSRF token nothing is granted", func(t *testing.T) {
		_, ch := pkce()
		page := o.consentPage(alice, forum, "f1", ch)
		if resp, _ := o.answer(alice, page, "allow", false); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("allow without csrf: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, ch = pkce()
		o.consentPage(alice, forum, "f1b", ch)
	})

	t.Run("deny sends access_denied to the app, and is not remembered", func(t *testing.T) {
		_, ch := pkce()
		page := o.consentPage(alice, forum, "f2", ch)
		resp, _ := o.answer(alice, page, "deny", true)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), "http://127.0.0.1:9/fcb?") ||
			loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "f2" || loc.Query().Get("iss") != o.issuer || loc.Query().Has("code") {
			t.Fatalf("deny: %d %s", resp.StatusCode, loc)
		}
		if resp, _ := o.answer(alice, page, "allow", true); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a denied request was allowed afterwards: %d", resp.StatusCode)
		}
		_, ch = pkce()
		o.consentPage(alice, forum, "f3", ch)
	})

	var tok *oauth2.Token
	t.Run("allow gives a code, and is remembered for those scopes", func(t *testing.T) {
		v, ch := pkce()
		page := o.consentPage(alice, forum, "f4", ch)
		resp, _ := o.answer(alice, page, "allow", true)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("allow: %d", resp.StatusCode)
		}
		r2, body := o.authorize(alice, resp.Header.Get("Location"))
		loc, _ := url.Parse(r2.Header.Get("Location"))
		if loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "f4" {
			t.Fatalf("after allow: %d %s %s", r2.StatusCode, loc, body)
		}
		var err error
		if tok, err = forum.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
			t.Fatal(err)
		}
		v, ch = pkce()
		if _, err := forum.Exchange(ctx, o.code(alice, forum, "f5", ch), oauth2.VerifierOption(v)); err != nil {
			t.Fatalf("second sign-in: %v", err)
		}
		_, ch = pkce()
		less := o.conf("forum", rpSecret, "http://127.0.0.1:9/fcb", "email")
		o.code(alice, less, "f6", ch)
	})

	t.Run("prompt=consent asks again, prompt=none gets consent_required", func(t *testing.T) {
		_, ch := pkce()
		o.consentPage(alice, forum, "f6b", ch, oauth2.SetAuthURLParam("prompt", "consent"))
		_, ch = pkce()
		more := o.conf("forum", rpSecret, "http://127.0.0.1:9/fcb", "groups")
		resp, _ := o.authorize(alice, more.AuthCodeURL("f6c", ch, oauth2.SetAuthURLParam("prompt", "none")))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("error") != "consent_required" || loc.Query().Get("state") != "f6c" || loc.Query().Has("code") {
			t.Fatalf("prompt=none: %d %s", resp.StatusCode, loc)
		}
		_, ch = pkce()
		o.code(alice, forum, "f6d", ch, oauth2.SetAuthURLParam("prompt", "none"))
	})

	t.Run("a new scope asks again", func(t *testing.T) {
		_, ch := pkce()
		page := o.consentPage(alice, o.conf("forum", rpSecret, "http://127.0.0.1:9/fcb", "profile", "groups"), "f7", ch)
		if !strings.Contains(page, "read your groups") {
			t.Error("the new scope is not named")
		}
	})

	t.Run("connected apps lists and revokes", func(t *testing.T) {
		resp, body := do(t, alice, "GET", o.h.portalURL("/api/v1/me/connected-apps"), nil, jsonAPI)
		var list struct {
			Items []struct {
				App           string   `json:"app"`
				Title         string   `json:"title"`
				Scopes        []string `json:"scopes"`
				Consent       bool     `json:"consent"`
				RefreshTokens int      `json:"refresh_tokens"`
				FirstUse      *string  `json:"first_use"`
				LastUse       *string  `json:"last_use"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Items) != 1 {
			t.Fatalf("connected apps: %d %s", resp.StatusCode, body)
		}
		if it := list.Items[0]; it.App != "forum" || it.Title != "Forum" || !it.Consent || it.RefreshTokens != 2 || it.FirstUse == nil || it.LastUse == nil ||
			strings.Join(it.Scopes, " ") != "openid profile email offline_access" {
			t.Fatalf("forum: %+v", it)
		}
		resp, body = do(t, alice, "GET", o.h.portalURL("/profile"), nil, browser)
		if !strings.Contains(string(body), "Connected apps") || !strings.Contains(string(body), "/profile/connected-apps/forum/revoke") {
			t.Fatalf("the profile page lacks the connected app: %d", resp.StatusCode)
		}
		bob := o.signedIn("bob")
		if resp, _ := do(t, bob, "DELETE", o.h.portalURL("/api/v1/me/connected-apps/forum"), nil, jsonAPI); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("bob revoking an app he is not connected to: %d", resp.StatusCode)
		}
		if _, err := forum.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatalf("alice's refresh token died from bob's revoke: %v", err)
		}
		// Only alice herself, in a portal session: not with her API key,
		// not an administrator impersonating her (principle 1).
		resp, b := do(t, alice, "POST", o.h.portalURL("/api/v1/keys"), strings.NewReader(`{"label":"script"}`), jsonAPI)
		var key struct{ Key string }
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &key) != nil {
			t.Fatalf("create key: %d %s", resp.StatusCode, b)
		}
		bearer := map[string]string{"Authorization": "Bearer " + key.Key, "Accept": "application/json"}
		if resp, b := do(t, &http.Client{Transport: noKeepAlive}, "DELETE", o.h.portalURL("/api/v1/me/connected-apps/forum"), nil, bearer); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("revoke with an API key: %d %s", resp.StatusCode, b)
		}
		imp := o.signedIn("carol")
		if resp, b := do(t, imp, "POST", o.h.portalURL("/api/v1/users/alice/impersonate"), nil, jsonAPI); resp.StatusCode != http.StatusOK {
			t.Fatalf("impersonate: %d %s", resp.StatusCode, b)
		}
		if resp, b := do(t, imp, "DELETE", o.h.portalURL("/api/v1/me/connected-apps/forum"), nil, jsonAPI); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("revoke while impersonating: %d %s", resp.StatusCode, b)
		}
		if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("a refused revoke killed the access token: %v", err)
		}
		if resp, b := do(t, alice, "DELETE", o.h.portalURL("/api/v1/me/connected-apps/forum"), nil, jsonAPI); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", resp.StatusCode, b)
		}
		if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("the access token outlived the revoke")
		}
		_, body = do(t, alice, "GET", o.h.portalURL("/api/v1/me/connected-apps"), nil, jsonAPI)
		if !strings.Contains(string(body), `"items":[]`) {
			t.Errorf("after revoking: %s", body)
		}
		_, ch := pkce()
		o.consentPage(alice, forum, "f8", ch)
	})

	t.Run("refresh fails after a revoke from the profile page", func(t *testing.T) {
		v, ch := pkce()
		page := o.consentPage(alice, forum, "f9", ch)
		resp, _ := o.answer(alice, page, "allow", true)
		r2, _ := o.authorize(alice, resp.Header.Get("Location"))
		loc, _ := url.Parse(r2.Header.Get("Location"))
		tk, err := forum.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		_, body := do(t, alice, "GET", o.h.portalURL("/profile"), nil, browser)
		csrf := csrfInPage.FindStringSubmatch(string(body))
		fb, hdr := formBody("csrf", html.UnescapeString(csrf[1]))
		if resp, _ := do(t, alice, "POST", o.h.portalURL("/profile/connected-apps/forum/revoke"), fb, hdr); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke from the profile: %d", resp.StatusCode)
		}
		if _, err := forum.TokenSource(ctx, &oauth2.Token{RefreshToken: tk.RefreshToken}).Token(); err == nil {
			t.Fatal("a refresh token outlived disconnecting the app")
		}
	})

	t.Run("audited with the real actor, via oidc", func(t *testing.T) {
		carol := o.signedIn("carol")
		for action, via := range map[string]string{"oidc.consent.grant": "oidc", "oidc.consent.deny": "oidc", "oidc.consent.revoke": ""} {
			evs := o.audit(carol, action)
			if len(evs) == 0 {
				t.Errorf("no %s event", action)
				continue
			}
			if e := evs[0]; e["actor"] != "alice" || e["resource"] != "app:forum" || (via != "" && e["via"] != via) {
				t.Errorf("%s: %v", action, e)
			}
		}
	})
}

// TestOIDCConsentNotInherited: a consent to a deleted app does not carry
// over to a new app of the same name.
func TestOIDCConsentNotInherited(t *testing.T) {
	o := startOIDCWith(t, oidcGlobal)
	alice, carol := o.signedIn("alice"), o.signedIn("carol")
	newApp := func() string {
		body := `{"name":"photos","title":"Photos","oidc":{"redirect_uris":["http://127.0.0.1:9/pcb"],"consent":true}}`
		resp, b := do(t, carol, "POST", o.h.portalURL("/api/v1/apps"), strings.NewReader(body), jsonAPI)
		var out struct {
			OIDC struct {
				Secret  string `json:"client_secret"`
				Consent bool   `json:"consent"`
			} `json:"oidc"`
		}
		if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != http.StatusCreated || !out.OIDC.Consent {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		return out.OIDC.Secret
	}
	photos := o.conf("photos", newApp(), "http://127.0.0.1:9/pcb", "email")
	page := o.consentPage(alice, photos, "p1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	if resp, _ := o.answer(alice, page, "allow", true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("allow: %d", resp.StatusCode)
	}
	o.code(alice, photos, "p2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	if resp, b := do(t, carol, "DELETE", o.h.portalURL("/api/v1/apps/photos"), nil, jsonAPI); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	photos.ClientSecret = newApp()
	page = o.consentPage(alice, photos, "p3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	if _, body := do(t, alice, "GET", o.h.portalURL("/api/v1/me/connected-apps"), nil, jsonAPI); !strings.Contains(string(body), `"items":[]`) {
		t.Errorf("the old app's consent is listed for the new one: %s", body)
	}
	if resp, _ := o.answer(alice, page, "allow", true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("allow: %d", resp.StatusCode)
	}
	o.code(alice, photos, "p4", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
}
