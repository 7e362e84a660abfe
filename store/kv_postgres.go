package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgKV is the PostgreSQL engine: several Gatehouse nodes may share one
// database.
//
// Why one key-value table (kv: key bytea primary key, value bytea,
// expires_at timestamptz) rather than relational tables for users,
// sessions and so on: the store's data model and its invariants (unique
// usernames and emails through index keys, a session beside its user
// index entry, the audit log's order, the TTLs) are written once, above
// kv.go, and so are the same code path on Badger and on PostgreSQL — a fix
// or a new record type needs no second implementation, and a backup moves
// between the engines as it is. What PostgreSQL adds is what a shared
// database is for: transactions that several processes see (SERIALIZABLE,
// so the store's read-check-write transactions keep their invariants
// across nodes, with the same retry on conflict as Badger's), durability
// on commit, and later LISTEN/NOTIFY. The data path uses only plain SQL
// (bytea keys, range scans, INSERT … ON CONFLICT, SERIALIZABLE), which the
// PostgreSQL-compatible distributed databases (CockroachDB, YugabyteDB)
// also speak; the migration lock (pg_advisory_lock) is PostgreSQL's, and
// neither of those is tested yet.
//
// Each transaction runs its statements as it goes (a read sees the
// transaction's own writes, as in Badger); an iterator fetches its range in
// pages. Expiry follows Badger's rule: the expiry is the writer's clock plus
// the TTL, in whole seconds, and a read hides rows expired by the reader's
// clock (nodes' clocks must agree to within a second or so, as NTP keeps
// them). A background purge deletes expired rows.
type pgKV struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// name is the redacted DSN, for messages.
	name string

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	listenerState
}

// pgTxTimeout bounds one transaction (a lost database fails a call instead
// of hanging it).
const pgTxTimeout = time.Minute

// pgPurgeInterval is how often expired rows are deleted.
const pgPurgeInterval = time.Minute

// openPostgres connects to the database at dsn, brings its schema up to
// date (migrations.go) and starts the purge of expired rows.
func openPostgres(dsn string, log *slog.Logger) (*pgKV, error) {
	name := RedactDSN(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's own message quotes the DSN (with the password masked);
		// ours names it redacted and gives pgx's reason.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			err = pe.Unwrap()
		}
		return nil, fmt.Errorf("invalid PostgreSQL URL %s: %s", name, redactIn(err.Error(), dsn))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if cfg.MaxConns < 16 && !hasParam(dsn, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	// Security writes must be durable when acknowledged: a server whose
	// default is synchronous_commit=off gets "on" for our sessions
	// (stronger settings, such as remote_apply, are kept).
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'")
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgTxTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", name, err)
	}
	if err := migrate(ctx, cfg.ConnConfig, log); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &pgKV{pool: pool, log: log, name: name, stop: make(chan struct{}), done: make(chan struct{})}
	p.node = NewID()
	go p.purger()
	return p, nil
}

// hasParam reports whether the DSN (URL or key=value form) sets param.
func hasParam(dsn, param string) bool {
	return strings.Contains(dsn, param+"=")
}

