package caddymodule

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserLanguages opens the portal's pages in a real headless
// Chromium as an owner whose profile says German, then French: each page
// is in that language (<html lang>) and fits a 390 px phone and a 1280 px
// desktop, so no long German or French word breaks a layout made with
// English. With GATEHOUSE_SHOTS set to a directory, it
// saves a screenshot of each.
func TestBrowserLanguages(t *testing.T) {
	br := newBrowserRun(t)
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user", "staff")
	api := h.client()
	h.apiLogin(api, "olga", ownerPW)

	br.do("sign in", chromedp.Navigate(h.portalURL("/login")), submit("#username", "#username", "olga", "#password", ownerPW))
	pages := []string{"/", "/profile", "/profile/password", "/admin/users", "/admin/users/alice", "/admin/users/new",
		"/admin/groups", "/admin/apps", "/admin/roles", "/admin/sessions", "/admin/invitations", "/admin/audit", "/admin/settings", "/logout"}
	for _, lang := range []string{"de", "fr"} {
		if code, b := secAPI(t, h, api, "PATCH", "/api/v1/me", `{"language":"`+lang+`"}`); code != 200 {
			t.Fatalf("profile language %s: %d %s", lang, code, b)
		}
		for _, width := range []int64{390, 1280} {
			br.screen(width, 900, width < 500)
			for _, p := range pages {
				br.do(p, chromedp.Navigate(h.portalURL(p)), chromedp.WaitReady(chromedp.CSS("body")))
				if got := br.eval(p, `document.documentElement.lang`); got != lang {
					t.Errorf("%s: <html lang=%q>, want %q", p, got, lang)
				}
				br.fits(t, fmt.Sprintf("%s in %s at %d px", p, lang, width))
				br.shot(fmt.Sprintf("lang-%s-%s-%d", lang, strings.Trim(strings.ReplaceAll(p, "/", "-"), "-"), width))
			}
		}
	}
}
