package store

import (
	"sync"
)

// The user cache is a bounded map guarded by a sync.RWMutex, with a
// generation counter bumped by every invalidation: a reader that loaded a
// record from Badger inserts it only if no invalidation happened since it
// started reading, so the cache can never hold something a completed
// UpdateUser/DeleteUser has removed or replaced. (Sessions are not cached
// but indexed, all of them: see sessionIndex.)

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

// clear drops every entry and invalidates concurrent readers.
func (c *userCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
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
