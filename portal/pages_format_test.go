package portal

import (
	"net/url"
	"testing"
)

// TestPageURL: paging links keep the list's filters and replace the cursor.
func TestPageURL(t *testing.T) {
	for _, tc := range []struct {
		q, after, want string
	}{
		{"", "c2", "/admin/users?after=c2"},
		{"q=al&role=admin", "c2", "/admin/users?after=c2&q=al&role=admin"},
		{"q=al&after=c1", "c2", "/admin/users?after=c2&q=al"},
		{"q=al&after=c1", "", "/admin/users?q=al"},
		{"after=c1", "", "/admin/users"},
	} {
		q, _ := url.ParseQuery(tc.q)
		if got := pageURL("/admin/users", q, tc.after); got != tc.want {
			t.Errorf("pageURL(%q, %q) = %q, want %q", tc.q, tc.after, got, tc.want)
		}
	}
}
