package sqlite

import (
	"context"
	"database/sql"
	"strconv"
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
// disk's and are tried again next round.
func (db *DB) noteCheckpoint(err error) {
	if u := mapErr(err); stored.IsUnavailable(u) {
		db.health.Note(u)
	}
}
