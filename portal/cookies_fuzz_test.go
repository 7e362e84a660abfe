package portal

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core"
)

// FuzzCookieTokens feeds one or two Cookie header lines to eachToken and
// strip and checks that:
//   - every token eachToken yields is well formed, comes from a cookie of
//     the session name, and stopping (fn returning true) stops at once;
//   - after strip no Cookie line holds the session or impersonator cookie,
//     neither by our parsing nor by net/http's (what the app behind the
//     guard sees), no line is empty, and every other non-empty cookie
//     pair survives, in order;
//   - headers without the session cookie name are left untouched.
func FuzzCookieTokens(f *testing.F) {
	tok := strings.Repeat("A", core.TokenLen)
	tok2 := strings.Repeat("b_-9", core.TokenLen/4+1)[:core.TokenLen]
	for _, s := range [][2]string{
		{"gh_session=" + tok, ""},
		{"a=1; gh_session=" + tok + "; b=2", "gh_session_actor=" + tok2},
		{`gh_session="` + tok + `"`, "c=3"},
		{"gh_session=short; gh_session=" + tok2, "gh_session"},
		{";;; gh_session=" + tok + " ;x", " "},
		{"gh_session_actor=" + tok + "; gh_sessionX=" + tok, "gh_session =" + tok},
		{"foo=gh_session; bar", "\tgh_session\t=\t" + tok},
		{"\u00a0gh_session=" + tok, "gh_session=" + tok + "=x"},
	} {
		f.Add(s[0], s[1], true)
	}
	f.Add("", "", false)
	c := cookieConfig{name: "gh_session"}
	f.Fuzz(func(t *testing.T, a, b string, two bool) {
		lines := []string{a}
		if two {
			lines = append(lines, b)
		}
		h := http.Header{"Cookie": slices.Clone(lines)}

		// eachToken.
		var all []string
		c.eachToken(h, func(tok string) bool {
			if !core.WellFormedToken(tok) {
				t.Fatalf("eachToken(%q) yielded malformed token %q", lines, tok)
			}
			all = append(all, tok)
			return false
		})
		for _, tok := range all {
			found := false
			for _, line := range lines {
				if strings.Contains(line, tok) && strings.Contains(line, c.name) {
					found = true
				}
			}
			if !found {
				t.Fatalf("eachToken(%q) yielded %q, which is not in the header", lines, tok)
			}
		}
		if len(all) > 0 {
			n := 0
			c.eachToken(h, func(tok string) bool {
				n++
				if tok != all[0] {
					t.Fatalf("eachToken(%q): first token %q, then %q", lines, all[0], tok)
				}
				return true
			})
			if n != 1 {
				t.Fatalf("eachToken(%q) went on after fn returned true (%d calls)", lines, n)
			}
		}
		if !slices.Equal(h["Cookie"], lines) {
			t.Fatalf("eachToken changed the header: %q -> %q", lines, h["Cookie"])
		}

		// strip.
		c.strip(h)
		out := h["Cookie"]
		if h.Get("Cookie") == "" && len(out) > 0 {
			t.Fatalf("strip(%q) left empty lines %q", lines, out)
		}
		var want, got []string
		for _, line := range lines {
			for _, part := range strings.Split(line, ";") {
				part = strings.TrimSpace(part)
				name, _, _ := strings.Cut(part, "=")
				if part != "" && !c.isOurCookie(strings.TrimSpace(name)) {
					want = append(want, part)
				}
			}
		}
		for _, line := range out {
			if line == "" {
				t.Fatalf("strip(%q) left an empty line: %q", lines, out)
			}
			for _, part := range strings.Split(line, ";") {
				part = strings.TrimSpace(part)
				name, _, _ := strings.Cut(part, "=")
				if c.isOurCookie(strings.TrimSpace(name)) {
					t.Fatalf("strip(%q) = %q still holds %q", lines, out, part)
				}
				if part != "" {
					got = append(got, part)
				}
			}
		}
		if !slices.Equal(want, got) {
			t.Fatalf("strip(%q) = %q: kept %q, want %q", lines, out, got, want)
		}
		for _, ck := range (&http.Request{Header: h}).Cookies() {
			if c.isOurCookie(ck.Name) {
				t.Fatalf("strip(%q) = %q: net/http still reads cookie %q", lines, out, ck.Name)
			}
		}
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, c.name) }) {
			var kept []string
			for _, l := range lines {
				if l != "" {
					kept = append(kept, l)
				}
			}
			if !slices.Equal(out, kept) {
				t.Fatalf("strip(%q) changed a header without the cookie: %q", lines, out)
			}
		}
	})
}
