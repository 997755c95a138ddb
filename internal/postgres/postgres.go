// Package postgres is cordon's PostgreSQL storage backend, through pgx and
// its pool, with migrations embedded and applied at open.
//
// It keeps the SQLite backend's schema and behaviour: times are BIGINT
// microseconds (0 meaning never), the fleet's buckets move inside every
// session write, progress is counters moved with the rows they count, and
// activating a campaign writes O(1) rows. Transactions run at PostgreSQL's
// default READ COMMITTED level; where two callers may race for one row,
// the statement that decides is a conditional UPDATE (or an INSERT … ON
// CONFLICT) that PostgreSQL re-checks against the row's newest version
// after waiting for its lock, so at most one caller wins. Serialization
// failures and deadlocks are retried a few times (CockroachDB, which runs
// everything SERIALIZABLE, reports contention as the former).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
	"github.com/cordon-dev/cordon/internal/stored"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the PostgreSQL store. It implements cordon.Store, and so
// cordon.CampaignStore, cordon.FleetStore, cordon.OfflineStore and
// cordon.ResetStore.
type DB struct {
	*sqlstore.Store // the methods both backends share, over backend

	pool *pgxpool.Pool

	health stored.Health // whether the last write failed for want of storage
}

var _ cordon.Store = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// string, as pgx takes them) and applies pending migrations. Parameters
// that are not pgx's own become run-time parameters of every connection:
// ?search_path=myschema keeps cordon's tables in a schema of their own,
// which must exist. pgxpool's pool_* parameters size the pool.
//
// Nodes that open one database at once do not race: the migrations run in
// one transaction that first takes an advisory lock on the schema.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := withStore(&DB{pool: pool})
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// withStore gives db the shared store's methods, over db itself; every
// DB this package makes goes through it (a DB without them panics on the
// first shared method).
func withStore(db *DB) *DB {
	db.Store = sqlstore.New(backend{db}, sqlstore.Postgres)
	return db
}

// Close closes the pool, waiting for connections in use to be released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, all in one transaction. The transaction first takes
// an advisory lock named for the schema, so a node that starts beside
// another waits for it and then finds the migrations applied; stores in
// other schemas of the same database do not wait for each other.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	err = db.tx(ctx, func(tx pgx.Tx) error {
		var schema *string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return err
		}
		if schema == nil {
			return errors.New("no schema on the search_path exists")
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("cordon migrate "+*schema)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return err
		}
		applied := map[string]bool{}
		rows, err := tx.Query(ctx, `SELECT name FROM schema_migrations`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				return err
			}
			applied[name] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		now := time.Now().UnixMicro()
		for _, name := range names {
			if applied[name] {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			// Without arguments pgx sends the file as one simple query, so
			// a migration of many statements is one round trip.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`, name, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// lockKey turns a name into an advisory-lock key.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// maxAttempts bounds how often tx runs a transaction that met a
// serialization failure or a deadlock.
const maxAttempts = 5

// tx runs fn in one transaction and commits it, retrying the whole of it
// when PostgreSQL (or CockroachDB) aborted it for a serialization failure
// or a deadlock. fn may run more than once, so it must set its results
// afresh each time. The error comes back mapped to the contract's
// sentinels.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.try(ctx, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return db.health.Note(mapErr(err))
		}
		// A short, growing, jittered pause, so the callers that collided
		// do not collide again at once.
		pause := time.Duration(attempt) * time.Duration(1+rand.IntN(4)) * time.Millisecond
		select {
		case <-ctx.Done():
			return mapErr(err)
		case <-time.After(pause):
		}
	}
}

// try is one attempt of tx: begin, fn, commit; rolled back on any error.
func (db *DB) try(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	// An admin change and its audit record commit together.
	pending := cordon.PendingAudit(ctx)
	var size uint64
	if pending != nil {
		if err := stored.CheckAuditEntries(pending); err != nil {
			return err
		}
		if size, err = appendAuditTx(ctx, tx, pending); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if pending != nil {
		cordon.AuditCommitted(ctx, size)
	}
	return nil
}

// SQLSTATE codes the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// mapErr turns driver errors into the contract's sentinels, keeping the
// driver's error in the chain. Errors that are cordon's already pass.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var ce *cordon.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return cordon.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%w: %w", cordon.ErrAlreadyExists, err)
		case codeForeignKeyViolation:
			// A row that names a missing parent (a session of no account).
			return fmt.Errorf("%w: %w", cordon.ErrNotFound, err)
		}
	}
	if e := unavailable(err); e != nil {
		return e
	}
	return err
}

// micros and fromMicros are the shared stored form of times.
func micros(t time.Time) int64 { return stored.Micros(t) }

func fromMicros(v int64) time.Time { return stored.Time(v) }
