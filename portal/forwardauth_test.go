package portal

import (
	"errors"
	"net/http"
	"testing"
)

// TestForwardedRequest: the original request a proxy describes is taken
// only when each X-Forwarded-* value is one plain value of its kind; a bad
// one is an InputError naming the header.
func TestForwardedRequest(t *testing.T) {
	ok := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "wiki.example.com", "X-Forwarded-Uri": "/a,b?x=1"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ok {
			m[a] = b
		}
		if v == "<none>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		name  string
		hdr   map[string]string
		field string // "" when accepted
		want  forwarded
	}{
		{"plain", ok, "", forwarded{"GET", "https", "wiki.example.com", "/a,b?x=1"}},
		{"defaults", with("X-Forwarded-Method", "<none>"), "", forwarded{"GET", "https", "wiki.example.com", "/a,b?x=1"}},
		{"default uri", with("X-Forwarded-Uri", "<none>"), "", forwarded{"GET", "https", "wiki.example.com", "/"}},
		{"host with port", with("X-Forwarded-Host", "127.0.0.1:8443"), "", forwarded{"GET", "https", "127.0.0.1:8443", "/a,b?x=1"}},
		{"lowercase method", with("X-Forwarded-Method", "get"), "X-Forwarded-Method", forwarded{}},
		{"method with a space", with("X-Forwarded-Method", "GET X"), "X-Forwarded-Method", forwarded{}},
		{"no proto", with("X-Forwarded-Proto", "<none>"), "X-Forwarded-Proto", forwarded{}},
		{"proto list", with("X-Forwarded-Proto", "https,http"), "X-Forwarded-Proto", forwarded{}},
		{"javascript proto", with("X-Forwarded-Proto", "javascript"), "X-Forwarded-Proto", forwarded{}},
		{"no host", with("X-Forwarded-Host", "<none>"), "X-Forwarded-Host", forwarded{}},
		{"host list", with("X-Forwarded-Host", "a.example.com, evil.example.net"), "X-Forwarded-Host", forwarded{}},
		{"host with user info", with("X-Forwarded-Host", "wiki.example.com@evil.example.net"), "X-Forwarded-Host", forwarded{}},
		{"host with a path", with("X-Forwarded-Host", "evil.example.net/x"), "X-Forwarded-Host", forwarded{}},
		{"host with a backslash", with("X-Forwarded-Host", `evil.example.net\@wiki.example.com`), "X-Forwarded-Host", forwarded{}},
		{"host with an escape", with("X-Forwarded-Host", "evil%2eexample.net"), "X-Forwarded-Host", forwarded{}},
		{"scheme-relative uri", with("X-Forwarded-Uri", "//evil.example.net/"), "X-Forwarded-Uri", forwarded{}},
		{"absolute uri", with("X-Forwarded-Uri", "https://evil.example.net/"), "X-Forwarded-Uri", forwarded{}},
		{"uri with a newline", with("X-Forwarded-Uri", "/a\nb"), "X-Forwarded-Uri", forwarded{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range c.hdr {
				h.Set(k, v)
			}
			got, err := forwardedRequest(h)
			var ie *InputError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.field == "" && got != c.want:
				t.Fatalf("got %+v, want %+v", got, c.want)
			case c.field != "" && (!errors.As(err, &ie) || ie.Field != c.field):
				t.Fatalf("got %+v, %v; want an InputError about %s", got, err, c.field)
			}
		})
	}
	// A header sent twice (two proxies each adding theirs) is refused.
	h := http.Header{}
	for k, v := range ok {
		h.Set(k, v)
	}
	h.Add("X-Forwarded-Host", "evil.example.net")
	if _, err := forwardedRequest(h); err == nil {
		t.Fatal("two X-Forwarded-Host values accepted")
	}
}
