package caddymodule

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// examplesNotYetAdapting lists examples that use an option not built yet:
// why, and the error adapting them must give. Each must fail with that
// error: one that adapts fails the test until it is taken off the list, so
// the list only shrinks, and one that fails for another reason fails too.
var examplesNotYetAdapting = map[string]struct{ reason, err string }{}

// exampleCaddyfiles returns every Caddyfile under examples/ (named
// Caddyfile or *.caddyfile) and every *.caddy snippet (a block for the
// global gatehouse option), as paths relative to examples/.
func exampleCaddyfiles(t *testing.T) (caddyfiles, snippets []string) {
	t.Helper()
	root := filepath.Join("..", "examples")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch name := d.Name(); {
		case name == "Caddyfile" || strings.HasSuffix(name, ".caddyfile"):
			caddyfiles = append(caddyfiles, rel)
		case strings.HasSuffix(name, ".caddy"):
			snippets = append(snippets, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return caddyfiles, snippets
}

// TestExamplesAdapt adapts every Caddyfile under examples/ with Caddy's
// caddyfile adapter, as `caddy adapt` does, and every *.caddy snippet
// wrapped into the global gatehouse option of a minimal Caddyfile, so that
// no example rots when an option changes. Imports resolve from the
// example's own directory. A warning fails it too (examples are copied as
// they are), except caddy fmt's: the examples align their values in
// columns, as the README does.
func TestExamplesAdapt(t *testing.T) {
	caddyfiles, snippets := exampleCaddyfiles(t)
	if len(caddyfiles) < 10 || len(snippets) < 5 {
		t.Fatalf("found %d Caddyfiles and %d snippets under examples/: the walk is broken", len(caddyfiles), len(snippets))
	}
	for skipped := range examplesNotYetAdapting {
		if !slices.Contains(caddyfiles, skipped) {
			t.Errorf("examplesNotYetAdapting names %s, which is not an example Caddyfile", skipped)
		}
	}
	adaptFile := func(t *testing.T, path string, body []byte) error {
		t.Helper()
		_, warns, err := caddyconfig.GetAdapter("caddyfile").Adapt(body, map[string]any{"filename": path})
		for _, w := range warns {
			if strings.Contains(w.Message, "not formatted") {
				continue // caddy fmt would undo the aligned columns the examples use
			}
			t.Errorf("warning: %s:%d: %s", w.File, w.Line, w.Message)
		}
		return err
	}
	for _, rel := range caddyfiles {
		t.Run(rel, func(t *testing.T) {
			path := filepath.Join("..", "examples", filepath.FromSlash(rel))
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			err = adaptFile(t, path, body)
			notYet, skipped := examplesNotYetAdapting[rel]
			switch {
			case skipped && err == nil:
				t.Errorf("adapts now: take it off examplesNotYetAdapting (it was there because %s)", notYet.reason)
			case skipped && !strings.Contains(err.Error(), notYet.err):
				t.Errorf("fails, but not only because %s: %v", notYet.reason, err)
			case skipped:
				t.Logf("not yet: %s: %v", notYet.reason, err)
			case err != nil:
				t.Error(err)
			}
		})
	}
	for _, rel := range snippets {
		t.Run(rel, func(t *testing.T) {
			path := filepath.Join("..", "examples", filepath.FromSlash(rel))
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			indented := "\t\t" + strings.ReplaceAll(strings.TrimSpace(string(body)), "\n", "\n\t\t")
			cf := "{\n\tgatehouse {\n\t\tportal_url https://auth.example.com\n" + indented + "\n\t}\n}\n\nauth.example.com {\n\tgatehouse_portal\n}\n"
			if err := adaptFile(t, path, []byte(cf)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestExamplesProvision goes one step past adapting: every example
// Caddyfile that adapts is provisioned as `caddy validate` does (every
// module set up, nothing served), so a value the parser takes but the
// module refuses (a bad group name, a short secret, an unknown app) fails
// here. What a real machine would have is put in: the storage directory
// becomes a temporary one, the LDAP port a free one, the secrets the
// examples read from the environment are set, and a site-only example gets
// a minimal global gatehouse block.
func TestExamplesProvision(t *testing.T) {
	for _, env := range []string{"MYAPP_OIDC_SECRET", "PHOTOS_OIDC_SECRET", "NEXTCLOUD_OIDC_SECRET"} {
		t.Setenv(env, "0123456789abcdef0123456789abcdef")
	}
	caddyfiles, _ := exampleCaddyfiles(t)
	for _, rel := range caddyfiles {
		if _, skipped := examplesNotYetAdapting[rel]; skipped {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			path := filepath.Join("..", "examples", filepath.FromSlash(rel))
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cf := strings.ReplaceAll(string(body), "/var/lib/gatehouse", t.TempDir())
			cf = strings.ReplaceAll(cf, "0.0.0.0:6360", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
			if !strings.Contains(cf, "\n\tgatehouse {\n") {
				cf = fmt.Sprintf("{\n\tgatehouse {\n\t\tstorage %s\n\t\tportal_url https://auth.example.com\n\t}\n}\n\n%s", t.TempDir(), cf)
			}
			js, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": path})
			if err != nil {
				t.Fatal(err)
			}
			var cfg caddy.Config
			if err := json.Unmarshal(js, &cfg); err != nil {
				t.Fatal(err)
			}
			if err := caddy.Validate(&cfg); err != nil {
				t.Error(err)
			}
		})
	}
}
