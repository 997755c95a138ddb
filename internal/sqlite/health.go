package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/stored"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// unavailable maps the SQLite results that mean the file cannot take the
// request — disk full, I/O error, damaged pages, not a database — to
// storage_unavailable: an operator's fault to fix, not a bug to report as
// a 500, and not the client's.
func unavailable(se *sqlite3.Error) error {
	switch se.Code() & 0xff {
	case sqlite3lib.SQLITE_FULL:
		return stored.Unavailable("the store is out of space; try again later", se)
	case sqlite3lib.SQLITE_IOERR:
		return stored.Unavailable("the store cannot read or write its file; try again later", se)
	case sqlite3lib.SQLITE_CORRUPT, sqlite3lib.SQLITE_NOTADB:
		return stored.Unavailable("the store's file is damaged; the operator must repair it (cordon doctor)", se)
	}
	return nil
}

// Ready reports whether the store takes writes: nil unless the last
// write or checkpoint failed with storage_unavailable and a probe write
// (one row of meta) or a checkpoint after it fails too. The probe runs
// only while the store is down, so a healthy store's readiness costs no
// write. The checkpoint matters on a full disk: a small write may still
// fit in the WAL's old space while the file cannot grow to take the WAL
// back, and every write that needs a new page fails.
func (db *DB) Ready(ctx context.Context) error {
	if db.health.Down() == nil {
		return nil
	}
	if err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			strconv.FormatInt(time.Now().UnixMicro(), 10))
		return err
	}); err != nil {
		return err
	}
	if db.ckpt == nil {
		return nil
	}
	if _, _, _, err := db.ckpt.checkpoint(ctx); err != nil {
		db.noteCheckpoint(err)
		return mapErr(err)
	}
	return nil
}

// noteCheckpoint records a checkpoint the file refused as the store
// being down; other failures (a busy file, a closing store) are not the
// disk's and are tried again next round. Either way the failure is
// counted and logged (checkpointLog).
func (db *DB) noteCheckpoint(err error) {
	if u := mapErr(err); stored.IsUnavailable(u) {
		db.health.Note(u)
	}
	db.ckptLog.note(err, time.Now())
}

// checkpointLogEvery is how often a failing checkpointer says so: the
// first failure is logged at once, the next ones at most this often,
// with how many there were since the last line.
const checkpointLogEvery = time.Minute

// checkpointLog counts the checkpoints that failed and logs them,
// rate-limited. A checkpointer that keeps failing for a reason other
// than the disk's (which puts the store down and shows in readiness)
// would otherwise be silent while the WAL grows to the writer's
// backstop on every write burst.
type checkpointLog struct {
	log      atomic.Pointer[slog.Logger]
	failures atomic.Int64

	mu     sync.Mutex
	last   time.Time // when the last line was written
	unsaid int64     // failures since then
}

func (c *checkpointLog) note(err error, now time.Time) {
	c.failures.Add(1)
	l := c.log.Load()
	if l == nil {
		return
	}
	c.mu.Lock()
	c.unsaid++
	if !c.last.IsZero() && now.Sub(c.last) < checkpointLogEvery {
		c.mu.Unlock()
		return
	}
	n := c.unsaid
	c.last, c.unsaid = now, 0
	c.mu.Unlock()
	l.Warn("sqlite: the WAL checkpoint failed; the WAL keeps every commit and grows until one succeeds (check the disk and the file's permissions)",
		"err", err, "failures", n, "since", checkpointLogEvery.String())
}

// SetLogger has failed WAL checkpoints logged to l (at most one line a
// minute). Without it they are only counted (CheckpointFailures).
func (db *DB) SetLogger(l *slog.Logger) { db.ckptLog.log.Store(l) }

// CheckpointFailures is how many WAL checkpoints have failed since open
// (the background checkpointer's rounds and readiness probes'), for the
// metric cordon_store_checkpoint_failures_total.
func (db *DB) CheckpointFailures() int64 { return db.ckptLog.failures.Load() }
