package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// assertionHeader is the assertion header of the tests.
const assertionHeader = "X-Gatehouse-JWT"

// assertionRig is a real Caddy with `headers { jwt X-Gatehouse-JWT }`:
// the harness's whoami app, a second guarded app (wiki), a site in front
// of the same upstream that asks the portal through Caddy's own
// forward_auth (app fa), and an OpenID Connect client (so the provider
// runs, signing ID tokens with RS256 by default).
type assertionRig struct {
	h        *harness
	wiki, fa int
}

func newAssertionRig(t *testing.T) *assertionRig {
	h := newHarness(t)
	ports := freePorts(t, 2)
	r := &assertionRig{h: h, wiki: ports[0], fa: ports[1]}
	up := strings.TrimPrefix(h.upstream.URL, "http://")
	sites := fmt.Sprintf(`
http://127.0.0.1:%[1]d {
	gatehouse wiki {
		app_passwords
	}
	reverse_proxy %[3]s
}

http://127.0.0.1:%[2]d {
	# This server keeps a client's X_Gatehouse_JWT (see below), which
	# forward_auth's copy_headers does not remove: Gatehouse never sees the
	# client's headers through forward-auth, so the proxy removes it.
	request_header -X_Gatehouse_JWT
	forward_auth %[4]s {
		uri /api/authz/forward-auth?app=fa
		header_up Host {upstream_hostport}
		copy_headers Remote-User X-Gatehouse-JWT Cookie
	}
	reverse_proxy %[3]s
}
`, r.wiki, r.fa, up, h.portalURL(""))
	global := `headers {
			jwt X-Gatehouse-JWT
		}
		app fa {
			allow_groups staff
		}
		app forum {
			oidc {
				redirect_uri https://forum.example.com/cb
				client_secret 0123456789abcdef0123
			}
		}`
	// Caddy drops a client's header with an underscore unless told to
	// keep it; an operator who keeps one spelled like the assertion's
	// (for a PHP app, say) must still not let a client's reach the app.
	cf := strings.Replace(h.caddyfile(global, sites), "trusted_proxies static 127.0.0.1/32",
		"trusted_proxies static 127.0.0.1/32\n\t\texpected_underscore_headers X_Gatehouse_JWT", 1)
	if !strings.Contains(cf, "expected_underscore_headers") {
		t.Fatal("the harness's Caddyfile has no servers block with trusted_proxies any more")
	}
	h.start(cf)
	return r
}

