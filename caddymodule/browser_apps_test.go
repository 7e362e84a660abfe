package caddymodule

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAddApp drives the apps pages in a real headless Chromium:
// the owner adds an OIDC app with the form, sees its client id and secret
// once, makes a new secret and deletes the app; the pages fit a 390 px
// phone. With GATEHOUSE_SHOTS=dir it saves screenshots there.
func TestBrowserAddApp(t *testing.T) {
	br := newBrowserRun(t)
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")

	br.do("sign in", chromedp.Navigate(h.portalURL("/login")), submit("#username", "#username", "olga", "#password", ownerPW))
	br.do("apps", chromedp.Navigate(h.portalURL("/admin/apps")), chromedp.WaitReady(chromedp.CSS("#redirect_uris")))
	br.do("add grafana", submit("#redirect_uris", "#name", "grafana", "#title", "Grafana", "#url", "https://grafana.example.com",
		"#redirect_uris", "https://grafana.example.com/login/generic_oauth\nhttps://grafana.example.com/alt", "#allow_groups", "ops, admins"))
	secret := br.eval("secret", `String(document.getElementById("client-secret") && document.getElementById("client-secret").value)`)
	if id := br.eval("client id", `String(document.getElementById("client-id") && document.getElementById("client-id").value)`); id != "grafana" || !strings.HasPrefix(secret, "gho_") {
		t.Fatalf("after adding: client id %q, secret %q; page: %s", id, secret, br.eval("body", "document.body.innerText"))
	}
	if br.eval("copy", `String(document.querySelectorAll("[data-copy]:not([hidden])").length)`) != "2" {
		t.Error("the client id and secret lack their copy buttons")
	}
	br.shot("app-secret-1280")
	br.do("apps again", chromedp.Navigate(h.portalURL("/admin/apps")), chromedp.WaitReady(chromedp.CSS("body")))
	if text := br.eval("list", "document.body.innerText"); !strings.Contains(text, "Grafana") || !strings.Contains(text, "OIDC") || strings.Contains(text, secret) {
		t.Errorf("the list: %s", text)
	}
	br.shot("apps-1280")
	br.do("app page", chromedp.Navigate(h.portalURL("/admin/apps/grafana")), chromedp.WaitReady(chromedp.CSS("body")))
	br.shot("app-1280")
	br.do("new secret", submit(`form[action$="/oidc/secret"]`))
	if s2 := br.eval("secret", `String(document.getElementById("client-secret") && document.getElementById("client-secret").value)`); s2 == secret || !strings.HasPrefix(s2, "gho_") {
		t.Errorf("new secret %q", s2)
	}

	br.screen(390, 844, true)
	for _, p := range []struct{ path, name string }{{"/admin/apps", "apps-390"}, {"/admin/apps/grafana", "app-390"}} {
		br.do(p.path, chromedp.Navigate(h.portalURL(p.path)), chromedp.WaitReady(chromedp.CSS("body")))
		br.fits(t, p.path)
		br.shot(p.name)
	}
	br.do("delete", chromedp.Navigate(h.portalURL("/admin/apps/grafana")), chromedp.WaitReady(chromedp.CSS("body")),
		chromedp.Click(chromedp.CSS("#delete-title + details summary")), chromedp.Click(chromedp.CSS("#confirm-delete")),
		submit(`form[action$="/delete"]`))
	if text := br.eval("after delete", "document.body.innerText"); !strings.Contains(text, "was deleted") {
		t.Errorf("after delete: %s", text)
	}
}
