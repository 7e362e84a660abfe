package caddymodule

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// backupBlock is the backup option of the test configs.
func backupBlock(dir, every string, keep int) string {
	b := "backup {\n\t\t\tdir " + dir + "\n"
	if every != "" {
		b += "\t\t\tevery " + every + "\n"
	}
	if keep > 0 {
		b += "\t\t\tkeep " + string(rune('0'+keep)) + "\n"
	}
	return b + "\t\t}"
}

// backupEntry is an entry of GET /api/v1/backups.
type backupEntry struct {
	Time   time.Time `json:"time"`
	File   string    `json:"file"`
	Size   int64     `json:"size"`
	Result string    `json:"result"`
	Error  string    `json:"error"`
	Actor  string    `json:"actor"`
}

// backupHistory reads the history as the signed-in owner c.
func backupHistory(t *testing.T, h *harness, c *http.Client) []backupEntry {
	t.Helper()
	got, b := secAPI(t, h, c, "GET", "/api/v1/backups", "")
	var hist []backupEntry
	if got != 200 || json.Unmarshal(b, &hist) != nil {
		t.Fatalf("GET /api/v1/backups: %d %s", got, b)
	}
	return hist
}

// waitBackups polls the history until ok returns true for it (10 s at most).
func waitBackups(t *testing.T, h *harness, c *http.Client, ok func([]backupEntry) bool) []backupEntry {
	t.Helper()
	var hist []backupEntry
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if hist = backupHistory(t, h, c); ok(hist) {
			return hist
		}
	}
	t.Fatalf("backup history never got there: %+v", hist)
	return nil
}

var ourBackupName = regexp.MustCompile(`^gatehouse-\d{8}T\d{6}\.\d{3}Z\.backup$`)

