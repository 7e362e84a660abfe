package caddymodule

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/internal/pgtest"
	"github.com/gatehouse-auth/gatehouse/oidcprovider"
)

// nodeHeader tells the test's load balancer which node a request goes to.
const nodeHeader = "X-Test-Node"

// toNode sends each request to the node pick names, through the load
// balancer.
type toNode struct {
	pick func() string
	next http.RoundTripper
}

func (n toNode) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(nodeHeader, n.pick())
	return n.next.RoundTrip(r)
}

// TestClusterOIDC: two nodes on one PostgreSQL database behind one portal
// URL (a load balancer that sends each request where the test says). An
// OpenID Connect flow split across them works: the authorization request
// on A, the sign-in page on B, the callback on A, the code redeemed at B's
// token endpoint, UserInfo on A, introspection and refresh on B. A code
// exchanged on both nodes at once succeeds once, and the reuse revokes
// what it got. Signing out on A makes the access tokens refused on B
// within a second.
func TestClusterOIDC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and two Caddy processes")
	}
	srv := pgtest.StartT(t)
	dsn := srv.Database(t)
	dataHome := t.TempDir()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	const app = `app grafana {
			oidc {
				redirect_uri ` + rpRedirect + `
				client_secret ` + rpSecret + `
			}
		}`
	opts := clusterOpts{portalURL: issuer, global: app}
	host := strings.TrimPrefix(upstream.URL, "http://")
	a := newClusterNodeWith(t, "A", dsn, dataHome, host, opts)
	b := newClusterNodeWith(t, "B", dsn, dataHome, host, opts)
	a.start()
	if st, body := a.call("POST", fmt.Sprintf("http://127.0.0.1:%d/gatehouse/users", a.admin), "",
		map[string]any{"username": "alice", "password": ownerPW, "role": "user", "email": "alice@example.com"}); st != http.StatusCreated {
		t.Fatalf("add alice: %d %s", st, body)
	}
	b.start()

	nodes := map[string]*url.URL{}
	for _, n := range []*clusterNode{a, b} {
		nodes[n.name], _ = url.Parse(n.portalURL(""))
	}
	lb := &http.Server{Handler: &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		target := nodes[pr.In.Header.Get(nodeHeader)]
		if target == nil {
			target = nodes["A"]
		}
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the portal URL's
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}}}
	go func() { _ = lb.Serve(ln) }()
	defer lb.Close()

	client := func(pick func() string) *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: toNode{pick, durRandomIP{noKeepAlive}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	on := func(node string) context.Context {
		return context.WithValue(context.Background(), oauth2.HTTPClient, client(func() string { return node }))
	}
	provider, err := oidc.NewProvider(on("A"), issuer)
	if err != nil {
		t.Fatalf("discovery through the load balancer: %v", err)
	}
	grafana := &oauth2.Config{ClientID: "grafana", ClientSecret: rpSecret, RedirectURL: rpRedirect, Endpoint: provider.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "offline_access"}}

	// The browser: signed in on A; its flow hops A, B, A, B…
	var hop atomic.Int64
	browser := client(func() string { return [2]string{"A", "B"}[hop.Add(1)%2] })
	hop.Store(1) // the sign-in goes to A
	body, _ := json.Marshal(map[string]any{"username": "alice", "password": ownerPW})
	if resp, b := do(t, browser, "POST", issuer+"/api/v1/login", bytes.NewReader(body), jsonAPI); resp.StatusCode != http.StatusOK {
		t.Fatalf("login on A: %d %s", resp.StatusCode, b)
	}
	// The session reaches B's memory through the change notifications
	// (milliseconds: TestClusterTwoNodes); the flow starts once it has.
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		hop.Store(0) // to B
		if resp, _ := do(t, browser, "GET", issuer+"/api/v1/me", nil, jsonAPI); resp.StatusCode == http.StatusOK {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("the session made on A is unknown to B after 1 s")
		}
	}
	code := func(state string, v string) string {
		t.Helper()
		hop.Store(1) // /authorize on A
		u := grafana.AuthCodeURL(state, oauth2.S256ChallengeOption(v))
		var nodesSeen, steps []string
		for range 6 {
			steps = append(steps, u)
			nodesSeen = append(nodesSeen, [2]string{"A", "B"}[(hop.Load()+1)%2])
			resp, b := do(t, browser, "GET", u, nil, map[string]string{"Accept": "text/html"})
			loc := resp.Header.Get("Location")
			if resp.StatusCode == http.StatusFound && strings.HasPrefix(loc, rpRedirect+"?") {
				l, _ := url.Parse(loc)
				if l.Query().Get("code") == "" || l.Query().Get("state") != state || l.Query().Get("iss") != issuer {
					t.Fatalf("authorization response %s", loc)
				}
				t.Logf("the flow went through nodes %v", nodesSeen)
				return l.Query().Get("code")
			}
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, issuer+"/") {
				t.Fatalf("flow step %s on %s: %d %s %s", u, nodesSeen[len(nodesSeen)-1], resp.StatusCode, loc, b)
			}
			u = loc
		}
		t.Fatalf("too many redirects: %v on %v", steps, nodesSeen)
		return ""
	}

	v := oauth2.GenerateVerifier()
	tok, err := grafana.Exchange(on("B"), code("s1", v), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("the code made on A, redeemed on B: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "grafana"}).Verify(on("A"), raw)
	if err != nil {
		t.Fatalf("B's ID token: %v", err)
	}
	ui, err := provider.UserInfo(on("A"), oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
		t.Fatalf("UserInfo on A with B's access token: %+v, %v", ui, err)
	}
	introspect := func(node, token string) bool {
		t.Helper()
		form := url.Values{"token": {token}}
		req, _ := http.NewRequest("POST", issuer+"/oidc/introspect", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("grafana", rpSecret)
		resp, b := do(t, client(func() string { return node }), "POST", req.URL.String(), strings.NewReader(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": req.Header.Get("Authorization")})
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("introspect on %s: %d %s", node, resp.StatusCode, b)
		}
		return m["active"] == true
	}
	if !introspect("B", tok.AccessToken) {
		t.Fatal("introspection on B: B's own access token inactive")
	}
	fresh, err := grafana.TokenSource(on("B"), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh on B: %v", err)
	}
	if _, err := provider.UserInfo(on("A"), oauth2.StaticTokenSource(fresh)); err != nil {
		t.Fatalf("UserInfo on A with the refreshed token: %v", err)
	}

	// One code, exchanged 8 times on each node at once: one wins, and the
	// reuse revokes what it got.
	v2 := oauth2.GenerateVerifier()
	c2 := code("s2", v2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*oauth2.Token
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tk, err := grafana.Exchange(on([2]string{"A", "B"}[i%2]), c2, oauth2.VerifierOption(v2)); err == nil {
				mu.Lock()
				won = append(won, tk)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("16 exchanges of one code on two nodes: %d succeeded, want 1", len(won))
	}
	if _, err := provider.UserInfo(on("A"), oauth2.StaticTokenSource(won[0])); err == nil {
		t.Error("the access token of a reused code still works")
	}
	if _, err := grafana.TokenSource(on("B"), &oauth2.Token{RefreshToken: won[0].RefreshToken}).Token(); err == nil {
		t.Error("the refresh token of a reused code still works")
	}

	// Sign-out on A: B refuses the access tokens within a second.
	hop.Store(1)
	if resp, b := do(t, browser, "POST", issuer+"/api/v1/logout", nil, jsonAPI); resp.StatusCode/100 != 2 {
		t.Fatalf("logout on A: %d %s", resp.StatusCode, b)
	}
	start := time.Now()
	for {
		_, err1 := provider.UserInfo(on("B"), oauth2.StaticTokenSource(tok))
		_, err2 := provider.UserInfo(on("B"), oauth2.StaticTokenSource(fresh))
		if err1 != nil && err2 != nil && !introspect("B", fresh.AccessToken) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("sign-out on A: B still accepts the access tokens after 1 s (%v, %v)", err1, err2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%-52s %v", "sign-out on A: access tokens refused on B", time.Since(start).Round(100*time.Microsecond))
	if _, err := grafana.TokenSource(on("B"), &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
		t.Error("the refresh token outlived the sign-out")
	}

	// A sign-in step whose auth request is gone is "Sign-in expired"
	// (400); one whose request cannot be read because PostgreSQL is down
	// is 503, which a retry may cure.
	unknown := issuer + oidcprovider.ContinuePath + "?id=" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if resp, body := do(t, client(func() string { return "A" }), "GET", unknown, nil, map[string]string{"Accept": "text/html"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown auth request: %d, want 400\n%s", resp.StatusCode, body)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, client(func() string { return "A" }), "GET", unknown, nil, map[string]string{"Accept": "text/html"}); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an auth request with PostgreSQL down: %d, want 503\n%s", resp.StatusCode, body)
	}
}
