package i18n

import (
	"regexp"
	"testing"
)

// TestFormatID: the ID is the first words of the format, verbs left out,
// and 6 hex digits of its hash, so two formats that start alike differ.
func TestFormatID(t *testing.T) {
	for _, c := range []struct{ format, want string }{
		{"is required", "core.is_required_616c01"},
		{"%q is already taken", "core.is_already_taken_0cedfe"},
		{"%v", "core.msg_ecd4e3"},
	} {
		if got := FormatID(c.format); got != c.want {
			t.Errorf("FormatID(%q) = %q; want %q", c.format, got, c.want)
		}
	}
	a, b := FormatID("must be at most %d characters"), FormatID("must be at most 500 printable characters")
	if a == b || a[:len(a)-6] != b[:len(b)-6] {
		t.Errorf("%q and %q: want the same words and another hash", a, b)
	}
	if id := FormatID("Forward-auth: X-Forwarded-Proto must be http"); !regexp.MustCompile(`^core\.[a-z0-9_]+_[0-9a-f]{6}$`).MatchString(id) {
		t.Errorf("FormatID = %q", id)
	}
}
