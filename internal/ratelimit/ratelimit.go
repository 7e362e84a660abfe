// Package ratelimit is the per-client-address token bucket that every
// surface checking a secret without a session shares the logic of: the
// portal's sign-in routes and the directory server's binds. Each key (a
// client address, see Key) has a bucket of Burst attempts, refilled by one
// every Every. Time is a parameter, so callers follow their own clock and
// tests need no sleeping.
//
// Memory is bounded: at most Capacity keys are tracked, and room is made
// lazily when a key is added (there is no background janitor).
package ratelimit

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// sample is how many entries are looked at to choose which to drop when
// the map is full of active keys.
const sample = 16

// ipv6Prefix: IPv6 clients are counted per /64, the block one subscriber
// usually gets, so hopping addresses inside it gains nothing.
const ipv6Prefix = 64

// Buckets holds one token bucket per key. It is safe for concurrent use.
type Buckets struct {
	burst float64
	every time.Duration
	// idle is how long after its last attempt a key's bucket is full
	// again: forgetting it then loses nothing.
	idle time.Duration
	max  int

	mu        sync.Mutex
	clients   map[string]*entry
	lastSweep time.Time
}

// entry is the bucket of one key.
type entry struct {
	// tokens is how many attempts were left at time at (fractions refill
	// continuously).
	tokens float64
	at     time.Time
	last   time.Time // the latest attempt, allowed or not
	// warned: a refusal was reported since the last allowed attempt.
	warned bool
}

// New returns buckets of burst attempts (at least one), one coming back
// every every, for at most capacity keys (at least one).
func New(capacity, burst int, every time.Duration) *Buckets {
	burst = max(burst, 1)
	return &Buckets{burst: float64(burst), every: every, idle: time.Duration(burst) * every,
		max: max(capacity, 1), clients: make(map[string]*entry)}
}

// Idle is how long after its last attempt a key's bucket is full again.
func (b *Buckets) Idle() time.Duration { return b.idle }

// fill brings e's tokens up to now. A clock that went back refills
// nothing.
func (b *Buckets) fill(e *entry, now time.Time) {
	if now.After(e.at) {
		e.tokens = min(b.burst, e.tokens+float64(now.Sub(e.at))/float64(b.every))
		e.at = now
	}
}

// Take spends one attempt of key at now. It returns 0 when the attempt may
// go ahead, else how long until one is available; first is true for the
// first refusal since key's last allowed attempt (so a flood is reported
// once). A refusal spends nothing, so hammering does not push the wait
// further out.
func (b *Buckets) Take(key string, now time.Time) (wait time.Duration, first bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.clients[key]
	if e == nil {
		if len(b.clients) >= b.max {
			b.makeRoom(now)
		}
		e = &entry{tokens: b.burst, at: now}
		b.clients[key] = e
	}
	e.last = now
	b.fill(e, now)
	if e.tokens < 1 {
		first, e.warned = !e.warned, true
		return time.Duration(math.Ceil((1 - e.tokens) * float64(b.every))), first
	}
	e.tokens--
	e.warned = false
	return 0, false
}

// Wait returns how long key must wait for an attempt at now, spending
// nothing: 0 when Take would let one go ahead. It suits a check that is
// charged only when it fails (a secret too long to guess, where the
// budget is there to bound failures, not concurrent successes).
func (b *Buckets) Wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.clients[key]
	if e == nil {
		return 0
	}
	b.fill(e, now)
	if e.tokens < 1 {
		return time.Duration(math.Ceil((1 - e.tokens) * float64(b.every)))
	}
	return 0
}

// Refund gives back one attempt of key taken by Take: the attempt
// succeeded. A key forgotten meanwhile has a full bucket anyway; a bucket
// never grows past its burst.
func (b *Buckets) Refund(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.clients[key]; e != nil {
		b.fill(e, now)
		e.tokens = min(b.burst, e.tokens+1)
	}
}

// makeRoom drops entries until there is room for one more. At most once
// per idle period it sweeps every idle entry (a full bucket, the same as
// a new one); when that frees nothing it drops the least recently used of
// a few entries, so adding a key costs O(sample), never a scan of the
// whole map under a flood. The caller holds mu.
func (b *Buckets) makeRoom(now time.Time) {
	if now.Sub(b.lastSweep) >= b.idle || now.Before(b.lastSweep) {
		b.lastSweep = now
		for k, e := range b.clients {
			if now.Sub(e.last) >= b.idle {
				delete(b.clients, k)
			}
		}
	}
	for len(b.clients) >= b.max {
		var (
			victim string
			oldest time.Time
			n      int
		)
		for k, e := range b.clients {
			if n == 0 || e.last.Before(oldest) {
				victim, oldest = k, e.last
			}
			if n++; n == sample {
				break
			}
		}
		delete(b.clients, victim)
	}
}

// Len returns how many keys are tracked.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.clients)
}

// Key is the bucket name of a client address: the address itself for
// IPv4 (IPv4-mapped IPv6 included), its /64 for IPv6, the string as given
// when it is not an IP.
func Key(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is4() {
		// ParseAddr takes only the canonical dotted quad (no leading
		// zeros, no zone), so ip is already a.String(): no allocation on
		// the guard's hot path.
		return ip
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(ipv6Prefix)
	if err != nil {
		return a.String()
	}
	return p.String()
}
