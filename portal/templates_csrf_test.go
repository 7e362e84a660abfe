package portal

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestTemplatesUseTheCSRFPartial: every form's CSRF token is written by
// the "csrf" template of partials.html, so that the field's name and
// escaping are decided in one place; no page writes the hidden input by
// hand.
func TestTemplatesUseTheCSRFPartial(t *testing.T) {
	const def = `{{define "csrf"}}<input type="hidden" name="csrf" value="{{.CSRF}}">{{end}}`
	byHand := regexp.MustCompile(`(?i)name\s*=\s*["']?csrf\b`)
	dir := os.DirFS("web/templates")
	names, err := fs.Glob(dir, "*.html")
	if err != nil || len(names) == 0 {
		t.Fatalf("no templates found: %v", err)
	}
	defined := false
	for _, name := range names {
		b, err := fs.ReadFile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if name == "partials.html" && strings.Contains(src, def) {
			defined = true
			src = strings.Replace(src, def, "", 1)
		}
		for i, line := range strings.Split(src, "\n") {
			if byHand.MatchString(line) {
				t.Errorf("%s:%d writes the CSRF field by hand; use {{template \"csrf\" $p}}: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
	if !defined {
		t.Errorf("partials.html does not define the csrf template as %s", def)
	}
}
