package store

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The session index holds, for every live session, what the request path
// needs to authenticate it: its user, expiry, idle timeout, latest activity
// and flags, in about a hundred bytes with no pointers (the garbage
// collector never scans it). Once built, a lookup never reads Badger: an id
// that is not in the index is not a live session. That is what lets a
// gateway holding a million sessions answer requests spread over all of
// them at the speed of a cache hit.
//
// It is built in the background when the store opens, by a scan of the
// session records (buildSessionIndex); until the scan is complete, a lookup
// that misses reads Badger and adds what it found. Every write of session
// records (create, delete, delete all of a user's) changes the index right
// after its commit, with Store.sessMu held across both, so the index always
// reflects the committed sessions. A deletion while the index is incomplete
// leaves a tombstone, so a scan or a lookup that read the record before the
// deletion cannot add it back.

// slotChunk is how many slots are allocated at once. Slots never move (a
// lookup may be updating one atomically), so the index grows by chunks.
const slotChunk = 4096

// Slot flags (immutable for a slot's life).
const (
	slotUsed = 1 << iota
	slotRemember
	slotSecondFactor
	// slotImpersonation: ImpersonatorID or ActorSession is set; the
	// request path then reads the full record.
	slotImpersonation
)

// sessionSlot is one live session in the index: 80 bytes, no pointers.
type sessionSlot struct {
	id        SessionID
	lastSeen  atomic.Int64 // latest activity, unix ns
	savedSeen atomic.Int64 // activity last written to Badger, unix ns
	expires   int64        // ExpiresAt, unix ns
	idle      int64        // IdleTimeout
	user      uint32       // index into sessionIndex.users
	flags     uint32
	dirty     atomic.Bool // lastSeen not yet written to Badger
}

// due reports whether the slot's activity moved far enough since it was
// last written to be worth writing (see maxSeenGranularity).
func (sl *sessionSlot) due() bool {
	g := maxSeenGranularity
	if idle := time.Duration(sl.idle); idle > 0 && idle/10 < g {
		g = idle / 10
	}
	return time.Duration(sl.lastSeen.Load()-sl.savedSeen.Load()) >= g
}

// expired is Session.Expired on a slot, with now in unix ns.
func (sl *sessionSlot) expired(now int64) bool {
	return now >= sl.expires || (sl.idle > 0 && now-sl.lastSeen.Load() >= sl.idle)
}

// sessionIndex is the index: slots in chunks, found through an
// open-addressing hash table (linear probing) of slot numbers; both live
// outside the Go heap (offHeap). At a million sessions that is about 80 MB
// of slots and 16 MB of table, where a Go map of the same would take about
// twice as much and, being on the heap, let the collector leave as much
// again of garbage around.
//
// Each cell of the table keeps the top 32 bits of its id's hash next to the
// slot number, so a probe reads a slot only when the hash matches, and
// growing the table or shifting cells back after a removal never reads a
// slot. Growing from 1M to 2M cells (at 768k sessions) stalls lookups for
// ~7 ms on a 2-vCPU virtual machine; it was ~53 ms, mostly page faults on
// the new table (see offHeap) and a cache miss in the slots per cell.
//
// Lookups and touches take mu for reading; insertions and removals take
// it for writing (a slot is only freed and reused, and the table only
// rebuilt, under the write lock, so a reader never sees another session's
// slot).
type sessionIndex struct {
	mu        sync.RWMutex
	table     []uint64 // cells by hash position (see cell); 0 is empty
	freeTable func()
	count     int // sessions in the table
	chunks    [][]sessionSlot
	freeChunk []func()
	free      []uint32 // freed slot numbers
	next      uint32   // slots ever handed out
	closed    bool     // released: every lookup misses
	// users interns user ids: a slot holds an index into users.
	users   []string
	userRef map[string]uint32
	// complete is set once every live session is in the table. It
	// changes only under mu.
	complete atomic.Bool
	// tombstones are the ids removed while the index is incomplete.
	tombstones map[SessionID]struct{}
	// epoch numbers the builds; a build adds records only while its
	// epoch is current.
	epoch uint64
}

// minTable is the table's initial size (a power of two).
const minTable = 1024

func newSessionIndex() *sessionIndex {
	ix := &sessionIndex{
		userRef:    make(map[string]uint32),
		tombstones: make(map[SessionID]struct{}),
	}
	ix.table, ix.freeTable = offHeap[uint64](minTable)
	return ix
}