func (p *pgKV) View(fn func(txn kvTxn) error) error {
	return p.run(pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (p *pgKV) Update(fn func(txn kvTxn) error) error {
	return p.run(pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
}

// run runs fn in one transaction. A statement that failed aborts the
// transaction whatever fn made of its error: run then rolls back and
// returns that error (errTxnConflict on a serialisation failure or a
// deadlock, so Store.update runs fn again).
func (p *pgKV) run(opts pgx.TxOptions, fn func(txn kvTxn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgTxTimeout)
	defer cancel()
	tx, err := p.pool.BeginTx(ctx, opts)
	if err != nil {
		return pgErr("begin", err)
	}
	t := &pgTxn{ctx: ctx, tx: tx}
	ferr := fn(t)
	if t.err == nil && ferr == nil && opts.AccessMode != pgx.ReadOnly {
		if err := p.notify(ctx, tx, &t.changes); err != nil {
			t.fail("notify", err)
		}
	}
	if t.err != nil || ferr != nil {
		_ = tx.Rollback(ctx)
		switch {
		case t.err != nil && errors.Is(t.err, errTxnConflict):
			return t.err
		case ferr != nil:
			return ferr
		}
		return t.err
	}
	if err := tx.Commit(ctx); err != nil {
		return pgErr("commit", err)
	}
	return nil
}

// pgErr maps PostgreSQL's serialisation failure and deadlock to
// errTxnConflict, keeping the original in the chain.
func pgErr(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") {
		return fmt.Errorf("postgres: %s: %w: %w", op, errTxnConflict, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// NewWriteBatch buffers writes and runs them in transactions of pgBatchRows
// rows, as the buffer fills and on Flush.
func (p *pgKV) NewWriteBatch() kvBatch { return &pgBatch{p: p, index: map[string]int{}} }

// Sync does nothing: a commit is durable when it returns (synchronous_commit
// is on: see openPostgres).
func (p *pgKV) Sync() error { return nil }

func (p *pgKV) Close() error {
	p.stopOnce.Do(func() {
		close(p.stop)
		<-p.done
		if p.listenDone != nil {
			<-p.listenDone
		}
		p.pool.Close()
	})
	return nil
}

// purger deletes expired rows every pgPurgeInterval until Close.
func (p *pgKV) purger() {
	defer close(p.done)
	t := time.NewTicker(pgPurgeInterval)
	defer t.Stop()
	for {
		if _, err := p.purge(time.Now()); err != nil {
			p.log.Warn("store: delete expired records", "storage", p.name, "error", err)
		}
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

// pgPurgeRows is how many expired rows one purge statement deletes.
const pgPurgeRows = 5000

// purge deletes the rows expired at now and returns how many. The delete
// checks the expiry again on the row it deletes: a record written anew
// under an expired key meanwhile (a failure counter, say) stays.
func (p *pgKV) purge(now time.Time) (int, error) {
	total := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), pgTxTimeout)
		var keys [][]byte
		rows, err := p.pool.Query(ctx, "SELECT key FROM kv WHERE expires_at <= $1 LIMIT $2", now, pgPurgeRows)
		if err == nil {
			keys, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		}
		var n int64
		if err == nil && len(keys) > 0 {
			var tag pgconn.CommandTag
			tag, err = p.pool.Exec(ctx, "DELETE FROM kv WHERE key = ANY($1) AND expires_at <= $2", keys, now)
			n = tag.RowsAffected()
		}
		cancel()
		total += int(n)
		if err != nil {
			return total, err
		}
		if len(keys) < pgPurgeRows {
			return total, nil
		}
		select {
		case <-p.stop: // closing: the next store to open goes on
			return total, nil
		default:
		}
	}
}

// pgTxn is one transaction. err is the first statement that failed: the
// transaction is then aborted.
type pgTxn struct {
	ctx context.Context
	tx  pgx.Tx
	err error
	// changes are the keys written that other nodes cache.
	changes changeSet
}

// fail records the first error of a statement and returns it.
func (t *pgTxn) fail(op string, err error) error {
	err = pgErr(op, err)
	if t.err == nil {
		t.err = err
	}
	return err
}

// pgExpiry is the timestamptz of a Badger-style expiry (nil: none).
func pgExpiry(exp uint64) any {
	if exp == 0 {
		return nil
	}
	return time.Unix(int64(exp), 0)
}

const pgGet = "SELECT value, expires_at FROM kv WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)"

func (t *pgTxn) Get(key []byte) (kvItem, error) {
	if t.err != nil {
		return nil, t.err
	}
	it := &pgItem{key: key}
	var exp *time.Time
	err := t.tx.QueryRow(t.ctx, pgGet, key, time.Now()).Scan(&it.value, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errKeyNotFound
	}
	if err != nil {
		return nil, t.fail("get", err)
	}
	if exp != nil {
		it.exp = uint64(exp.Unix())
	}
	return it, nil
}

const pgSet = "INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"

func (t *pgTxn) Set(key, val []byte) error { return t.set(key, val, 0) }

func (t *pgTxn) SetTTL(key, val []byte, ttl time.Duration) error {
	return t.set(key, val, expiryOf(ttl))
}

func (t *pgTxn) set(key, val []byte, exp uint64) error {
	if t.err != nil {
		return t.err
	}
	if val == nil {
		val = []byte{} // NOT NULL: an empty value, as Badger stores it
	}
	if _, err := t.tx.Exec(t.ctx, pgSet, key, val, pgExpiry(exp)); err != nil {
		return t.fail("set", err)
	}
	t.changes.write(key, val, false)
	return nil
}

func (t *pgTxn) Delete(key []byte) error {
	if t.err != nil {
		return t.err
	}
	if _, err := t.tx.Exec(t.ctx, "DELETE FROM kv WHERE key = $1", key); err != nil {
		return t.fail("delete", err)
	}
	t.changes.add(key)
	return nil
}

func (t *pgTxn) NewIterator(opts iterOptions) kvIterator {
	it := &pgIterator{t: t, reverse: opts.Reverse, prefix: opts.Prefix}
	if len(opts.Prefix) > 0 {
		it.upper = prefixEnd(opts.Prefix)
	}
	return it
}

// prefixEnd is the least key greater than every key starting with prefix,
// nil when there is none (prefix is all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// pgItem is one row read.
type pgItem struct {
	key, value []byte
	exp        uint64
}

func (i *pgItem) Key() []byte                           { return i.key }
func (i *pgItem) KeyCopy(dst []byte) []byte             { return append(dst[:0], i.key...) }
func (i *pgItem) Value(fn func(val []byte) error) error { return fn(i.value) }
func (i *pgItem) ValueCopy(dst []byte) ([]byte, error)  { return append(dst[:0], i.value...), nil }
func (i *pgItem) ExpiresAt() uint64                     { return i.exp }

// Page sizes of an iterator: the first page is small (many iterations
// stop after a few keys), then each doubles up to the largest.
const (
	pgFirstPage = 16
	pgLastPage  = 1024
)

// pgIterator walks a key range in pages.
type pgIterator struct {
	t       *pgTxn
	reverse bool
	prefix  []byte // the iteration's bound, from iterOptions.Prefix
	upper   []byte // prefixEnd(prefix); nil: none

	rows []pgItem
	pos  int
	more bool // the last page was full: there may be more rows
	page int  // size of the next page
}

func (it *pgIterator) Rewind() { it.Seek(nil) }

// Seek follows Badger: it lands on the first key >= key (in reverse the
// last key <= key; an empty key means the prefix, or the very end without
// one), and the iterator is valid while that key has the prefix. Only the
// far side of the range is bounded in SQL: a landing outside the prefix
// makes the iterator invalid at once, as in Badger.
func (it *pgIterator) Seek(key []byte) {
	it.page = pgFirstPage
	if len(key) == 0 {
		key = it.prefix
	}
	if it.reverse && len(key) == 0 {
		key = nil // from the very end
	} else if key == nil {
		key = []byte{} // a nil []byte is NULL to pgx
	}
	it.fetch(key, true)
}

// fetch reads the next page of rows from key (included when incl; nil in
// reverse: from the very end).
func (it *pgIterator) fetch(from []byte, incl bool) {
	it.rows, it.pos, it.more = it.rows[:0], 0, false
	if it.t.err != nil {
		return
	}
	var q bytes.Buffer
	q.WriteString("SELECT key, value, expires_at FROM kv WHERE (expires_at IS NULL OR expires_at > $1)")
	args := []any{time.Now()}
	arg := func(cond string, v any) {
		args = append(args, v)
		fmt.Fprintf(&q, " AND key %s $%d", cond, len(args))
	}
	if !it.reverse {
		if incl {
			arg(">=", from)
		} else {
			arg(">", from)
		}
		if it.upper != nil {
			arg("<", it.upper)
		}
		q.WriteString(" ORDER BY key")
	} else {
		switch {
		case from != nil && incl:
			arg("<=", from)
		case from != nil:
			arg("<", from)
		}
		if len(it.prefix) > 0 {
			arg(">=", it.prefix)
		}
		q.WriteString(" ORDER BY key DESC")
	}
	args = append(args, it.page)
	fmt.Fprintf(&q, " LIMIT $%d", len(args))
	rows, err := it.t.tx.Query(it.t.ctx, q.String(), args...)
	if err != nil {
		it.t.fail("scan", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var r pgItem
		var exp *time.Time
		if err := rows.Scan(&r.key, &r.value, &exp); err != nil {
			it.t.fail("scan", err)
			it.rows = it.rows[:0]
			return
		}
		if exp != nil {
			r.exp = uint64(exp.Unix())
		}
		it.rows = append(it.rows, r)
	}
	if err := rows.Err(); err != nil {
		it.t.fail("scan", err)
		it.rows = it.rows[:0]
		return
	}
	it.more = len(it.rows) == it.page
	it.page = min(it.page*2, pgLastPage)
}

func (it *pgIterator) Valid() bool {
	return it.pos < len(it.rows) && bytes.HasPrefix(it.rows[it.pos].key, it.prefix)
}

func (it *pgIterator) ValidForPrefix(prefix []byte) bool {
	return it.Valid() && bytes.HasPrefix(it.rows[it.pos].key, prefix)
}

func (it *pgIterator) Next() {
	it.pos++
	if it.pos == len(it.rows) && it.more {
		last := it.rows[len(it.rows)-1].key
		it.fetch(last, false)
	}
}

func (it *pgIterator) Item() kvItem { return &it.rows[it.pos] }

func (it *pgIterator) Close() { it.rows = nil }

// pgBatch buffers blind writes; the last write of a key wins.
type pgBatch struct {
	p     *pgKV
	ops   []pgOp
	index map[string]int // key -> position in ops
	done  bool
}

// pgOp is one buffered write (del: a delete).
type pgOp struct {
	key, val []byte
	exp      uint64
	del      bool
}

// pgBatchRows is how many rows one transaction of a batch writes.
const pgBatchRows = 5000

func (b *pgBatch) add(op pgOp) error {
	if b.done {
		return errors.New("postgres: batch already flushed or cancelled")
	}
	op.key = bytes.Clone(op.key)
	op.val = bytes.Clone(op.val)
	if op.val == nil {
		op.val = []byte{}
	}
	if i, ok := b.index[string(op.key)]; ok {
		b.ops[i] = op
		return nil
	}
	b.index[string(op.key)] = len(b.ops)
	b.ops = append(b.ops, op)
	if len(b.ops) >= pgBatchRows {
		// Written as it fills, as Badger's write batch commits as it
		// goes: a bulk load of a million records is not held in memory.
		ops := b.ops
		b.ops, b.index = nil, map[string]int{}
		return b.p.write(ops)
	}
	return nil
}

func (b *pgBatch) Set(key, val []byte) error { return b.add(pgOp{key: key, val: val}) }

func (b *pgBatch) SetTTL(key, val []byte, ttl time.Duration) error {
	return b.add(pgOp{key: key, val: val, exp: expiryOf(ttl)})
}

func (b *pgBatch) Delete(key []byte) error { return b.add(pgOp{key: key, del: true}) }

func (b *pgBatch) Cancel() { b.done, b.ops, b.index = true, nil, nil }

// Flush writes the rows still buffered.
func (b *pgBatch) Flush() error {
	if b.done {
		return errors.New("postgres: batch already flushed or cancelled")
	}
	ops := b.ops
	b.Cancel()
	return b.p.write(ops)
}

// write writes ops in key order (two batches never deadlock), in
// SERIALIZABLE transactions of pgBatchRows rows, retried on conflict.
func (p *pgKV) write(ops []pgOp) error {
	slices.SortFunc(ops, func(x, y pgOp) int { return bytes.Compare(x.key, y.key) })
	for chunk := range slices.Chunk(ops, pgBatchRows) {
		var keys, vals, dels [][]byte
		var exps []*time.Time
		for _, op := range chunk {
			if op.del {
				dels = append(dels, op.key)
				continue
			}
			keys, vals = append(keys, op.key), append(vals, op.val)
			var e *time.Time
			if op.exp != 0 {
				t := time.Unix(int64(op.exp), 0)
				e = &t
			}
			exps = append(exps, e)
		}
		var err error
		for i := 0; ; i++ {
			err = p.run(pgx.TxOptions{IsoLevel: pgx.Serializable}, func(txn kvTxn) error {
				t := txn.(*pgTxn)
				for _, op := range chunk {
					t.changes.write(op.key, op.val, op.del)
				}
				if len(dels) > 0 {
					if _, err := t.tx.Exec(t.ctx, "DELETE FROM kv WHERE key = ANY($1)", dels); err != nil {
						return t.fail("batch delete", err)
					}
				}
				if len(keys) > 0 {
					if _, err := t.tx.Exec(t.ctx, "INSERT INTO kv (key, value, expires_at) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::timestamptz[]) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at", keys, vals, exps); err != nil {
						return t.fail("batch write", err)
					}
				}
				return nil
			})
			if !errors.Is(err, errTxnConflict) || i >= maxRetries {
				break
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
