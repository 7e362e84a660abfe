package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestBrowserAddApp drives the apps pages in a real headless Chromium:
// the owner adds an OIDC app with the form, sees its client id and secret
// once, makes a new secret and deletes the app; the pages fit a 390 px
// phone. With GATEHOUSE_SHOTS=dir it saves screenshots there.
func TestBrowserAddApp(t *testing.T) {
	ctx := newBrowser(t)
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	do := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	eval := func(name, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	shots := os.Getenv("GATEHOUSE_SHOTS")
	shot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fits := func(path string) {
		t.Helper()
		if w := eval(path, `String(document.documentElement.scrollWidth > document.documentElement.clientWidth ? document.documentElement.scrollWidth : 0)`); w != "0" {
			t.Errorf("%s is %s px wide on a 390 px screen", path, w)
		}
	}

	do("sign in", chromedp.Navigate(h.portalURL("/login")), submit("#username", "#username", "olga", "#password", ownerPW))
	do("apps", chromedp.Navigate(h.portalURL("/admin/apps")), chromedp.WaitReady(chromedp.CSS("#redirect_uris")))
	do("add grafana", submit("#redirect_uris", "#name", "grafana", "#title", "Grafana", "#url", "https://grafana.example.com",
		"#redirect_uris", "https://grafana.example.com/login/generic_oauth\nhttps://grafana.example.com/alt", "#allow_groups", "ops, admins"))
	secret := eval("secret", `String(document.getElementById("client-secret") && document.getElementById("client-secret").value)`)
	if id := eval("client id", `String(document.getElementById("client-id") && document.getElementById("client-id").value)`); id != "grafana" || !strings.HasPrefix(secret, "gho_") {
		t.Fatalf("after adding: client id %q, secret %q; page: %s", id, secret, eval("body", "document.body.innerText"))
	}
	if eval("copy", `String(document.querySelectorAll("[data-copy]:not([hidden])").length)`) != "2" {
		t.Error("the client id and secret lack their copy buttons")
	}
	shot("app-secret-1280")
	do("apps again", chromedp.Navigate(h.portalURL("/admin/apps")), chromedp.WaitReady(chromedp.CSS("body")))
	if text := eval("list", "document.body.innerText"); !strings.Contains(text, "Grafana") || !strings.Contains(text, "OIDC") || strings.Contains(text, secret) {
		t.Errorf("the list: %s", text)
	}
	shot("apps-1280")
	do("app page", chromedp.Navigate(h.portalURL("/admin/apps/grafana")), chromedp.WaitReady(chromedp.CSS("body")))
	shot("app-1280")
	do("new secret", submit(`form[action$="/oidc/secret"]`))
	if s2 := eval("secret", `String(document.getElementById("client-secret") && document.getElementById("client-secret").value)`); s2 == secret || !strings.HasPrefix(s2, "gho_") {
		t.Errorf("new secret %q", s2)
	}

	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatalf("phone size: %v", err)
	}
	for _, p := range []struct{ path, name string }{{"/admin/apps", "apps-390"}, {"/admin/apps/grafana", "app-390"}} {
		do(p.path, chromedp.Navigate(h.portalURL(p.path)), chromedp.WaitReady(chromedp.CSS("body")))
		fits(p.path)
		shot(p.name)
	}
	do("delete", chromedp.Navigate(h.portalURL("/admin/apps/grafana")), chromedp.WaitReady(chromedp.CSS("body")),
		chromedp.Click(chromedp.CSS("#delete-title + details summary")), chromedp.Click(chromedp.CSS("#confirm-delete")),
		submit(`form[action$="/delete"]`))
	if text := eval("after delete", "document.body.innerText"); !strings.Contains(text, "was deleted") {
		t.Errorf("after delete: %s", text)
	}
}