// TestScheduledBackups: a running instance with `backup { every 1s; keep
// 2; dir … }` takes backups by itself, keeps the newest two of its own
// files (and nobody else's), records them, audits them as "schedule"; the
// newest restores with `caddy gatehouse restore` into a fresh directory
// on which the users sign in.
func TestScheduledBackups(t *testing.T) {
	dirStorageOnly(t)
	h := newHarness(t)
	bdir := filepath.Join(t.TempDir(), "backups") // missing: created (its parent exists)
	h.start(h.caddyfile(backupBlock(bdir, "1s", 2), ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("bob", bobPW, "user")
	olga := h.client()
	h.apiLogin(olga, "olga", ownerPW)
	// Files that are not ours are never pruned, even when named alike.
	for _, name := range []string{"notes.txt", "gatehouse-manual.backup"} {
		if err := os.WriteFile(filepath.Join(bdir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	hist := waitBackups(t, h, olga, func(hist []backupEntry) bool {
		n := 0
		for _, e := range hist {
			if e.Actor == "schedule" && e.Result == "ok" {
				n++
			}
		}
		return n >= 4
	})
	for _, e := range hist {
		if e.Result != "ok" || e.Actor != "schedule" || !ourBackupName.MatchString(e.File) || e.Size <= 0 {
			t.Errorf("history entry %+v", e)
		}
	}
	for i := 1; i < len(hist); i++ {
		if !hist[i].Time.Before(hist[i-1].Time) {
			t.Errorf("history not newest first: %v then %v", hist[i-1].Time, hist[i].Time)
		}
	}

	// Reload into the same storage without a schedule: the schedule's
	// goroutine ends, so the directory stops changing.
	h.start(h.caddyfile(backupBlock(bdir, "", 2), ""))
	time.Sleep(300 * time.Millisecond) // a backup that was being written
	entries, err := os.ReadDir(bdir)
	if err != nil {
		t.Fatal(err)
	}
	var ours, others []string
	for _, e := range entries {
		if ourBackupName.MatchString(e.Name()) {
			ours = append(ours, e.Name())
		} else {
			others = append(others, e.Name())
		}
	}
	slices.Sort(others)
	if len(ours) != 2 || !slices.Equal(others, []string{"gatehouse-manual.backup", "notes.txt"}) {
		t.Fatalf("backup dir holds %v and %v; want our 2 newest and the two foreign files", ours, others)
	}
	slices.Sort(ours)
	newest := filepath.Join(bdir, ours[1])
	fi, err := os.Stat(newest)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("newest backup: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v", fi.Mode().Perm())
	}
	time.Sleep(1500 * time.Millisecond)
	if again, _ := os.ReadDir(bdir); len(again) != len(entries) {
		t.Errorf("backups still taken after the schedule was removed: %d files, then %d", len(entries), len(again))
	}
	if last := backupHistory(t, h, olga); last[0].File != ours[1] {
		t.Errorf("the newest history entry is %s, the newest file %s", last[0].File, ours[1])
	}
	evs := secAudit(t, h, olga, "action=backup.create")
	if len(evs) < 4 || evs[0]["actor"] != "schedule" || evs[0]["outcome"] != "success" || evs[0]["resource"] != "backup:"+ours[1] {
		t.Errorf("audit of the scheduled backups: %d events, newest %v", len(evs), evs[0])
	}

	// The backup restores into a fresh store, on which bob signs in.
	restored := filepath.Join(t.TempDir(), "restored")
	if out, err := runCommand(t, restoreCommand(), "", newest, "--storage", restored); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	key, err := os.ReadFile(filepath.Join(h.storage, secretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, secretKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	h.storage = restored
	h.start(h.caddyfile("", ""))
	if resp := h.apiLogin(h.client(), "bob", bobPW); resp.StatusCode != 200 {
		t.Fatalf("bob signs in on the restored store: %d", resp.StatusCode)
	}
}

// TestBackupNowAccess: "Back up now" (POST /api/v1/backups and the
// settings page's button) is for owners acting as themselves: their
// session or an API key that may write; never an admin, a user, a
// read-only key, or an owner impersonating anyone (even another owner).
func TestBackupNowAccess(t *testing.T) {
	h := newHarness(t)
	bdir := filepath.Join(t.TempDir(), "b")
	h.start(h.caddyfile(backupBlock(bdir, "", 0), ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("otto", ownerPW, "owner")
	h.addUser("adam", alicePW, "admin")
	h.addUser("bob", bobPW, "user")
	clients := map[string]*http.Client{}
	for _, u := range [][2]string{{"olga", ownerPW}, {"otto", ownerPW}, {"adam", alicePW}, {"bob", bobPW}} {
		clients[u[0]] = h.client()
		if resp := h.apiLogin(clients[u[0]], u[0], u[1]); resp.StatusCode != 200 {
			t.Fatalf("sign in %s: %d", u[0], resp.StatusCode)
		}
	}
	ownerKey := secKey(t, h, clients["olga"], "inherit")
	readKey := secKey(t, h, clients["olga"], "read-only")
	adminKey := secKey(t, h, clients["adam"], "inherit")

	post := func(c *http.Client, key string) (int, []byte) {
		if key != "" {
			return secKeyAPI(t, h, key, "POST", "/api/v1/backups", "")
		}
		return secAPI(t, h, c, "POST", "/api/v1/backups", "")
	}
	for _, tc := range []struct {
		name string
		c    *http.Client
		key  string
		want int
	}{
		{"owner", clients["olga"], "", 201},
		{"owner's key", nil, ownerKey, 201},
		{"owner's read-only key", nil, readKey, 403},
		{"admin", clients["adam"], "", 403},
		{"admin's key", nil, adminKey, 403},
		{"user", clients["bob"], "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, b := post(tc.c, tc.key)
			if got != tc.want {
				t.Fatalf("POST /api/v1/backups: %d %s, want %d", got, b, tc.want)
			}
			if got != 201 {
				return
			}
			var v struct {
				File string    `json:"file"`
				Size int64     `json:"size"`
				Time time.Time `json:"time"`
			}
			if err := json.Unmarshal(b, &v); err != nil || !ourBackupName.MatchString(v.File) || v.Time.IsZero() {
				t.Fatalf("answer %s", b)
			}
			fi, err := os.Stat(filepath.Join(bdir, v.File))
			if err != nil || fi.Size() != v.Size || fi.Mode().Perm() != 0o600 {
				t.Fatalf("file %s: %v (size %d, answer says %d)", v.File, err, fi.Size(), v.Size)
			}
		})
	}
	for _, who := range []string{"adam", "bob"} {
		if got, b := secAPI(t, h, clients[who], "GET", "/api/v1/backups", ""); got != 403 {
			t.Errorf("GET /api/v1/backups as %s: %d %s, want 403", who, got, b)
		}
		if got, _ := secForm(t, h, clients[who], "/profile", "/admin/settings/backup"); got != 403 {
			t.Errorf("the button as %s: %d, want 403", who, got)
		}
	}
	if got, _ := secKeyAPI(t, h, readKey, "GET", "/api/v1/backups", ""); got != 200 {
		t.Errorf("GET /api/v1/backups with the owner's read-only key: %d, want 200", got)
	}

	// The button, with the page's CSRF token; without it, refused.
	if got, page := secForm(t, h, clients["olga"], "/admin/settings", "/admin/settings/backup"); got != http.StatusSeeOther {
		t.Fatalf("the button: %d %s", got, secPageError([]byte(page)))
	}
	body, hdr := formBody("csrf", "forged")
	if resp, _ := do(t, clients["olga"], "POST", h.portalURL("/admin/settings/backup"), body, hdr); resp.StatusCode != 403 {
		t.Errorf("the button without the CSRF token: %d, want 403", resp.StatusCode)
	}
	_, page := do(t, clients["olga"], "GET", h.portalURL("/admin/settings"), nil, browser)
	if !strings.Contains(string(page), `id="backup-history"`) || !strings.Contains(string(page), "Back up now") || strings.Contains(string(page), `id="backup-failed"`) {
		t.Errorf("the settings page lacks the history or the button, or shows a failure:\n%s", page)
	}
	_, page = do(t, clients["adam"], "GET", h.portalURL("/admin/settings"), nil, browser)
	if strings.Contains(string(page), "backup-history") || strings.Contains(string(page), "Back up now") {
		t.Error("an admin sees the backups card")
	}
	if hist := backupHistory(t, h, clients["olga"]); len(hist) != 3 || hist[0].Actor != "olga" || hist[1].Actor != "olga" {
		t.Errorf("history %+v, want 3 backups by olga", hist)
	}

	// An owner impersonating another owner may not: the real person does
	// it from their own session, and the audit never names the wrong one.
	olga := clients["olga"]
	if got, b := secAPI(t, h, olga, "POST", "/api/v1/users/otto/impersonate", ""); got != 200 {
		t.Fatalf("impersonate otto: %d %s", got, b)
	}
	if got, b := secAPI(t, h, olga, "POST", "/api/v1/backups", ""); got != 403 {
		t.Errorf("backup while impersonating an owner: %d %s, want 403", got, b)
	}
	if got, _ := secAPI(t, h, olga, "GET", "/api/v1/backups", ""); got != 403 {
		t.Errorf("history while impersonating an owner: %d, want 403", got)
	}
	if got, _ := secAPI(t, h, olga, "DELETE", "/api/v1/impersonation", ""); got != 200 {
		t.Fatalf("stop impersonating: %d", got)
	}
	evs := secAudit(t, h, olga, "action=backup.create")
	if len(evs) != 3 {
		t.Errorf("backup.create audited %d times, want 3", len(evs))
	}
	for _, e := range evs {
		if e["actor"] != "olga" || e["outcome"] != "success" {
			t.Errorf("audited %v", e)
		}
	}
}

// TestBackupsOff: without a backup block the API and the button answer
// 409 naming the setting, and nothing is recorded.
func TestBackupsOff(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	got, b := secAPI(t, h, olga, "POST", "/api/v1/backups", "")
	if got != http.StatusConflict || !strings.Contains(string(b), "backup") || !strings.Contains(string(b), "dir") {
		t.Errorf("POST /api/v1/backups without backup dir: %d %s, want 409 naming the setting", got, b)
	}
	got, page := secForm(t, h, olga, "/admin/settings", "/admin/settings/backup")
	if got != http.StatusConflict || !strings.Contains(page, "backup { dir") {
		t.Errorf("the button without backup dir: %d %s", got, secPageError([]byte(page)))
	}
	if !strings.Contains(page, "Backups are off") || strings.Contains(page, "Back up now") {
		t.Error("the settings page does not say backups are off, or offers the button")
	}
	if hist := backupHistory(t, h, olga); len(hist) != 0 {
		t.Errorf("history %+v", hist)
	}
}

// TestBackupFailureShown: a backup directory that cannot be made (its
// parent is a file) makes every attempt fail; the failures are in the
// history with their reason, on the settings page's banner for owners,
// in the audit log, and POST /api/v1/backups says 500 with the reason.
// No temporary file is left.
func TestBackupFailureShown(t *testing.T) {
	h := newHarness(t)
	parent := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(parent, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.start(h.caddyfile(backupBlock(filepath.Join(parent, "backups"), "1s", 0), ""))
	h.addUser("olga", ownerPW, "owner")
	olga := h.client()
	h.apiLogin(olga, "olga", ownerPW)
	hist := waitBackups(t, h, olga, func(hist []backupEntry) bool { return len(hist) > 0 })
	if e := hist[0]; e.Result != "failed" || e.Actor != "schedule" || !strings.Contains(e.Error, "not a directory") || e.Size != 0 {
		t.Errorf("history entry %+v, want a failure naming the reason", e)
	}
	_, page := do(t, olga, "GET", h.portalURL("/admin/settings"), nil, browser)
	if !strings.Contains(string(page), `id="backup-failed"`) || !strings.Contains(string(page), "not a directory") {
		t.Errorf("no failure banner on the settings page:\n%s", page)
	}
	got, b := secAPI(t, h, olga, "POST", "/api/v1/backups", "")
	if got != http.StatusInternalServerError || !strings.Contains(string(b), "not a directory") {
		t.Errorf("POST /api/v1/backups into a broken dir: %d %s, want 500 with the reason", got, b)
	}
	if evs := secAudit(t, h, olga, "action=backup.create"); len(evs) == 0 || evs[0]["outcome"] != "failure" {
		t.Errorf("failures audited: %v", evs)
	}
	// Counted in metrics: the scheduled attempt(s) and the one above.
	samples, _ := scrapeMetrics(t, h)
	if f, ok := samples[`gatehouse_backups_total{result="failure"}`]; f < 2 || !ok || samples[`gatehouse_backups_total{result="success"}`] != 0 {
		t.Errorf("gatehouse_backups_total: failure %v, success %v; want at least 2 failures, no success",
			f, samples[`gatehouse_backups_total{result="success"}`])
	}
}

// TestBackupConfig: the backup block's errors name the line and the
// reason; a good block adapts to the JSON the app reads.
func TestBackupConfig(t *testing.T) {
	dir := t.TempDir()
	cf := func(block string) string {
		return "{\n\tgatehouse {\n\t\tportal_url http://localhost\n\t\tstorage " + dir + "\n\t\tbackup {\n" + block +
			"\n\t\t}\n\t}\n\tadmin off\n}\n\n:0 {\n\tgatehouse_portal\n}\n"
	}
	for _, tc := range []struct {
		name  string
		block string
		want  []string
	}{
		{"no dir", "\t\t\tevery 24h", []string{"backup: dir is required", "Caddyfile:7"}},
		{"relative dir", "\t\t\tdir backups", []string{`dir "backups" must be an absolute path`, "Caddyfile:6"}},
		{"bad every", "\t\t\tdir /tmp/b\n\t\t\tevery often", []string{`every "often"`, "at least 1s", "Caddyfile:7"}},
		{"every too short", "\t\t\tdir /tmp/b\n\t\t\tevery 10ms", []string{`every "10ms"`, "Caddyfile:7"}},
		{"keep zero", "\t\t\tdir /tmp/b\n\t\t\tkeep 0", []string{`keep "0"`, "from 1 to 10000", "Caddyfile:7"}},
		{"keep word", "\t\t\tdir /tmp/b\n\t\t\tkeep many", []string{`keep "many"`, "Caddyfile:7"}},
		{"unknown", "\t\t\tdir /tmp/b\n\t\t\tkeeep 3", []string{`unknown setting "keeep"`, "Caddyfile:7"}},
		{"two values", "\t\t\tdir /tmp/b /tmp/c", []string{"dir takes one value", "Caddyfile:6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLoadError(t, cf(tc.block), tc.want)
		})
	}
	t.Run("adapts", func(t *testing.T) {
		var cfg struct {
			Apps struct {
				Gatehouse struct {
					Backup BackupConfig `json:"backup"`
				} `json:"gatehouse"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(adapt(t, cf("\t\t\tevery 24h\n\t\t\tkeep 14\n\t\t\tdir /var/backups/gatehouse")), &cfg); err != nil {
			t.Fatal(err)
		}
		if b := cfg.Apps.Gatehouse.Backup; time.Duration(b.Every) != 24*time.Hour || b.Keep != 14 || b.Dir != "/var/backups/gatehouse" {
			t.Errorf("adapted to %+v", b)
		}
	})
}
