package caddymodule

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestBrowserPortalUX checks in a real headless Chromium what only a
// browser shows: times in the viewer's time zone, the copy button's
// "Copied" announcement, and pages (navigation included) that fit a
// 390 px phone screen.
func TestBrowserPortalUX(t *testing.T) {
	br := newBrowserRun(t)
	ctx := br.ctx
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")

	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatalf("time zone: %v", err)
	}
	br.do("sign in", chromedp.Navigate(h.portalURL("/login")), submit("#username", "#username", "olga", "#password", ownerPW))

	// Local times: the audit log's UTC times read in Tokyo time, the UTC
	// text kept as the title.
	br.do("audit log", chromedp.Navigate(h.portalURL("/admin/audit")), chromedp.WaitReady(chromedp.CSS("td time[datetime]")))
	shown := br.eval("time", `document.querySelector("td time[datetime]").textContent`)
	title := br.eval("title", `document.querySelector("td time[datetime]").title`)
	if !strings.Contains(shown, "GMT+9") || strings.Contains(shown, "UTC") || !strings.HasSuffix(title, "UTC") {
		t.Errorf("audit time shows %q (title %q), want the Tokyo time and the UTC text as its title", shown, title)
	}

	// Copy: the snippet's button says "Copied" and the live region too.
	br.do("apps", chromedp.Navigate(h.portalURL("/admin/apps")), chromedp.WaitReady(chromedp.CSS("body")))
	var status string
	if br.eval("copy button", `String(!!document.querySelector("[data-copy]:not([hidden])"))`) != "true" {
		t.Error("the Apps page has no visible copy button")
	} else {
		br.do("copy", chromedp.Click(chromedp.CSS("[data-copy]")))
	}
	for range 40 {
		if status = br.eval("status", `String(document.getElementById("copy-status") && document.getElementById("copy-status").textContent || "")`); status != "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != "Copied to the clipboard." || !strings.Contains(br.eval("button", `String(document.querySelector("[data-copy]") && document.querySelector("[data-copy]").textContent)`), "Copied") {
		t.Errorf("after Copy the live region says %q", status)
	}

	// A phone: no page is wider than the screen, and every navigation
	// entry is on it.
	br.screen(390, 844, true)
	for _, path := range []string{"/", "/profile", "/admin/users", "/admin/users/alice", "/admin/apps", "/admin/audit", "/admin/settings", "/admin/ldap"} {
		br.do(path, chromedp.Navigate(h.portalURL(path)), chromedp.WaitReady(chromedp.CSS("body")))
		got := br.eval(path, `(function () {
			var w = document.documentElement.clientWidth, bad = [];
			if (document.documentElement.scrollWidth > w) bad.push("page " + document.documentElement.scrollWidth + "px wide");
			document.querySelectorAll(".nav-link").forEach(function (a) {
				var r = a.getBoundingClientRect();
				if (r.left < 0 || r.right > w) bad.push("nav " + a.textContent.trim() + " at " + Math.round(r.left) + "-" + Math.round(r.right));
			});
			return bad.join("; ");
		})()`)
		if got != "" {
			t.Errorf("%s at 390 px: %s", path, got)
		}
	}
}
