package caddymodule

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// newCrossDomainBrowser is newBrowser resolving every name to 127.0.0.1
// and trusting Caddy's internal CA (the test's certificates), so a real
// Chromium sees auth.example.com, photos.example.test and
// files.example.net as the sites they are.
func newCrossDomainBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("host-resolver-rules", "MAP * 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// TestBrowserCrossDomain: in a real Chromium (its cookie rules: SameSite=Lax
// over cross-site redirects, __Host- cookies, the CSP form-action on the
// login form's redirects), alice opens the app on example.test, signs in
// once at the portal on example.com and lands on the app as alice, then
// opens the app on example.net without a second sign-in; after she signs
// out at the portal, the app sends her back to the login page.
func TestBrowserCrossDomain(t *testing.T) {
	ctx := newCrossDomainBrowser(t)
	e := startCrossDomain(t)
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %v (at %s)", name, err, loc)
		}
	}
	sees := func(what, want string) {
		t.Helper()
		text, err := bodyText(ctx)
		if err != nil || !strings.Contains(text, want) {
			t.Fatalf("%s: the page does not show %q: %v %s", what, want, err, text)
		}
	}

	step("open the app", chromedp.Navigate(e.photos+"/albums"), waitURL(e.portal+"/login?"))
	step("sign in", chromedp.SetValue(chromedp.CSS("#username"), "alice"), chromedp.SetValue(chromedp.CSS("#password"), alicePW),
		chromedp.Submit(chromedp.CSS("#username")), waitURL(e.photos+"/albums"))
	sees("the app", `"Remote-User":["alice"]`)

	step("the other domain's app", chromedp.Navigate(e.files+"/"), waitURL(e.files+"/"))
	sees("the app on example.net", `"Remote-User":["alice"]`)
	text, _ := bodyText(ctx)
	if strings.Contains(text, "gatehouse") {
		t.Errorf("the app saw a cookie of ours: %s", text)
	}

	step("sign out at the portal", chromedp.Navigate(e.portal+"/logout"), chromedp.WaitReady(chromedp.CSS("form")),
		chromedp.Submit(chromedp.CSS("form[action='/logout']")), waitURL(e.portal+"/logout"))
	step("the app again", chromedp.Navigate(e.photos+"/albums"), waitURL(e.portal+"/login?"))
}
