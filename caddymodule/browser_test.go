package caddymodule

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium or Chrome binary, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GATEHOUSE_REQUIRE_BROWSER") != "" {
		t.Fatal("GATEHOUSE_REQUIRE_BROWSER is set but no chromium is on PATH")
	}
	t.Skip("browser test skipped: no chromium on PATH (apt-get install -y chromium; .ci/run installs it)")
	return ""
}

// newBrowser starts a headless Chromium for the test with its own profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	// Chromium now and then fails to start on a busy machine (a previous
	// instance still exiting); try a few times, each with a fresh profile.
	var err error
	for range 3 {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox, // CI runs as root
			chromedp.UserDataDir(t.TempDir()),
			chromedp.WindowSize(1280, 900),
		)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(actx)
		ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
		if err = chromedp.Do(ctx); err == nil {
			t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
			return ctx
		}
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	}
	t.Fatalf("start chromium: %v", err)
	return nil
}

// bodyText reads the page's text. A page that reloads itself (or a
// redirect still under way) can replace the body between finding it and
// reading it, so it tries again for a few seconds.
func bodyText(ctx context.Context) (text string, err error) {
	for range 50 {
		if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err == nil {
			return text, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", err
}

// submit fills the fields (CSS selector → value) and submits the form of
// sel, then waits for the next page.
func submit(sel string, fields ...string) chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	for i := 0; i+1 < len(fields); i += 2 {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(fields[i]), fields[i+1]))
	}
	steps = append(steps, markPage, chromedp.Submit(chromedp.CSS(sel)), waitNewPage, chromedp.WaitReady(chromedp.CSS("body")))
	return chromedp.Steps(steps...)
}

// markPage tags the current document so that waitNewPage can tell when
// the browser has replaced it.
var markPage = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := chromedp.Evaluate[bool]("window.__gatehouseOld = true")(ctx, t)
	return err
})

// waitURL waits until the browser is at a URL starting with prefix (the
// continue page refreshes to another origin after sign-in).
func waitURL(prefix string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			loc, err := chromedp.Location()(ctx, t)
			if err == nil && strings.HasPrefix(loc, prefix) {
				_, err = chromedp.WaitReady(chromedp.CSS("body"))(ctx, t)
				return err
			}
			if _, err := chromedp.Sleep(50*time.Millisecond)(ctx, t); err != nil {
				return fmt.Errorf("wait for %s: %w (at %s)", prefix, err, loc)
			}
		}
	})
}

// waitNewPage waits until the document marked by markPage is gone.
var waitNewPage = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for {
		old, err := chromedp.Evaluate[bool]("window.__gatehouseOld === true")(ctx, t)
		if err == nil && !old {
			return nil
		}
		if _, err := chromedp.Sleep(50*time.Millisecond)(ctx, t); err != nil {
			return fmt.Errorf("wait for the next page: %w", err)
		}
	}
})

// TestBrowserAdminFlow drives the portal in a real headless Chromium: the
// owner signs in, creates a group and a user, grants the group an app; the
// new user signs in and reaches the app through the guard.
func TestBrowserAdminFlow(t *testing.T) {
	ctx := newBrowser(t)
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	shots := os.Getenv("GATEHOUSE_SHOTS") // a directory: save screenshots there

	var text, loc string
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if shots != "" {
			if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
				_ = os.WriteFile(filepath.Join(shots, strings.ReplaceAll(name, " ", "-")+".png"), png, 0o644)
			}
		}
	}
	page := func(name string, want string) {
		t.Helper()
		var err error
		if text, err = bodyText(ctx); err != nil {
			t.Fatalf("%s: read page: %v", name, err)
		}
		loc, _ = chromedp.Run(ctx, chromedp.Location())
		if !strings.Contains(text, want) {
			t.Fatalf("%s: page %s does not say %q:\n%s", name, loc, want, text)
		}
	}

	step("owner login", chromedp.Navigate(h.portalURL("/login")),
		submit("#username", "#username", "olga", "#password", ownerPW))
	page("home", "Welcome")

	step("create group", chromedp.Navigate(h.portalURL("/admin/groups")),
		submit("#name", "#name", "staff", "#description", "The staff"))
	page("group created", "staff")

	step("create user", chromedp.Navigate(h.portalURL("/admin/users/new")),
		submit("#username", "#username", "carol", "#full_name", "Carol Danvers", "#email", "carol@example.com",
			"#groups", "staff", "#password", alicePW, "#password2", alicePW))
	page("user created", "carol")

	step("grant app", chromedp.Navigate(h.portalURL("/admin/apps/whoami")),
		submit("#allow_groups", "#allow_groups", "staff"))
	page("app granted", "staff")

	// The owner signs out; carol opens the app and is sent to sign in.
	step("sign out", chromedp.Navigate(h.portalURL("/logout")), submit(`form[action="/logout"] button`))
	step("open app", chromedp.Navigate(h.appURL("/hello")), chromedp.WaitVisible(chromedp.CSS("#username")))
	page("login page", "Sign in")
	step("carol login", submit("#username", "#username", "carol", "#password", alicePW), waitURL(h.appURL("/hello")))
	page("app reached", `"Remote-User":["carol"]`)
	if !strings.HasPrefix(loc, h.appURL("/hello")) {
		t.Errorf("carol landed on %s, want the app", loc)
	}
	if hdr, _ := h.lastSeen(); hdr.Get("Remote-Groups") != "staff" || hdr.Get("Remote-Name") != "Carol Danvers" {
		t.Errorf("upstream saw %v", hdr)
	}
	// carol is a plain user: the admin pages are refused.
	step("carol admin", chromedp.Navigate(h.portalURL("/admin/users")))
	page("carol refused", "403")
}
