package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// BackupOptions configures the backups the server writes itself: on a
// schedule and when an owner asks ("Back up now", POST /api/v1/backups).
type BackupOptions struct {
	// Dir is the directory backups are written to (mode 0600 files named
	// gatehouse-<UTC time>.backup). It is created (mode 0700) when its
	// parent exists. Empty: the server writes no backups.
	Dir string
	// Every is the schedule: a backup is taken when the last scheduled
	// one is this old. 0: no schedule, only backups on request.
	Every time.Duration
	// Keep is how many backups are kept in Dir; older ones (only files
	// named as above) are removed after each successful backup. Default:
	// DefaultBackupKeep.
	Keep int
}

// DefaultBackupKeep is how many backups are kept when Keep is 0.
const DefaultBackupKeep = 14

// BackupActorSchedule is the actor named in the history and the audit
// log for a backup the schedule took.
const BackupActorSchedule = "schedule"

// BackupResult is the event of one backup attempt, passed to
// Options.OnBackup (e.g. to count backups and failures in metrics).
type BackupResult struct {
	// Record is what the history keeps of the attempt.
	Record store.BackupRecord
	// Err is why it failed; nil on success.
	Err error
	// Duration is how long the attempt took.
	Duration time.Duration
}

// Backups is the part of the core that writes backups to Backup.Dir.
type Backups struct{ *Core }

// backupState is the core's backup configuration and counters.
type backupState struct {
	opts     BackupOptions
	onBackup func(BackupResult)
	ok, fail atomic.Uint64
}

// backupMu serialises the backups of the process: a reload runs the new
// config's schedule while the old one stops, and both must not write at
// once.
var backupMu sync.Mutex

// backupNode names this process as the holder of the schedule's lease.
var backupNode = func() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}()

// backupName matches the names of the backups we write; only such files
// are ever pruned.
var backupName = regexp.MustCompile(`^gatehouse-\d{8}T\d{6}\.\d{3}Z\.backup$`)

// ErrBackupsOff is returned (wrapped in ErrConflict) when no backup
// directory is configured.
var ErrBackupsOff = errors.New("backups are off: add a backup block with dir (backup { dir /var/backups/gatehouse }) to the gatehouse global options")

// Enabled reports whether a backup directory is configured.
func (b *Backups) Enabled() bool { return b.backup.opts.Dir != "" }

// Options returns the backup configuration.
func (b *Backups) Options() BackupOptions { return b.backup.opts }

// Counts returns how many backups succeeded and failed since start.
func (b *Backups) Counts() (ok, failed uint64) { return b.backup.ok.Load(), b.backup.fail.Load() }

// mayBackup: only an owner acting as themselves (an owner's session or
// API key, never an impersonation) takes backups or reads their history.
func mayBackup(c *Actor) error {
	if c == nil || c.User == nil || c.User.Role != policies.RoleOwner || c.Impersonating() {
		return fmt.Errorf("%w: only owners can take backups or see their history", ErrForbidden)
	}
	return nil
}

// Create writes a backup now, for an owner, and returns its record. A
// failed attempt is recorded in the history too.
func (b *Backups) Create(c *Actor) (store.BackupRecord, error) {
	if err := mayBackup(c); err != nil {
		return store.BackupRecord{}, err
	}
	if !b.Enabled() {
		return store.BackupRecord{}, fmt.Errorf("%w: %w", ErrConflict, ErrBackupsOff)
	}
	backupMu.Lock()
	defer backupMu.Unlock()
	rec, err := b.take(c, c.User.Username)
	if err != nil {
		return rec, &BackupError{Err: err}
	}
	return rec, nil
}

// BackupError is a backup that was tried and failed (the directory, the
// disk, the store): a server fault whose reason is shown to the owner who
// asked for it.
type BackupError struct{ Err error }

// Error says the backup failed, and why.
func (e *BackupError) Error() string { return "backup failed: " + e.Err.Error() }

// Unwrap returns the reason.
func (e *BackupError) Unwrap() error { return e.Err }

// History returns the backup history, newest first, for an owner.
func (b *Backups) History(c *Actor) ([]store.BackupRecord, error) {
	if err := mayBackup(c); err != nil {
		return nil, err
	}
	return store.NewBackupLog(b.store).BackupHistory()
}

// LastFailure returns the newest history entry when it is a failure,
// for the portal's banner; nil when the last backup succeeded or there
// is none.
func (b *Backups) LastFailure() *store.BackupRecord {
	hist, err := store.NewBackupLog(b.store).BackupHistory()
	if err != nil || len(hist) == 0 || hist[0].Result == "ok" {
		return nil
	}
	return &hist[0]
}

