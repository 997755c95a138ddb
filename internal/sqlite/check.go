package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// ErrDamaged is returned by QuickCheck and IntegrityCheck when SQLite
// finds the file damaged; the message lists what it found.
var ErrDamaged = errors.New("sqlite: the database file is damaged")

// IsDamaged reports whether err says the file is damaged: a failed check,
// or SQLite refusing a page as corrupt or the file as not a database.
func IsDamaged(err error) bool {
	if errors.Is(err, ErrDamaged) {
		return true
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3lib.SQLITE_CORRUPT || c == sqlite3lib.SQLITE_NOTADB
	}
	var ce *cordon.Error
	return errors.As(err, &ce) && ce.Code == cordon.ECodeStorageUnavailable && strings.Contains(ce.Message, "damaged")
}

// QuickCheck runs PRAGMA quick_check: every page and every record's form,
// without matching indexes to their tables (O(N), a few seconds per GB).
// cordon serve runs it at start, so a damaged file refuses to start
// instead of answering 500s later.
func (db *DB) QuickCheck(ctx context.Context) error { return check(ctx, db.r, "quick_check") }

// IntegrityCheck runs PRAGMA integrity_check: QuickCheck plus every index
// against its table (O(N log N)). cordon doctor runs it.
func (db *DB) IntegrityCheck(ctx context.Context) error { return check(ctx, db.r, "integrity_check") }

func check(ctx context.Context, q *sql.DB, pragma string) error {
	rows, err := q.QueryContext(ctx, `PRAGMA `+pragma+`(20)`)
	if err != nil {
		if IsDamaged(err) || isUnavailable(err) {
			return fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		return err
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			found = append(found, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	if len(found) > 0 {
		return fmt.Errorf("%w: %s", ErrDamaged, strings.Join(found, "; "))
	}
	return nil
}

func isUnavailable(err error) bool {
	var se *sqlite3.Error
	return errors.As(err, &se) && unavailable(se) != nil
}

// Inspect opens the file at path read-only, applying no migration, for
// cordon doctor: a check must not change what it checks. Only Diagnose
// and the read methods may be used on it.
func Inspect(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "query_only(1)")
	q.Set("mode", "ro")
	r, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return withStore(&DB{w: r, r: r}), nil
}

// Diagnose runs cordon doctor's checks: the full integrity check, the
// schema's migrations, the deployment's identity, the signing and audit
// keys, and the audit log's rows against its recorded size.
func (db *DB) Diagnose(ctx context.Context) []stored.Finding {
	var out []stored.Finding
	add := func(check string, ok bool, format string, args ...any) {
		out = append(out, stored.Finding{Check: check, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		add("integrity", false, "%v", err)
		return out // nothing read from a damaged file can be trusted
	}
	var pages, free int64
	db.r.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages)
	db.r.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free)
	add("integrity", true, "integrity_check ok (%d pages, %d free)", pages, free)
	known, _ := fs.Glob(migrations, "migrations/*.sql")
	out = append(out, stored.DiagnoseSchema(known, func() ([]string, error) {
		return queryStrings(ctx, db.r, `SELECT name FROM schema_migrations ORDER BY name`)
	}))
	out = append(out, stored.DiagnoseContent(ctx, stored.Queries{
		Meta: func(key string) (string, error) {
			return queryString(ctx, db.r, `SELECT value FROM meta WHERE key = ?`, key)
		},
		Keys: func() (int64, error) {
			return queryInt(ctx, db.r, `SELECT count(*) FROM signing_keys WHERE retired_at = 0`)
		},
		AuditKey:  func() (int64, error) { return queryInt(ctx, db.r, `SELECT count(*) FROM audit_key`) },
		AuditRows: func() (int64, error) { return queryInt(ctx, db.r, `SELECT count(*) FROM audit_entries`) },
		AuditNext: func() (int64, error) {
			return queryInt(ctx, db.r, `SELECT coalesce(max(idx) + 1, 0) FROM audit_entries`)
		},
		AuditSize: func() (int64, error) { return queryInt(ctx, db.r, `SELECT coalesce((SELECT size FROM audit_size), 0)`) },
		Checkpoint: func() (int64, error) {
			return queryInt(ctx, db.r, `SELECT coalesce(max(size), 0) FROM audit_checkpoints`)
		},
	})...)
	return append(out, stored.RollupFinding(queryInt(ctx, db.r, auditRollupDiff)))
}

// auditRollupDiff counts the rows on which audit_rollup and the entries
// summed afresh disagree.
const auditRollupDiff = `WITH fresh AS (
		SELECT categories, CASE WHEN at >= 0 THEN at / 86400000000 ELSE -((-at - 1) / 86400000000) - 1 END AS day, principal,
			count(*), sum(action = 'read'), sum(action = 'write'), sum(action = 'export'), sum(action = 'delete'), min(at), max(at)
		FROM audit_entries GROUP BY 1, 2, 3),
	kept AS (SELECT categories, day, principal, count, reads, writes, exports, deletes, first_at, last_at FROM audit_rollup)
	SELECT (SELECT count(*) FROM (SELECT * FROM fresh EXCEPT SELECT * FROM kept)) + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM fresh))`

func queryStrings(ctx context.Context, q *sql.DB, query string) ([]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func queryString(ctx context.Context, q *sql.DB, query string, args ...any) (string, error) {
	var s string
	err := q.QueryRowContext(ctx, query, args...).Scan(&s)
	return s, mapErr(err)
}

func queryInt(ctx context.Context, q *sql.DB, query string, args ...any) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}
