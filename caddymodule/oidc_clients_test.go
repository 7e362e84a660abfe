package caddymodule

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jmespath-community/go-jmespath"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/core/password"
)

// TestOIDCClientSettings replays, through a real Caddy with Gatehouse as
// the OpenID provider, what Grafana, Gitea/Forgejo, Nextcloud (user_oidc),
// Immich and Portainer do as relying parties, with the settings of
// examples/oidc/ read from those files: each app's `app` block
// (<app>.caddy) goes into the Caddyfile as it is, and the app's own
// settings file drives the replay. The apps themselves are not run (none
// can be installed here): the replay uses golang.org/x/oauth2 and
// coreos/go-oidc to send what each app's code sends (discovery, the
// authorization request with its scopes, PKCE and nonce choices, the code
// exchange with its client authentication, UserInfo when it calls it) and
// to read what its code reads; the source of each behaviour is named at
// each replay.
//
// Users: alice (groups admins, staff) and carol (staff) may use every app;
// alice is an admin by each example's mapping, carol is not; bob (no
// group) may use none: the portal shows him its 403 page and no app gets
// a code.
func TestOIDCClientSettings(t *testing.T) {
	h := newHarness(t)
	var blocks []string
	secrets := map[string]string{}
	for _, app := range []string{"grafana", "gitea", "nextcloud", "immich", "portainer"} {
		block := oidcExample(t, app+".caddy")
		secret := randomHex(t, 32)
		secrets[app] = secret
		// Each {env.X} of the block gets the app's secret, or for a
		// client_secret_hash its argon2id PHC string.
		for _, m := range envPlaceholder.FindAllStringSubmatch(block, -1) {
			v := secret
			if regexp.MustCompile(`client_secret_hash\s+` + regexp.QuoteMeta(m[0])).MatchString(block) {
				phc, err := password.Hash(secret, password.DefaultParams())
				if err != nil {
					t.Fatal(err)
				}
				v = phc
			}
			t.Setenv(m[1], v)
		}
		blocks = append(blocks, block)
	}
	h.start(h.caddyfile(strings.Join(blocks, "\n"), ""))
	h.addUser("alice", alicePW, "user", "admins", "staff")
	h.addUser("carol", alicePW, "user", "staff")
	h.addUser("bob", alicePW, "user")
	env := &oidcEnv{h: h, issuer: h.portalURL("")}

	for _, tc := range []struct {
		app    string
		replay func(t *testing.T, e *oidcEnv, app oidcApp)
	}{
		{"grafana", replayGrafanaOIDC},
		{"gitea", replayGiteaOIDC},
		{"nextcloud", replayNextcloudOIDC},
		{"immich", replayImmichOIDC},
		{"portainer", replayPortainerOIDC},
	} {
		t.Run(tc.app, func(t *testing.T) {
			tc.replay(t, env, parseAppBlock(t, oidcExample(t, tc.app+".caddy"), secrets[tc.app]))
		})
	}
}

var envPlaceholder = regexp.MustCompile(`\{env\.([A-Za-z0-9_]+)\}`)

// oidcExample reads examples/oidc/name.
func oidcExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "oidc", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// oidcApp is what the test needs of an example's app block: its name (the
// client id), its url (the app's root URL, from which each app derives
// the redirect URI it sends), its redirect URIs and the secret it was
// given.
type oidcApp struct {
	name, url, secret string
	redirects         []string
	postLogout        []string
}

// parseAppBlock reads the name, url and redirect_uri lines of an app block.
func parseAppBlock(t *testing.T, block, secret string) oidcApp {
	t.Helper()
	a := oidcApp{secret: secret}
	sc := bufio.NewScanner(strings.NewReader(block))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case f[0] == "app" && len(f) == 3:
			a.name = f[1]
		case f[0] == "url" && len(f) == 2:
			a.url = f[1]
		case f[0] == "redirect_uri":
			a.redirects = append(a.redirects, f[1:]...)
		case f[0] == "post_logout_redirect_uri":
			a.postLogout = append(a.postLogout, f[1:]...)
		}
	}
	if a.name == "" || a.url == "" || len(a.redirects) == 0 {
		t.Fatalf("app block without name, url or redirect_uri: %+v\n%s", a, block)
	}
	return a
}

// The examples' portal.
const examplePortal = "https://auth.example.com"

// oidcEnv is the running provider and what every replay shares.
type oidcEnv struct {
	h      *harness
	issuer string // the harness's portal_url

	once sync.Once
	disc map[string]any
}

// url maps an example's portal URL to the harness's portal.
func (e *oidcEnv) url(t *testing.T, example string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(example, examplePortal)
	if !ok {
		t.Fatalf("%q is not on the examples' portal %s", example, examplePortal)
	}
	return e.issuer + rest
}

