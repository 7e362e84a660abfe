package portal

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// backupsView is the Backups card of the settings page, shown to owners
// acting as themselves (core.Backups' rule).
type backupsView struct {
	Enabled bool
	Dir     string
	Every   string // "" without a schedule
	Keep    int
	History []backupRow
	// Failed is the newest attempt when it failed (the page's banner).
	Failed *backupRow
}

// backupRow is one history entry as the page shows it.
type backupRow struct {
	Time   time.Time
	File   string
	Size   string
	OK     bool
	Error  string
	Actor  string
	Number int
}

// backupsFor returns the Backups card for c, or nil when c may not see it.
func (s accessUI) backupsFor(c *caller) *backupsView {
	hist, err := s.core.Backups.History(c)
	if err != nil {
		return nil
	}
	o := s.core.Backups.Options()
	v := &backupsView{Enabled: s.core.Backups.Enabled(), Dir: o.Dir, Keep: o.Keep}
	if v.Keep == 0 {
		v.Keep = core.DefaultBackupKeep
	}
	if o.Every > 0 {
		v.Every = fmtDuration(core.Duration(o.Every))
	}
	for i, h := range hist {
		row := backupRowOf(h)
		row.Number = len(hist) - i
		if i == 0 && !row.OK {
			v.Failed = &row
		}
		if i < 20 {
			v.History = append(v.History, row)
		}
	}
	return v
}

func backupRowOf(h store.BackupRecord) backupRow {
	return backupRow{Time: h.Time, File: h.File, Size: fmtBytes(h.Size), OK: h.Result == "ok", Error: h.Error, Actor: h.Actor}
}

// fmtBytes writes n bytes as B, KiB, MiB or GiB.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/unit, 0
	for f >= unit && i < 2 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMG"[i])
}

// handleBackupNow is the settings page's "Back up now" button.
func (s accessUI) handleBackupNow(w http.ResponseWriter, r *http.Request, c *caller) {
	rec, err := s.core.Backups.Create(c)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderSettings(w, r, c, status, msg, nil)
		return
	}
	s.done(w, r, c, "/admin/settings#backups-title", fmt.Sprintf("Backup %s written (%s).", rec.File, fmtBytes(rec.Size)))
}
