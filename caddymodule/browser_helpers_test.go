package caddymodule

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// browserRun is a headless Chromium for one test with the steps the
// browser tests share: run actions, evaluate a script, save screenshots
// when GATEHOUSE_SHOTS names a directory, and check a page at desktop and
// phone widths in light and dark mode.
type browserRun struct {
	t     *testing.T
	ctx   context.Context
	shots string // GATEHOUSE_SHOTS: a directory for screenshots, or ""
}

// newBrowserRun starts the test's browser (see newBrowser).
func newBrowserRun(t *testing.T) *browserRun {
	return &browserRun{t: t, ctx: newBrowser(t), shots: os.Getenv("GATEHOUSE_SHOTS")}
}

// do runs steps, failing the test with name when one fails.
func (b *browserRun) do(name string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
}

// eval evaluates js, which must give a string.
func (b *browserRun) eval(name, js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	return v
}

// shot saves a screenshot of the whole page as name.png, or of the
// element sel when one is given.
func (b *browserRun) shot(name string, sel ...string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	var png []byte
	var err error
	if len(sel) > 0 {
		png, err = chromedp.Run(b.ctx, chromedp.Screenshot(sel[0]))
	} else {
		png, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// fits fails t when the page is wider than the screen.
func (b *browserRun) fits(t *testing.T, what string) {
	t.Helper()
	wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](
		`document.documentElement.scrollWidth > document.documentElement.clientWidth ? document.documentElement.scrollWidth : 0`))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if wide != 0 {
		t.Errorf("%s is %d px wide, wider than the screen", what, wide)
	}
}

// shoot shows the current page at 1280 and 390 px, light and dark: in
// each it must fit the screen and pass check (when not nil; what names
// the page, width and scheme), and it is saved as
// name-<width>-<scheme>.png. The browser is left at 1280 px.
func (b *browserRun) shoot(t *testing.T, name string, check func(t *testing.T, what, scheme string)) {
	t.Helper()
	for _, size := range []struct{ w, h int64 }{{1280, 900}, {390, 844}} {
		for _, scheme := range []string{"light", "dark"} {
			if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
				t.Fatalf("emulate %s: %v", scheme, err)
			}
			// Wait out the buttons' colour transition after the switch.
			if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(size.w, size.h), chromedp.Sleep(300*time.Millisecond)); err != nil {
				t.Fatalf("viewport: %v", err)
			}
			what := fmt.Sprintf("%s at %d px, %s", name, size.w, scheme)
			b.fits(t, what)
			if check != nil {
				check(t, what, scheme)
			}
			b.shot(fmt.Sprintf("%s-%d-%s", name, size.w, scheme))
		}
	}
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
}

// screen sets the screen size; mobile emulates a phone (touch, viewport
// meta tag honoured).
func (b *browserRun) screen(w, h int64, mobile bool) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride,
		emulation.SetDeviceMetricsOverrideParams{Width: w, Height: h, DeviceScaleFactor: 1, Mobile: mobile}); err != nil {
		b.t.Fatalf("screen %dx%d: %v", w, h, err)
	}
}
