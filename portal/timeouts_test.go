package portal

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// TestResetAndInvitationLinksExpire: with a fake clock, a reset link works
// until its lifetime (1 h by default) is over and an invitation until its
// own (72 h), then both answer 404, on the page and on the form.
func TestResetAndInvitationLinksExpire(t *testing.T) {
	tests := []struct {
		name, path, body string
		lifetime         time.Duration
		form             string
	}{
		{"reset link", "/api/v1/users/bob/reset-link", "", DefaultResetLifetime,
			"password=N3w-passphrase-x&password2=N3w-passphrase-x"},
		{"invitation", "/api/v1/invitations", `{"email":"new@example.com"}`, DefaultInviteLifetime,
			"username=newbie&password=N3w-passphrase-x&password2=N3w-passphrase-x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, _, clk := newTestService(t)
			mustUser(t, svc, "olga", policies.RoleOwner)
			mustUser(t, svc, "bob", policies.RoleUser)
			root := login(t, svc, "olga", false)
			code, body := apiCall(t, svc, root, "POST", tc.path, tc.body)
			var v struct{ Link string }
			if code != http.StatusCreated || json.Unmarshal([]byte(body), &v) != nil {
				t.Fatalf("create: %d %s", code, body)
			}
			path := strings.TrimPrefix(v.Link, "https://auth.example.com")
			get := func() int {
				return fromIP(t, svc, "192.0.2.1", "GET", path, "").Code
			}
			clk.Advance(tc.lifetime - time.Minute)
			if got := get(); got != http.StatusOK {
				t.Fatalf("a minute before it expires: %d, want 200", got)
			}
			clk.Advance(2 * time.Minute)
			if got := get(); got != http.StatusNotFound {
				t.Fatalf("a minute after it expired: %d, want 404", got)
			}
			if rec := fromIP(t, svc, "192.0.2.1", "POST", path, tc.form); rec.Code != http.StatusNotFound {
				t.Fatalf("using it after it expired: %d, want 404", rec.Code)
			}
			if code := loginStatus(t, svc, "bob", "N3w-passphrase-x"); code == http.StatusOK {
				t.Fatal("the expired reset link changed the password")
			}
		})
	}
}

// TestHSTSOnlyOverTLS: the portal sends Strict-Transport-Security (one
// year, without includeSubDomains: sibling hosts under the cookie domain
// may still be plain http) on every answer over https, and never over
// plain http, where browsers ignore it anyway.
func TestHSTSOnlyOverTLS(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	tlsSrv := httptest.NewTLSServer(svc)
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(svc)
	defer plainSrv.Close()
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, path := range []string{"/login", "/", "/forgot", "/no/such/page", "/api/v1/me", "/reset/x", "/assets/app.css"} {
		for _, srv := range []struct {
			base string
			want string
		}{{tlsSrv.URL, "max-age=31536000"}, {plainSrv.URL, ""}} {
			resp, err := client.Get(srv.base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != srv.want {
				t.Errorf("GET %s%s: Strict-Transport-Security %q, want %q", srv.base, path, got, srv.want)
			}
		}
	}
}
