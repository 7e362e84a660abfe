package core

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/store"
)

// TestHostCookie: a host cookie names its session on its host only; any
// other host, a changed byte, another length or another server key
// refuses it.
func TestHostCookie(t *testing.T) {
	c, _ := newTestCore(t)
	other, _ := newTestCore(t) // another server key
	_, id := NewToken()
	v := c.Sessions.HostCookie(id, "photos.example.org")
	if len(v) != HostCookieLen {
		t.Fatalf("length %d, want %d", len(v), HostCookieLen)
	}
	flip := []byte(v)
	flip[len(flip)-2] ^= 1
	tests := []struct {
		name, v, host string
		ok            bool
	}{
		{"its host", v, "photos.example.org", true},
		{"another host", v, "files.example.net", false},
		{"a suffix of its host", v, "example.org", false},
		{"a changed MAC", string(flip), "photos.example.org", false},
		{"cut short", v[:len(v)-1], "photos.example.org", false},
		{"too long", v + "A", "photos.example.org", false},
		{"not base64url", strings.Repeat("!", HostCookieLen), "photos.example.org", false},
		{"empty", "", "photos.example.org", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := c.Sessions.HostCookieSession(tc.v, tc.host)
			if ok != tc.ok || (ok && got != id) {
				t.Errorf("HostCookieSession = %x, %v; want ok=%v", got, ok, tc.ok)
			}
		})
	}
	if _, ok := other.Sessions.HostCookieSession(v, "photos.example.org"); ok {
		t.Error("another server key took the cookie")
	}
	// Another session's id with this session's MAC.
	_, id2 := NewToken()
	forged := c.Sessions.HostCookie(id2, "photos.example.org")[:43] + v[43:]
	if _, ok := c.Sessions.HostCookieSession(forged, "photos.example.org"); ok {
		t.Error("a MAC moved to another session id was taken")
	}
}

// TestHostName normalises authorities as browsers compare hosts.
func TestHostName(t *testing.T) {
	for in, want := range map[string]string{
		"photos.example.org":      "photos.example.org",
		"Photos.Example.ORG:8443": "photos.example.org",
		"photos.example.org.":     "photos.example.org",
		"photos.example.org.:443": "photos.example.org",
		"[::1]:443":               "::1",
		"[::1]":                   "::1",
		"127.0.0.1:80":            "127.0.0.1",
		"":                        "",
	} {
		if got := HostName(in); got != want {
			t.Errorf("HostName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHandoffTarget: the portal makes a code only for a guarded app on
// another domain and a return URL on that app's own origin.
func TestHandoffTarget(t *testing.T) {
	c, _ := newTestCore(t)
	for _, cfg := range []AppConfig{
		{Name: "photos", URL: "https://photos.example.org", Guarded: true},
		{Name: "oidconly", URL: "https://oidc.example.org"},
		{Name: "home", URL: "https://auth.example.com/home", Guarded: true},
	} {
		if _, err := c.Access.RegisterApp(cfg); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		app, rd, want, field string
	}{
		{"photos", "https://photos.example.org/a?b=1", "https://photos.example.org/a?b=1", ""},
		{"photos", "https://PHOTOS.example.org:443/a", "https://photos.example.org:443/a", ""},
		{"photos", "https://photos.example.org/.gatehouse/session?code=x", "https://photos.example.org/", ""},
		{"photos", "https://photos.example.org:8443/", "", "rd"},
		{"photos", "https://oidc.example.org/", "", "rd"},
		{"photos", "https://auth.example.com/", "", "rd"},
		{"photos", "/profile", "", "rd"},
		{"photos", "https://evil.example/", "", "rd"},
		{"oidconly", "https://oidc.example.org/", "", "app"},
		{"home", "https://auth.example.com/home", "", "app"},
		{"nosuch", "https://photos.example.org/", "", "app"},
	}
	for _, tc := range tests {
		got, origin, err := c.Access.HandoffTarget(tc.app, tc.rd)
		var ie *InputError
		switch {
		case tc.field == "" && (err != nil || got != tc.want || origin.String() != "https://photos.example.org"):
			t.Errorf("%s %s: %q %v %v, want %q", tc.app, tc.rd, got, origin, err, tc.want)
		case tc.field != "" && (err == nil || !asInput(err, &ie) || ie.Field != tc.field):
			t.Errorf("%s %s: %v, want a 400 about %s", tc.app, tc.rd, err, tc.field)
		}
	}
}

func asInput(err error, ie **InputError) bool {
	e, ok := err.(*InputError)
	*ie = e
	return ok
}

// BenchmarkHostCookieSession is what a host cookie adds to the guard's
// hot path: decoding it and checking its MAC.
func BenchmarkHostCookieSession(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	c, err := New(Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	_, id := NewToken()
	v := c.Sessions.HostCookie(id, "photos.example.org")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Sessions.HostCookieSession(v, "photos.example.org"); !ok {
			b.Fatal("refused")
		}
	}
}
