package caddymodule

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/gatehouse-auth/gatehouse/portal/oidctest"
)

// tamperer rewrites the ID token of the token endpoint's answer, as a
// man in the middle or a rogue provider would.
type tamperer struct {
	mu   sync.Mutex
	mode string // "", "payload", "wrong-key", "nonce", "audience"
	real *mockoidc.Keypair
}

func (tp *tamperer) set(mode string) { tp.mu.Lock(); tp.mode = mode; tp.mu.Unlock() }

func (tp *tamperer) middleware(t *testing.T) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tp.mu.Lock()
			mode := tp.mode
			tp.mu.Unlock()
			if r.URL.Path != mockoidc.TokenEndpoint || mode == "" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body map[string]any
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
			idt, _ := body["id_token"].(string)
			body["id_token"] = tp.tamper(t, mode, idt)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(body)
		})
	}
}

func (tp *tamperer) tamper(t *testing.T, mode, idt string) string {
	parts := strings.Split(idt, ".")
	if len(parts) != 3 {
		t.Errorf("token endpoint answered a malformed ID token %q", idt)
		return idt
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Error(err)
		return idt
	}
	var claims jwt.MapClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Error(err)
		return idt
	}
	sign := func(kp *mockoidc.Keypair) string {
		s, err := kp.SignJWT(claims)
		if err != nil {
			t.Error(err)
		}
		return s
	}
	switch mode {
	case "payload": // another subject, the original signature
		claims["sub"] = "someone-else"
		b, _ := json.Marshal(claims)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	case "wrong-key": // a key that is not the provider's, under its key id
		kid, _ := tp.real.KeyID()
		other, err := mockoidc.RandomKeypair(2048)
		if err != nil {
			t.Fatal(err)
		}
		other.Kid = kid
		return sign(other)
	case "nonce": // a genuine token for another sign-in
		claims["nonce"] = "not-the-nonce"
		return sign(tp.real)
	case "audience": // a genuine token for another client
		claims["aud"] = "another-client"
		return sign(tp.real)
	}
	t.Errorf("unknown tamper mode %q", mode)
	return idt
}

// oidcBlock is the Caddyfile block of provider name at idp.
func oidcBlock(name string, idp *oidctest.Provider, options ...string) string {
	return fmt.Sprintf("oidc %s {\n\t\t\tissuer %s\n\t\t\tclient_id %s\n\t\t\tclient_secret %s\n\t\t\tdisplay_name \"IdP %s\"\n\t\t\t%s\n\t\t}\n\t\t",
		name, idp.Issuer(), idp.ClientID(), idp.ClientSecret(), name, strings.Join(options, "\n\t\t\t"))
}

