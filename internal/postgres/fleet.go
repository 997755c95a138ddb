package postgres

import (
	"context"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
	"github.com/jackc/pgx/v5"
)

// The fleet aggregates live in sqlstore (fleet.go). What stays here: the
// session writes of this package run in a pgx.Tx, so they move the
// buckets through moveBuckets, a thin wrapper over sqlstore.MoveBuckets;
// and the reads that scan sessions with this package's scanSession, or
// bind an array.

// shift changes the number of one account's live sessions in one bucket.
type shift = sqlstore.Shift

// keyOf is the bucket of s (sqlstore.KeyOf).
func keyOf(s *cordon.Session) sqlstore.BucketKey { return sqlstore.KeyOf(s) }

// enter counts s, a session live from now on, in its bucket.
func enter(s *cordon.Session) shift { return sqlstore.Enter(s) }

// leave takes s, a session that was live until this transaction, out of
// its bucket.
func leave(s *cordon.Session) shift { return sqlstore.Leave(s) }

// moveBuckets applies the shifts in tx (sqlstore.MoveBuckets).
func moveBuckets(ctx context.Context, tx pgx.Tx, shifts []shift) error {
	return sqlstore.MoveBuckets(ctx, querier{tx}, shifts)
}

// SessionsOf returns the live sessions of the given accounts, newest
// first, in one query whatever their number. Unknown accounts have none.
// It overrides nothing shared: PostgreSQL binds the ids as one array,
// where SQLite chunks them into IN lists.
func (db *DB) SessionsOf(ctx context.Context, accountIDs []string) ([]*cordon.Session, error) {
	if len(accountIDs) == 0 {
		return nil, nil
	}
	return querySessions(ctx, db.pool, `SELECT `+sessionCols+` FROM sessions WHERE account_id = ANY($1) AND revoked_at = 0 ORDER BY created_at DESC, id`, accountIDs)
}

// LiveSessions calls fn for every live session, streamed from one
// statement (one snapshot); an error from fn stops the scan and is
// returned.
func (db *DB) LiveSessions(ctx context.Context, fn func(*cordon.Session) error) error {
	rows, err := db.pool.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE revoked_at = 0`)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}