// release unmaps the index's memory; afterwards every lookup misses and
// nothing is added. Store.Close calls it.
func (ix *sessionIndex) release() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return
	}
	ix.closed = true
	ix.freeTable()
	for _, f := range ix.freeChunk {
		f()
	}
	ix.table, ix.chunks, ix.freeChunk, ix.free, ix.count = nil, nil, nil, nil, 0
}

// get returns the indexed facts of id. It does not allocate.
func (ix *sessionIndex) get(id SessionID) (a SessionAuth, ok bool) {
	ix.mu.RLock()
	if _, n, found := ix.find(&id); found {
		a, ok = ix.authOf(ix.slot(n)), true
	}
	ix.mu.RUnlock()
	return a, ok
}

// authOf reads a slot; the caller holds mu.
func (ix *sessionIndex) authOf(sl *sessionSlot) SessionAuth {
	return SessionAuth{
		ID:            sl.id,
		UserID:        ix.users[sl.user],
		LastSeen:      time.Unix(0, sl.lastSeen.Load()),
		ExpiresAt:     time.Unix(0, sl.expires),
		IdleTimeout:   time.Duration(sl.idle),
		Remember:      sl.flags&slotRemember != 0,
		SecondFactor:  sl.flags&slotSecondFactor != 0,
		Impersonation: sl.flags&slotImpersonation != 0,
	}
}

// lastSeen returns the indexed activity of id in unix ns, or 0.
func (ix *sessionIndex) lastSeen(id SessionID) int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if _, n, ok := ix.find(&id); ok {
		return ix.slot(n).lastSeen.Load()
	}
	return 0
}

// touch moves the activity of id forward to t (unix ns) and marks it
// dirty. It does not allocate.
func (ix *sessionIndex) touch(id SessionID, t int64) {
	ix.mu.RLock()
	if _, n, ok := ix.find(&id); ok {
		sl := ix.slot(n)
		for {
			old := sl.lastSeen.Load()
			if t <= old {
				break
			}
			if sl.lastSeen.CompareAndSwap(old, t) {
				if !sl.dirty.Load() {
					sl.dirty.Store(true)
				}
				break
			}
		}
	}
	ix.mu.RUnlock()
}

// seenElsewhere moves the activity of id forward to t (unix ns), written
// back by another node: what is saved too, so this node does not write it
// again.
func (ix *sessionIndex) seenElsewhere(id SessionID, t int64) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if _, n, ok := ix.find(&id); ok {
		sl := ix.slot(n)
		for _, v := range []*atomic.Int64{&sl.lastSeen, &sl.savedSeen} {
			for {
				old := v.Load()
				if t <= old || v.CompareAndSwap(old, t) {
					break
				}
			}
		}
	}
}

// add indexes a session just committed (CreateSession). The caller holds
// Store.sessMu.
func (ix *sessionIndex) add(sess *Session) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.insert(sess)
}

// fill indexes a session read from Badger unless it is already indexed or
// was removed since: for a build (epoch > 0) only while that build is
// current, for a lookup (epoch 0) only while the index is incomplete (once
// complete, the build has indexed every live session). It reports whether
// the session was added.
func (ix *sessionIndex) fill(sess *Session, epoch uint64) bool {
	added, _ := ix.fillMany([]Session{*sess}, epoch)
	return added == 1
}

// fillMany is fill for a batch read by a build, under one lock. stale
// reports that epoch is no longer the current build (nothing was added).
func (ix *sessionIndex) fillMany(list []Session, epoch uint64) (added int, stale bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if epoch != 0 && epoch != ix.epoch {
		return 0, true
	}
	if ix.complete.Load() {
		return 0, false
	}
	for i := range list {
		sess := &list[i]
		if _, ok := ix.tombstones[sess.ID]; ok {
			continue
		}
		if _, _, ok := ix.find(&sess.ID); ok {
			continue
		}
		ix.insert(sess)
		added++
	}
	return added, false
}

// remove drops ids, leaving tombstones while the index is incomplete. The
// caller holds Store.sessMu.
func (ix *sessionIndex) remove(ids ...SessionID) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, id := range ids {
		ix.drop(id)
		if !ix.complete.Load() {
			ix.tombstones[id] = struct{}{}
		}
	}
}