// jwks fetches url and parses it as a JWKS.
func (r *assertionRig) jwks(t *testing.T, path string) jose.JSONWebKeySet {
	t.Helper()
	resp, b := do(t, r.h.client(), "GET", r.h.portalURL(path), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
	return set
}

// get sends c's GET to u with a forged assertion header in two
// spellings, and returns the assertion the upstream received (exactly
// one, or the test fails).
func (r *assertionRig) get(t *testing.T, c *http.Client, u string, hdr map[string]string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set(assertionHeader, forgedAssertion)
	req.Header["X_Gatehouse_JWT"] = []string{forgedAssertion}
	before := r.h.upstreamHits()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seen, n := r.h.lastSeen()
	if resp.StatusCode != http.StatusOK || n != before+1 {
		t.Fatalf("GET %s: %d, the upstream saw %d requests (want 1)", u, resp.StatusCode, n-before)
	}
	// Any other spelling an upstream may fold to the same name (CGI and
	// PHP turn '-' and '_' alike into HTTP_X_GATEHOUSE_JWT).
	for k, v := range seen {
		folded := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if folded == strings.ToLower(assertionHeader) && k != http.CanonicalHeaderKey(assertionHeader) {
			t.Errorf("a client-sent %s reached the app: %q", k, v)
		}
	}
	v := seen.Values(assertionHeader)
	if len(v) != 1 || v[0] == forgedAssertion {
		t.Fatalf("the app got %s %q, want exactly one assertion of Gatehouse's", assertionHeader, v)
	}
	return v[0]
}

// forgedAssertion is what a client sends as the assertion header: a
// well-formed JWT, unsigned.
const forgedAssertion = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJvbGdhIn0."

// assertionClaims are the claims an app reads.
type assertionClaims struct {
	jwt.RegisteredClaims
	PreferredUsername string   `json:"preferred_username"`
	Name              string   `json:"name"`
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	Groups            []string `json:"groups"`
	Imp               *string  `json:"imp"`
}

// verify checks token as an app would with golang-jwt: an ES256
// signature by a key of set (by kid), iss the portal, aud app, exp and
// iat present and valid, at most 60 s apart. It returns the kid and the
// claims.
func (r *assertionRig) verify(set jose.JSONWebKeySet, token, app string) (string, *assertionClaims, error) {
	var kid string
	c := new(assertionClaims)
	_, err := jwt.ParseWithClaims(token, c, func(tok *jwt.Token) (any, error) {
		kid, _ = tok.Header["kid"].(string)
		keys := set.Key(kid)
		if len(keys) != 1 {
			return nil, fmt.Errorf("kid %q is not in the JWKS", kid)
		}
		return keys[0].Key, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(r.h.portalURL("")), jwt.WithAudience(app),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return kid, nil, err
	}
	if c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > 60*time.Second || c.ExpiresAt.Sub(c.IssuedAt.Time) <= 0 {
		return kid, c, fmt.Errorf("iat %v exp %v: want exp at most 60 s after iat", c.IssuedAt, c.ExpiresAt)
	}
	return kid, c, nil
}

// TestIdentityAssertion: with `headers { jwt X-Gatehouse-JWT }`, every
// request a real Caddy lets through carries a JWT that golang-jwt
// verifies with the JWKS fetched from <portal_url>/.well-known/jwks.json
// (the provider's own jwks_uri serves the same set, which holds an ES256
// key although the provider signs ID tokens with RS256): iss the portal,
// aud the app, sub the user's id, preferred_username, name, email,
// groups, exp at most 60 s after iat, imp during an impersonation. A
// client's own copy never reaches the app; an assertion for one app is
// refused by another; forward-auth answers carry it; API keys get one;
// `caddy gatehouse oidc rotate-keys` makes a new kid sign while the old
// one stays in the JWKS.
func TestIdentityAssertion(t *testing.T) {
	r := newAssertionRig(t)
	h := r.h
	h.addUser("olga", ownerPW, "owner")
	h.addUser("adam", ownerPW, "admin", "admins")
	h.addUser("alice", alicePW, "user", "staff", "ops")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	_, b := do(t, alice, "GET", h.portalURL("/api/v1/me"), nil, jsonAPI)
	var me struct{ User struct{ ID string } }
	if err := json.Unmarshal(b, &me); err != nil || me.User.ID == "" {
		t.Fatalf("/me: %s", b)
	}
	aliceID := me.User.ID

	set := r.jwks(t, "/.well-known/jwks.json")
	t.Run("one JWKS, with an ES256 key beside the RS256 ones", func(t *testing.T) {
		var disc struct {
			JWKSURI string `json:"jwks_uri"`
		}
		_, b := do(t, h.client(), "GET", h.portalURL("/.well-known/openid-configuration"), nil, nil)
		if err := json.Unmarshal(b, &disc); err != nil || !strings.HasPrefix(disc.JWKSURI, h.portalURL("/")) {
			t.Fatalf("discovery: %s", b)
		}
		provider := r.jwks(t, strings.TrimPrefix(disc.JWKSURI, h.portalURL("")))
		if a, b := jwksKids(set), jwksKids(provider); !slices.Equal(a, b) {
			t.Errorf("/.well-known/jwks.json holds %v, the provider's jwks_uri %v", a, b)
		}
		algs := map[string]int{}
		for _, k := range set.Keys {
			algs[k.Algorithm]++
			if !k.IsPublic() || k.Use != "sig" {
				t.Errorf("key %s: public %v use %q", k.KeyID, k.IsPublic(), k.Use)
			}
		}
		if algs["ES256"] != 1 || algs["RS256"] != 1 {
			t.Errorf("JWKS algorithms %v, want one RS256 (ID tokens) and one ES256 (assertions)", algs)
		}
	})

	token := r.get(t, alice, h.appURL("/"), nil)
	kid, c, err := r.verify(set, token, "whoami")
	if err != nil {
		t.Fatalf("alice's assertion for whoami does not verify: %v\n%s", err, token)
	}
	t.Run("claims", func(t *testing.T) {
		if c.Subject != aliceID || c.PreferredUsername != "alice" || c.Name != "Alice" || c.Email != "alice@example.com" ||
			!c.EmailVerified || !slices.Equal(c.Groups, []string{"ops", "staff"}) || c.Imp != nil {
			t.Errorf("claims %+v, want sub %s, alice, Alice, alice@example.com (verified), groups ops staff, no imp", c, aliceID)
		}
		if d := time.Since(c.IssuedAt.Time); d > 5*time.Second || d < -5*time.Second {
			t.Errorf("iat %v is not now", c.IssuedAt)
		}
		if aud := c.Audience; len(aud) != 1 || aud[0] != "whoami" {
			t.Errorf("aud %v", aud)
		}
	})
	t.Run("the JOSE header", func(t *testing.T) {
		tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Header["alg"] != "ES256" || tok.Header["kid"] != kid || tok.Header["typ"] != "gatehouse-identity+jwt" {
			t.Errorf("header %v", tok.Header)
		}
	})
	t.Run("reused while fresh", func(t *testing.T) {
		if again := r.get(t, alice, h.appURL("/x"), nil); again != token {
			t.Errorf("a second request got another assertion: signed again within its lifetime")
		}
	})
	t.Run("for one app only", func(t *testing.T) {
		if _, _, err := r.verify(set, token, "wiki"); !errors.Is(err, jwt.ErrTokenInvalidAudience) {
			t.Errorf("whoami's assertion checked for wiki: %v, want an invalid audience", err)
		}
		wiki := r.get(t, alice, fmt.Sprintf("http://127.0.0.1:%d/", r.wiki), nil)
		if _, c, err := r.verify(set, wiki, "wiki"); err != nil || c.Subject != aliceID {
			t.Errorf("wiki's assertion: %v %+v", err, c)
		}
		if _, _, err := r.verify(set, wiki, "whoami"); !errors.Is(err, jwt.ErrTokenInvalidAudience) {
			t.Errorf("wiki's assertion checked for whoami: %v, want an invalid audience", err)
		}
	})
	t.Run("forward-auth", func(t *testing.T) {
		fa := r.get(t, alice, fmt.Sprintf("http://127.0.0.1:%d/page", r.fa), nil)
		if _, c, err := r.verify(set, fa, "fa"); err != nil || c.PreferredUsername != "alice" {
			t.Errorf("the forward-auth assertion: %v %+v", err, c)
		}
	})
	t.Run("API key", func(t *testing.T) {
		resp, b := do(t, alice, "POST", h.portalURL("/api/v1/keys"), strings.NewReader(`{"label":"script"}`), jsonAPI)
		var k struct{ Key string }
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &k) != nil {
			t.Fatalf("create key: %d %s", resp.StatusCode, b)
		}
		script := &http.Client{Transport: noKeepAlive}
		tok := r.get(t, script, h.appURL("/"), map[string]string{"Authorization": "Bearer " + k.Key})
		if _, c, err := r.verify(set, tok, "whoami"); err != nil || c.Subject != aliceID {
			t.Errorf("the API key's assertion: %v %+v", err, c)
		}
	})
	t.Run("app password", func(t *testing.T) {
		resp, b := do(t, alice, "POST", h.portalURL("/api/v1/me/app-passwords"), strings.NewReader(`{"name":"dav","app":"wiki"}`), jsonAPI)
		var ap struct{ Password string }
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &ap) != nil || ap.Password == "" {
			t.Fatalf("create app password: %d %s", resp.StatusCode, b)
		}
		dav := &http.Client{Transport: noKeepAlive}
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", r.wiki), nil)
		req.SetBasicAuth("alice", ap.Password)
		tok := r.get(t, dav, req.URL.String(), map[string]string{"Authorization": req.Header.Get("Authorization")})
		if _, c, err := r.verify(set, tok, "wiki"); err != nil || c.Subject != aliceID {
			t.Errorf("the app password's assertion: %v %+v", err, c)
		}
	})
	t.Run("impersonation", func(t *testing.T) {
		admin := h.client()
		h.apiLogin(admin, "adam", ownerPW)
		if resp, b := do(t, admin, "POST", h.portalURL("/api/v1/users/alice/impersonate"), nil, jsonAPI); resp.StatusCode != http.StatusOK {
			t.Fatalf("impersonate: %d %s", resp.StatusCode, b)
		}
		tok := r.get(t, admin, h.appURL("/"), nil)
		_, c, err := r.verify(set, tok, "whoami")
		if err != nil || c.Subject != aliceID || c.PreferredUsername != "alice" || c.Imp == nil || *c.Imp != "adam" {
			t.Fatalf("impersonated assertion: %v %+v (imp %v), want alice with imp adam", err, c, c.Imp)
		}
		if tok == token {
			t.Error("the impersonation got alice's own cached assertion")
		}
	})
	t.Run("key rotation", func(t *testing.T) {
		out, err := runCommand(t, oidcCommand(), "", "rotate-keys", "--json", "--address", "127.0.0.1:"+strconv.Itoa(h.admin))
		var rep rotatedKeys
		if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.AssertionKeyID == "" || rep.AssertionKeyID == kid {
			t.Fatalf("rotate-keys: %v %s, want a new assertion kid (was %s)", err, out, kid)
		}
		after := r.jwks(t, "/.well-known/jwks.json")
		if _, _, err := r.verify(after, token, "whoami"); err != nil {
			t.Errorf("an assertion signed before the rotation no longer verifies: %v", err)
		}
		fresh := r.get(t, alice, h.appURL("/"), nil)
		newKid, _, err := r.verify(after, fresh, "whoami")
		if err != nil || newKid != rep.AssertionKeyID {
			t.Errorf("after the rotation: kid %s (%v), want %s", newKid, err, rep.AssertionKeyID)
		}
		if _, _, err := r.verify(set, fresh, "whoami"); err == nil {
			t.Error("the new assertion verifies with the JWKS from before the rotation")
		}
	})
}

