package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL schema is Gatehouse's: migrations/NNNN_name.sql, applied
// in order at start, each in its own transaction with its row in
// gatehouse_schema. They run under a session-level advisory lock, so nodes
// starting together apply each migration once; a database migrated by a
// newer binary is refused (errSchemaNewer) rather than misread.

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key of schema migrations ("gatehous").
const migrationLock int64 = 0x67617465686f7573

// errSchemaNewer means the database was migrated by a newer Gatehouse.
var errSchemaNewer = errors.New("the database schema is newer than this Gatehouse")

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Their numbers run
// 1, 2, 3… without gaps.
func migrations() ([]migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want number %d", m.name, i+1)
		}
	}
	return out, nil
}

// migrate brings the database's schema up to the newest embedded
// migration, on a connection of its own (the advisory lock dies with it
// whatever happens).
func migrate(ctx context.Context, cfg *pgx.ConnConfig, log *slog.Logger) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("schema: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("schema: lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS gatehouse_schema (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return fmt.Errorf("schema: create gatehouse_schema: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM gatehouse_schema").Scan(&current); err != nil {
		return fmt.Errorf("schema: read version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("%w: it is at version %d, this binary knows versions up to %d: run the newer Gatehouse, or restore a backup into a new database", errSchemaNewer, current, len(ms))
	}
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO gatehouse_schema (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("schema: migration %s: %w", m.name, err)
		}
		log.Info("store: database schema migrated", "version", m.version, "migration", m.name)
	}
	return nil
}
