package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Sentinel errors. Check them with errors.Is; the store wraps them with
// context.
var (
	// ErrNotFound means the record does not exist (or has expired).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique value (username, email, group name, session
	// id, …) is already taken.
	ErrConflict = errors.New("store: already exists")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store: closed")
	// ErrTooBig means one change touches more records than fit in one
	// Badger transaction (see RenameGroup); nothing was changed.
	ErrTooBig = errors.New("store: too many records for one transaction")
)

// schemaVersion is the layout version stored under keySchema. Adding a
// record type under a new prefix (see keys.go: role/, fail/ and lock/ were
// added in version 1) or a JSON field does not change it, since older
// binaries ignore both; changing the meaning of an existing key or field
// does.
const schemaVersion = 1

// maxRetries bounds how often a transaction is retried after Badger reports
// an optimistic-concurrency conflict.
const maxRetries = 16

// Options tunes a Store. The zero value is usable.
type Options struct {
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Logger receives the store's own messages and Badger's at WARN and
	// above. Default: discard.
	Logger *slog.Logger
	// UserCacheSize is the maximum number of users kept in memory.
	// Default: 20_000. The request path reads users from the user
	// directory (every user, in memory) instead; this cache serves the
	// portal.
	UserCacheSize int
	// FlushInterval is how often batched session last-activity times are
	// written to disk. Default: 10s.
	FlushInterval time.Duration
}

// Store is Gatehouse's persistence layer. It is safe for concurrent use.
// One directory may be opened by one Store at a time (Badger locks it); a
// PostgreSQL database by several.
type Store struct {
	db kvDB
	// dir is the storage's name for messages (a PostgreSQL URL redacted).
	dir string
	now func() time.Time
	log *slog.Logger

	// life is read-held by every method that touches Badger and
	// write-held by Close, so Badger is never used after it is closed.
	// The cache-hit paths only check closed.
	life      sync.RWMutex
	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}

	users *userCache
	// directory is the in-memory directory of users for searches (directory.go).
	directory directory
	// userWriteMu serialises UpdateUser and DeleteUser so cache
	// replacements happen in commit order.
	userWriteMu sync.Mutex

	// posix is the POSIX id range when ids are handed out (posix.go);
	// posixMu serialises the writes that take one.
	posix   atomic.Pointer[posixRange]
	posixMu sync.Mutex

	// index holds every live session in memory (sessionindex.go).
	index *sessionIndex
	// keys caches API keys by hash for the guard's hot path.
	keys apiKeyCache
	// appPasswords caches app passwords by user for their check
	// (apppasswords.go).
	appPasswords appPasswordCache
	// locks mirrors the lockout records in memory (failures.go), so a
	// check that reads a lock (an app password on the guard's hot path)
	// reads no disk.
	locks lockCache
	// failMu serialises this process's AddFailure calls on the same key
	// (by a hash of it), so concurrent failures of one account never
	// conflict with each other and exhaust the transaction's retries:
	// a burst of wrong passwords is counted in full (failures.go).
	failMu [64]sync.Mutex
	// sessMu serialises every write of session records (create, delete,
	// flush of activity) together with its change to the index, so the
	// index always reflects the committed sessions.
	sessMu sync.Mutex

	// auditSeq orders audit events written in the same nanosecond.
	auditSeq atomic.Uint32

	// oidcEnded is told of the OIDC clients of ended sessions
	// (oidcsessions.go).
	oidcEnded atomic.Pointer[func([]OIDCSessionClient)]

	// cluster is the upkeep of the caches beside other nodes (cluster.go).
	cluster Cluster
}

// Open opens the store at storage and starts the background flusher of
// session last-activity times. storage is either a directory, of the
// embedded Badger database (created if needed, mode 0700; one process at a
// time), or a PostgreSQL URL, postgres://user:password@host:5432/db?…
// (kv_postgres.go), whose schema Open creates or migrates; several
// processes may open one database.
func Open(storage string, opts Options) (*Store, error) {
	if storage == "" {
		return nil, errors.New("store: open: empty directory")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UserCacheSize <= 0 {
		opts.UserCacheSize = 20_000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 10 * time.Second
	}
	dir := RedactDSN(storage)
	var db kvDB
	if IsPostgresURL(storage) {
		pg, err := openPostgres(storage, opts.Logger)
		if err != nil {
			return nil, fmt.Errorf("store: open: %w", err)
		}
		db = pg
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
		bdb, err := badger.Open(badgerOptions(dir, opts.Logger))
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
		db = badgerKV{bdb}
	}
	s := &Store{
		db:    db,
		dir:   dir,
		now:   opts.Now,
		log:   opts.Logger,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		users: newUserCache(opts.UserCacheSize),
		index: newSessionIndex(),
	}
	s.cluster.s = s
	if pg, ok := db.(*pgKV); ok {
		// LISTEN before the caches load: what another node commits
		// from then on is applied, nothing falls between.
		if err := pg.startListening(&s.cluster, pgListenStart); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
	}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if err := s.indexAudit(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	go s.flusher(opts.FlushInterval)
	go s.warmDirectory()
	s.rebuildSessionIndex()
	return s, nil
}

// badgerOptions tunes Badger for Gatehouse's data: many small records
// (users, sessions, audit events of a few hundred bytes), a modest write
// rate, and a process (Caddy) whose memory should stay low.
func badgerOptions(dir string, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(dir)
	// Every table 2 MiB, at every level (default: doubling per level).
	// Compaction allocates twice the target table size per table it
	// builds and pools those buffers, so big tables at the deep levels
	// held tens of MiB of heap for a gateway's few hundred MiB of data.
	o.TableSizeMultiplier = 1
	return o.
		WithBaseTableSize(2 << 20).
		WithLogger(badgerLogger{log}).
		WithLoggingLevel(badger.WARNING).
		// 8 MiB memtables, two of them (one active, one flushing):
		// default is 5×64 MiB, far more than small records need. 8 MiB
		// is the least that still takes Badger's default value
		// threshold.
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		// No compression and no block cache: hot records are served from
		// our own caches, and a miss reads its block straight from the
		// memory-mapped table (page cache the kernel can reclaim) instead
		// of decompressing it into a heap buffer. With Snappy and a 16 MiB
		// block cache, a load spread over 1M sessions kept ~90 MiB of
		// block buffers alive and spent 11% of its CPU decompressing.
		// Records are small JSON; the disk cost is about 1.5×.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		// Table indexes and bloom filters live in a bounded cache.
		WithIndexCacheSize(16 << 20).
		// Values stay inline in the LSM tree (below the default value
		// threshold), so the value log stays small; 64 MiB files
		// instead of 1 GiB keep disk use proportionate.
		WithValueLogFileSize(64 << 20).
		// Two compactors is Badger's minimum for L0 to keep up.
		WithNumCompactors(2).
		// Not every write needs fsync (last-activity batches); the
		// security-relevant ones call db.Sync after commit.
		WithSyncWrites(false).
		// Metrics are process-global expvars we do not export.
		WithMetricsEnabled(false)
}

// checkSchema writes the schema version into a fresh database and refuses
// one written by a newer layout.
func (s *Store) checkSchema() error {
	return s.update(func(txn kvTxn) error {
		item, err := txn.Get(keySchema)
		if errors.Is(err, errKeyNotFound) {
			// Fresh: nothing to migrate.
			if err := txn.Set(keyAuditUserIndex, nil); err != nil {
				return err
			}
			return txn.Set(keySchema, []byte{schemaVersion})
		}
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if len(v) != 1 || v[0] > schemaVersion {
			return fmt.Errorf("unsupported schema version %v (this binary supports %d)", v, schemaVersion)
		}
		return nil
	})
}

// Close writes pending last-activity times, stops the flusher and closes
// the database. Calling it again returns nil.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		if pg, ok := s.db.(*pgKV); ok {
			pg.stopListening() // it may be inside the store (applyRemote)
		}
		s.life.Lock()
		defer s.life.Unlock()
		s.closed.Store(true)
		ferr := s.flush(true)
		s.index.release()
		cerr := s.db.Close()
		err = errors.Join(ferr, cerr)
		if err != nil {
			err = fmt.Errorf("store: close %s: %w", s.dir, err)
		}
	})
	return err
}

// enter guards a method that uses Badger; pair it with leave.
func (s *Store) enter() error {
	s.life.RLock()
	if s.closed.Load() {
		s.life.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.life.RUnlock() }

// update runs fn in a read-write transaction, retrying when Badger reports
// a conflict with a concurrent transaction; the retry sees the other
// transaction's writes.
func (s *Store) update(fn func(txn kvTxn) error) error {
	for i := 0; ; i++ {
		err := s.db.Update(fn)
		if errors.Is(err, errTxnConflict) && i < maxRetries {
			continue
		}
		return err
	}
}

// updateSync is update followed by an fsync, for writes that must be durable
// when the call returns.
func (s *Store) updateSync(fn func(txn kvTxn) error) error {
	if err := s.update(fn); err != nil {
		return err
	}
	return s.db.Sync()
}

// get reads key into v, returning ErrNotFound when it is missing.
func get(txn kvTxn, key []byte, v any) error {
	item, err := txn.Get(key)
	if errors.Is(err, errKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return decode(b, v) })
}

// put encodes v and stores it under key.
func put(txn kvTxn, key []byte, v any) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	return txn.Set(key, b)
}

// exists reports whether key is present.
func exists(txn kvTxn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	if errors.Is(err, errKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ttlFor is the Badger TTL for a record that logically ends at end, rounded
// up to whole seconds (Badger's resolution) so it never vanishes early.
func ttlFor(end, now time.Time) time.Duration {
	d := end.Sub(now)
	if d <= 0 {
		return 0
	}
	return d.Truncate(time.Second) + time.Second
}

// badgerLogger routes Badger's warnings and errors to slog; its info and
// debug chatter is dropped.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}

func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
