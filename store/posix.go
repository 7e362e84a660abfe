package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// POSIX ids. When they are on (SetPosixIDs), every user and group gets a
// number from one range and one counter (meta/posix-next), which only ever
// goes up: a number is handed out once, kept for the record's life
// (UpdateUser and RenameGroup keep it) and never given again, even after
// the record is deleted, so a file a deleted user owned never passes to
// a new one. Users and groups share the counter, so a user's uid is no
// group's gid: it serves as the gid of the user's private group (the
// Debian scheme, which gives every file a group only its owner is in).
//
// When the range is used up, new users and groups get no number (0): they
// keep working everywhere but on Linux hosts, and each one is logged. A
// wider range (a higher end) serves them again from the next start.

// posixRange is the configured range, both ends included.
type posixRange struct{ lo, hi uint32 }

// ErrPosixRange is a bad POSIX id range.
var ErrPosixRange = errors.New("store: bad POSIX id range")

// SetPosixIDs turns POSIX ids on with the range lo-hi (both included), or
// off when both are 0, and gives every user and group without one a
// number: a one-time backfill (creation hands them out from then on), in
// transactions of backfillChunk records, users first, in key order.
func (s *Store) SetPosixIDs(lo, hi uint32) error {
	if lo == 0 && hi == 0 {
		s.posix.Store(nil)
		return nil
	}
	if lo == 0 || hi < lo {
		return fmt.Errorf("%w: %d-%d", ErrPosixRange, lo, hi)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.ensureDirectory(); err != nil {
		return fmt.Errorf("store: posix ids: %w", err)
	}
	r := &posixRange{lo: lo, hi: hi}
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	s.posixMu.Lock()
	defer s.posixMu.Unlock()
	s.posix.Store(r)
	var users, groups [][]byte
	err := s.db.View(func(txn kvTxn) error {
		err := scan(txn, []byte(prefixUser), func(k, v []byte) error {
			var u User
			if err := decode(v, &u); err != nil {
				return err
			}
			if u.UIDNumber == 0 {
				users = append(users, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return scan(txn, []byte(prefixGroup), func(k, v []byte) error {
			var g Group
			if err := decode(v, &g); err != nil {
				return err
			}
			if g.GIDNumber == 0 {
				groups = append(groups, slices.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("store: posix ids: backfill: %w", err)
	}
	for len(users)+len(groups) > 0 {
		n := min(len(users), backfillChunk)
		uk := users[:n]
		gk := groups[:min(len(groups), backfillChunk-n)]
		users, groups = users[n:], groups[len(gk):]
		if err := s.backfillPosix(r, uk, gk); err != nil {
			return fmt.Errorf("store: posix ids: backfill: %w", err)
		}
	}
	return nil
}

// backfillChunk is how many records one backfill transaction numbers.
const backfillChunk = 1000

// backfillPosix numbers the users and groups under the keys that still
// have no number, in one transaction, and updates memory. The caller
// holds userWriteMu and posixMu.
func (s *Store) backfillPosix(r *posixRange, userKeys, groupKeys [][]byte) error {
	var users []*User
	var groups []*Group
	err := s.updateSync(func(txn kvTxn) error {
		users, groups = nil, nil
		for _, k := range userKeys {
			u := new(User)
			if err := get(txn, k, u); errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if u.UIDNumber != 0 {
				continue
			}
			var err error
			if u.UIDNumber, err = s.nextPosixID(txn, r); err != nil {
				return err
			}
			u.seal()
			if err := put(txn, k, u); err != nil {
				return err
			}
			users = append(users, u)
		}
		for _, k := range groupKeys {
			g := new(Group)
			if err := get(txn, k, g); errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if g.GIDNumber != 0 {
				continue
			}
			var err error
			if g.GIDNumber, err = s.nextPosixID(txn, r); err != nil {
				return err
			}
			if err := put(txn, k, g); err != nil {
				return err
			}
			groups = append(groups, g)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, u := range users {
		s.users.replace(u)
		s.directory.put(u)
	}
	for _, g := range groups {
		s.directory.setGID(g.Name, g.GIDNumber)
	}
	return nil
}

// nextPosixID takes the next number of r in txn, or 0 when r is used up.
// The caller holds posixMu (Badger's conflict check would catch two
// writers anyway; the lock saves the retries).
func (s *Store) nextPosixID(txn kvTxn, r *posixRange) (uint32, error) {
	n := r.lo
	item, err := txn.Get(keyPosixNext)
	switch {
	case errors.Is(err, errKeyNotFound):
	case err != nil:
		return 0, err
	default:
		v, err := item.ValueCopy(nil)
		if err != nil {
			return 0, err
		}
		if len(v) != 8 {
			return 0, fmt.Errorf("posix counter of %d bytes", len(v))
		}
		if c := binary.BigEndian.Uint64(v); c > uint64(n) {
			if c > uint64(r.hi) {
				s.log.Warn("store: the POSIX id range is used up: a new user or group gets no uid/gid", "range", fmt.Sprintf("%d-%d", r.lo, r.hi))
				return 0, nil
			}
			n = uint32(c)
		}
	}
	if err := txn.Set(keyPosixNext, binary.BigEndian.AppendUint64(nil, uint64(n)+1)); err != nil {
		return 0, err
	}
	return n, nil
}

// PosixIDsOn reports whether POSIX ids are handed out.
func (s *Store) PosixIDsOn() bool { return s.posix.Load() != nil }

// GroupGID returns the gid of the group called name (any case) from
// memory, 0 when it has none.
func (s *Store) GroupGID(name string) uint32 {
	if err := s.enter(); err != nil {
		return 0
	}
	defer s.leave()
	if s.ensureDirectory() != nil {
		return 0
	}
	d := &s.directory
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.gids[strings.ToLower(name)]
}

// setGID records the gid of group name in memory.
func (d *directory) setGID(name string, gid uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gids == nil {
		d.gids = map[string]uint32{}
	}
	if gid == 0 {
		delete(d.gids, strings.ToLower(name))
		return
	}
	d.gids[strings.ToLower(name)] = gid
}
