package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserSettingsBackups drives the settings page's Backups card in a
// real headless Chromium: the owner presses "Back up now" and sees the
// backup in the history; when the directory breaks, the next press shows
// the failure in the banner and the history. Each state fits 1280 and
// 390 px, light and dark. With GATEHOUSE_SHOTS set to a directory, it
// saves a screenshot of each.
func TestBrowserSettingsBackups(t *testing.T) {
	br := newBrowserRun(t)
	ctx := br.ctx
	h := newHarness(t)
	bdir := filepath.Join(t.TempDir(), "backups")
	h.start(h.caddyfile(backupBlock(bdir, "24h", 3), ""))
	h.addUser("olga", ownerPW, "owner")
	shoot := func(name string) { br.shoot(t, "settings-"+name, nil) }
	press := func() string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(h.portalURL("/admin/settings")),
			submit(`form[action="/admin/settings/backup"]`)); err != nil {
			t.Fatalf("back up now: %v", err)
		}
		text, err := bodyText(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return text
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(h.portalURL("/login")),
		submit("#username", "#username", "olga", "#password", ownerPW)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	press()
	text := press()
	if !strings.Contains(text, "Backup gatehouse-") || !strings.Contains(text, "written") || strings.Contains(text, "The last backup failed") {
		t.Fatalf("after Back up now: %s", text)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#backup-history tbody tr").length`)); n != 3 {
		t.Errorf("history rows: %d, want 3 (the schedule's first at start, and two presses)", n)
	}
	shoot("backups")

	// The directory is replaced by a file: the next backup fails.
	if err := os.RemoveAll(bdir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bdir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	text = press()
	if !strings.Contains(text, "Backup failed: backup directory "+bdir+" is not a directory") {
		t.Fatalf("after a failed backup: %s", text)
	}
	// Later, the settings page shows the failure in its banner.
	if err := chromedp.Do(ctx, chromedp.Navigate(h.portalURL("/admin/settings")), chromedp.WaitReady(chromedp.CSS("#backup-failed"))); err != nil {
		t.Fatalf("settings: %v", err)
	}
	if text, _ = bodyText(ctx); !strings.Contains(text, "The last backup failed") || !strings.Contains(text, "Failed") {
		t.Fatalf("the settings page after a failed backup: %s", text)
	}
	shoot("backup-failed")
}
