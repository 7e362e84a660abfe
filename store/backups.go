package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// BackupRecord is one entry of the backup history: a backup taken (or
// tried) by the running server, from the schedule or on request.
type BackupRecord struct {
	// Time is when the backup started.
	Time time.Time `json:"time"`
	// File is the backup file's name (no directory); empty when the
	// attempt failed before naming one.
	File string `json:"file,omitempty"`
	// Size is the file's size in bytes (0 on failure).
	Size int64 `json:"size"`
	// Result is "ok" or "failed".
	Result string `json:"result"`
	// Error says why a failed backup failed.
	Error string `json:"error,omitempty"`
	// Actor is who asked for it: a username, or "schedule".
	Actor string `json:"actor"`
}

// BackupLog keeps, in a Store, the backup history and the leases that
// let one node of several take the scheduled backups.
type BackupLog struct{ s *Store }

// NewBackupLog returns the backup log kept in s.
func NewBackupLog(s *Store) BackupLog { return BackupLog{s} }

// MaxBackupHistory bounds the backup history: older entries are dropped.
const MaxBackupHistory = 50

var keyBackupHistory = []byte(prefixMeta + "backup-history")

// AddBackupRecord appends r to the backup history, keeping the newest
// MaxBackupHistory entries. Durable when it returns.
func (l BackupLog) AddBackupRecord(r BackupRecord) error {
	s := l.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.updateSync(func(txn kvTxn) error {
		var hist []BackupRecord
		if err := get(txn, keyBackupHistory, &hist); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		hist = append(hist, r)
		if len(hist) > MaxBackupHistory {
			hist = hist[len(hist)-MaxBackupHistory:]
		}
		return put(txn, keyBackupHistory, hist)
	})
	if err != nil {
		return fmt.Errorf("store: add backup record: %w", err)
	}
	return nil
}

// BackupHistory returns the backup history, newest first.
func (l BackupLog) BackupHistory() ([]BackupRecord, error) {
	s := l.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var hist []BackupRecord
	err := s.db.View(func(txn kvTxn) error { return get(txn, keyBackupHistory, &hist) })
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store: backup history: %w", err)
	}
	for i, j := 0, len(hist)-1; i < j; i, j = i+1, j-1 {
		hist[i], hist[j] = hist[j], hist[i]
	}
	return hist, nil
}

// lease is a named lease record: Holder has it until Until.
type lease struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

func leaseKey(name string) []byte { return cat(prefixMeta, "lease/", name) }

// TakeLease gives the lease called name to holder for ttl when nobody
// else holds it (no record, or an expired one), in one transaction, and
// reports whether holder has it now. On PostgreSQL several nodes share
// the store and the transaction is serialisable, so of nodes racing for
// an expired lease exactly one wins; the others see false. A holder that
// takes its own live lease again extends it.
func (l BackupLog) TakeLease(name, holder string, ttl time.Duration) (bool, error) {
	s := l.s
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	if name == "" || holder == "" || ttl <= 0 {
		return false, fmt.Errorf("store: take lease %q: empty name or holder, or no ttl", name)
	}
	won := false
	err := s.updateSync(func(txn kvTxn) error {
		won = false
		now := s.now()
		var l lease
		err := get(txn, leaseKey(name), &l)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err == nil && l.Holder != holder && now.Before(l.Until) {
			return nil
		}
		won = true
		return put(txn, leaseKey(name), lease{Holder: holder, Until: now.Add(ttl)})
	})
	if err != nil {
		return false, fmt.Errorf("store: take lease %q: %w", name, err)
	}
	return won, nil
}

// VerifyBackup reads a backup stream (as Backup writes it) through to its
// end, checking its framing, decoding every batch and checking that it
// holds a schema version this binary supports, as Restore would, without
// writing anything. It returns the number of records read.
func VerifyBackup(r io.Reader) (int, error) {
	fr := &frameChecker{r: r}
	var buf []byte
	n, schemaOK := 0, false
	for {
		var size uint64
		err := binary.Read(fr, binary.LittleEndian, &size)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("store: verify backup: %w", err)
		}
		if uint64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		if _, err := io.ReadFull(fr, buf[:size]); err != nil {
			return n, fmt.Errorf("store: verify backup: %w", err)
		}
		list := &pb.KVList{}
		if err := proto.Unmarshal(buf[:size], list); err != nil {
			return n, fmt.Errorf("store: verify backup: malformed backup: %w", err)
		}
		for _, kv := range list.Kv {
			if kv.StreamDone {
				continue
			}
			n++
			if string(kv.Key) == string(keySchema) {
				if len(kv.Value) != 1 || kv.Value[0] > schemaVersion {
					return n, fmt.Errorf("store: verify backup: unsupported schema version %v (this binary supports %d)", kv.Value, schemaVersion)
				}
				schemaOK = true
			}
		}
	}
	if !schemaOK {
		return n, errors.New("store: verify backup: no schema version: not a Gatehouse backup")
	}
	return n, nil
}
