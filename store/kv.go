package store

import (
	"errors"
	"time"
)

// The store's records live in an ordered key-value engine: Badger on one
// machine (the default, kv_badger.go) or a table in PostgreSQL
// (kv_postgres.go). Everything above this file — key layout (keys.go),
// records, indexes, invariants — is one code path on both; these interfaces
// are the whole contract an engine fulfils:
//
//   - View runs a read-only transaction on a consistent snapshot; Update a
//     read-write one that sees its own writes, is serialisable, and reports
//     errTxnConflict when a concurrent transaction got in its way (the
//     caller retries: Store.update).
//   - Keys sort bytewise; iterators walk a prefix forwards or backwards.
//   - A record may carry an expiry; expired records are invisible to reads
//     and are removed eventually.
//   - Sync makes every committed write durable.

// errKeyNotFound is returned by kvTxn.Get when the key is missing or has
// expired.
var errKeyNotFound = errors.New("store: key not found")

// errTxnConflict is returned by kvDB.Update when the transaction conflicted
// with a concurrent one and nothing was written; running it again sees the
// other transaction's writes.
var errTxnConflict = errors.New("store: transaction conflict")

// errTxnTooBig is returned when one transaction touches more records than
// the engine accepts in one (Badger's limit); nothing was written.
var errTxnTooBig = errors.New("store: transaction too big")

// kvDB is an ordered key-value engine.
type kvDB interface {
	// View runs fn in a read-only transaction.
	View(fn func(txn kvTxn) error) error
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil. It runs fn once: a conflict returns errTxnConflict.
	Update(fn func(txn kvTxn) error) error
	// NewWriteBatch starts a batch of blind writes, outside any
	// transaction, for bulk loads and write-behind (no conflict check).
	NewWriteBatch() kvBatch
	// Sync makes every committed write durable.
	Sync() error
	// Close releases the engine.
	Close() error
}

// kvTxn is one transaction.
type kvTxn interface {
	// Get returns the record under key, or errKeyNotFound.
	Get(key []byte) (kvItem, error)
	// Set stores val under key, without expiry.
	Set(key, val []byte) error
	// SetTTL stores val under key, expiring ttl from now (whole seconds,
	// rounded down as Badger does).
	SetTTL(key, val []byte, ttl time.Duration) error
	// Delete removes key (a missing key is no error).
	Delete(key []byte) error
	// NewIterator walks the keys in order; Close it before the
	// transaction ends.
	NewIterator(opts iterOptions) kvIterator
}

// kvItem is one record read. Its Key and the slice passed to Value are valid
// only until the iterator moves or the transaction ends: copy them to keep
// them.
type kvItem interface {
	Key() []byte
	KeyCopy(dst []byte) []byte
	Value(fn func(val []byte) error) error
	ValueCopy(dst []byte) ([]byte, error)
	// ExpiresAt is the expiry as unix seconds, 0 when none.
	ExpiresAt() uint64
}

// kvIterator walks keys in order (reverse order when asked).
type kvIterator interface {
	// Rewind moves to the first key (of the prefix, when one is set).
	Rewind()
	// Seek moves to the first key >= key (<= key in reverse).
	Seek(key []byte)
	// Valid reports whether the iterator is on a key (within the prefix,
	// when one is set).
	Valid() bool
	// ValidForPrefix is Valid and the key starts with prefix.
	ValidForPrefix(prefix []byte) bool
	Next()
	Item() kvItem
	Close()
}

// iterOptions configures an iterator.
type iterOptions struct {
	// Prefix bounds the iteration to the keys starting with it.
	Prefix []byte
	// Reverse walks from the largest key down.
	Reverse bool
	// PrefetchValues reads values ahead with the keys (a hint).
	PrefetchValues bool
}

// defaultIterOptions reads values ahead, as Badger's defaults do.
var defaultIterOptions = iterOptions{PrefetchValues: true}

// kvBatch is a batch of blind writes (kvDB.NewWriteBatch).
type kvBatch interface {
	Set(key, val []byte) error
	SetTTL(key, val []byte, ttl time.Duration) error
	Delete(key []byte) error
	// Flush writes everything added; the batch is done.
	Flush() error
	// Cancel drops everything added; the batch is done.
	Cancel()
}

// expiryOf is the absolute expiry, in unix seconds, of a record written now
// with ttl: Badger's rule (time.Now, not the store's clock, rounded down to
// the second), which the PostgreSQL engine follows too.
func expiryOf(ttl time.Duration) uint64 {
	return uint64(time.Now().Add(ttl).Unix())
}
