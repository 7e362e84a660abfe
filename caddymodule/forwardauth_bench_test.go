package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/portal"
	"github.com/gatehouse-auth/gatehouse/store"
)

// BenchmarkAuthRequest is nginx's subrequest to the portal for a signed-in
// user an app admits: everything the portal does for it, from its
// ServeHTTP (which answers the forward-auth endpoints ahead of the route
// table) to the 200 with the identity headers.
func BenchmarkAuthRequest(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	svc, err := portal.New(portal.Options{Store: st, PortalURL: &url.URL{Scheme: "http", Host: "auth.test"},
		TrustedProxy: func(*http.Request) bool { return true }})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Core().Users.CreateUser(context.Background(), nil, portal.NewUser{
		Username: "alice", Password: alicePW, Email: "alice@example.com", FullName: "Alice", Groups: []string{"ops"},
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Core().Access.RegisterApp(portal.AppConfig{Name: "grafana", AllowGroups: []string{"ops"}}); err != nil {
		b.Fatal(err)
	}
	login := httptest.NewRequest("POST", "http://auth.test/api/v1/login", strings.NewReader(`{"username":"alice","password":"`+alicePW+`"}`))
	login.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, login)
	if rec.Code != http.StatusOK {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	req := httptest.NewRequest("GET", "http://auth.test/api/authz/auth-request?app=grafana", nil)
	for _, c := range rec.Result().Cookies() {
		if c.Path == "" || c.Path == "/" {
			req.AddCookie(c)
		}
	}
	for k, v := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "grafana.test",
		"X-Forwarded-Uri": "/d/abc?orgId=1", "Accept": "text/html", "Remote-User": "mallory"} {
		req.Header.Set(k, v)
	}
	w := &discardWriter{h: http.Header{}}
	svc.ServeHTTP(w, req)
	if w.h.Get("Remote-User") != "alice" {
		b.Fatalf("not let in: %v", w.h)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		svc.ServeHTTP(w, req)
	}
}
