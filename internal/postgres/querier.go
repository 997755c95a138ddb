package postgres

import (
	"context"

	"github.com/cordon-dev/cordon/internal/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// backend is the PostgreSQL side of the shared store: retried write
// transactions, the pool for reads, REPEATABLE READ snapshots.
type backend struct{ db *DB }

func (b backend) Write(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return b.db.tx(ctx, func(tx pgx.Tx) error { return fn(querier{tx}) })
}

func (b backend) Reader() sqlstore.Querier { return querier{b.db.pool} }

func (b backend) Snapshot(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := b.db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback(ctx)
	return fn(querier{tx})
}

// pgq is a pgx.Tx or the pool.
type pgq interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// querier is sqlstore.Querier over pgx, its errors mapped.
type querier struct{ q pgq }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.q.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return pgRows{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return pgRow{q.q.QueryRow(ctx, query, args...)}
}

type pgRows struct{ r pgx.Rows }

func (r pgRows) Next() bool             { return r.r.Next() }
func (r pgRows) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }
func (r pgRows) Err() error             { return mapErr(r.r.Err()) }
func (r pgRows) Close()                 { r.r.Close() }

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }
