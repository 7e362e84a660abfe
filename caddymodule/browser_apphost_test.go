package caddymodule

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserGuardPagesOnAppHost opens the pages the guard serves on an
// app's host in a real headless Chromium, which enforces their CSP: the
// "No access" page and the page a form POST gets after the session ended
// load the portal's stylesheet and logo, at desktop and phone widths, in
// light and dark mode. With GATEHOUSE_SHOTS set to a directory, it saves
// a screenshot of each.
func TestBrowserGuardPagesOnAppHost(t *testing.T) {
	br := newBrowserRun(t)
	ctx := br.ctx
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")

	// styled reports whether the page's stylesheet and logo from the
	// portal were applied (a page without them has a visible skip link in
	// the normal flow and a broken image).
	styled := func(t *testing.T, name string) {
		t.Helper()
		for _, check := range []string{
			`getComputedStyle(document.querySelector(".skip-link")).position === "absolute"`,
			`getComputedStyle(document.querySelector(".btn-primary")).display !== "inline"`,
			`Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`,
		} {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](check))
			if err != nil || !ok {
				t.Errorf("%s: %s is false (%v)", name, check, err)
			}
		}
	}
	shoot := func(t *testing.T, name string) {
		br.shoot(t, "apphost-"+name, func(t *testing.T, what, _ string) { styled(t, what) })
	}

	t.Run("no access", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(h.portalURL("/login")),
			submit("#username", "#username", "alice", "#password", alicePW)); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(h.adminsURL("/dashboard"))); err != nil {
			t.Fatal(err)
		}
		if text, _ := bodyText(ctx); !strings.Contains(text, "No access") {
			t.Fatalf("the app shows %q", text)
		}
		shoot(t, "no-access")
		// "Go to the portal home" opens the portal.
		if err := chromedp.Do(ctx, markPage, chromedp.Click(chromedp.CSS(".actions .btn-primary")), waitNewPage,
			waitURL(h.portalURL("/"))); err != nil {
			t.Fatalf("portal home: %v", err)
		}
		if text, _ := bodyText(ctx); strings.Contains(text, "No access") {
			t.Errorf("the portal home link led to the refusal again")
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(h.portalURL("/logout")), submit(`form[action="/logout"] button`)); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	})

	t.Run("session ended", func(t *testing.T) {
		// A form on the app's page, posted after the session is gone.
		js := fmt.Sprintf(`(() => { const f = document.createElement("form"); f.method = "post"; f.action = %q;
			const i = document.createElement("input"); i.name = "text"; i.value = "hello"; f.appendChild(i);
			document.body.appendChild(f); f.submit(); return true })()`, h.appURL("/notes/save"))
		post := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](js)(ctx, t)
			return err
		})
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), markPage, post, waitNewPage,
			chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
			t.Fatalf("post the form: %v", err)
		}
		if text, _ := bodyText(ctx); !strings.Contains(text, "Your session has ended") {
			t.Fatalf("after the POST the browser shows %q", text)
		}
		shoot(t, "session-ended")
	})
}