// discovery fetches the discovery document the way every app here does
// (a plain GET of <issuer>/.well-known/openid-configuration).
func (e *oidcEnv) discovery(t *testing.T) map[string]any {
	t.Helper()
	e.once.Do(func() {
		resp, err := http.Get(e.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("discovery: %d", resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&e.disc); err != nil {
			t.Fatalf("discovery: %v", err)
		}
	})
	if e.disc["issuer"] != e.issuer {
		t.Fatalf("discovery issuer %v, want the portal_url %s", e.disc["issuer"], e.issuer)
	}
	return e.disc
}

// endpoint is a discovery document's string member.
func (e *oidcEnv) endpoint(t *testing.T, name string) string {
	t.Helper()
	v, _ := e.discovery(t)[name].(string)
	if v == "" {
		t.Fatalf("discovery has no %s", name)
	}
	return v
}

// lists reports whether the discovery document's array member name holds v.
func (e *oidcEnv) lists(t *testing.T, name, v string) bool {
	t.Helper()
	arr, _ := e.discovery(t)[name].([]any)
	return slices.Contains(arr, any(v))
}

// flow is one authorization code flow as an app runs it.
type flow struct {
	clientID, secret  string
	authURL, tokenURL string
	redirect          string
	scopes            []string
	authStyle         oauth2.AuthStyle
	pkce              bool        // send an S256 challenge and the verifier
	nonce             bool        // send a nonce and check it in the ID token
	params            [][2]string // more authorization request parameters
	algs              []string    // ID token algorithms the app accepts (nil: RS256)
}

// flowResult is what a flow ends with.
type flowResult struct {
	token    *oauth2.Token
	idToken  *oidc.IDToken
	idClaims map[string]any
	// tokenAuth is how the token request authenticated the client:
	// "client_secret_basic" or "client_secret_post".
	tokenAuth string
}

// authAndCode signs user in at the portal with a cookie-jar client, sends
// the authorization request and follows the portal's answers until the
// browser would leave the portal. It returns where it would go (nil when
// it stays on a portal page, with that page's status).
func (e *oidcEnv) authAndCode(t *testing.T, user, authURL string) (*url.URL, int) {
	t.Helper()
	b := e.h.client()
	e.h.apiLogin(b, user, alicePW)
	u := authURL
	for hop := 0; hop < 10; hop++ {
		resp, body := do(t, b, "GET", u, nil, browser)
		next := ""
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			next = resp.Header.Get("Location")
		default:
			next = formTarget(resp, body)
		}
		if next == "" {
			return nil, resp.StatusCode
		}
		base, _ := url.Parse(u)
		to, err := base.Parse(next)
		if err != nil {
			t.Fatalf("redirect to %q: %v", next, err)
		}
		if !strings.HasPrefix(to.String(), e.issuer+"/") {
			return to, resp.StatusCode
		}
		u = to.String()
	}
	t.Fatalf("more than 10 redirects from %s", authURL)
	return nil, 0
}

// run runs f for user: the authorization request, the sign-in, the code
// exchange and the ID token check. It returns ok false when the provider
// gave no code (the user is not admitted), after checking that the
// browser was not sent to the redirect URI with one.
func (e *oidcEnv) run(t *testing.T, f flow, user string) (flowResult, bool) {
	t.Helper()
	conf := &oauth2.Config{ClientID: f.clientID, ClientSecret: f.secret, RedirectURL: f.redirect, Scopes: f.scopes,
		Endpoint: oauth2.Endpoint{AuthURL: f.authURL, TokenURL: f.tokenURL, AuthStyle: f.authStyle}}
	state, nonce, verifier := randomHex(t, 32), randomHex(t, 32), oauth2.GenerateVerifier()
	var opts []oauth2.AuthCodeOption
	if f.pkce {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	if f.nonce {
		opts = append(opts, oidc.Nonce(nonce))
	}
	for _, p := range f.params {
		opts = append(opts, oauth2.SetAuthURLParam(p[0], p[1]))
	}
	to, status := e.authAndCode(t, user, conf.AuthCodeURL(state, opts...))
	if to == nil {
		return flowResult{}, false
	}
	q := to.Query()
	if !strings.HasPrefix(to.String(), f.redirect+"?") {
		t.Fatalf("%s was sent to %s (%d), not to the redirect URI %s", user, to, status, f.redirect)
	}
	if q.Get("code") == "" {
		if q.Get("error") == "" {
			t.Fatalf("%s: redirect with neither code nor error: %s", user, to)
		}
		return flowResult{}, false
	}
	if q.Get("state") != state {
		t.Fatalf("state %q, want %q", q.Get("state"), state)
	}
	// RFC 9207: the authorization response names the issuer.
	if q.Get("iss") != e.issuer {
		t.Errorf("iss in the authorization response %q, want %s", q.Get("iss"), e.issuer)
	}

	rec := &tokenAuthRecorder{next: http.DefaultTransport}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: rec, Timeout: 30 * time.Second})
	var xopts []oauth2.AuthCodeOption
	if f.pkce {
		xopts = append(xopts, oauth2.VerifierOption(verifier))
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), xopts...)
	if err != nil {
		t.Fatalf("code exchange for %s: %v", user, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("no id_token in the token response for %s", user)
	}
	algs := f.algs
	if algs == nil {
		algs = []string{oidc.RS256}
	}
	keys := oidc.NewRemoteKeySet(ctx, e.endpoint(t, "jwks_uri"))
	idt, err := oidc.NewVerifier(e.issuer, keys, &oidc.Config{ClientID: f.clientID, SupportedSigningAlgs: algs}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token of %s: %v", user, err)
	}
	if f.nonce && idt.Nonce != nonce {
		t.Errorf("ID token nonce %q, want %q", idt.Nonce, nonce)
	}
	if !f.nonce && idt.Nonce != "" {
		t.Errorf("ID token has nonce %q, none was sent", idt.Nonce)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	// Every app here reads these of any ID token; the issue asks for them.
	if idt.Subject == "" || claims["auth_time"] == nil {
		t.Errorf("ID token of %s lacks sub or auth_time: %v", user, claims)
	}
	if amr, _ := claims["amr"].([]any); !slices.Contains(amr, any("pwd")) {
		t.Errorf("ID token of %s: amr %v, want pwd among them (a password sign-in)", user, claims["amr"])
	}
	return flowResult{token: tok, idToken: idt, idClaims: claims, tokenAuth: rec.method()}, true
}

// tokenAuthRecorder records how the token request authenticated the
// client, so each replay can check it did what the app does.
type tokenAuthRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (r *tokenAuthRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost { // go-oidc fetches the JWKS through it too
		return r.next.RoundTrip(req)
	}
	m := "none"
	if _, _, ok := req.BasicAuth(); ok {
		m = "client_secret_basic"
	} else if req.Body != nil && req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			body, _ := io.ReadAll(b)
			if v, err := url.ParseQuery(string(body)); err == nil && v.Get("client_secret") != "" {
				m = "client_secret_post"
			}
		}
	}
	r.mu.Lock()
	r.seen = append(r.seen, m)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// method is the authentication of the last token request.