// startBuild begins a (re)build: the index is incomplete until
// finishBuild(epoch) with the epoch returned.
func (ix *sessionIndex) startBuild() uint64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.epoch++
	ix.complete.Store(false)
	if ix.tombstones == nil {
		ix.tombstones = make(map[SessionID]struct{})
	}
	return ix.epoch
}

// reset empties the index and begins a rebuild (see startBuild), for a
// node that may have missed deletions. The caller holds Store.sessMu.
func (ix *sessionIndex) reset() uint64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i, c := range ix.chunks {
		n := min(int(ix.next)-i*slotChunk, len(c))
		for j := range n {
			if c[j].flags&slotUsed != 0 {
				ix.drop(c[j].id)
			}
		}
	}
	ix.epoch++
	ix.complete.Store(false)
	ix.tombstones = make(map[SessionID]struct{})
	return ix.epoch
}

// finishBuild marks the index complete if epoch is still the current build.
func (ix *sessionIndex) finishBuild(epoch uint64) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if epoch != ix.epoch {
		return false
	}
	ix.complete.Store(true)
	ix.tombstones = nil
	return true
}

// seenWrite is a session's activity to write back.
type seenWrite struct {
	id      SessionID
	seen    int64 // unix ns
	expires int64 // unix ns, for the record's TTL
}

// sweep walks the index once: it returns the activity to write (every
// dirty slot when all is set, else those due), clearing their dirty flag,
// and removes the slots expired at now (their records expire in Badger by
// TTL or by their idle timeout, which a lookup enforces anyway).
func (ix *sessionIndex) sweep(all bool, now int64) []seenWrite {
	var out []seenWrite
	var expired []SessionID
	ix.eachSlot(func(sl *sessionSlot) {
		if sl.expired(now) {
			expired = append(expired, sl.id)
			return
		}
		if !sl.dirty.Load() || (!all && !sl.due()) {
			return
		}
		if sl.dirty.Swap(false) {
			out = append(out, seenWrite{id: sl.id, seen: sl.lastSeen.Load(), expires: sl.expires})
		}
	})
	for part := range slices.Chunk(expired, slotChunk) {
		ix.mu.Lock()
		for _, id := range part {
			if _, n, ok := ix.find(&id); ok && ix.slot(n).expired(now) {
				ix.drop(id)
			}
		}
		ix.mu.Unlock()
	}
	return out
}

// eachSlot calls f for every slot in use, holding mu for reading over one
// chunk of slots at a time: a walk of a million sessions (the flusher's,
// every few seconds) never keeps a writer, and the lookups queued behind
// it, waiting for more than one chunk.
func (ix *sessionIndex) eachSlot(f func(*sessionSlot)) {
	for i := 0; ; i++ {
		ix.mu.RLock()
		if i >= len(ix.chunks) {
			ix.mu.RUnlock()
			return
		}
		c := ix.chunks[i]
		n := min(int(ix.next)-i*slotChunk, len(c))
		for j := range n {
			if c[j].flags&slotUsed != 0 {
				f(&c[j])
			}
		}
		ix.mu.RUnlock()
	}
}

// written notes that ws reached Badger; failed marks them dirty again. It
// too releases mu between chunks.
func (ix *sessionIndex) written(ws []seenWrite, ok bool) {
	for part := range slices.Chunk(ws, slotChunk) {
		ix.mu.RLock()
		for _, w := range part {
			_, n, found := ix.find(&w.id)
			if !found {
				continue
			}
			sl := ix.slot(n)
			if ok {
				if w.seen > sl.savedSeen.Load() {
					sl.savedSeen.Store(w.seen)
				}
			} else {
				sl.dirty.Store(true)
			}
		}
		ix.mu.RUnlock()
	}
}

// active returns the indexed sessions active at or after since (unix ns)
// and not expired at now, at most limit of them, most recent first.
func (ix *sessionIndex) active(since, now int64, limit int) []SessionAuth {
	var out []SessionAuth
	ix.eachSlot(func(sl *sessionSlot) {
		if sl.lastSeen.Load() >= since && !sl.expired(now) {
			out = append(out, ix.authOf(sl))
		}
	})
	sortByActivity(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// len returns how many sessions are indexed.
func (ix *sessionIndex) len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.count
}
