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
// write failed with storage_unavailable and a probe write (one row of
// meta) fails too. The probe runs only while the store is down, so a
// healthy store's readiness costs no write.
func (db *DB) Ready(ctx context.Context) error {
	if db.health.Down() == nil {
		return nil
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			strconv.FormatInt(time.Now().UnixMicro(), 10))
		return err
	})
}