// TestOIDCThroughCaddy signs in with real OpenID Connect providers
// (mockoidc, in process) through a real Caddy: account creation, linking by
// email address, refusals (unknown account, bad state, tampered ID
// tokens, disabled user) and the second factor.
func TestOIDCThroughCaddy(t *testing.T) {
	h := newHarness(t)
	idp := oidctest.NewProvider(t)
	tp := &tamperer{}
	evil := oidctest.NewProvider(t, oidctest.WithMiddleware(tp.middleware(t)))
	tp.real = evil.Keypair
	global := oidcBlock("auto", idp, "auto_create", "groups_claim groups", "group_map \"IdP Admins\" admins", "group_map staff staff") +
		oidcBlock("email", idp, "link_by_email") +
		oidcBlock("plain", idp) +
		oidcBlock("trusted", idp, "link_by_email", "trusted_mfa") +
		oidcBlock("evil", evil, "auto_create")
	h.start(h.caddyfile(global, ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	h.addUser("bob", bobPW, "user")

	signIn := func(c *http.Client, provider string, u oidctest.User, rd string) (*http.Response, string) {
		t.Helper()
		m := idp
		if provider == "evil" {
			m = evil
		}
		return m.SignIn(t, c, oidctest.SignInURL(h.portalURL(""), provider, rd), u)
	}
	me := func(c *http.Client) (int, string) {
		resp, b := do(t, c, "GET", h.portalURL("/api/v1/me"), nil, jsonAPI)
		return resp.StatusCode, string(b)
	}

	t.Run("login page", func(t *testing.T) {
		_, page := do(t, h.client(), "GET", h.portalURL("/login?rd="+url.QueryEscape(h.appURL("/"))), nil, browser)
		for _, want := range []string{"Sign in with IdP auto", "Sign in with IdP evil", `href="/login/oidc/plain?rd=http%3a%2f%2f127.0.0.1`} {
			if !strings.Contains(string(page), want) {
				t.Errorf("login page lacks %q", want)
			}
		}
	})

	t.Run("auto-create reaches the app", func(t *testing.T) {
		c := h.client()
		resp, body := signIn(c, "auto", oidctest.User{Subject: "idp-dora", Claims: map[string]any{
			"preferred_username": "Dora.Explorer", "email": "dora@idp.example", "email_verified": true, "name": "Dora Explorer",
			"groups": []string{"IdP Admins", "staff", "not-mapped"}}}, h.appURL("/whoami"))
		if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != h.appURL("/whoami") {
			t.Fatalf("ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
		}
		hdr, _ := h.lastSeen()
		want := map[string]string{"Remote-User": "dora.explorer", "Remote-Email": "dora@idp.example",
			"Remote-Name": "Dora Explorer", "Remote-Groups": "admins,staff"}
		for k, v := range want {
			if got := hdr.Get(k); got != v {
				t.Errorf("upstream %s = %q, want %q", k, got, v)
			}
		}
		if _, s := me(c); !strings.Contains(s, `"methods":["oidc:auto"]`) || !strings.Contains(s, `"second_factor":false`) {
			t.Errorf("GET /me = %s", s)
		}
		// The admins-only app lets her in through the mapped group.
		if resp, _ := do(t, c, "GET", h.adminsURL("/"), nil, jsonAPI); resp.StatusCode != http.StatusOK {
			t.Errorf("admins-only app with a mapped group: %d", resp.StatusCode)
		}
	})

	t.Run("link by email", func(t *testing.T) {
		c := h.client()
		resp, body := signIn(c, "email", oidctest.User{Subject: "idp-alice", Claims: map[string]any{
			"email": "alice@example.com", "email_verified": true}}, h.appURL("/"))
		if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != h.appURL("/") {
			t.Fatalf("ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
		}
		if hdr, _ := h.lastSeen(); hdr.Get("Remote-User") != "alice" {
			t.Errorf("upstream Remote-User = %q, want alice", hdr.Get("Remote-User"))
		}
		_, ids := do(t, c, "GET", h.portalURL("/api/v1/me/identities"), nil, jsonAPI)
		if !strings.Contains(string(ids), `"provider":"email"`) || !strings.Contains(string(ids), `"subject":"idp-alice"`) {
			t.Errorf("GET /me/identities = %s", ids)
		}
		// An unverified address links nobody.
		resp, body = signIn(h.client(), "email", oidctest.User{Subject: "idp-fake-bob", Claims: map[string]any{
			"email": "bob@example.com", "email_verified": false}}, "")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "No Gatehouse account is linked") {
			t.Errorf("unverified address: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("unknown account refused", func(t *testing.T) {
		c := h.client()
		resp, body := signIn(c, "plain", oidctest.User{Subject: "idp-stranger", Claims: map[string]any{
			"email": "bob@example.com", "email_verified": true, "preferred_username": "stranger"}}, h.appURL("/"))
		if resp.StatusCode != http.StatusForbidden ||
			!strings.Contains(body, "No Gatehouse account is linked to this IdP plain account. Sign in with your password and link it from your profile.") {
			t.Fatalf("unknown account: %d %s", resp.StatusCode, body)
		}
		if got, _ := me(c); got != http.StatusUnauthorized {
			t.Errorf("session after a refused sign-in: %d", got)
		}
		if resp, _ := do(t, c, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("app after a refused sign-in: %d", resp.StatusCode)
		}
	})

	t.Run("state", func(t *testing.T) {
		// No flow in this browser.
		c := h.client()
		resp, _ := do(t, c, "GET", h.portalURL("/login/oidc/auto/callback?code=abc&state=xyz"), nil, browser)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback without a flow: %d", resp.StatusCode)
		}
		// A flow whose answer carries another state: refused, and the
		// flow is spent.
		idp.QueueUser(oidctest.User{Subject: "idp-state"})
		au := oidctest.Start(t, c, h.portalURL("/login/oidc/auto"))
		if !strings.HasPrefix(au.String(), idp.AuthorizationEndpoint()) {
			t.Fatalf("start: %s", au)
		}
		for k, want := range map[string]string{"code_challenge_method": "S256", "response_type": "code",
			"redirect_uri": h.portalURL("/login/oidc/auto/callback")} {
			if got := au.Query().Get(k); got != want {
				t.Errorf("authorization request %s = %q, want %q", k, got, want)
			}
		}
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if len(au.Query().Get(k)) < 43 {
				t.Errorf("authorization request %s = %q, want a random value", k, au.Query().Get(k))
			}
		}
		cb := oidctest.Authorize(t, c, au.String())
		good := cb.String()
		q := cb.Query()
		q.Set("state", "forged")
		cb.RawQuery = q.Encode()
		if resp, _ := do(t, c, "GET", cb.String(), nil, browser); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("forged state: %d", resp.StatusCode)
		}
		if resp, _ := do(t, c, "GET", good, nil, browser); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("good state after the flow was spent: %d", resp.StatusCode)
		}
		// A genuine callback URL opened in another browser (login CSRF):
		// refused, since the flow is bound to the browser that started it.
		starter, victim := h.client(), h.client()
		idp.QueueUser(oidctest.User{Subject: "idp-attacker"})
		cb = oidctest.Authorize(t, starter, oidctest.Start(t, starter, h.portalURL("/login/oidc/auto")).String())
		if resp, _ := do(t, victim, "GET", cb.String(), nil, browser); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback in another browser: %d", resp.StatusCode)
		}
		if got, _ := me(victim); got != http.StatusUnauthorized {
			t.Errorf("victim signed in by someone else's callback: %d", got)
		}
	})

	t.Run("tampered ID tokens", func(t *testing.T) {
		defer tp.set("")
		for _, mode := range []string{"payload", "wrong-key", "nonce", "audience"} {
			tp.set(mode)
			c := h.client()
			resp, body := signIn(c, "evil", oidctest.User{Subject: "idp-mallory-" + mode, Claims: map[string]any{
				"preferred_username": "mallory", "email": "mallory@idp.example", "email_verified": true}}, "")
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "could not be verified") {
				t.Errorf("%s: %d %s", mode, resp.StatusCode, body)
			}
			if got, _ := me(c); got != http.StatusUnauthorized {
				t.Errorf("%s: signed in with a tampered token", mode)
			}
		}
		// The same provider without tampering works: the refusals were
		// about the tokens.
		tp.set("")
		if resp, body := signIn(h.client(), "evil", oidctest.User{Subject: "idp-mallory", Claims: map[string]any{
			"preferred_username": "mallory"}}, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("untampered sign-in: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("disabled user refused", func(t *testing.T) {
		bobAcct := oidctest.User{Subject: "idp-bob", Claims: map[string]any{"email": "bob@example.com", "email_verified": true}}
		if resp, body := signIn(h.client(), "email", bobAcct, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("bob's first sign-in: %d %s", resp.StatusCode, body)
		}
		owner := h.client()
		h.apiLogin(owner, "olga", ownerPW)
		if resp, b := do(t, owner, "PATCH", h.portalURL("/api/v1/users/bob"), strings.NewReader(`{"active":false}`), jsonAPI); resp.StatusCode != http.StatusOK {
			t.Fatalf("disable bob: %d %s", resp.StatusCode, b)
		}
		c := h.client()
		resp, body := signIn(c, "email", bobAcct, "")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Incorrect username or password.") {
			t.Errorf("disabled user: %d %s", resp.StatusCode, body)
		}
		if got, _ := me(c); got != http.StatusUnauthorized {
			t.Errorf("disabled user signed in: %d", got)
		}
		// The audit log says why.
		_, b := do(t, owner, "GET", h.portalURL("/api/v1/audit?action=login&user=bob"), nil, jsonAPI)
		if !strings.Contains(string(b), `"reason":"oidc email: account disabled"`) {
			t.Errorf("audit log: %s", b)
		}
	})

	t.Run("second factor", func(t *testing.T) {
		h.addUser("carol", alicePW, "user")
		c := h.client()
		h.apiLogin(c, "carol", alicePW)
		_, b := do(t, c, "POST", h.portalURL("/api/v1/me/totp"), nil, jsonAPI)
		var enr struct{ Secret string }
		_ = json.Unmarshal(b, &enr)
		if resp, b := do(t, c, "POST", h.portalURL("/api/v1/me/totp/confirm"),
			strings.NewReader(`{"code":"`+totpCode(t, enr.Secret, time.Now())+`"}`), jsonAPI); resp.StatusCode != http.StatusOK {
			t.Fatalf("confirm TOTP: %d %s", resp.StatusCode, b)
		}
		carol := oidctest.User{Subject: "idp-carol", Claims: map[string]any{"email": "carol@example.com", "email_verified": true}}

		// Not trusted for MFA: the provider is the first factor only.
		br := h.client()
		resp, body := signIn(br, "email", carol, h.appURL("/x"))
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login/2fa" || !strings.Contains(body, `name="code"`) {
			t.Fatalf("OIDC sign-in of a TOTP user ended at %s: %d", resp.Request.URL, resp.StatusCode)
		}
		if got, _ := me(br); got != http.StatusUnauthorized {
			t.Errorf("API with only the OIDC step: %d", got)
		}
		if resp, _ := do(t, br, "GET", h.appURL("/x"), nil, jsonAPI); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("app with only the OIDC step: %d", resp.StatusCode)
		}
		body2, hdr := formBody("method", "totp", "code", totpCode(t, enr.Secret, time.Now().Add(30*time.Second)), "rd", h.appURL("/x"))
		resp, page := do(t, br, "POST", h.portalURL("/login/2fa"), body2, hdr)
		if formTarget(resp, page) != h.appURL("/x") {
			t.Fatalf("second step: %d to %q", resp.StatusCode, formTarget(resp, page))
		}
		if _, s := me(br); !strings.Contains(s, `"methods":["oidc:email","totp"]`) || !strings.Contains(s, `"second_factor":true`) {
			t.Errorf("GET /me after the second step = %s", s)
		}

		// Trusted for MFA: a full two-factor session at once.
		tr := h.client()
		resp, body = signIn(tr, "trusted", carol, h.appURL("/y"))
		if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != h.appURL("/y") {
			t.Fatalf("trusted provider ended at %s: %d %s", resp.Request.URL, resp.StatusCode, body)
		}
		if _, s := me(tr); !strings.Contains(s, `"methods":["oidc:trusted"]`) || !strings.Contains(s, `"second_factor":true`) {
			t.Errorf("GET /me after the trusted provider = %s", s)
		}
	})
}

// TestOIDCProviderDown loads a config whose provider cannot be reached:
// Caddy starts, the password login works, and the provider's button
// answers that it is unavailable.
func TestOIDCProviderDown(t *testing.T) {
	h := newHarness(t)
	dead := freePort(t) // nothing listens there
	global := fmt.Sprintf("oidc down {\n\t\t\tissuer http://127.0.0.1:%d/oidc\n\t\t\tclient_id x\n\t\t}", dead)
	h.start(h.caddyfile(global, ""))
	h.addUser("alice", alicePW, "user")
	h.apiLogin(h.client(), "alice", alicePW)
	resp, body := do(t, h.client(), "GET", h.portalURL("/login/oidc/down"), nil, browser)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "unavailable") {
		t.Errorf("provider down: %d %s", resp.StatusCode, body)
	}
}