// RunSchedule takes a backup whenever the last scheduled one is Every
// old, until ctx ends; it returns at once without a directory or a
// schedule. With several nodes on one PostgreSQL store, a node takes a
// scheduled backup only while it holds the lease "backup" (store.BackupLog.TakeLease),
// so one node writes them.
func (b *Backups) RunSchedule(ctx context.Context) {
	every := b.backup.opts.Every
	if !b.Enabled() || every <= 0 {
		return
	}
	t := time.NewTicker(min(every, time.Minute))
	defer t.Stop()
	for {
		b.scheduled(every)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scheduled takes a scheduled backup when one is due and this node
// holds the lease.
func (b *Backups) scheduled(every time.Duration) {
	backupMu.Lock()
	defer backupMu.Unlock()
	hist, err := store.NewBackupLog(b.store).BackupHistory()
	if err != nil {
		b.log.Error("scheduled backup: cannot read the history", "error", err)
		return
	}
	i := slices.IndexFunc(hist, func(r store.BackupRecord) bool { return r.Actor == BackupActorSchedule })
	if i >= 0 && b.now().Sub(hist[i].Time) < every-every/20 {
		return // a tick's jitter must not skip a period
	}
	won, err := store.NewBackupLog(b.store).TakeLease("backup", backupNode, max(every, 10*time.Minute))
	if err != nil || !won {
		if err != nil {
			b.log.Error("scheduled backup: cannot take the lease", "error", err)
		}
		return
	}
	_, _ = b.take(b.SystemActor(BackupActorSchedule), BackupActorSchedule)
}

// take writes, verifies and records one backup, then prunes old ones.
func (b *Backups) take(c *Actor, who string) (store.BackupRecord, error) {
	start := b.now()
	rec := store.BackupRecord{Time: start.UTC(), Actor: who, Result: "ok"}
	name, size, err := b.write(start)
	rec.File, rec.Size = name, size
	if err == nil {
		err = b.prune()
	}
	if err != nil {
		rec.Result, rec.Error, rec.Size = "failed", err.Error(), 0
		b.backup.fail.Add(1)
		b.log.Error("backup failed", "dir", b.backup.opts.Dir, "actor", who, "error", err)
	} else {
		b.backup.ok.Add(1)
		b.log.Info("backup written", "file", filepath.Join(b.backup.opts.Dir, name), "size", size, "actor", who)
	}
	if herr := store.NewBackupLog(b.store).AddBackupRecord(rec); herr != nil {
		b.log.Error("backup: cannot record it in the history", "error", herr)
	}
	ev := store.Event{Actor: c.User.Username, Action: "backup.create", Resource: "backup:" + name, Outcome: "success"}
	if err != nil {
		ev.Outcome, ev.Reason = "failure", err.Error()
	}
	b.Audit(c, ev)
	b.metrics.Backup(ev.Outcome)
	if fn := b.backup.onBackup; fn != nil {
		fn(BackupResult{Record: rec, Err: err, Duration: b.now().Sub(start)})
	}
	return rec, err
}

// write writes a backup atomically into the directory (temporary file,
// fsync, rename, fsync of the directory), then reads it back through
// store.VerifyBackup. It returns the file's name and size.
func (b *Backups) write(at time.Time) (name string, size int64, err error) {
	dir := b.backup.opts.Dir
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", 0, fmt.Errorf("backup directory: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", 0, fmt.Errorf("backup directory %s is not a directory", dir)
	}
	name = "gatehouse-" + at.UTC().Format("20060102T150405.000Z") + ".backup"
	final := filepath.Join(dir, name)
	if _, err := os.Lstat(final); err == nil {
		return "", 0, fmt.Errorf("backup %s exists already", final)
	}
	f, err := os.CreateTemp(dir, ".gatehouse-*.tmp") // mode 0600
	if err != nil {
		return "", 0, fmt.Errorf("backup directory: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := b.store.Backup(f); err != nil {
		f.Close()
		return "", 0, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", 0, fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("write %s: %w", tmp, err)
	}
	if size, err = verifyBackupFile(tmp); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", 0, fmt.Errorf("backup: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return name, size, nil
}

// verifyBackupFile re-opens a written backup and reads it through.
func verifyBackupFile(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("verify backup: %w", err)
	}
	defer f.Close()
	if _, err := store.VerifyBackup(f); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("verify backup: %w", err)
	}
	return st.Size(), nil
}

// prune removes the oldest backups beyond Keep; only files whose names
// are those we write.
func (b *Backups) prune() error {
	keep := b.backup.opts.Keep
	if keep <= 0 {
		keep = DefaultBackupKeep
	}
	entries, err := os.ReadDir(b.backup.opts.Dir)
	if err != nil {
		return fmt.Errorf("prune old backups: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && backupName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // the names sort by time
	for len(names) > keep {
		if err := os.Remove(filepath.Join(b.backup.opts.Dir, names[0])); err != nil {
			return fmt.Errorf("prune old backups: %w", err)
		}
		names = names[1:]
	}
	return nil
}
