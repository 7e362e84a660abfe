package portal

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestFlowCookies checks the attributes of every flow cookie kind as set and
// as cleared, over http and https, with a cookie domain configured (flow
// cookies stay host-only).
func TestFlowCookies(t *testing.T) {
	tests := []struct {
		name   string
		kind   flowCookie
		cookie string
		paths  []string
		maxAge int
	}{
		{"pending login", cookiePending, "gh_2fa", []string{"/"}, 300},
		{"webauthn ceremony", cookieCeremony, "gh_wa", []string{"/"}, 300},
		{"oidc flow", cookieOIDC, "gh_oidc", []string{"/login/oidc/"}, 600},
		{"flash", cookieFlash, "gh_flash", []string{"/"}, 120},
		{"trusted devices", cookieDevice, "gh_device", []string{"/login", "/api/v1/login"}, 365 * 24 * 3600},
	}
	if len(tests) != len(flowCookies) {
		t.Fatalf("%d kinds tested, %d in flowCookies", len(tests), len(flowCookies))
	}
	for _, secure := range []bool{false, true} {
		c := cookieConfig{name: "gh", domain: "example.com", secure: secure}
		for _, tc := range tests {
			check := func(op string, got []*http.Cookie, value string, maxAge int) {
				t.Helper()
				if len(got) != len(tc.paths) {
					t.Fatalf("%s %s secure=%v: %d cookies, want %d", op, tc.name, secure, len(got), len(tc.paths))
				}
				for i, ck := range got {
					if ck.Name != tc.cookie || ck.Value != value || ck.Path != tc.paths[i] || ck.MaxAge != maxAge ||
						!ck.HttpOnly || ck.Secure != secure || ck.SameSite != http.SameSiteLaxMode ||
						ck.Domain != "" || !ck.Expires.IsZero() {
						t.Errorf("%s %s secure=%v: got %s", op, tc.name, secure, ck.Raw)
					}
				}
			}
			w := httptest.NewRecorder()
			tc.kind.set(w, c, "v4lue")
			check("set", w.Result().Cookies(), "v4lue", tc.maxAge)

			w = httptest.NewRecorder()
			tc.kind.clear(w, c)
			// Go sends Max-Age<0 as "Max-Age=0" and reads it back as -1.
			check("clear", w.Result().Cookies(), "", -1)
		}
	}
}

// TestFlowCookieRead checks read with and without the cookie, and that the
// guard counts every flow cookie as the portal's own (it strips them).
func TestFlowCookieRead(t *testing.T) {
	c := cookieConfig{name: "gh"}
	seen := map[string]bool{}
	for _, k := range flowCookies {
		name := k.name(c)
		if !c.isOurCookie(name) || seen[name] {
			t.Errorf("%s: not the portal's own or a duplicate", name)
		}
		seen[name] = true

		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "gh", Value: "session"})
		if v, ok := k.read(r, c); ok || v != "" {
			t.Errorf("%s: read without the cookie = %q, %v", name, v, ok)
		}
		r.AddCookie(&http.Cookie{Name: name, Value: "secret"})
		if v, ok := k.read(r, c); !ok || v != "secret" {
			t.Errorf("%s: read = %q, %v", name, v, ok)
		}
	}
}