func (r *tokenAuthRecorder) method() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return ""
	}
	return r.seen[len(r.seen)-1]
}

// userinfo calls the UserInfo endpoint with an access token, as
// `GET <userinfo> Authorization: Bearer …` (what every app here sends).
func userinfo(t *testing.T, endpoint, accessToken string) (map[string]any, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", endpoint, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: %d %s", resp.StatusCode, body)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("userinfo: %v: %s", err, body)
	}
	return v, body
}

// logout checks an app's logout URL (RP-initiated logout, as the app
// sends the browser there after its own sign-out): the provider's
// end_session_endpoint with the app as client_id and a registered
// post_logout_redirect_uri, to which a signed-in browser is sent back.
func (e *oidcEnv) logout(t *testing.T, example string, app oidcApp) {
	t.Helper()
	u, err := url.Parse(e.url(t, example))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	back := q.Get("post_logout_redirect_uri")
	if base := strings.TrimSuffix(u.String(), "?"+u.RawQuery); base != e.endpoint(t, "end_session_endpoint") ||
		q.Get("client_id") != app.name || !slices.Contains(app.postLogout, back) {
		t.Fatalf("logout URL %s: want the end_session_endpoint %s, client_id %s and a post_logout_redirect_uri of the app block %v",
			example, e.endpoint(t, "end_session_endpoint"), app.name, app.postLogout)
	}
	// The app's logout URL carries no id_token_hint, so a GET only asks
	// "Sign out of Gatehouse?" (a link on another site cannot sign anyone
	// out); the browser's confirmation signs out and goes back to the app.
	b := e.h.client()
	e.h.apiLogin(b, "alice", alicePW)
	resp, body := do(t, b, "GET", u.String(), nil, browser)
	m := csrfRE.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("logout: %d, want the confirmation page (%.200s)", resp.StatusCode, body)
	}
	form, hdr := formBody("csrf", string(m[1]), "confirm", "1", "client_id", app.name, "post_logout_redirect_uri", back)
	hdr["Origin"] = strings.TrimSuffix(e.endpoint(t, "issuer"), "/")
	resp, body = do(t, b, "POST", base(u), form, hdr)
	if to := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || to != back {
		t.Errorf("logout confirmed: %d to %q, want a redirect to %s (%.200s)", resp.StatusCode, to, back, body)
	}
}

// base is u without its query.
func base(u *url.URL) string { return strings.TrimSuffix(u.String(), "?"+u.RawQuery) }

