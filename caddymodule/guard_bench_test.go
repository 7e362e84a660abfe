package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/portal"
	"github.com/gatehouse-auth/gatehouse/store"
)

type nopHandler struct{}

func (nopHandler) ServeHTTP(http.ResponseWriter, *http.Request) error { return nil }

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// newBenchGuard builds a guard on a real store and signs a user in through
// the portal's API, returning the guard and a request carrying the cookie.
func newBenchGuard(b *testing.B, app portal.AppConfig) (*Guard, *http.Request) {
	return newBenchGuardWith(b, portal.Options{}, app)
}

// newBenchGuardWith is newBenchGuard with opts (their store and portal URL
// are set here).
func newBenchGuardWith(b *testing.B, opts portal.Options, app portal.AppConfig) (*Guard, *http.Request) {
	b.Helper()
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	opts.Store, opts.PortalURL = st, &url.URL{Scheme: "http", Host: "auth.test"}
	svc, err := portal.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Core().Users.CreateUser(context.Background(), nil, portal.NewUser{
		Username: "alice", Password: alicePW, Email: "alice@example.com", FullName: "Alice", Groups: []string{"staff", "ops"},
	}); err != nil {
		b.Fatal(err)
	}
	login := httptest.NewRequest("POST", "http://auth.test/api/v1/login", strings.NewReader(`{"username":"alice","password":"`+alicePW+`"}`))
	login.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, login)
	if rec.Code != http.StatusOK {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	a, err := svc.Core().Access.RegisterApp(app)
	if err != nil {
		b.Fatal(err)
	}
	g := &Guard{service: svc, app: a}
	req := httptest.NewRequest("GET", "http://app.test/", nil)
	req.Header.Set("Accept", "application/json")
	for _, c := range rec.Result().Cookies() {
		// As a browser would: the device cookie (Path=/login…) is not
		// sent to an app's pages.
		if c.Path == "" || c.Path == "/" {
			req.AddCookie(c)
		}
	}
	req.Header.Set("Cookie", req.Header.Get("Cookie")+"; theme=dark; _ga=GA1.2.3")
	return g, req
}

// BenchmarkGuard is the hot path: a valid session cookie for an allowed app.
func BenchmarkGuard(b *testing.B) {
	g, req := newBenchGuard(b, portal.AppConfig{Name: "grafana", AllowGroups: []string{"ops"}})
	w := &discardWriter{h: http.Header{}}
	first := req.Clone(req.Context())
	if err := g.ServeHTTP(w, first, nopHandler{}); err != nil || first.Header.Get("Remote-User") != "alice" {
		b.Fatalf("guard did not let alice in: %v %v", err, first.Header)
	}
	spoof := []string{"mallory"}
	// The guard removes the session cookie before the request goes
	// upstream; give every iteration the browser's Cookie header again.
	cookie := req.Header.Get("Cookie")
	cookies := make([]string, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cookies[0] = cookie
		req.Header["Cookie"] = cookies
		req.Header["Remote-User"] = spoof // a spoofed header to strip
		if err := g.ServeHTTP(w, req, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if req.Header.Get("Remote-User") != "alice" || strings.Contains(req.Header.Get("Cookie"), "gatehouse_session") {
		b.Fatalf("last request was not let in cleanly: %v", req.Header)
	}
}

// BenchmarkGuardDenied is a valid session for an app the user may not use.
func BenchmarkGuardDenied(b *testing.B) {
	g, req := newBenchGuard(b, portal.AppConfig{Name: "secret", AllowGroups: []string{"admins"}})
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		if err := g.ServeHTTP(w, req, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuardAnonymous is a browser without a session being redirected.
func BenchmarkGuardAnonymous(b *testing.B) {
	g, _ := newBenchGuard(b, portal.AppConfig{Name: "grafana"})
	req := httptest.NewRequest("GET", "http://app.test/dashboards?x=1", nil)
	req.Header.Set("Accept", "text/html")
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		if err := g.ServeHTTP(w, req, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuardAPIKey is the hot path for a script: a valid API key (from
// memory after its first use) for an allowed app.
func BenchmarkGuardAPIKey(b *testing.B) {
	g, req := newBenchGuard(b, portal.AppConfig{Name: "grafana", AllowGroups: []string{"ops"}})
	// Make a key with the session, as a user would.
	mk := httptest.NewRequest("POST", "http://auth.test/api/v1/keys", strings.NewReader(`{"label":"bench"}`))
	mk.Header.Set("Content-Type", "application/json")
	mk.Header["Cookie"] = req.Header["Cookie"]
	rec := httptest.NewRecorder()
	g.service.ServeHTTP(rec, mk)
	if rec.Code != http.StatusCreated {
		b.Fatalf("create key: %d %s", rec.Code, rec.Body)
	}
	var created struct{ Key string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		b.Fatal(err)
	}
	kreq := httptest.NewRequest("GET", "http://app.test/", nil)
	kreq.Header.Set("Accept", "application/json")
	auth := []string{"Bearer " + created.Key}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		kreq.Header["Authorization"] = auth // the guard removes it before the upstream
		if err := g.ServeHTTP(w, kreq, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if kreq.Header.Get("Remote-User") != "alice" || kreq.Header.Get("Authorization") != "" {
		b.Fatalf("last request was not let in cleanly: %v", kreq.Header)
	}
}

// BenchmarkGuardAppPassword is the hot path for a native client (DAV, git):
// a valid app password over HTTP Basic for an app that takes them. No
// argon2id: one HMAC and lookups in memory.
func BenchmarkGuardAppPassword(b *testing.B) {
	g, req := newBenchGuard(b, portal.AppConfig{Name: "files", AllowGroups: []string{"ops"}, AppPasswords: true})
	// Make an app password with the session, as a user would.
	mk := httptest.NewRequest("POST", "http://auth.test/api/v1/me/app-passwords", strings.NewReader(`{"name":"bench","app":"files"}`))
	mk.Header.Set("Content-Type", "application/json")
	mk.Header["Cookie"] = req.Header["Cookie"]
	rec := httptest.NewRecorder()
	g.service.ServeHTTP(rec, mk)
	if rec.Code != http.StatusCreated {
		b.Fatalf("create app password: %d %s", rec.Code, rec.Body)
	}
	var created struct{ Password string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		b.Fatal(err)
	}
	breq := httptest.NewRequest("PROPFIND", "http://files.test/dav/", nil)
	breq.SetBasicAuth("alice", created.Password)
	breq.Header.Set("User-Agent", "davfs2/1.7.0 neon/0.33.0")
	auth := breq.Header["Authorization"]
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		breq.Header["Authorization"] = auth // the guard removes it before the upstream
		if err := g.ServeHTTP(w, breq, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if breq.Header.Get("Remote-User") != "alice" || breq.Header.Get("Authorization") != "" {
		b.Fatalf("last request was not let in cleanly: %v", breq.Header)
	}
}
