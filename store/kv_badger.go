package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// badgerKV is the Badger engine: one process, one directory.
type badgerKV struct{ db *badger.DB }

func (b badgerKV) View(fn func(txn kvTxn) error) error {
	return badgerErr(b.db.View(func(t *badger.Txn) error { return fn(badgerTxn{t}) }))
}

func (b badgerKV) Update(fn func(txn kvTxn) error) error {
	return badgerErr(b.db.Update(func(t *badger.Txn) error { return fn(badgerTxn{t}) }))
}

func (b badgerKV) NewWriteBatch() kvBatch { return badgerBatch{b.db.NewWriteBatch()} }

func (b badgerKV) Sync() error { return b.db.Sync() }

func (b badgerKV) Close() error { return b.db.Close() }

// badgerErr maps Badger's errors to the engine-neutral ones, keeping the
// original in the chain.
func badgerErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return errKeyNotFound
	case errors.Is(err, badger.ErrConflict) && !errors.Is(err, errTxnConflict):
		return fmt.Errorf("%w: %w", errTxnConflict, err)
	case errors.Is(err, badger.ErrTxnTooBig) && !errors.Is(err, errTxnTooBig):
		return fmt.Errorf("%w: %w", errTxnTooBig, err)
	}
	return err
}

// badgerTxn adapts *badger.Txn to kvTxn.
type badgerTxn struct{ t *badger.Txn }

func (t badgerTxn) Get(key []byte) (kvItem, error) {
	item, err := t.t.Get(key)
	if err != nil {
		return nil, badgerErr(err)
	}
	return item, nil
}

func (t badgerTxn) Set(key, val []byte) error { return badgerErr(t.t.Set(key, val)) }

func (t badgerTxn) SetTTL(key, val []byte, ttl time.Duration) error {
	return badgerErr(t.t.SetEntry(badger.NewEntry(key, val).WithTTL(ttl)))
}

func (t badgerTxn) Delete(key []byte) error { return badgerErr(t.t.Delete(key)) }

func (t badgerTxn) NewIterator(opts iterOptions) kvIterator {
	o := badger.IteratorOptions{Prefix: opts.Prefix, Reverse: opts.Reverse, PrefetchValues: opts.PrefetchValues}
	if opts.PrefetchValues {
		o.PrefetchSize = badger.DefaultIteratorOptions.PrefetchSize
	}
	return badgerIterator{t.t.NewIterator(o)}
}

// badgerIterator adapts *badger.Iterator to kvIterator.
type badgerIterator struct{ *badger.Iterator }

func (it badgerIterator) Item() kvItem { return it.Iterator.Item() }

// badgerBatch adapts *badger.WriteBatch to kvBatch.
type badgerBatch struct{ wb *badger.WriteBatch }

func (b badgerBatch) Set(key, val []byte) error { return badgerErr(b.wb.Set(key, val)) }

func (b badgerBatch) SetTTL(key, val []byte, ttl time.Duration) error {
	return badgerErr(b.wb.SetEntry(badger.NewEntry(key, val).WithTTL(ttl)))
}

func (b badgerBatch) Delete(key []byte) error { return badgerErr(b.wb.Delete(key)) }

func (b badgerBatch) Flush() error { return badgerErr(b.wb.Flush()) }

func (b badgerBatch) Cancel() { b.wb.Cancel() }
