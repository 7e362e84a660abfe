package portal

import (
	"encoding/base64"
	"net/http"
	"testing"
)

func TestBasicCredentials(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, header, login, password string
		ok                            bool
	}{
		{"plain", "Basic " + b64("alice:gtap_x"), "alice", "gtap_x", true},
		{"scheme in any case", "bAsIc " + b64("alice:pw"), "alice", "pw", true},
		{"colon in the password", "Basic " + b64("alice:a:b"), "alice", "a:b", true},
		{"no colon", "Basic " + b64("alice"), "", "", false},
		{"empty", "Basic ", "", "", false},
		{"not base64", "Basic !!!", "", "", false},
		{"bearer", "Bearer gth_x", "", "", false},
		{"too long", "Basic " + b64(string(make([]byte, 1200))), "", "", false},
	} {
		h := http.Header{"Authorization": {tc.header}}
		login, pw, ok := basicCredentials(h)
		if login != tc.login || pw != tc.password || ok != tc.ok {
			t.Errorf("%s: %q %q %v", tc.name, login, pw, ok)
		}
	}
	if _, _, ok := basicCredentials(http.Header{}); ok {
		t.Error("no header")
	}
}

func TestFromBrowser(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		want bool
	}{
		{"navigation", http.Header{"Accept": {"text/html,application/xhtml+xml"}}, true},
		{"fetch", http.Header{"Accept": {"*/*"}, "Sec-Fetch-Mode": {"cors"}}, true},
		{"fetch site only", http.Header{"Sec-Fetch-Site": {"same-origin"}}, true},
		{"curl", http.Header{"Accept": {"*/*"}}, false},
		{"git", http.Header{"Accept": {"*/*"}, "User-Agent": {"git/2.39.5"}}, false},
		{"nothing", http.Header{}, false},
	} {
		if got := fromBrowser(tc.h); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
}

func TestBasicChallenge(t *testing.T) {
	for title, want := range map[string]string{
		"Family Files":        `Basic realm="Family Files", charset="UTF-8"`,
		`My "quoted" \ files`: `Basic realm="My \"quoted\" \\ files", charset="UTF-8"`,
		"Bad\r\nX-Evil: 1":    `Basic realm="BadX-Evil: 1", charset="UTF-8"`,
	} {
		if got := basicChallenge(title); got != want {
			t.Errorf("%q: %s", title, got)
		}
	}
}

func TestStripBasic(t *testing.T) {
	h := http.Header{"Authorization": {"basic YTpi"}}
	stripBasic(h)
	if _, ok := h["Authorization"]; ok {
		t.Error("Basic kept")
	}
	h = http.Header{"Authorization": {"Bearer app-token", "Basic YTpi"}}
	stripBasic(h)
	if _, ok := h["Authorization"]; ok {
		t.Error("Basic in a second value kept")
	}
	h = http.Header{"Authorization": {"Bearer app-token"}}
	stripBasic(h)
	if h.Get("Authorization") != "Bearer app-token" {
		t.Error("another scheme removed")
	}
}
