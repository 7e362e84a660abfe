package store

import (
	"bytes"
	"errors"
	"time"
)

// indexChunk is how many session records the index build reads per
// transaction (and per hold of the store open, so Close never waits long).
const indexChunk = 20_000

// indexBatch is how many sessions the build adds to the index per lock.
const indexBatch = 1024

// rebuildSessionIndex starts a build of the session index in the
// background; until it completes, lookups that miss read Badger.
func (s *Store) rebuildSessionIndex() {
	epoch := s.index.startBuild()
	go s.buildSessionIndex(epoch)
}

// buildSessionIndex indexes every live session record, chunk by chunk, and
// marks the index complete, unless the store closes or a newer build
// starts first. After a failure it logs and starts over a little later;
// meanwhile the index is incomplete, which is correct, only slower.
func (s *Store) buildSessionIndex(epoch uint64) {
	for {
		err := s.indexAllSessions(epoch)
		if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, errStaleBuild) {
			return
		}
		s.log.Error("store: build the session index; lookups read the disk until it is built", "error", err, "retry_in", buildRetry)
		select {
		case <-s.stop:
			return
		case <-time.After(buildRetry):
		}
	}
}

// buildRetry is how long a failed index build waits before starting over.
const buildRetry = 10 * time.Second

// indexAllSessions is one attempt of buildSessionIndex.
func (s *Store) indexAllSessions(epoch uint64) error {
	start := time.Now()
	from, total := []byte(prefixSession), 0
	for from != nil {
		var added int
		var err error
		from, added, err = s.indexSessionChunk(epoch, from)
		total += added
		if err != nil {
			return err
		}
	}
	if s.index.finishBuild(epoch) {
		s.log.Info("store: session index built", "sessions", total, "took", time.Since(start).Round(time.Millisecond).String())
	}
	return nil
}

// errStaleBuild stops a build that a newer one replaced.
var errStaleBuild = errors.New("a newer build started")

// indexSessionChunk indexes up to indexChunk session records from the key
// from on, and returns the key to continue from (nil at the end).
func (s *Store) indexSessionChunk(epoch uint64, from []byte) (next []byte, added int, err error) {
	if err := s.enter(); err != nil {
		return nil, 0, err
	}
	defer s.leave()
	now := s.now()
	batch := make([]Session, 0, indexBatch)
	// flush hands the batch to the index under one lock.
	flush := func() error {
		n, stale := s.index.fillMany(batch, epoch)
		added += n
		batch = batch[:0]
		if stale {
			return errStaleBuild
		}
		return nil
	}
	err = s.db.View(func(txn kvTxn) error {
		opts := defaultIterOptions
		opts.Prefix = []byte(prefixSession)
		it := txn.NewIterator(opts)
		defer it.Close()
		seenOpts := defaultIterOptions
		seenOpts.Prefix = []byte(prefixSeen)
		seen := txn.NewIterator(seenOpts)
		defer seen.Close()
		seen.Seek(seenKeyOf(from))
		n := 0
		for it.Seek(from); it.Valid(); it.Next() {
			item := it.Item()
			if n == indexChunk {
				next = item.KeyCopy(nil)
				break
			}
			n++
			id, ok := sessionIDFromKey(item.Key())
			if !ok {
				continue
			}
			sess := Session{ID: id}
			if err := item.Value(func(b []byte) error { return decode(b, &sess) }); err != nil {
				s.log.Error("store: unreadable session record skipped", "session", id.String(), "error", err)
				continue
			}
			// Both iterators walk ids in order: bring seen up to id.
			for seen.Valid() && bytes.Compare(seen.Item().Key()[len(prefixSeen):], id[:]) < 0 {
				seen.Next()
			}
			if seen.Valid() && bytes.Equal(seen.Item().Key()[len(prefixSeen):], id[:]) {
				if err := seen.Item().Value(func(b []byte) error { mergeSeen(&sess, b); return nil }); err != nil {
					return err
				}
			}
			if sess.Expired(now) {
				continue
			}
			if batch = append(batch, sess); len(batch) == indexBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	return next, added, err
}
