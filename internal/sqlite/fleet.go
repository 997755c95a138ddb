package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
)

// The fleet aggregates live in sqlstore (fleet.go). What stays here: the
// session writes of this package run in a *sql.Tx, so they move the
// buckets through enterBucket and leaveBucket, thin wrappers over
// sqlstore.MoveBuckets; and the reads that scan sessions with this
// package's scanSession, or bind their ids in chunks.

// keyOf is the bucket of s (sqlstore.KeyOf).
func keyOf(s *cordon.Session) sqlstore.BucketKey { return sqlstore.KeyOf(s) }

// enterBucket counts s, a live session, in its bucket.
func enterBucket(ctx context.Context, tx *sql.Tx, s *cordon.Session) error {
	return sqlstore.MoveBuckets(ctx, sqlQuerier{tx}, []sqlstore.Shift{sqlstore.Enter(s)})
}

// leaveBucket takes s, a session that was live until this transaction,
// out of its bucket (sqlstore.MoveBuckets).
func leaveBucket(ctx context.Context, tx *sql.Tx, s *cordon.Session) error {
	return sqlstore.MoveBuckets(ctx, sqlQuerier{tx}, []sqlstore.Shift{sqlstore.Leave(s)})
}

// inChunk bounds the ids bound into one IN list, well under SQLite's limit
// on host parameters.
const inChunk = 500

// SessionsOf returns the live sessions of the given accounts, newest first
// within each chunk of 500 accounts. Unknown accounts have none. It
// overrides nothing shared: SQLite has no array parameter, so the ids go
// in chunked IN lists where PostgreSQL binds one array.
func (db *DB) SessionsOf(ctx context.Context, accountIDs []string) ([]*cordon.Session, error) {
	seen := make(map[string]bool, len(accountIDs))
	ids := make([]any, 0, len(accountIDs))
	for _, id := range accountIDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var out []*cordon.Session
	for len(ids) > 0 {
		chunk := ids[:min(inChunk, len(ids))]
		ids = ids[len(chunk):]
		marks := strings.Repeat(", ?", len(chunk))[2:]
		rows, err := db.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE account_id IN (`+marks+`) AND revoked_at = 0 ORDER BY created_at DESC, id`, chunk...)
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			s, err := scanSession(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, s)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr(err)
		}
	}
	return out, nil
}

// LiveSessions calls fn for every live session, from one read snapshot on
// a reader connection; an error from fn stops the scan and is returned.
func (db *DB) LiveSessions(ctx context.Context, fn func(*cordon.Session) error) error {
	rows, err := db.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE revoked_at = 0`)
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
