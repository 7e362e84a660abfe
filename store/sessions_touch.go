package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// TouchSession records activity on session id at t, in memory only: an
// atomic update of the indexed session, no allocation, no disk I/O. The
// flusher writes it to Badger (see maxSeenGranularity) and Close writes
// all of it. It does nothing if the session is not indexed, if t is older
// than the recorded activity, or after Close.
func (s *Store) TouchSession(id SessionID, t time.Time) {
	if s.closed.Load() {
		return
	}
	s.index.touch(id, t.UnixNano())
}

// The flusher writes a session's last activity back only once it has moved
// by its write granularity since the last write: a tenth of the idle
// timeout, at most maxSeenGranularity, and maxSeenGranularity for sessions
// without an idle timeout (for them it is only shown, never enforced). So
// idle timeouts hold to within a tenth even across restarts, and a busy
// session costs one small write per granularity, not one per flush. Close
// and Flush write everything.
const maxSeenGranularity = 15 * time.Minute

// Flush writes all pending last-activity times to Badger now (without
// fsync).
func (s *Store) Flush() error {
	return s.flushLocked(true)
}

func (s *Store) flushLocked(all bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.flush(all); err != nil {
		return fmt.Errorf("store: flush last activity: %w", err)
	}
	return nil
}

// flush writes the activity of the indexed sessions: all of it, or (for the
// periodic flush) where it moved by at least its write granularity; and
// drops expired sessions from the index. The caller holds enter (or life's
// write lock).
func (s *Store) flush(all bool) error {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if err := s.flushAPIKeys(); err != nil {
		return err
	}
	if err := s.flushAppPasswords(); err != nil {
		return err
	}
	ws := s.index.sweep(all, s.now().UnixNano())
	if len(ws) == 0 {
		return nil
	}
	err := s.writeLastSeen(ws)
	s.index.written(ws, err == nil)
	return err
}

// writeLastSeen writes activity times in one unsynced batch, each under its
// own small key (seen/<id>, 8 bytes) with the session's remaining TTL: no
// read and no rewrite of the session record. readSession and the index
// build take the later of the record's LastSeen and this. The caller holds
// sessMu, so no deletion runs meanwhile.
func (s *Store) writeLastSeen(ws []seenWrite) error {
	now := s.now()
	wb := s.db.NewWriteBatch()
	for _, w := range ws {
		ttl := ttlFor(time.Unix(0, w.expires), now)
		if ttl == 0 {
			continue
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(w.seen))
		if err := wb.SetTTL(seenKey(w.id), v, ttl); err != nil {
			wb.Cancel()
			return err
		}
	}
	return wb.Flush()
}

// mergeSeen moves sess.LastSeen forward to a written-back activity b (8
// bytes, unix ns, big endian); anything else is ignored.
func mergeSeen(sess *Session, b []byte) {
	if len(b) != 8 {
		return
	}
	n := int64(binary.BigEndian.Uint64(b))
	if sess.LastSeen.IsZero() || n > sess.LastSeen.UnixNano() {
		sess.LastSeen = time.Unix(0, n)
	}
}

// flusher writes last-activity times every interval until Close.
func (s *Store) flusher(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.flushLocked(false); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Error("store: periodic flush", "error", err)
			}
		}
	}
}
