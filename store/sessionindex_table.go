package store

import (
	"encoding/binary"
	"math/bits"
	"strings"
)

func (ix *sessionIndex) slot(n uint32) *sessionSlot {
	return &ix.chunks[n/slotChunk][n%slotChunk]
}

// hashOf is the top 32 bits of id's hash: the id is a SHA-256, but
// callers' test ids are not, so its first bytes are mixed (Fibonacci
// hashing).
func hashOf(id *SessionID) uint32 {
	return uint32(binary.LittleEndian.Uint64(id[:8]) * 0x9e3779b97f4a7c15 >> 32)
}

// A cell of the table is the id's hash (hashOf) in the high 32 bits and the
// slot number + 1 in the low 32; 0 is an empty cell.
func cell(hash, n uint32) uint64 { return uint64(hash)<<32 | uint64(n+1) }

// cellHash and cellSlot take a non-empty cell apart.
func cellHash(c uint64) uint32 { return uint32(c >> 32) }
func cellSlot(c uint64) uint32 { return uint32(c) - 1 }

// home is the table position where a probe for a hash starts: its top
// bits (the table has at most 2^32 cells).
func (ix *sessionIndex) home(hash uint32) int {
	return int(hash >> (32 - bits.TrailingZeros(uint(len(ix.table)))))
}

// find returns the table position of id, or of the empty cell where it
// would go; the caller holds mu.
func (ix *sessionIndex) find(id *SessionID) (pos int, n uint32, found bool) {
	if len(ix.table) == 0 {
		return 0, 0, false
	}
	hash := hashOf(id)
	mask := len(ix.table) - 1
	for pos = ix.home(hash); ; pos = (pos + 1) & mask {
		c := ix.table[pos]
		if c == 0 {
			return pos, 0, false
		}
		if cellHash(c) == hash && ix.slot(cellSlot(c)).id == *id {
			return pos, cellSlot(c), true
		}
	}
}

// insert puts sess in a slot (its own if indexed already); the caller
// holds mu for writing.
func (ix *sessionIndex) insert(sess *Session) {
	if ix.closed {
		return
	}
	if (ix.count+1)*4 > len(ix.table)*3 {
		ix.grow()
	}
	pos, n, found := ix.find(&sess.ID)
	if !found {
		if k := len(ix.free); k > 0 {
			n, ix.free = ix.free[k-1], ix.free[:k-1]
		} else {
			if ix.next%slotChunk == 0 {
				c, free := offHeap[sessionSlot](slotChunk)
				ix.chunks = append(ix.chunks, c)
				ix.freeChunk = append(ix.freeChunk, free)
			}
			n = ix.next
			ix.next++
		}
		ix.table[pos] = cell(hashOf(&sess.ID), n)
		ix.count++
	}
	sl := ix.slot(n)
	sl.id = sess.ID
	sl.expires = sess.ExpiresAt.UnixNano()
	sl.idle = int64(sess.IdleTimeout)
	sl.user = ix.userIndex(sess.UserID)
	sl.flags = slotUsed
	if sess.Remember {
		sl.flags |= slotRemember
	}
	if sess.SecondFactor {
		sl.flags |= slotSecondFactor
	}
	if sess.ImpersonatorID != "" || sess.ActorSession != "" {
		sl.flags |= slotImpersonation
	}
	var seen int64
	if !sess.LastSeen.IsZero() {
		seen = sess.LastSeen.UnixNano()
	}
	sl.lastSeen.Store(seen)
	sl.savedSeen.Store(seen)
	sl.dirty.Store(false)
}

// grow doubles the table and re-inserts every cell (from the hashes in
// the cells: no slot is read); the caller holds mu for writing.
func (ix *sessionIndex) grow() {
	old, freeOld := ix.table, ix.freeTable
	ix.table, ix.freeTable = offHeap[uint64](2 * len(old))
	mask := len(ix.table) - 1
	for _, c := range old {
		if c == 0 {
			continue
		}
		pos := ix.home(cellHash(c))
		for ix.table[pos] != 0 {
			pos = (pos + 1) & mask
		}
		ix.table[pos] = c
	}
	freeOld()
}

// userIndex interns a user id; the caller holds mu for writing. The table
// only grows (by the users who had a session since the store opened).
func (ix *sessionIndex) userIndex(id string) uint32 {
	if n, ok := ix.userRef[id]; ok {
		return n
	}
	id = strings.Clone(id) // it may be part of a whole decoded record
	n := uint32(len(ix.users))
	ix.users = append(ix.users, id)
	ix.userRef[id] = n
	return n
}

// drop frees the slot of id; the caller holds mu for writing.
func (ix *sessionIndex) drop(id SessionID) {
	pos, n, ok := ix.find(&id)
	if !ok {
		return
	}
	ix.unlink(pos)
	sl := ix.slot(n)
	sl.lastSeen.Store(0)
	sl.savedSeen.Store(0)
	sl.dirty.Store(false)
	sl.id, sl.expires, sl.idle, sl.user, sl.flags = SessionID{}, 0, 0, 0, 0
	ix.free = append(ix.free, n)
	ix.count--
}

// unlink empties table position pos and shifts back the entries after it
// that would no longer be found (deletion without tombstones in linear
// probing).
func (ix *sessionIndex) unlink(pos int) {
	mask := len(ix.table) - 1
	for {
		ix.table[pos] = 0
		next := pos
		for {
			next = (next + 1) & mask
			c := ix.table[next]
			if c == 0 {
				return
			}
			h := ix.home(cellHash(c))
			// The entry at next stays if its home lies cyclically in
			// (pos, next]: a probe from there does not pass pos.
			if pos <= next {
				if pos < h && h <= next {
					continue
				}
			} else if pos < h || h <= next {
				continue
			}
			ix.table[pos] = c
			pos = next
			break
		}
	}
}