// refused checks that user, whom the app does not admit, gets the
// portal's "No access" page (403) for f's authorization request: no code,
// and no redirect to the app at all.
func (e *oidcEnv) refused(t *testing.T, f flow, user string) {
	t.Helper()
	conf := &oauth2.Config{ClientID: f.clientID, RedirectURL: f.redirect, Scopes: f.scopes,
		Endpoint: oauth2.Endpoint{AuthURL: f.authURL}}
	var opts []oauth2.AuthCodeOption
	if f.pkce {
		opts = append(opts, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	}
	for _, p := range f.params {
		opts = append(opts, oauth2.SetAuthURLParam(p[0], p[1]))
	}
	if to, status := e.authAndCode(t, user, conf.AuthCodeURL(randomHex(t, 32), opts...)); to != nil || status != http.StatusForbidden {
		t.Errorf("%s (not admitted by the app): sent to %v with status %d, want the portal's 403 page", user, to, status)
	}
}

// str is a claim as a string ("" when absent or not a string).
func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// strs is a claim as a list of strings.
func strs(m map[string]any, k string) []string {
	var out []string
	if arr, ok := m[k].([]any); ok {
		for _, v := range arr {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// jwtPayload decodes a JWT's claims without checking it, as Grafana
// (retrieveRawIDToken), Portainer (jwt.Parser.ParseUnverified) and goth
// (decodeJWT) do.
func jwtPayload(t *testing.T, raw string) []byte {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// --- Grafana ---------------------------------------------------------

// parseINI reads an ini file's sections (Grafana's format: `; ` and `# `
// comments, `key = value`).
func parseINI(text string) map[string]map[string]string {
	out := map[string]map[string]string{"": {}}
	sec := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == ';' || line[0] == '#':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			sec = line[1 : len(line)-1]
			out[sec] = map[string]string{}
		default:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[sec][strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// grafanaEnv expands Grafana's $__env{NAME} in an ini value
// (pkg/setting/expanders.go).
var grafanaEnv = regexp.MustCompile(`\$__env\{([^}]*)\}`)

// replayGrafanaOIDC replays Grafana's generic OAuth login
// (pkg/login/social/connectors/generic_oauth.go, social_base.go): the
// authorization request with `scopes` (split at commas and blanks,
// util.SplitString), PKCE S256 with use_pkce, the exchange with
// auth_style; then UserInfo(): the ID token's claims (decoded, not
// checked) first and api_url's answer second, each attribute taken from
// the first that has it: login (login, login_attribute_path, username),
// name (name_attribute_path, name, display_name), email (email,
// email_attribute_path), role (role_attribute_path, a JMESPath
// expression) and groups (groups_attribute_path). The expressions are
// evaluated with the JMESPath library Grafana uses
// (jmespath-community/go-jmespath, pkg/util/json.go).
func replayGrafanaOIDC(t *testing.T, e *oidcEnv, app oidcApp) {
	ini := parseINI(oidcExample(t, "grafana.ini"))
	g := ini["auth.generic_oauth"]
	if g["enabled"] != "true" || g["client_id"] != app.name {
		t.Fatalf("grafana.ini: enabled %q, client_id %q; want true and the app's name %q", g["enabled"], g["client_id"], app.name)
	}
	secret := grafanaEnv.ReplaceAllStringFunc(g["client_secret"], func(m string) string {
		return os.Getenv(grafanaEnv.FindStringSubmatch(m)[1])
	})
	if secret != app.secret {
		t.Fatalf("grafana.ini: client_secret %q does not expand to the app block's secret", g["client_secret"])
	}
	// The endpoints Grafana is given must be the provider's.
	for key, disc := range map[string]string{"auth_url": "authorization_endpoint", "token_url": "token_endpoint", "api_url": "userinfo_endpoint"} {
		if got, want := e.url(t, g[key]), e.endpoint(t, disc); got != want {
			t.Errorf("grafana.ini: %s %s is not the provider's %s %s", key, g[key], disc, want)
		}
	}
	styles := map[string]oauth2.AuthStyle{"": oauth2.AuthStyleAutoDetect, "AutoDetect": oauth2.AuthStyleAutoDetect,
		"InParams": oauth2.AuthStyleInParams, "InHeader": oauth2.AuthStyleInHeader}
	style, ok := styles[g["auth_style"]]
	if !ok {
		t.Fatalf("grafana.ini: auth_style %q", g["auth_style"])
	}
	// The redirect URI: root_url + login/generic_oauth (social.go).
	redirect := strings.TrimSuffix(ini["server"]["root_url"], "/") + "/login/generic_oauth"
	if !slices.Contains(app.redirects, redirect) {
		t.Fatalf("grafana.caddy does not register Grafana's redirect URI %s", redirect)
	}
	f := flow{clientID: g["client_id"], secret: secret, authURL: e.url(t, g["auth_url"]), tokenURL: e.url(t, g["token_url"]),
		redirect: redirect, scopes: strings.FieldsFunc(g["scopes"], func(r rune) bool { return r == ',' || r == ' ' }),
		authStyle: style, pkce: g["use_pkce"] == "true"}

	type user struct {
		login, name, email, role string
		groups                   []string
	}
	search := func(path string, raw []byte) any {
		if path == "" {
			return nil
		}
		var data any
		if err := json.Unmarshal(raw, &data); err != nil {
			t.Fatal(err)
		}
		v, err := jmespath.Search(path, data)
		if err != nil {
			return nil // Grafana logs the error and tries the next source
		}
		return v
	}
	signIn := func(name string) (user, bool) {
		r, ok := e.run(t, f, name)
		if !ok {
			return user{}, false
		}
		want := "client_secret_basic"
		if style == oauth2.AuthStyleInParams {
			want = "client_secret_post"
		}
		if r.tokenAuth != want {
			t.Errorf("token request authenticated by %s, want %s (auth_style %q)", r.tokenAuth, want, g["auth_style"])
		}
		raw, _ := r.token.Extra("id_token").(string)
		_, api := userinfo(t, e.url(t, g["api_url"]), r.token.AccessToken)
		var u user
		for _, src := range [][]byte{jwtPayload(t, raw), api} {
			var d map[string]any
			_ = json.Unmarshal(src, &d)
			if u.name == "" {
				if s, _ := search(g["name_attribute_path"], src).(string); s != "" {
					u.name = s
				} else if u.name = str(d, "name"); u.name == "" {
					u.name = str(d, "display_name")
				}
			}
			if u.login == "" {
				if u.login = str(d, "login"); u.login == "" {
					if s, _ := search(g["login_attribute_path"], src).(string); s != "" {
						u.login = s
					} else {
						u.login = str(d, "username")
					}
				}
			}
			if u.email == "" {
				if u.email = str(d, "email"); u.email == "" {
					u.email, _ = search(g["email_attribute_path"], src).(string)
				}
			}
			if u.role == "" {
				u.role, _ = search(g["role_attribute_path"], src).(string)
			}
			if len(u.groups) == 0 {
				if arr, ok := search(g["groups_attribute_path"], src).([]any); ok {
					for _, v := range arr {
						if s, ok := v.(string); ok {
							u.groups = append(u.groups, s)
						}
					}
				}
			}
		}
		return u, true
	}
	for _, tc := range []struct {
		user string
		want user
	}{
		{"alice", user{"alice", "Alice", "alice@example.com", "Admin", []string{"admins", "staff"}}},
		{"carol", user{"carol", "Carol", "carol@example.com", "Viewer", []string{"staff"}}},
	} {
		got, ok := signIn(tc.user)
		slices.Sort(got.groups)
		if !ok || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Grafana's user for %s: %+v (signed in %v), want %+v", tc.user, got, ok, tc.want)
		}
	}
	e.refused(t, f, "bob")
	// Sign-out: Grafana sends the browser to signout_redirect_url.
	e.logout(t, g["signout_redirect_url"], app)
}

// --- Gitea / Forgejo -------------------------------------------------

// replayGiteaOIDC replays Gitea's OpenID Connect source: the flags of
// `gitea admin auth add-oauth` (cmd/admin_auth_oauth.go: --scopes is a
// string slice, split at commas) and markbates/goth's openidConnect
// provider (providers/openidConnect/openidConnect.go): discovery from
// --auto-discover-url, scopes plus openid, no PKCE and no nonce
// (go-gitea/gitea#21376), golang.org/x/oauth2's auto-detected client
// authentication; FetchUser decodes the ID token, checks aud, iss and exp,
// calls UserInfo (its sub must match) and merges its claims over the
// token's; NickName is nickname, else preferred_username, and Gitea's
// username is NickName ([oauth2_client] USERNAME = nickname). An admin is
// a user whose --group-claim-name claim holds --admin-group
// (routers/web/auth/oauth.go, getUserAdminAndRestrictedFromGroupClaims, on
// goth's merged claims).
func replayGiteaOIDC(t *testing.T, e *oidcEnv, app oidcApp) {
	var cmd string
	for _, line := range strings.SplitAfter(oidcExample(t, "gitea.sh"), "\n") {
		if strings.HasPrefix(line, "gitea ") || cmd != "" && strings.HasPrefix(line, "  --") {
			cmd += line
		}
	}
	w, err := shellWords(cmd)
	if err != nil || len(w) < 4 || w[3] != "add-oauth" {
		t.Fatalf("gitea.sh: %q: %v", cmd, err)
	}
	flag := map[string]string{}
	for i := 4; i+1 < len(w); i += 2 {
		name, ok := strings.CutPrefix(w[i], "--")
		if !ok {
			t.Fatalf("gitea.sh: %q is not a flag", w[i])
		}
		flag[name] = w[i+1]
	}
	if flag["provider"] != "openidConnect" || flag["key"] != app.name {
		t.Fatalf("gitea.sh: provider %q, key %q", flag["provider"], flag["key"])
	}
	secret := os.ExpandEnv(flag["secret"])
	if secret != app.secret {
		t.Fatalf("gitea.sh: --secret %q is not the app block's secret", flag["secret"])
	}
	// goth getOpenIDConfig: a GET of the discovery URL.
	if got, want := e.url(t, flag["auto-discover-url"]), e.issuer+"/.well-known/openid-configuration"; got != want {
		t.Fatalf("gitea.sh: --auto-discover-url %s, want %s", got, want)
	}
	scopes := strings.Split(flag["scopes"], ",")
	if !slices.Contains(scopes, "openid") {
		scopes = append(scopes, "openid")
	}
	// The callback: AppURL + "user/oauth2/" + source name + "/callback".
	redirect := strings.TrimSuffix(app.url, "/") + "/user/oauth2/" + url.PathEscape(flag["name"]) + "/callback"
	if !slices.Contains(app.redirects, redirect) {
		t.Fatalf("gitea.caddy does not register Gitea's callback %s", redirect)
	}
	f := flow{clientID: flag["key"], secret: secret, authURL: e.endpoint(t, "authorization_endpoint"),
		tokenURL: e.endpoint(t, "token_endpoint"), redirect: redirect, scopes: scopes}

	type user struct {
		username, email, name string
		admin                 bool
	}
	signIn := func(name string) (user, bool) {
		r, ok := e.run(t, f, name)
		if !ok {
			return user{}, false
		}
		// AuthStyleAutoDetect tries the header first.
		if r.tokenAuth != "client_secret_basic" {
			t.Errorf("token request authenticated by %s, want client_secret_basic (oauth2's first try)", r.tokenAuth)
		}
		var claims map[string]any
		raw, _ := r.token.Extra("id_token").(string)
		if err := json.Unmarshal(jwtPayload(t, raw), &claims); err != nil {
			t.Fatal(err)
		}
		// validateClaims: aud, iss, exp.
		aud := claims["aud"]
		if a, ok := aud.([]any); ok && !slices.Contains(a, any(f.clientID)) || !ok && aud != f.clientID {
			t.Errorf("aud %v lacks %s", aud, f.clientID)
		}
		if claims["iss"] != e.issuer {
			t.Errorf("iss %v, want %s", claims["iss"], e.issuer)
		}
		// getUserInfo: the sub must match, then UserInfo's claims win.
		ui, _ := userinfo(t, e.endpoint(t, "userinfo_endpoint"), r.token.AccessToken)
		if str(ui, "sub") == "" || str(ui, "sub") != str(claims, "sub") {
			t.Fatalf("userinfo sub %q, ID token sub %q", str(ui, "sub"), str(claims, "sub"))
		}
		for k, v := range ui {
			claims[k] = v
		}
		u := user{username: str(claims, "nickname"), email: str(claims, "email"), name: str(claims, "name")}
		if u.username == "" {
			u.username = str(claims, "preferred_username")
		}
		if c := flag["group-claim-name"]; c != "" {
			u.admin = slices.Contains(strs(claims, c), flag["admin-group"])
		}
		return u, true
	}
	for _, tc := range []struct {
		user string
		want user
	}{
		{"alice", user{"alice", "alice@example.com", "Alice", true}},
		{"carol", user{"carol", "carol@example.com", "Carol", false}},
	} {
		if got, ok := signIn(tc.user); !ok || got != tc.want {
			t.Errorf("Gitea's user for %s: %+v (signed in %v), want %+v", tc.user, got, ok, tc.want)
		}
	}
	e.refused(t, f, "bob")
}

// --- Nextcloud (user_oidc) -------------------------------------------

// replayNextcloudOIDC replays user_oidc's login
// (lib/Controller/LoginController.php, login() and code()): the
// discovery document; PKCE S256 when it lists S256 (use_pkce defaults to
// true); state and nonce; the claims request parameter naming the mapped
// claims in both id_token and userinfo (the uid claim essential);
// client_secret_post when token_endpoint_auth_methods_supported lists it,
// else client_secret_basic; the ID token checked (JWKS, iss, aud, azp
// when present, nonce, exp) and read alone: no UserInfo
// (enrich_login_id_token_with_userinfo defaults to false). The user is
// the --mapping-uid claim, with the display name, e-mail and groups
// (--group-provisioning) from their mapped claims.
func replayNextcloudOIDC(t *testing.T, e *oidcEnv, app oidcApp) {
	var line string
	for _, l := range strings.Split(oidcExample(t, "nextcloud.sh"), "\n") {
		if strings.HasPrefix(l, "php occ user_oidc:provider ") {
			line = l
		}
	}
	w, err := shellWords(line)
	if err != nil || len(w) < 4 {
		t.Fatalf("nextcloud.sh: %q: %v", line, err)
	}
	opt := map[string]string{}
	for i := 4; i+1 < len(w); i += 2 {
		name, ok := strings.CutPrefix(w[i], "--")
		if !ok {
			t.Fatalf("nextcloud.sh: %q is not an option", w[i])
		}
		opt[name] = w[i+1]
	}
	if opt["clientid"] != app.name {
		t.Fatalf("nextcloud.sh: --clientid %q, want the app's name %q", opt["clientid"], app.name)
	}
	secret := os.Getenv(opt["clientsecret-env"])
	if secret != app.secret {
		t.Fatalf("nextcloud.sh: --clientsecret-env %q does not hold the app block's secret", opt["clientsecret-env"])
	}
	if got, want := e.url(t, opt["discoveryuri"]), e.issuer+"/.well-known/openid-configuration"; got != want {
		t.Fatalf("nextcloud.sh: --discoveryuri %s, want %s", got, want)
	}
	// linkToRouteAbsolute('user_oidc.login.code').
	redirect := strings.TrimSuffix(app.url, "/") + "/apps/user_oidc/code"
	if !slices.Contains(app.redirects, redirect) {
		t.Fatalf("nextcloud.caddy does not register user_oidc's redirect URI %s", redirect)
	}
	mapping := func(k, def string) string {
		if v := opt["mapping-"+k]; v != "" {
			return v
		}
		return def
	}
	uidAttr := mapping("uid", "sub")
	claimsReq := map[string]map[string]any{"id_token": {}, "userinfo": {}}
	for _, c := range []string{mapping("email", "email"), mapping("display-name", "name"), mapping("quota", "quota"), mapping("groups", "groups")} {
		claimsReq["id_token"][c], claimsReq["userinfo"][c] = nil, nil
	}
	if uidAttr != "sub" {
		claimsReq["id_token"][uidAttr] = map[string]bool{"essential": true}
		claimsReq["userinfo"][uidAttr] = map[string]bool{"essential": true}
	}
	claimsJSON, _ := json.Marshal(claimsReq)
	style, wantAuth := oauth2.AuthStyleInHeader, "client_secret_basic"
	if e.lists(t, "token_endpoint_auth_methods_supported", "client_secret_post") {
		style, wantAuth = oauth2.AuthStyleInParams, "client_secret_post"
	}
	f := flow{clientID: opt["clientid"], secret: secret, authURL: e.endpoint(t, "authorization_endpoint"),
		tokenURL: e.endpoint(t, "token_endpoint"), redirect: redirect, scopes: strings.Fields(opt["scope"]),
		authStyle: style, pkce: e.lists(t, "code_challenge_methods_supported", "S256"), nonce: true,
		params: [][2]string{{"claims", string(claimsJSON)}}}
	if !f.pkce {
		t.Errorf("the discovery document does not list S256 in code_challenge_methods_supported: user_oidc would send no PKCE")
	}

	type user struct {
		uid, displayName, email string
		groups                  []string
	}
	for _, tc := range []struct {
		user string
		want user
	}{
		{"alice", user{"alice", "Alice", "alice@example.com", []string{"admins", "staff"}}},
		{"carol", user{"carol", "Carol", "carol@example.com", []string{"staff"}}},
	} {
		r, ok := e.run(t, f, tc.user)
		if !ok {
			t.Errorf("%s got no code", tc.user)
			continue
		}
		if r.tokenAuth != wantAuth {
			t.Errorf("token request authenticated by %s, want %s", r.tokenAuth, wantAuth)
		}
		if azp := str(r.idClaims, "azp"); azp != "" && azp != f.clientID {
			t.Errorf("azp %q, want %s", azp, f.clientID)
		}
		got := user{uid: str(r.idClaims, uidAttr), displayName: str(r.idClaims, mapping("display-name", "name")),
			email: str(r.idClaims, mapping("email", "email"))}
		if opt["group-provisioning"] == "1" {
			got.groups = strs(r.idClaims, mapping("groups", "groups"))
			slices.Sort(got.groups)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Nextcloud's user for %s from the ID token alone: %+v, want %+v", tc.user, got, tc.want)
		}
	}
	e.refused(t, f, "bob")
}

// --- Immich ------------------------------------------------------------

// replayImmichOIDC replays Immich's OAuth login
// (server/src/repositories/oauth.repository.ts with openid-client):
// discovery from issuerUrl; authorize() with redirect_uri, scope and
// state, and PKCE S256 when the server metadata lists S256
// (supportsPKCE()); no nonce; authorizationCodeGrant with
// tokenEndpointAuthMethod (ClientSecretPost / ClientSecretBasic), which
// checks state, iss (RFC 9207, when the metadata says the server sends
// it) and the ID token signed with signingAlgorithm; the profile is the
// ID token's claims when they hold email, else fetchUserInfo. The web app
// comes back to <url>/auth/login; the mobile app to
// app.immich:///oauth-callback with its own PKCE challenge
// (mobileOverrideEnabled false). The user: email, name, the storage label
// from storageLabelClaim, the role from roleClaim ("admin" makes an
// admin, anything else a user: server/src/services/auth.service.ts).
func replayImmichOIDC(t *testing.T, e *oidcEnv, app oidcApp) {
	var conf struct {
		OAuth struct {
			Enabled                                   bool
			IssuerURL                                 string `json:"issuerUrl"`
			ClientID, ClientSecret, Scope             string
			TokenEndpointAuthMethod, SigningAlgorithm string
			StorageLabelClaim, RoleClaim              string
			MobileOverrideEnabled                     bool
			MobileRedirectURI                         string `json:"mobileRedirectUri"`
		} `json:"oauth"`
	}
	if err := json.Unmarshal([]byte(oidcExample(t, "immich.json")), &conf); err != nil {
		t.Fatalf("immich.json: %v", err)
	}
	o := conf.OAuth
	if !o.Enabled || o.ClientID != app.name || !strings.HasPrefix(o.ClientSecret, "<") {
		t.Fatalf("immich.json: enabled %v, clientId %q (want %q), clientSecret %q (want a placeholder)", o.Enabled, o.ClientID, app.name, o.ClientSecret)
	}
	if got := e.url(t, o.IssuerURL); got != e.issuer {
		t.Fatalf("immich.json: issuerUrl %s, want the portal_url %s", got, e.issuer)
	}
	// openid-client's discovery checks the issuer; go-oidc does the same.
	if _, err := oidc.NewProvider(context.Background(), e.issuer); err != nil {
		t.Fatalf("discovery as openid-client does it: %v", err)
	}
	style, ok := map[string]oauth2.AuthStyle{"client_secret_post": oauth2.AuthStyleInParams, "client_secret_basic": oauth2.AuthStyleInHeader}[o.TokenEndpointAuthMethod]
	if !ok {
		t.Fatalf("immich.json: tokenEndpointAuthMethod %q", o.TokenEndpointAuthMethod)
	}
	web := strings.TrimSuffix(app.url, "/") + "/auth/login"
	mobile := "app.immich:///oauth-callback"
	if o.MobileOverrideEnabled {
		mobile = o.MobileRedirectURI
	}
	for _, r := range []string{web, mobile} {
		if !slices.Contains(app.redirects, r) {
			t.Fatalf("immich.caddy does not register Immich's redirect URI %s", r)
		}
	}
	f := flow{clientID: o.ClientID, secret: app.secret, authURL: e.endpoint(t, "authorization_endpoint"),
		tokenURL: e.endpoint(t, "token_endpoint"), redirect: web, scopes: strings.Fields(o.Scope),
		authStyle: style, pkce: e.lists(t, "code_challenge_methods_supported", "S256"), algs: []string{o.SigningAlgorithm}}
	if !f.pkce {
		t.Errorf("the discovery document does not list S256: Immich would send no PKCE")
	}
	type user struct {
		email, name, storageLabel string
		admin                     bool
	}
	for _, tc := range []struct {
		user, redirect string
		want           user
	}{
		{"alice", web, user{"alice@example.com", "Alice", "alice", false}},
		{"carol", web, user{"carol@example.com", "Carol", "carol", false}},
		{"alice", mobile, user{"alice@example.com", "Alice", "alice", false}},
	} {
		f.redirect = tc.redirect
		r, ok := e.run(t, f, tc.user)
		if !ok {
			t.Errorf("%s got no code (redirect %s)", tc.user, tc.redirect)
			continue
		}
		if r.tokenAuth != o.TokenEndpointAuthMethod {
			t.Errorf("token request authenticated by %s, want %s", r.tokenAuth, o.TokenEndpointAuthMethod)
		}
		profile := r.idClaims
		if _, ok := profile["email"]; !ok {
			profile, _ = userinfo(t, e.endpoint(t, "userinfo_endpoint"), r.token.AccessToken)
		}
		if str(profile, "sub") == "" {
			t.Errorf("profile without sub: %v", profile)
		}
		got := user{email: str(profile, "email"), name: str(profile, "name"), storageLabel: str(profile, o.StorageLabelClaim),
			admin: str(profile, o.RoleClaim) == "admin"}
		if got != tc.want {
			t.Errorf("Immich's user for %s (redirect %s): %+v, want %+v", tc.user, tc.redirect, got, tc.want)
		}
	}
	f.redirect = web
	e.refused(t, f, "bob")
}

// --- Portainer -------------------------------------------------------

// replayPortainerOIDC replays Portainer's OAuth login (api/oauth/oauth.go,
// oauth_resource.go): golang.org/x/oauth2 with AuthorizationURI,
// AccessTokenURI, RedirectURI, Scopes split at commas and AuthStyle (the
// UI's Auto Detect / In Params / In Header); no PKCE, no nonce, state
// checked by Portainer's own front end; getIdToken parses the ID token
// without checking it; getResource fetches ResourceURI with the access
// token (a JSON object) and its claims override the token's; the
// username is the UserIdentifier claim, the teams the
// TeamMemberships.OAuthClaimName claim's values.
func replayPortainerOIDC(t *testing.T, e *oidcEnv, app oidcApp) {
	var conf struct {
		AuthenticationMethod int
		OAuthSettings        struct {
			ClientID, ClientSecret                        string
			AuthorizationURI, AccessTokenURI, ResourceURI string
			LogoutURI                                     string
			RedirectURI, UserIdentifier, Scopes           string
			AuthStyle                                     int
			OAuthAutoMapTeamMemberships                   bool
			TeamMemberships                               struct{ OAuthClaimName string }
		}
	}
	if err := json.Unmarshal([]byte(oidcExample(t, "portainer.json")), &conf); err != nil {
		t.Fatalf("portainer.json: %v", err)
	}
	o := conf.OAuthSettings
	if conf.AuthenticationMethod != 3 || o.ClientID != app.name || !strings.HasPrefix(o.ClientSecret, "<") {
		t.Fatalf("portainer.json: AuthenticationMethod %d (want 3, OAuth), ClientID %q (want %q), ClientSecret %q (want a placeholder)",
			conf.AuthenticationMethod, o.ClientID, app.name, o.ClientSecret)
	}
	for uri, disc := range map[string]string{o.AuthorizationURI: "authorization_endpoint", o.AccessTokenURI: "token_endpoint", o.ResourceURI: "userinfo_endpoint"} {
		if got, want := e.url(t, uri), e.endpoint(t, disc); got != want {
			t.Errorf("portainer.json: %s is not the provider's %s %s", uri, disc, want)
		}
	}
	if !slices.Contains(app.redirects, o.RedirectURI) {
		t.Fatalf("portainer.caddy does not register Portainer's RedirectURI %s", o.RedirectURI)
	}
	style := oauth2.AuthStyle(o.AuthStyle)
	f := flow{clientID: o.ClientID, secret: app.secret, authURL: e.url(t, o.AuthorizationURI), tokenURL: e.url(t, o.AccessTokenURI),
		redirect: o.RedirectURI, scopes: strings.Split(o.Scopes, ","), authStyle: style}
	want := map[oauth2.AuthStyle]string{oauth2.AuthStyleAutoDetect: "client_secret_basic", oauth2.AuthStyleInHeader: "client_secret_basic",
		oauth2.AuthStyleInParams: "client_secret_post"}[style]
	type user struct {
		username string
		teams    []string
	}
	for _, tc := range []struct {
		user string
		want user
	}{
		{"alice", user{"alice", []string{"admins", "staff"}}},
		{"carol", user{"carol", []string{"staff"}}},
	} {
		r, ok := e.run(t, f, tc.user)
		if !ok {
			t.Errorf("%s got no code", tc.user)
			continue
		}
		if r.tokenAuth != want {
			t.Errorf("token request authenticated by %s, want %s (AuthStyle %d)", r.tokenAuth, want, o.AuthStyle)
		}
		raw, _ := r.token.Extra("id_token").(string)
		var data map[string]any
		if err := json.Unmarshal(jwtPayload(t, raw), &data); err != nil {
			t.Fatal(err)
		}
		res, _ := userinfo(t, e.url(t, o.ResourceURI), r.token.AccessToken)
		for k, v := range res {
			data[k] = v
		}
		got := user{username: str(data, o.UserIdentifier)}
		if o.OAuthAutoMapTeamMemberships {
			got.teams = strs(data, o.TeamMemberships.OAuthClaimName)
			slices.Sort(got.teams)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Portainer's user for %s: %+v, want %+v", tc.user, got, tc.want)
		}
	}
	e.refused(t, f, "bob")
	// Sign-out: Portainer's front end sends the browser to LogoutURI.
	e.logout(t, o.LogoutURI, app)
}

// TestOIDCUserinfoOnlyClaims: an app that says userinfo_only_claims gets
// no profile, e-mail or groups claims in its ID token, only from
// UserInfo (the library kept the groups scope's claim in the ID token).
func TestOIDCUserinfoOnlyClaims(t *testing.T) {
	h := newHarness(t)
	t.Setenv("UIONLY_SECRET", randomHex(t, 32))
	h.start(h.caddyfile(`app uionly {
			allow_groups staff
			oidc {
				redirect_uri https://uionly.example.com/cb
				client_secret {env.UIONLY_SECRET}
				userinfo_only_claims
			}
		}`, ""))
	h.addUser("alice", alicePW, "user", "admins", "staff")
	e := &oidcEnv{h: h, issuer: h.portalURL("")}
	f := flow{clientID: "uionly", secret: os.Getenv("UIONLY_SECRET"), authURL: e.endpoint(t, "authorization_endpoint"),
		tokenURL: e.endpoint(t, "token_endpoint"), redirect: "https://uionly.example.com/cb",
		scopes: []string{"openid", "profile", "email", "groups"}, pkce: true, nonce: true}
	r, ok := e.run(t, f, "alice")
	if !ok {
		t.Fatal("alice got no code")
	}
	for _, c := range []string{"preferred_username", "name", "email", "groups"} {
		if v, ok := r.idClaims[c]; ok {
			t.Errorf("ID token has %s = %v", c, v)
		}
	}
	ui, _ := userinfo(t, e.endpoint(t, "userinfo_endpoint"), r.token.AccessToken)
	if str(ui, "preferred_username") != "alice" || str(ui, "email") != "alice@example.com" ||
		!slices.Equal(strs(ui, "groups"), []string{"admins", "staff"}) {
		t.Errorf("userinfo: %v", ui)
	}
}
