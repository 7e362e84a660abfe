package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// Backup writes a full, consistent online backup of the database to w and
// returns the Badger version (read timestamp) it was taken at (0 on
// PostgreSQL). The format is Badger's on both engines, so a backup restores
// into either (see Restore). Pending
// session last-activity times and API-key use are flushed first so they
// are in it.
//
// The backup holds every record: users, groups, roles, app access rules,
// settings, sessions, one-time tokens, second factors (MFA), external
// identities, API keys, app passwords and the audit log. Secrets in it
// are exactly as at rest: passwords, backup codes, tokens, API keys and
// app passwords hashed, TOTP secrets encrypted under the server key. That
// key (the file secret.key in the storage directory, beside the database)
// is not in the backup: back it up separately, or TOTP secrets, API keys
// and app passwords stop working after a restore. Treat the backup itself as sensitive: it lets anyone holding it
// attack the hashes offline.
//
// Store methods keep working while the backup is written; Close waits for
// it to finish.
func (s *Store) Backup(w io.Writer) (uint64, error) {
	if err := s.Flush(); err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	if err := s.enter(); err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	defer s.leave()
	var v uint64
	var err error
	switch db := s.db.(type) {
	case badgerKV:
		v, err = db.db.Backup(w, 0)
	case *pgKV:
		err = db.backup(w)
	default:
		err = errors.New("not supported on this storage engine")
	}
	if err != nil {
		return 0, fmt.Errorf("store: backup %s: %w", s.dir, err)
	}
	return v, nil
}

// Restore loads a backup written by Store.Backup into dir, which must be
// empty or missing (it is created, mode 0700), or into the PostgreSQL
// database dir names (postgres://…), which must hold no records (its
// schema is created as by Open), and checks that the result
// is a Gatehouse database this binary can open. Nothing may have dir open
// meanwhile: restore while Gatehouse is stopped. When Restore fails after
// starting to write, it removes what it wrote, leaving dir empty (or
// missing, if it was). The server key (secret.key) must be copied into
// the storage directory separately; see Store.Backup.
func Restore(dir string, r io.Reader) (err error) {
	if dir == "" {
		return errors.New("store: restore: empty directory")
	}
	if IsPostgresURL(dir) {
		return restorePostgres(dir, r)
	}
	created, err := prepareRestoreDir(dir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			cleanRestoreDir(dir, created)
		}
	}()
	db, err := badger.Open(badgerOptions(dir, slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("store: restore into %s: %w", dir, err)
	}
	if err := load(db, r); err != nil {
		db.Close()
		return fmt.Errorf("store: restore into %s: load backup: %w", dir, err)
	}
	if err := checkRestoredSchema(badgerKV{db}); err != nil {
		db.Close()
		return fmt.Errorf("store: restore into %s: %w", dir, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("store: restore into %s: close: %w", dir, err)
	}
	return nil
}

// maxBackupFrame bounds one length-prefixed batch of a backup stream.
// Badger writes batches of about 100 MiB at most; a larger length means a
// corrupt or foreign file, which Load would otherwise try to allocate.
const maxBackupFrame = 1 << 30

// load runs db.Load over r, checking the stream's framing as it goes and
// turning a panic of Load on malformed input into an error.
func load(db *badger.DB, r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed backup: %v", p)
		}
	}()
	return db.Load(&frameChecker{r: r}, 256)
}

// frameChecker passes a backup stream through, failing when a batch
// length (a little-endian uint64 before each batch) exceeds
// maxBackupFrame.
type frameChecker struct {
	r    io.Reader
	hdr  [8]byte
	nhdr int    // header bytes seen of the current frame
	left uint64 // body bytes left in the current frame
}

func (f *frameChecker) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	for b := p[:n]; len(b) > 0; {
		if f.left > 0 {
			k := min(uint64(len(b)), f.left)
			f.left -= k
			b = b[k:]
			continue
		}
		k := copy(f.hdr[f.nhdr:], b)
		f.nhdr += k
		b = b[k:]
		if f.nhdr == len(f.hdr) {
			f.nhdr = 0
			f.left = binary.LittleEndian.Uint64(f.hdr[:])
			if f.left > maxBackupFrame {
				return 0, fmt.Errorf("malformed backup: batch of %d bytes", f.left)
			}
		}
	}
	if errors.Is(err, io.EOF) && (f.nhdr != 0 || f.left != 0) {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// prepareRestoreDir makes sure dir exists and is empty, reporting whether
// it had to create it.
func prepareRestoreDir(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("store: restore into %s: %w", dir, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("store: restore into %s: %w", dir, err)
	case len(entries) > 0:
		return false, fmt.Errorf("store: restore into %s: directory is not empty (restore only into an empty or new directory)", dir)
	}
	return false, nil
}

// cleanRestoreDir undoes a failed restore: it removes dir when Restore
// created it, else everything in it (it was empty before).
func cleanRestoreDir(dir string, created bool) {
	if created {
		_ = os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// checkRestoredSchema checks, without writing, that db holds a schema
// version this binary supports.
func checkRestoredSchema(db kvDB) error {
	return db.View(func(txn kvTxn) error {
		item, err := txn.Get(keySchema)
		if errors.Is(err, errKeyNotFound) {
			return errors.New("no schema version: not a Gatehouse backup")
		}
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if len(v) != 1 || v[0] > schemaVersion {
			return fmt.Errorf("unsupported schema version %v (this binary supports %d)", v, schemaVersion)
		}
		return nil
	})
}
