package password

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// DefaultMaxWaiting is how many calls may wait for a worker by default.
const DefaultMaxWaiting = 64

// HasherOptions configure a Hasher.
type HasherOptions struct {
	// Params are the parameters of new hashes and of the fake hash.
	// Zero fields take their value from DefaultParams.
	Params Params
	// Workers is how many hashes may run at once; it bounds CPU and memory
	// (Workers × Params.Memory). Default: half the CPUs
	// (runtime.GOMAXPROCS(0)/2, at least 1), so a flood of sign-ins can
	// never take more than half the machine from the requests it proxies.
	Workers int
	// MaxWaiting is how many calls may wait for a free worker; further
	// calls fail at once with ErrBusy. Zero means the default, a negative
	// value means no call waits. Default: 64.
	MaxWaiting int
	// Duty is the share of its time a worker may spend hashing, in (0, 1]:
	// after each hash the worker rests (holding its place, while the
	// caller goes on at once) for as long as keeps it at that share. It
	// only slows sign-ins when they queue — under a flood — and then keeps
	// hashing from taking more than Workers × Duty CPUs. Default: 0.5.
	Duty float64
	// OnWait, when set, is told how long each call waited for a worker
	// (zero when one was free), e.g. for a wait-time histogram. Calls
	// refused with ErrBusy are not reported.
	OnWait func(time.Duration)
}

// Hasher runs Hash and Verify in a bounded pool so a login flood cannot
// starve the proxy or exhaust memory: at most Workers run at once, at most
// MaxWaiting wait, and every other call fails at once with ErrBusy. It is
// safe for concurrent use.
type Hasher struct {
	params     Params
	slots      chan struct{} // a token per running hash
	waiting    atomic.Int64  // calls waiting for a slot
	maxWaiting int64
	fake       string  // hash of a random password, for VerifyUnknown
	restRatio  float64 // rest after a hash, as a multiple of its duration
	// sleep is time.Sleep; tests replace it.
	sleep func(time.Duration)
	// onWait is HasherOptions.OnWait.
	onWait func(time.Duration)
}

// NewHasher returns a Hasher for o and makes the fake hash that
// VerifyUnknown compares against. It panics if o.Params, once defaults are
// filled in, are out of bounds: that is a programming error.
func NewHasher(o HasherOptions) *Hasher {
	p, def := o.Params, DefaultParams()
	if p.Memory == 0 {
		p.Memory = def.Memory
	}
	if p.Time == 0 {
		p.Time = def.Time
	}
	if p.Threads == 0 {
		p.Threads = def.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = def.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = def.KeyLen
	}
	workers := o.Workers
	if workers <= 0 {
		workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	duty := o.Duty
	if duty <= 0 || duty > 1 {
		duty = 0.5
	}
	maxWaiting := o.MaxWaiting
	switch {
	case maxWaiting == 0:
		maxWaiting = DefaultMaxWaiting
	case maxWaiting < 0:
		maxWaiting = 0
	}
	if err := p.validate(); err != nil {
		panic(fmt.Sprintf("password: NewHasher: %v", err))
	}
	// The fake hash is random salt and key under the real parameters:
	// verifying against it costs exactly a real verification, and no
	// password matches it. Not hashing here spares every start the
	// memory of one hash (19 MiB by default) that the process would keep.
	fake := phcHash{params: p, salt: make([]byte, p.SaltLen), key: make([]byte, p.KeyLen)}
	rand.Read(fake.salt)
	rand.Read(fake.key)
	return &Hasher{
		params:     p,
		slots:      make(chan struct{}, workers),
		maxWaiting: int64(maxWaiting),
		fake:       fake.encode(),
		restRatio:  (1 - duty) / duty,
		sleep:      time.Sleep,
		onWait:     o.OnWait,
	}
}

// Waiting returns how many calls wait for a worker now.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// Params returns the parameters of the Hasher's new hashes.
func (h *Hasher) Params() Params { return h.params }

// NeedsRehash reports whether encoded was made with parameters other than
// the Hasher's.
func (h *Hasher) NeedsRehash(encoded string) bool { return NeedsRehash(encoded, h.params) }

// Hash hashes password with the Hasher's parameters (see Hash). It fails
// with ErrBusy when the queue is full or ctx ends while waiting.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.done(time.Now())
	return Hash(password, h.params)
}

// Verify reports whether password matches encoded (see Verify). It fails
// with ErrBusy when the queue is full or ctx ends while waiting.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.done(time.Now())
	return Verify(password, encoded)
}

// VerifyUnknown burns the same time as a real Verify, against the
// precomputed fake hash, and always returns false: call it for unknown users
// so that timing does not reveal who exists. Like Verify it fails with
// ErrBusy when the pool is full.
func (h *Hasher) VerifyUnknown(ctx context.Context, password string) (bool, error) {
	if _, err := h.Verify(ctx, password, h.fake); err != nil {
		return false, err
	}
	return false, nil
}

// acquire takes a worker slot, waiting for one if fewer than maxWaiting
// calls already wait.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrBusy, context.Cause(ctx))
	}
	select {
	case h.slots <- struct{}{}:
		if h.onWait != nil {
			h.onWait(0)
		}
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	start := time.Now()
	select {
	case h.slots <- struct{}{}:
		if h.onWait != nil {
			h.onWait(time.Since(start))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, context.Cause(ctx))
	}
}

// release gives a worker slot back.
func (h *Hasher) release() { <-h.slots }

// done ends a hash that started at start: the slot is given back after the
// worker's rest, in the background, so the caller does not wait for it.
func (h *Hasher) done(start time.Time) {
	rest := time.Duration(float64(time.Since(start)) * h.restRatio)
	if rest <= 0 {
		h.release()
		return
	}
	go func() {
		h.sleep(rest)
		h.release()
	}()
}
