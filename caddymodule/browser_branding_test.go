package caddymodule

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/core"
)

// TestBrowserBranding sets a product name, logo, accent colour and
// sign-in message, and opens the sign-in page and the "No access" page
// the guard serves on an app's host in a real headless Chromium, which
// enforces their CSP: the name, the logo (loaded from the portal) and the
// accent colour are there at desktop and phone widths, in light and dark
// mode. It saves a screenshot of each under t.TempDir(), or under
// GATEHOUSE_SHOTS when set, and logs the paths.
func TestBrowserBranding(t *testing.T) {
	br := newBrowserRun(t)
	ctx := br.ctx
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	olga := h.client()
	h.apiLogin(olga, "olga", ownerPW)
	const accent = "#0b6e4f"
	body := `{"brand_name":"Acme Cloud","brand_accent":"` + accent + `",` +
		`"sign_in_message":"Acme staff only: use your Acme e-mail address.\nTrouble signing in? Write to it@acme.test."}`
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", body); code != 200 {
		t.Fatalf("set branding: %d %s", code, b)
	}
	if code, b := putLogo(t, h, olga, testLogo(t, "png", 96, 96), nil); code != 200 {
		t.Fatalf("upload the logo: %d %s", code, b)
	}
	if br.shots == "" {
		br.shots = t.TempDir() // the screenshots are part of the proof: always taken
	}
	light, _ := core.ParseHexColor(accent)

	// branded checks the DOM: the name, the logo loaded under the CSP,
	// and the accent colour on the primary button.
	branded := func(t *testing.T, name, scheme string) {
		t.Helper()
		for _, check := range []string{
			`document.title.endsWith(" · Acme Cloud")`,
			`document.querySelector(".brand-name").textContent === "Acme Cloud"`,
			`document.querySelector(".footer-brand").textContent === "Acme Cloud"`,
			`(() => { const i = document.querySelector("img.brand-logo"); return i.complete && i.naturalWidth === 96 && i.currentSrc.includes("/assets/brand/logo?v=") })()`,
			`getComputedStyle(document.querySelector(".skip-link")).position === "absolute"`,
		} {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](check))
			if err != nil || !ok {
				t.Errorf("%s: %s is false (%v)", name, check, err)
			}
		}
		bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".btn-primary")).backgroundColor`))
		if err != nil {
			t.Fatalf("%s: read the button colour: %v", name, err)
		}
		fg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".btn-primary")).color`))
		b, f := parseRGB(bg), parseRGB(fg)
		switch {
		case scheme == "light" && b != light:
			t.Errorf("%s: the primary button is %s, want the accent %s", name, bg, accent)
		case scheme == "dark" && (b == light || b[1] <= light[1]):
			t.Errorf("%s: the primary button is %s, want a lighter tint of %s", name, bg, accent)
		}
		if c := core.ContrastRatio(b, f); c < 4.5 {
			t.Errorf("%s: button text %s on %s has contrast %.2f", name, fg, bg, c)
		}
	}
	shoot := func(t *testing.T, name string) { br.shoot(t, "branding-"+name, branded) }

	t.Run("sign-in page", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(h.portalURL("/login"))); err != nil {
			t.Fatal(err)
		}
		msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#sign-in-message").innerText`))
		if err != nil || !strings.Contains(msg, "Acme staff only: use your Acme e-mail address.\nTrouble signing in?") {
			t.Errorf("the sign-in message reads %q (%v)", msg, err)
		}
		shoot(t, "sign-in")
	})

	t.Run("no access on an app host", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(h.portalURL("/login")),
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
	})
	t.Run("settings card", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(h.portalURL("/logout")),
			submit(`form[action="/logout"] button`)); err != nil {
			t.Fatalf("sign out: %v", err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(h.portalURL("/login?rd=/admin/settings")),
			submit("#username", "#username", "olga", "#password", ownerPW), waitURL(h.portalURL("/admin/settings"))); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		for _, scheme := range []string{"light", "dark"} {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			if err != nil {
				t.Fatal(err)
			}
			_ = chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond))
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = document.querySelector("#brand-logo-current"); return i.complete && i.naturalWidth === 96 })()`))
			if err != nil || !ok {
				t.Errorf("%s: the settings card does not show the logo (%v)", scheme, err)
			}
			swatch, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".brand-swatch")).backgroundColor`))
			if scheme == "light" && parseRGB(swatch) != light {
				t.Errorf("the swatch is %s, want %s", swatch, accent)
			}
			br.shot("branding-settings-card-"+scheme, "#branding")
		}
	})

	t.Run("a long name at 390 px", func(t *testing.T) {
		long := strings.Repeat("Acme Worldwide Cloud ", 2) + "Services and Solutions"
		if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"brand_name":"`+long+`"}`); code != 200 {
			t.Fatalf("set a long name: %d %s", code, b)
		}
		_, _ = chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
		for _, u := range []string{h.portalURL("/admin/settings"), h.portalURL("/logout")} {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(u), chromedp.Sleep(200*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if wide, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
				t.Errorf("%s with a 64-character name is wider than 390 px", u)
			}
			name, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".brand-name").textContent`))
			if name != long {
				t.Errorf("%s shows the name %q", u, name)
			}
			br.shot("branding-long-name-" + filepath.Base(u))
		}
	})
}

// parseRGB reads a computed colour "rgb(r, g, b)".
func parseRGB(s string) [3]uint8 {
	var r, g, b int
	_, _ = fmt.Sscanf(strings.ReplaceAll(s, " ", ""), "rgb(%d,%d,%d)", &r, &g, &b)
	return [3]uint8{uint8(r), uint8(g), uint8(b)}
}
