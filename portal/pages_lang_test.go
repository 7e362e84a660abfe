package portal

import (
	"context"
	"errors"
	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/i18n"
)

// catalogueUses finds the message IDs the templates (t, thtml) and the Go
// code (tr, S, T with a literal ID) use.
var catalogueUses = []*regexp.Regexp{
	regexp.MustCompile(`\(?\b(?:t|thtml)\s+"([a-z0-9_.]+)"`),
	regexp.MustCompile(`\.(?:tr\(c|S\(|T\()\s*,?\s*"([a-z0-9_.]+)"`),
	regexp.MustCompile(`"(msg\.[a-z0-9_]+\.[a-z0-9_.]+)"`),
}

// TestUsedMessagesExist fails when a template or the portal's Go code uses
// a message ID the English catalogue lacks (TestCatalogueComplete in
// internal/i18n then holds the other languages to it).
func TestUsedMessagesExist(t *testing.T) {
	en := i18n.IDs("en")
	files, _ := filepath.Glob("web/templates/*.html")
	gofiles, _ := filepath.Glob("*.go")
	seen := 0
	for _, f := range append(files, gofiles...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range catalogueUses {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				seen++
				if !slices.Contains(en, m[1]) {
					t.Errorf("%s uses %q, which is not in the catalogue", f, m[1])
				}
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d uses of the catalogue: the patterns are stale", seen)
	}
}

// TestDescribeRules: the English description of the password rules from
// the catalogue is the one policies writes, for every combination tried;
// German and French say the bounds.
func TestDescribeRules(t *testing.T) {
	for _, r := range []policies.PasswordRules{
		{},
		policies.DefaultPasswordRules(),
		{MinLength: 12, RequireDigit: true},
		{MinLength: 10, MaxLength: 64, RequireLower: true, RequireUpper: true, RequireDigit: true, RequireSymbol: true, ForbidUsername: true},
	} {
		if got, want := describeRules(i18n.Get("en"), r), r.Describe(); got != want {
			t.Errorf("en: %q, want %q", got, want)
		}
		lo, hi := r.Bounds()
		for _, tag := range []string{"de", "fr"} {
			got := describeRules(i18n.Get(tag), r)
			if !strings.Contains(got, strconv.Itoa(lo)) || !strings.Contains(got, strconv.Itoa(hi)) || got == r.Describe() {
				t.Errorf("%s: %q", tag, got)
			}
		}
	}
}

// TestDefaultLanguageSetting: default_language is validated, naming the
// field; once "de", a browser that asks for no supported language gets
// German pages, and the settings page shows the choice.
func TestDefaultLanguageSetting(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "rosa", policies.RoleOwner)
	ctx := context.Background()
	var ie *core.InputError
	if _, err := e.svc.core.UpdateSettings(ctx, e.svc.localAdmin(), []byte(`{"default_language":"xx"}`)); !errors.As(err, &ie) || ie.Field != "default_language" {
		t.Fatalf("default_language xx: %v, want an error naming the field", err)
	}
	get := func(b *browser, path, accept string) string {
		req, _ := http.NewRequest("GET", b.base+path, nil)
		req.Header.Set("Accept-Language", accept)
		_, body := b.do(req)
		return body
	}
	anon := e.browser(t)
	if body := get(anon, "/login", "es"); !strings.Contains(body, `<html lang="en">`) {
		t.Fatal("before the setting, a Spanish browser does not get English")
	}
	if _, err := e.svc.core.UpdateSettings(ctx, e.svc.localAdmin(), []byte(`{"default_language":"de"}`)); err != nil {
		t.Fatal(err)
	}
	if body := get(anon, "/login", "es"); !strings.Contains(body, `<html lang="de">`) || !strings.Contains(body, "Anmelden") {
		t.Error("with default_language de, a Spanish browser does not get German")
	}
	if body := get(anon, "/login", "fr"); !strings.Contains(body, `<html lang="fr">`) {
		t.Error("a French browser does not get French whatever the default")
	}
	owner := e.browser(t)
	owner.signIn("rosa")
	if body := get(owner, "/admin/settings", "en"); !strings.Contains(body, `<option value="de" selected>`) {
		t.Error("the settings page does not show the default language")
	}
}
