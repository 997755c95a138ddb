// Package sqlite is cordon's embedded storage backend: one SQLite file in
// WAL mode through the pure-Go modernc.org/sqlite driver, with migrations
// embedded and applied at open.
//
// Writers never see "database is locked": every write goes through a pool
// of exactly one connection, so writers queue in Go instead of racing for
// SQLite's file lock, and each write transaction starts with BEGIN
// IMMEDIATE. Reads use a separate pool and run in parallel with the writer,
// which WAL allows.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
	"github.com/cordon-dev/cordon/internal/stored"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite store. It implements cordon.Store, cordon.CampaignStore
// and cordon.FleetStore.
type DB struct {
	*sqlstore.Store // the methods both backends share, over backend

	w *sql.DB // exactly one connection: the only writer
	r *sql.DB // readers

	health stored.Health // whether the last write failed for want of storage
	initMu sync.Mutex    // Initialise
	hot    hotStmts      // the session hot paths' statements, prepared once
	ckpt   *checkpointer // copies the WAL back into the file, off the writer
	// ckptLog counts and logs failed checkpoints.
	ckptLog checkpointLog
	// auditGoGroups is AuditGoGroups (tests lower it); auditSQLFallbacks
	// counts the queries that outgrew it.
	auditGoGroups     int
	auditSQLFallbacks atomic.Int64
}

var (
	_ cordon.Store         = (*DB)(nil)
	_ cordon.CampaignStore = (*DB)(nil)
	_ cordon.FleetStore    = (*DB)(nil)
)

// Open opens (creating if needed) the database file at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	// temp_store(MEMORY): a multi-row INSERT's statement journal, and a
	// large GROUP BY's sorter, stay in memory rather than in a temporary
	// file written through a syscall per page (30 % of an audit append's
	// CPU went to the statement journal's file, before audit entries went
	// in one row a statement: see appendAuditTx).
	// journal_size_limit: see checkpoint.go (the WAL file trimmed after a
	// restart, not left at its high-water mark).
	pragmas := []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)", "temp_store(MEMORY)",
		fmt.Sprintf("journal_size_limit(%d)", walSizeLimit)}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	wq := url.Values{}
	for k, v := range q {
		wq[k] = v
	}
	wq.Set("_txlock", "immediate")
	// The one writer keeps 64 MiB of pages (the default is 2 MiB): an
	// audit append inserts into indexes at random places, and each page
	// not cached is a read through a syscall.
	wq.Add("_pragma", "cache_size(-65536)")
	// The checkpointer (checkpoint.go) copies the WAL back; the writer's
	// own automatic checkpoint is only a backstop.
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", checkpointBackstop))
	w, err := sql.Open("sqlite", "file:"+path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := withStore(&DB{w: w})
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	// The checkpointer's connection is the readers' without query_only
	// (a checkpoint writes the database file).
	ckptDSN := "file:" + path + "?" + q.Encode()
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.r = r
	// A checkpoint the disk refuses (full, failing) puts the store down
	// as a refused write does: readiness then probes before it says ready.
	if db.ckpt, err = startCheckpointer(ckptDSN, db.noteCheckpoint); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.hot.prepare(ctx, db.r, db.w); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// withStore gives db the shared store's methods, over db itself; every
// DB this package makes goes through it (a DB without them panics on the
// first shared method).
func withStore(db *DB) *DB {
	db.Store = sqlstore.New(backend{db}, sqlstore.SQLite)
	db.auditGoGroups = AuditGoGroups
	return db
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.ckpt.close(), db.hot.close(), db.r.Close(), db.w.Close())
}

// Ping checks the file answers.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.write(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, time.Now().UnixMicro())
			return err
		}); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// write runs fn in one write transaction and commits it.
func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	pending := cordon.PendingAudit(ctx)
	var size uint64
	err := db.writeTx(ctx, pending != nil, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		// An admin change and its audit record commit together.
		if pending == nil {
			return nil
		}
		if err := stored.CheckAuditEntries(pending); err != nil {
			return err
		}
		var err error
		size, err = appendAuditTx(ctx, tx, pending)
		return err
	})
	if err == nil && pending != nil {
		cordon.AuditCommitted(ctx, size)
	}
	return err
}

// writeTx runs fn in one write transaction on the single writer
// connection. durable transactions commit with synchronous=FULL, so the
// commit survives a power loss and not only a crash of the process (WAL
// with synchronous=NORMAL, the default here, may lose the last commits to
// a power cut): the audit log promises that an acknowledged event is kept.
func (db *DB) writeTx(ctx context.Context, durable bool, fn func(*sql.Tx) error) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer conn.Close()
	if durable {
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous=FULL`); err != nil {
			return mapErr(err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous=NORMAL`)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return db.health.Note(mapErr(err))
	}
	return db.health.Note(mapErr(tx.Commit()))
}

// mapErr turns driver errors into the contract's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return cordon.ErrNotFound
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", cordon.ErrAlreadyExists, err)
		case sqlite3lib.SQLITE_CONSTRAINT_FOREIGNKEY:
			// A row that names a missing parent (a session of no account).
			return fmt.Errorf("%w: %v", cordon.ErrNotFound, err)
		}
		if e := unavailable(se); e != nil {
			return e
		}
	}
	return err
}

// micros and fromMicros are the shared stored form of times.
func micros(t time.Time) int64 { return stored.Micros(t) }

func fromMicros(v int64) time.Time { return stored.Time(v) }
