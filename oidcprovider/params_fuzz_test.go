package oidcprovider

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/schema"

	"github.com/gatehouse-auth/gatehouse/core"
)

// libDecoder decodes a form as the library does (op.NewProvider's
// decoder).
var libDecoder = func() *schema.Decoder {
	d := schema.NewDecoder()
	d.IgnoreUnknownKeys(true)
	return d
}()

// FuzzAuthorizeParams: for any /authorize query and registered redirect
// URIs, checkAuthorizeParams never panics and accepts only a request whose
// redirect_uri is given once and is exactly a registered one, and whose
// client_id and redirect_uri the library decodes to the same values; the
// PKCE check accepts only S256 with a well-formed challenge, and nothing
// without one from a public client.
func FuzzAuthorizeParams(f *testing.F) {
	f.Add("client_id=grafana&redirect_uri=https%3A%2F%2Fg.example.com%2Fcb&response_type=code&scope=openid&state=s",
		"https://g.example.com/cb", false)
	f.Add("client_id=grafana&redirect_uri=https%3A%2F%2Fg.example.com%2Fcb&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
		"https://g.example.com/cb", false)
	f.Add("client_id=mobile&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
		"http://127.0.0.1:9/cb", true)
	f.Add("client_id=mobile&redirect_uri=app.immich%3A%2F%2F%2Foauth-callback&code_challenge=abc&code_challenge_method=plain",
		"app.immich:///oauth-callback", true)
	f.Add("client_id=grafana&redirect_uri=https%3A%2F%2Fg.example.com%2Fcb%2F", "https://g.example.com/cb", false)
	f.Add("client_id=grafana&redirect_uri=HTTPS%3A%2F%2Fg.example.com%2Fcb", "https://g.example.com/cb", false)
	f.Add("client_id=grafana&redirect_uri=https://g.example.com/cb%00", "https://g.example.com/cb", false)
	f.Add("client_id=grafana&redirect_uri=https%3A%2F%2Fg.example.com%2Fcb&REDIRECT_URI=https%3A%2F%2Fevil.example%2Fcb",
		"https://g.example.com/cb", false)
	f.Add("client_id=&redirect_uri=", "", false)
	f.Add("%zz&client_id=grafana;redirect_uri=x", "x", false)
	f.Fuzz(func(t *testing.T, rawQuery, registered string, public bool) {
		form, _ := url.ParseQuery(rawQuery)
		var uris []string
		for _, u := range strings.Split(registered, "\n") {
			if u != "" {
				uris = append(uris, u)
			}
		}
		var c *core.OIDCClient
		if len(uris) > 0 {
			c = &core.OIDCClient{RedirectURIs: uris, Public: public}
		}
		if err := checkAuthorizeParams(form, c); err == nil {
			if len(form["redirect_uri"]) != 1 || !slices.Contains(uris, form["redirect_uri"][0]) {
				t.Fatalf("accepted redirect_uri %q, registered %q", form["redirect_uri"], uris)
			}
			var lib oidc.AuthRequest
			if err := libDecoder.Decode(&lib, form); err == nil &&
				(lib.RedirectURI != form.Get("redirect_uri") || lib.ClientID != form.Get("client_id")) {
				t.Fatalf("we checked client %q and %q, the library decodes %q and %q",
					form.Get("client_id"), form.Get("redirect_uri"), lib.ClientID, lib.RedirectURI)
			}
		}
		challenge, method := form.Get("code_challenge"), oidc.CodeChallengeMethod(form.Get("code_challenge_method"))
		if err := checkPKCE(challenge, method, public); err == nil {
			if challenge != "" && (method != oidc.CodeChallengeMethodS256 || len(challenge) < 43 || len(challenge) > 128 ||
				strings.IndexFunc(challenge, notUnreserved) >= 0) {
				t.Fatalf("accepted PKCE %q %q", challenge, method)
			}
			if challenge == "" && (public || method != "") {
				t.Fatalf("accepted no challenge (public %v, method %q)", public, method)
			}
		}
	})
}

// FuzzTokenForm: for any Authorization header, body and query,
// parseClientAuth never panics; what it accepts from a Basic header is
// what net/http's BasicAuth and form-url-decoding (RFC 6749 §2.3.1) give,
// with no secret in the form too and no other client_id there; what it
// accepts from the form is given once and not in the query, so that the
// library decodes the same; and any id and secret encoded as RFC 6749
// §2.3.1 says come back intact.
func FuzzTokenForm(f *testing.F) {
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	f.Add(basic("grafana", "s3cret"), "grant_type=authorization_code&code=c", "", "grafana", "s3cret")
	f.Add(basic("grafana", "s3cret"), "grant_type=authorization_code&client_secret=s3cret", "", "a b", "p+q%r:s")
	f.Add("", "client_id=grafana&client_secret=s3cret&grant_type=authorization_code", "", "ü:ñ", "")
	f.Add("", "client_id=a&client_id=b", "", "", "")
	f.Add("", "client_id=a", "client_id=b", "", "")
	f.Add("basic "+base64.StdEncoding.EncodeToString([]byte("a%zz:b")), "", "", "", "")
	f.Add("Basic !!!", "client_id=mobile", "", "", "")
	f.Add("Bearer abc", "client_id=mobile&code_verifier=v", "", "", "")
	f.Add(basic("grafana", "x"), "client_id=other", "", "", "")
	f.Add("", "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x", "", "", "")
	f.Fuzz(func(t *testing.T, authorization, body, query, id, secret string) {
		post, _ := url.ParseQuery(body)
		q, _ := url.ParseQuery(query)
		form := url.Values{}
		for k, vs := range post {
			form[k] = append(form[k], vs...)
		}
		for k, vs := range q { // as http.Request.ParseForm: body first
			form[k] = append(form[k], vs...)
		}
		var hdr []string
		if authorization != "" {
			hdr = []string{authorization}
		}
		cred, err := parseClientAuth(hdr, form, q)
		if err == nil {
			for _, p := range credentialParams {
				if q.Has(p) || len(form[p]) > 1 {
					t.Fatalf("accepted %s in the query or repeated: %q %q", p, body, query)
				}
			}
			if cred.basic {
				r := &http.Request{Header: http.Header{"Authorization": hdr}}
				u, pw, ok := r.BasicAuth()
				u, err1 := url.QueryUnescape(u)
				pw, err2 := url.QueryUnescape(pw)
				if !ok || err1 != nil || err2 != nil || u != cred.id || pw != cred.secret {
					t.Fatalf("Basic %q: we read %q/%q, net/http and §2.3.1 %q/%q (%v)", authorization, cred.id, cred.secret, u, pw, ok)
				}
				if form.Has("client_secret") || form.Has("client_id") && form.Get("client_id") != cred.id {
					t.Fatalf("accepted two methods: Basic %q and form %q", authorization, body)
				}
			} else {
				var lib struct {
					ClientID     string `schema:"client_id"`
					ClientSecret string `schema:"client_secret"`
				}
				if err := libDecoder.Decode(&lib, form); err == nil && (lib.ClientID != cred.id || lib.ClientSecret != cred.secret) {
					t.Fatalf("we read %q/%q, the library %q/%q", cred.id, cred.secret, lib.ClientID, lib.ClientSecret)
				}
			}
		}
		// Round trip of any id and secret through client_secret_basic.
		cred, err = parseClientAuth([]string{basic(id, secret)}, url.Values{}, url.Values{})
		if err != nil || !cred.basic || cred.id != id || cred.secret != secret {
			t.Fatalf("Basic of %q/%q: got %+v, %v", id, secret, cred, err)
		}
	})
}