func jwksKids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

// TestIdentityAssertionWithoutProvider: with no OpenID Connect client the
// provider does not run, yet with `headers { jwt … }` the portal serves
// the assertion key at /.well-known/jwks.json and the assertions verify
// with it; without either, there is no key set (404).
func TestIdentityAssertionWithoutProvider(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("headers {\n\t\t\tjwt X-Gatehouse-JWT\n\t\t}", ""))
	r := &assertionRig{h: h}
	h.addUser("alice", alicePW, "user", "staff")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)

	set := r.jwks(t, "/.well-known/jwks.json")
	if len(set.Keys) != 1 || set.Keys[0].Algorithm != "ES256" {
		t.Fatalf("JWKS %v, want the one ES256 assertion key", jwksKids(set))
	}
	if resp, _ := do(t, h.client(), "GET", h.portalURL("/oidc/keys"), nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/oidc/keys without a provider: %d, want 404", resp.StatusCode)
	}
	tok := r.get(t, alice, h.appURL("/"), nil)
	if _, c, err := r.verify(set, tok, "whoami"); err != nil || c.PreferredUsername != "alice" {
		t.Fatalf("assertion: %v %+v", err, c)
	}

	// The same store without assertions: no key set, no header.
	h.start(h.caddyfile("", ""))
	if resp, b := do(t, h.client(), "GET", h.portalURL("/.well-known/jwks.json"), nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/.well-known/jwks.json with neither: %d %s, want 404", resp.StatusCode, b)
	}
	resp, _ := do(t, alice, "GET", h.appURL("/"), nil, map[string]string{"Accept": "application/json", assertionHeader: forgedAssertion})
	seen, _ := h.lastSeen()
	if resp.StatusCode != http.StatusOK || seen.Get(assertionHeader) != forgedAssertion {
		// Off, the name means nothing to Gatehouse; an app that verifies
		// the signature refuses a forged one.
		t.Errorf("assertions off: %d, the app got %s %q, want the client's own", resp.StatusCode, assertionHeader, seen.Get(assertionHeader))
	}
}
