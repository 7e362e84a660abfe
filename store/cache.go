package store

import (
	"sync"
	"sync/atomic"
	"time"
)

// The caches are bounded maps guarded by a sync.RWMutex. Each has a
// generation counter bumped by every invalidation: a reader that loaded a
// record from Badger inserts it only if no invalidation happened since it
// started reading, so a cache can never hold something a completed
// Delete*/Update* has removed or replaced.

// evictBatch is how many entries an insertion into a full cache removes at
// once: about 1% of the cache, so eviction cost is amortised.
func evictBatch(max int) int { return max/100 + 1 }

// userCache holds immutable *User snapshots by id.
type userCache struct {
	mu  sync.RWMutex
	m   map[string]*User
	max int
	gen uint64
}

func newUserCache(max int) *userCache {
	return &userCache{m: make(map[string]*User), max: max}
}

func (c *userCache) get(id string) *User {
	c.mu.RLock()
	u := c.m[id]
	c.mu.RUnlock()
	return u
}

// generation returns the current invalidation counter.
func (c *userCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// insertIfGen caches u unless an invalidation happened since gen or an
// entry is already present.
func (c *userCache) insertIfGen(u *User, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.m[u.ID]; ok {
		return
	}
	c.makeRoom()
	c.m[u.ID] = u
}

// replace installs u as the current version and invalidates concurrent
// readers.
func (c *userCache) replace(u *User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if _, ok := c.m[u.ID]; !ok {
		c.makeRoom()
	}
	c.m[u.ID] = u
}

func (c *userCache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, id)
}

func (c *userCache) makeRoom() {
	if len(c.m) < c.max {
		return
	}
	n := evictBatch(c.max)
	for id := range c.m {
		if n == 0 {
			break
		}
		delete(c.m, id)
		n--
	}
}

func (c *userCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// sessionEntry is a cached session: immutable fields plus the latest
// activity time, updated atomically by TouchSession.
type sessionEntry struct {
	sess      Session      // never modified after insertion
	baseSeen  int64        // sess.LastSeen in unix nanos
	lastSeen  atomic.Int64 // latest activity, unix nanos
	savedSeen atomic.Int64 // last activity written to Badger, unix nanos
	dirty     atomic.Bool  // lastSeen not yet written to Badger
}

// The periodic flush and evictions write a session's last activity only
// once it has moved by its write granularity since the last write: a tenth
// of the idle timeout, at most maxSeenGranularity, and maxSeenGranularity
// for sessions without an idle timeout (for them it is only shown, never
// enforced). So idle timeouts hold to within a tenth even across restarts
// and evictions, and a busy session costs one small write per granularity,
// not one per flush: with a million sessions in use, writing them back at
// every eviction kept Badger compacting and took a fifth of the CPU.
// Close and Flush write everything.
const maxSeenGranularity = 15 * time.Minute

// due reports whether the entry's activity moved far enough since it was
// last written to be worth writing.
func (e *sessionEntry) due() bool {
	g := maxSeenGranularity
	if idle := e.sess.IdleTimeout; idle > 0 && idle/10 < g {
		g = idle / 10
	}
	return time.Duration(e.lastSeen.Load()-e.savedSeen.Load()) >= g
}

func newSessionEntry(sess Session) *sessionEntry {
	e := &sessionEntry{sess: sess}
	if !sess.LastSeen.IsZero() {
		e.baseSeen = sess.LastSeen.UnixNano()
	}
	e.lastSeen.Store(e.baseSeen)
	e.savedSeen.Store(e.baseSeen)
	return e
}

// snapshot returns the session with its latest LastSeen, without
// allocating.
func (e *sessionEntry) snapshot() Session {
	s := e.sess
	if n := e.lastSeen.Load(); n != e.baseSeen {
		s.LastSeen = time.Unix(0, n)
	}
	return s
}

// touch moves lastSeen forward to t and marks the entry dirty.
func (e *sessionEntry) touch(t time.Time) {
	n := t.UnixNano()
	for {
		old := e.lastSeen.Load()
		if n <= old {
			return
		}
		if e.lastSeen.CompareAndSwap(old, n) {
			break
		}
	}
	if !e.dirty.Load() {
		e.dirty.Store(true)
	}
}

// sessionCache holds sessions by id. Insertions and removals must be made
// with Store.sessMu held (see Store.sessMu); lookups take only mu.RLock.
type sessionCache struct {
	mu  sync.RWMutex
	m   map[SessionID]*sessionEntry
	max int
	gen uint64
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{m: make(map[SessionID]*sessionEntry), max: max}
}

func (c *sessionCache) get(id SessionID) *sessionEntry {
	c.mu.RLock()
	e := c.m[id]
	c.mu.RUnlock()
	return e
}

func (c *sessionCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// insertIfGen caches e unless an invalidation happened since gen or the id
// is already cached. It returns the dirty entries evicted to make room:
// the caller must write them before releasing Store.sessMu.
func (c *sessionCache) insertIfGen(e *sessionEntry, gen uint64) (evicted []*sessionEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil
	}
	if _, ok := c.m[e.sess.ID]; ok {
		return nil
	}
	if len(c.m) >= c.max {
		n := evictBatch(c.max)
		for id, v := range c.m {
			if n == 0 {
				break
			}
			delete(c.m, id)
			if v.dirty.Load() {
				evicted = append(evicted, v)
			}
			n--
		}
	}
	c.m[e.sess.ID] = e
	return evicted
}

// remove drops ids and invalidates concurrent readers.
func (c *sessionCache) remove(ids ...SessionID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ids {
		delete(c.m, id)
	}
}

// dropIf removes e if it is still the entry cached for its id. It is used
// for logically expired sessions, which need no write-back.
func (c *sessionCache) dropIf(e *sessionEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[e.sess.ID] == e {
		delete(c.m, e.sess.ID)
	}
}

// dirtyEntries returns the entries whose lastSeen has not been written,
// clearing their dirty flag; the caller re-marks those it fails to write.
func (c *sessionCache) dirtyEntries() []*sessionEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*sessionEntry
	for _, e := range c.m {
		if e.dirty.Load() && e.dirty.Swap(false) {
			out = append(out, e)
		}
	}
	return out
}

func (c *sessionCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
