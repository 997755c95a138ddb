package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"

	"github.com/cordon-dev/cordon/internal/sqlstore"
)

// backend is the SQLite side of the shared store: its one writer, its
// reading pool and its read-only snapshots.
type backend struct{ db *DB }

func (b backend) Write(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return b.db.write(ctx, func(tx *sql.Tx) error { return fn(sqlQuerier{tx}) })
}

func (b backend) Reader() sqlstore.Querier { return sqlQuerier{b.db.r} }

func (b backend) Snapshot(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := b.db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback()
	return fn(sqlQuerier{tx})
}

// dbtx is a *sql.DB, *sql.Conn or *sql.Tx.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqlQuerier is sqlstore.Querier over database/sql: statements written with
// $N placeholders run as SQLite's ?N, and errors come back mapped.
type sqlQuerier struct{ q dbtx }

func (q sqlQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.q.ExecContext(ctx, rebind(query), args...)
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return n, mapErr(err)
}

func (q sqlQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.q.QueryContext(ctx, rebind(query), args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return sqlRows{rows}, nil
}

func (q sqlQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return sqlRow{q.q.QueryRowContext(ctx, rebind(query), args...)}
}

type sqlRows struct{ r *sql.Rows }

func (r sqlRows) Next() bool             { return r.r.Next() }
func (r sqlRows) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }
func (r sqlRows) Err() error             { return mapErr(r.r.Err()) }
func (r sqlRows) Close()                 { r.r.Close() }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

// rebound caches rebind's work: the shared statements are constants, so
// each is rewritten once.
var rebound sync.Map // string → string

// rebind rewrites PostgreSQL's $N placeholders as SQLite's ?N, which binds
// the Nth argument wherever it appears (SQLite reads $N as a named
// parameter, numbered by first appearance, which would bind a statement
// that names $2 before $1 wrongly). Quoted strings and identifiers,
// comments, and a $ inside a name are left alone.
func rebind(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	b := []byte(query)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\'' || c == '"':
			i = skipTo(b, i+1, string(c))
		case c == '-' && i+1 < len(b) && b[i+1] == '-':
			i = skipTo(b, i+2, "\n")
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			i = skipTo(b, i+2, "*/")
		case c == '$' && i+1 < len(b) && isDigit(b[i+1]) && (i == 0 || !isNameByte(b[i-1])):
			b[i] = '?'
		}
	}
	out := string(b)
	rebound.Store(query, out)
	return out
}

// skipTo returns the index of the last byte of the first end at or after
// i, or the last index of b when there is none.
func skipTo(b []byte, i int, end string) int {
	if j := strings.Index(string(b[min(i, len(b)):]), end); j >= 0 {
		return i + j + len(end) - 1
	}
	return len(b) - 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNameByte(c byte) bool {
	return c == '_' || c == '$' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
