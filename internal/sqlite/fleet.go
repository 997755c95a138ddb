package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// The fleet aggregates: every live session is counted in one row of
// session_buckets (by platform, version, source and UTC day of auth_time)
// and one row of account_buckets (the same key and its account), and
// session_buckets.users counts the account_buckets rows of its key. Every
// session write moves the counts in its own transaction through
// enterBucket and leaveBucket, so a preview sums a few hundred buckets
// instead of scanning the sessions.

// authDay is the bucket day of t (stored.AuthDay).
func authDay(t time.Time) int64 { return stored.AuthDay(t) }

// bucketKey is what puts a session in a bucket.
type bucketKey struct {
	platform, version, source string
	day                       int64
}

func keyOf(s *cordon.Session) bucketKey {
	return bucketKey{s.Facts.Platform, s.Facts.Version, s.Facts.Source, authDay(s.AuthTime)}
}

// enterBucket counts s, a live session, in its bucket.
func enterBucket(ctx context.Context, tx *sql.Tx, s *cordon.Session) error {
	k := keyOf(s)
	var n int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO account_buckets (account_id, platform, version, source, auth_day, sessions) VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT (account_id, platform, version, source, auth_day) DO UPDATE SET sessions = sessions + 1
		RETURNING sessions`, s.AccountID, k.platform, k.version, k.source, k.day).Scan(&n); err != nil {
		return err
	}
	newUser := 0
	if n == 1 {
		newUser = 1
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO session_buckets (platform, version, source, auth_day, sessions, users) VALUES (?, ?, ?, ?, 1, ?)
		ON CONFLICT (platform, version, source, auth_day) DO UPDATE SET sessions = sessions + 1, users = users + excluded.users`,
		k.platform, k.version, k.source, k.day, newUser)
	return err
}

// leaveBucket takes s, a session that was live until this transaction,
// out of its bucket, deleting rows that reach zero. A missing row is
// skipped rather than refused: a count must never stand in the way of a
// revocation.
func leaveBucket(ctx context.Context, tx *sql.Tx, s *cordon.Session) error {
	k := keyOf(s)
	var n int64
	lostUser := 0
	err := tx.QueryRowContext(ctx, `UPDATE account_buckets SET sessions = sessions - 1
		WHERE account_id = ? AND platform = ? AND version = ? AND source = ? AND auth_day = ?
		RETURNING sessions`, s.AccountID, k.platform, k.version, k.source, k.day).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case n <= 0:
		lostUser = 1
		if _, err := tx.ExecContext(ctx, `DELETE FROM account_buckets WHERE account_id = ? AND platform = ? AND version = ? AND source = ? AND auth_day = ?`,
			s.AccountID, k.platform, k.version, k.source, k.day); err != nil {
			return err
		}
	}
	err = tx.QueryRowContext(ctx, `UPDATE session_buckets SET sessions = sessions - 1, users = users - ?
		WHERE platform = ? AND version = ? AND source = ? AND auth_day = ?
		RETURNING sessions`, lostUser, k.platform, k.version, k.source, k.day).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case n <= 0:
		_, err = tx.ExecContext(ctx, `DELETE FROM session_buckets WHERE platform = ? AND version = ? AND source = ? AND auth_day = ?`,
			k.platform, k.version, k.source, k.day)
		return err
	}
	return nil
}

// Buckets returns every non-empty bucket, ordered by platform, version,
// source and day.
func (db *DB) Buckets(ctx context.Context) ([]cordon.Bucket, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT platform, version, source, auth_day, sessions, users FROM session_buckets WHERE sessions > 0 ORDER BY platform, version, source, auth_day`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []cordon.Bucket
	for rows.Next() {
		var b cordon.Bucket
		var day int64
		if err := rows.Scan(&b.Platform, &b.Version, &b.Source, &day, &b.Sessions, &b.Users); err != nil {
			return nil, mapErr(err)
		}
		b.AuthDay = fromMicros(day)
		out = append(out, b)
	}
	return out, mapErr(rows.Err())
}

// LiveSessionCount sums the buckets.
func (db *DB) LiveSessionCount(ctx context.Context) (int64, error) {
	var n int64
	err := db.r.QueryRowContext(ctx, `SELECT coalesce(sum(sessions), 0) FROM session_buckets`).Scan(&n)
	return n, mapErr(err)
}

// inChunk bounds the ids bound into one IN list, well under SQLite's limit
// on host parameters.
const inChunk = 500

// SessionsOf returns the live sessions of the given accounts, newest first
// within each chunk of 500 accounts. Unknown accounts have none.
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

// RecordSatisfied counts the account as having satisfied the campaign,
// once, and only if the campaign blocked it: progress is a funnel, and an
// account that was never blocked (outside the cohort, or not yet reached)
// has nothing to satisfy. It reports false for such an account. An
// unknown campaign: ErrNotFound.
func (db *DB) RecordSatisfied(ctx context.Context, campaignID, accountID string, at time.Time) (bool, error) {
	// Every login asks this of every enforcing campaign: answer the
	// accounts already counted, or never blocked, from a reader. Blocks are
	// never undone, so a block seen here stays true in the write below.
	var satisfied, blocked, known bool
	if err := db.r.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM campaign_satisfied WHERE campaign_id = ?1 AND account_id = ?2),
		EXISTS (SELECT 1 FROM campaign_blocked_users WHERE campaign_id = ?1 AND account_id = ?2),
		EXISTS (SELECT 1 FROM campaigns WHERE id = ?1)`, campaignID, accountID).Scan(&satisfied, &blocked, &known); err != nil {
		return false, mapErr(err)
	}
	switch {
	case !known:
		return false, cordon.ErrNotFound
	case satisfied || !blocked:
		return false, nil
	}
	var first bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		first = false
		res, err := tx.ExecContext(ctx, `INSERT INTO campaign_satisfied (campaign_id, account_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			campaignID, accountID, micros(at))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_progress (campaign_id, satisfied_users) VALUES (?, 1)
			ON CONFLICT (campaign_id) DO UPDATE SET satisfied_users = satisfied_users + 1`, campaignID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_progress_rows (campaign_id, platform, version, source, satisfied_users)
			SELECT campaign_id, platform, version, source, 1 FROM campaign_blocked_users WHERE campaign_id = ? AND account_id = ?
			ON CONFLICT (campaign_id, platform, version, source) DO UPDATE SET satisfied_users = satisfied_users + 1`, campaignID, accountID); err != nil {
			return err
		}
		first = true
		return nil
	})
	return first, err
}

// exists reports whether query, run on a reader, returns a row.
func (db *DB) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := db.r.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, mapErr(err)
}

// Progress reads the campaign's counters: one row. A campaign with nothing
// recorded has zero progress; an unknown campaign: ErrNotFound.
func (db *DB) Progress(ctx context.Context, campaignID string) (cordon.Progress, error) {
	var p cordon.Progress
	err := db.r.QueryRowContext(ctx, `SELECT coalesce(p.blocked_sessions, 0), coalesce(p.blocked_users, 0), coalesce(p.satisfied_users, 0),
		coalesce(p.prompted_sessions, 0), coalesce(p.prompted_users, 0)
		FROM campaigns c LEFT JOIN campaign_progress p ON p.campaign_id = c.id WHERE c.id = ?`, campaignID).Scan(&p.BlockedSessions, &p.BlockedUsers, &p.SatisfiedUsers, &p.PromptedSessions, &p.PromptedUsers)
	if err != nil {
		return cordon.Progress{}, mapErr(err)
	}
	return p, nil
}
