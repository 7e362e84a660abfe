package caddymodule

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-auth/gatehouse/internal/nginxtest"
)

// userOf returns the username an assertion in r states, for the app named
// app behind the portal at portal ("https://auth.example.com"). keys is the
// JWKS from portal + "/.well-known/jwks.json" (json.Unmarshal into a
// jose.JSONWebKeySet), cached, and fetched again on an unknown kid.
func userOf(r *http.Request, keys jose.JSONWebKeySet, portal, app string) (string, error) {
	var c struct {
		jwt.RegisteredClaims
		Username string   `json:"preferred_username"`
		Groups   []string `json:"groups"`
	}
	_, err := jwt.ParseWithClaims(r.Header.Get("X-Gatehouse-JWT"), &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k := keys.Key(kid); len(k) == 1 {
			return k[0].Key, nil
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(portal), jwt.WithAudience(app),
		jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return "", err
	}
	return c.Username, nil
}

// readmeBlock returns the fenced block of README.md in language lang that
// follows the line starting with after.
func readmeBlock(t *testing.T, after, lang string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, after)
	if i < 0 {
		t.Fatalf("README.md no longer has %q", after)
	}
	s = s[i:]
	start := strings.Index(s, "```"+lang+"\n")
	if start < 0 {
		t.Fatalf("README.md: no %s block after %q", lang, after)
	}
	s = s[start+len("```"+lang+"\n"):]
	return s[:strings.Index(s, "```\n")]
}

// TestReadmeAssertionSnippets runs the README's snippets that verify an
// identity assertion: the Go function (this file holds it verbatim) and,
// when Debian's python3-jwt is installed, the Python one, against the
// assertions a real Caddy sends an app and the JWKS its portal serves.
func TestReadmeAssertionSnippets(t *testing.T) {
	goSnippet := readmeBlock(t, "**Verifying it in an app**", "go")
	src, err := os.ReadFile("assertion_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(goSnippet)) {
		t.Fatalf("the README's Go snippet is not the userOf of assertion_readme_test.go:\n%s", goSnippet)
	}

	h := newHarness(t)
	h.start(h.caddyfile("headers {\n\t\t\tjwt X-Gatehouse-JWT\n\t\t}", ""))
	r := &assertionRig{h: h}
	h.addUser("alice", alicePW, "user", "staff")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	token := r.get(t, alice, h.appURL("/"), nil)
	keys := r.jwks(t, "/.well-known/jwks.json")
	req, _ := http.NewRequest("GET", "http://app.test/", nil)
	req.Header.Set("X-Gatehouse-JWT", token)

	t.Run("go", func(t *testing.T) {
		if u, err := userOf(req, keys, h.portalURL(""), "whoami"); err != nil || u != "alice" {
			t.Errorf("userOf: %q %v, want alice", u, err)
		}
		if u, err := userOf(req, keys, h.portalURL(""), "grafana"); err == nil {
			t.Errorf("userOf for another app: %q, want an error", u)
		}
		req := req.Clone(req.Context())
		req.Header.Set("X-Gatehouse-JWT", forgedAssertion)
		if u, err := userOf(req, keys, h.portalURL(""), "whoami"); err == nil {
			t.Errorf("userOf of an unsigned token: %q, want an error", u)
		}
	})

	t.Run("python", func(t *testing.T) {
		py := ""
		for _, p := range []string{"/usr/bin/python3", "python3"} {
			if exec.Command(p, "-c", "import jwt; jwt.PyJWKClient").Run() == nil {
				py = p
				break
			}
		}
		if py == "" {
			t.Skip("no python3 with PyJWT (apt-get install python3-jwt)")
		}
		snippet := readmeBlock(t, "or in Python with PyJWT", "python")
		for _, r := range [][2]string{{"https://auth.example.com", h.portalURL("")}, {`audience="grafana"`, `audience="whoami"`}} {
			if !strings.Contains(snippet, r[0]) {
				t.Fatalf("the README's Python snippet no longer holds %q", r[0])
			}
			snippet = strings.ReplaceAll(snippet, r[0], r[1])
		}
		run := func(tok string) (string, error) {
			out, err := exec.Command(py, "-c", snippet+"\nimport sys\nprint(user_of({'X-Gatehouse-JWT': sys.argv[1]}))\n", tok).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
		if out, err := run(token); err != nil || out != "alice" {
			t.Errorf("user_of: %q %v, want alice", out, err)
		}
		wiki := strings.ReplaceAll(snippet, `audience="whoami"`, `audience="wiki"`)
		out, err := exec.Command(py, "-c", wiki+"\nimport sys\nprint(user_of({'X-Gatehouse-JWT': sys.argv[1]}))\n", token).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "InvalidAudience") {
			t.Errorf("user_of for another app: %s %v, want InvalidAudienceError", out, err)
		}
		if out, err := run(forgedAssertion); err == nil {
			t.Errorf("user_of of an unsigned token: %q, want an error", out)
		}
	})
}

// TestReadmeAssertionNginx: the README's two nginx lines that pass the
// assertion on, added to the nginx example (Debian's nginx, auth_request
// to the portal), bring the app an assertion that verifies for the app
// the subrequest names, and never the one a client sends.
func TestReadmeAssertionNginx(t *testing.T) {
	lines := readmeBlock(t, "add it to Caddy's `copy_headers`", "nginx")
	h := newHarness(t)
	h.start(h.caddyfile("headers {\n\t\t\tjwt X-Gatehouse-JWT\n\t\t}\n\t\tapp wiki {\n\t\t\tallow_groups staff\n\t\t}", ""))
	r := &assertionRig{h: h}
	h.addUser("alice", alicePW, "user", "staff")
	conf := nginxExample(t, h.portalURL(""), "wiki", h.upstream.URL)
	anchor := "proxy_set_header Cookie              $gatehouse_cookie;\n"
	if !strings.Contains(conf, anchor) {
		t.Fatalf("examples/nginx/app.conf no longer holds %q", anchor)
	}
	conf = strings.Replace(conf, anchor, anchor+lines, 1)
	ngx := nginxtest.Start(t, nginxtest.Options{Config: conf})

	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	tok := r.get(t, alice, ngx.URL+"/page", nil)
	set := r.jwks(t, "/.well-known/jwks.json")
	if _, c, err := r.verify(set, tok, "wiki"); err != nil || c.PreferredUsername != "alice" {
		t.Fatalf("the assertion through nginx: %v %+v\n%s", err, c, ngx.ErrorLog())
	}
}
