package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// postForm posts form to the provider's path with an optional Basic
// header (id:secret, as given) and returns the status and JSON answer.
func (o *oidcRig) postForm(path string, form url.Values, basic string) (int, map[string]any) {
	o.h.t.Helper()
	req, _ := http.NewRequest("POST", o.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// flowTokens runs the code flow for c with conf (PKCE) and exchanges the code.
func (o *oidcRig) flowTokens(c *http.Client, conf *oauth2.Config) *oauth2.Token {
	o.h.t.Helper()
	v := oauth2.GenerateVerifier()
	code := o.code(c, conf, "st", oauth2.S256ChallengeOption(v))
	tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		o.h.t.Fatalf("exchange for %s: %v", conf.ClientID, err)
	}
	return tok
}

// TestOIDCProviderClientAuth: client_secret_post works; a request that
// authenticates twice (Basic header and client_secret in the form) or
// repeats a credential is refused; a public client revokes its own
// tokens and no client revokes or introspects another's.
func TestOIDCProviderClientAuth(t *testing.T) {
	o := startOIDC(t)
	alice := o.signedIn("alice")

	t.Run("client_secret_post", func(t *testing.T) {
		conf := o.conf("grafana", rpSecret, rpRedirect, "offline_access")
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		tok := o.flowTokens(alice, conf)
		if tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("tokens %+v", tok)
		}
		if _, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Errorf("refresh with client_secret_post: %v", err)
		}
	})

	t.Run("two methods or repeated credentials refused", func(t *testing.T) {
		conf := o.conf("grafana", rpSecret, rpRedirect)
		v := oauth2.GenerateVerifier()
		code := o.code(alice, conf, "st", oauth2.S256ChallengeOption(v))
		base := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {v}}
		for _, tc := range []struct {
			name  string
			extra url.Values
			basic string
		}{
			{"Basic and client_secret", url.Values{"client_secret": {rpSecret}}, "grafana:" + rpSecret},
			{"Basic and another client_id", url.Values{"client_id": {"vault"}}, "grafana:" + rpSecret},
			{"client_id twice", url.Values{"client_id": {"grafana", "mobile"}, "client_secret": {rpSecret}}, ""},
			{"client_secret twice", url.Values{"client_id": {"grafana"}, "client_secret": {rpSecret, "x"}}, ""},
		} {
			form := url.Values{}
			for k, vs := range base {
				form[k] = vs
			}
			for k, vs := range tc.extra {
				form[k] = vs
			}
			if st, m := o.postForm("/oidc/token", form, tc.basic); st != http.StatusBadRequest || m["error"] != "invalid_request" {
				t.Errorf("%s: %d %v, want 400 invalid_request", tc.name, st, m)
			}
		}
		// The code was not spent by the refused requests.
		if _, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(v)); err != nil {
			t.Errorf("the code after the refused requests: %v", err)
		}
	})

	t.Run("a repeated redirect_uri is shown on the portal, never followed", func(t *testing.T) {
		mobile := o.conf("mobile", "", "http://127.0.0.1:9/mcb")
		u := mobile.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("redirect_uri", "http://127.0.0.1:9/mcb"))
		for _, name := range []string{"redirect_uri", "REDIRECT_URI", "Redirect_Uri"} {
			// The library reads names in any case, and the last value.
			resp, body := o.authorize(alice, u+"&"+name+"="+url.QueryEscape("http://127.0.0.1:4444/mcb"))
			if resp.StatusCode != http.StatusBadRequest || strings.Contains(resp.Header.Get("Location"), "4444") {
				t.Fatalf("repeated %s: %d %s %s", name, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}
	})

	t.Run("revocation by a public client, and of another client's token", func(t *testing.T) {
		mobile := o.conf("mobile", "", "http://127.0.0.1:9/mcb", "offline_access")
		grafana := o.conf("grafana", rpSecret, rpRedirect, "offline_access")
		mt := o.flowTokens(alice, mobile)
		gt := o.flowTokens(alice, grafana)
		if mt.RefreshToken == "" || gt.RefreshToken == "" {
			t.Fatalf("no refresh tokens: mobile %q grafana %q", mt.RefreshToken, gt.RefreshToken)
		}
		userinfo := func(access string) int {
			req, _ := http.NewRequest("GET", o.issuer+"/oidc/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		refreshes := func(conf *oauth2.Config, rt string) bool {
			_, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
			return err == nil
		}
		// mobile and vault try to revoke grafana's tokens: RFC 7009 answers
		// 200 all the same, and the tokens live on.
		for _, tok := range []string{gt.AccessToken, gt.RefreshToken} {
			if st, m := o.postForm("/oidc/revoke", url.Values{"token": {tok}, "client_id": {"mobile"}}, ""); st != http.StatusOK {
				t.Errorf("mobile revokes grafana's token: %d %v", st, m)
			}
			if st, m := o.postForm("/oidc/revoke", url.Values{"token": {tok}}, "vault:"+rpSecret); st != http.StatusOK {
				t.Errorf("vault revokes grafana's token: %d %v", st, m)
			}
		}
		if userinfo(gt.AccessToken) != http.StatusOK {
			t.Error("another client revoked grafana's access token")
		}
		rt := gt.RefreshToken
		next, err := grafana.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
		if err != nil {
			t.Fatalf("another client revoked grafana's refresh token: %v", err)
		}

		// Introspection: RFC 7662 §2.2, a token the caller may not
		// introspect is reported inactive; a public client may not call it.
		if st, m := o.postForm("/oidc/introspect", url.Values{"token": {next.AccessToken}}, "vault:"+rpSecret); st != http.StatusOK || m["active"] != false || len(m) != 1 {
			t.Errorf("vault introspects grafana's token: %d %v, want {active:false}", st, m)
		}
		if st, m := o.postForm("/oidc/introspect", url.Values{"token": {next.AccessToken}}, "grafana:"+rpSecret); st != http.StatusOK || m["active"] != true {
			t.Errorf("grafana introspects its token: %d %v", st, m)
		}
		if st, _ := o.postForm("/oidc/introspect", url.Values{"token": {mt.AccessToken}, "client_id": {"mobile"}}, ""); st != http.StatusUnauthorized {
			t.Errorf("a public client introspects: %d, want 401", st)
		}

		// mobile, a public client, revokes its own tokens with its client_id.
		if st, m := o.postForm("/oidc/revoke", url.Values{"token": {mt.AccessToken}, "client_id": {"mobile"}}, ""); st != http.StatusOK {
			t.Fatalf("mobile revokes its access token: %d %v", st, m)
		}
		if st := userinfo(mt.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("revoked access token at UserInfo: %d", st)
		}
		if st, m := o.postForm("/oidc/revoke", url.Values{"token": {mt.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {"mobile"}}, ""); st != http.StatusOK {
			t.Fatalf("mobile revokes its refresh token: %d %v", st, m)
		}
		if refreshes(mobile, mt.RefreshToken) {
			t.Error("the revoked refresh token still refreshes")
		}
		// A public client's id alone does not revoke another's token.
		if st, _ := o.postForm("/oidc/revoke", url.Values{"token": {next.RefreshToken}, "client_id": {"nosuchapp"}}, ""); st != http.StatusUnauthorized {
			t.Errorf("revoke by an unknown client: %d, want 401", st)
		}
		if !refreshes(grafana, next.RefreshToken) {
			t.Error("grafana's refresh token died")
		}
	})
}

// TestOIDCClientAuthThrottle: wrong client secrets from one address
// spend its client throttle's budget (64) until the endpoint answers 429
// with Retry-After; right ones give it back, so an app's server that
// authenticates all day, or 48 times at once, is never slowed, and other
// addresses are not affected.
func TestOIDCClientAuthThrottle(t *testing.T) {
	o := startOIDC(t)
	post := func(ip, secret string) (int, string) {
		t.Helper()
		form := url.Values{"token": {"not-a-token"}}
		req, _ := http.NewRequest("POST", o.issuer+"/oidc/introspect", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", ip)
		req.SetBasicAuth("grafana", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range 30 {
		if st, _ := post("198.51.100.1", rpSecret); st != http.StatusOK {
			t.Fatalf("right secret #%d: %d", i+1, st)
		}
	}
	var wg sync.WaitGroup
	codes := make([]int, 48)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = post("198.51.100.1", rpSecret)
		}()
	}
	wg.Wait()
	for i, st := range codes {
		if st != http.StatusOK {
			t.Fatalf("right secret #%d of 48 at once: %d", i+1, st)
		}
	}
	// 64 wrong secrets are answered 401, the 65th 429.
	for i := range 65 {
		st, after := post("198.51.100.2", "wrong-secret-0123456789")
		if want := http.StatusUnauthorized; i == 64 && (st != http.StatusTooManyRequests || after == "") || i < 64 && st != want {
			t.Fatalf("wrong secret #%d: %d (Retry-After %q)", i+1, st, after)
		}
	}
	if st, _ := post("198.51.100.1", rpSecret); st != http.StatusOK {
		t.Fatalf("another address was throttled too: %d", st)
	}
}
