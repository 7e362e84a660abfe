package password

import (
	"errors"
	"fmt"
)

// ErrInvalidParams is returned by Hash when its Params are out of the bounds
// Verify accepts.
var ErrInvalidParams = errors.New("password: invalid params")

// Params are the argon2id cost parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism.
	Threads uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived key in bytes.
	KeyLen uint32
}

// DefaultParams returns the OWASP (2024) argon2id baseline: 19 MiB of
// memory, 2 passes, 1 thread, a 16-byte salt and a 32-byte key.
//
// Memory is the cost that matters under a flood: every hash in flight holds
// Memory KiB. OWASP lists equivalent settings trading memory for passes
// (e.g. 46 MiB with 1 pass); the low-memory end is chosen because a Hasher
// runs at most Workers hashes at once, so a login flood costs at most
// Workers × 19 MiB (152 MiB with 8 workers) instead of growing with the
// number of requests, and the proxied traffic keeps its memory.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters, read from stored hashes or given to Hash. A stored
// hash outside them is treated as malformed rather than run: a tampered or
// corrupt hash must not be able to make one login use gigabytes of memory
// or minutes of CPU.
const (
	maxMemory  = 1 << 20 // KiB (1 GiB)
	maxTime    = 10
	maxThreads = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
)

// validate reports whether p is within the bounds above.
func (p Params) validate() error {
	switch {
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("threads %d not in 1..%d", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB not in %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d not in 1..%d", p.Time, maxTime)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d not in %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d not in %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}
