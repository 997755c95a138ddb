package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
	"github.com/jackc/pgx/v5"
)

// The fleet aggregates: every live session is counted in one row of
// session_buckets (by platform, version, source and UTC day of auth_time)
// and one row of account_buckets (the same key and its account), and
// session_buckets.users counts the account_buckets rows of its key. Every
// session write moves the counts in its own transaction through
// moveBuckets, so a preview sums a few hundred buckets instead of scanning
// the sessions.
//
// Bucket rows are shared by every session with the same facts, so
// concurrent session writes meet on them. An upsert or a conditional
// UPDATE on a row waits for its lock and applies to the newest version, so
// the counts stay exact; moveBuckets takes the rows in one global order
// (by key, then account, account_buckets before session_buckets) so that
// writers moving several buckets, like a facts update or a mass
// revocation, cannot deadlock one another.

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

func compareKeys(a, b bucketKey) int {
	return cmp.Or(cmp.Compare(a.platform, b.platform), cmp.Compare(a.version, b.version), cmp.Compare(a.source, b.source), cmp.Compare(a.day, b.day))
}

// shift changes the number of one account's live sessions in one bucket.
type shift struct {
	key     bucketKey
	account string
	delta   int64
}

// enter counts s, a session live from now on, in its bucket.
func enter(s *cordon.Session) shift { return shift{keyOf(s), s.AccountID, 1} }

// leave takes s, a session that was live until this transaction, out of
// its bucket.
func leave(s *cordon.Session) shift { return shift{keyOf(s), s.AccountID, -1} }

// moveBuckets applies the shifts: account_buckets rows are created,
// counted or deleted at zero, and each key's session_buckets row follows
// with the sessions and the accounts it gained or lost. A row missing for
// a leaving session is skipped rather than refused: a count must never
// stand in the way of a revocation.
func moveBuckets(ctx context.Context, tx pgx.Tx, shifts []shift) error {
	slices.SortFunc(shifts, func(a, b shift) int {
		return cmp.Or(compareKeys(a.key, b.key), cmp.Compare(a.account, b.account))
	})
	for i := 0; i < len(shifts); {
		k := shifts[i].key
		var sessions, users int64
		for ; i < len(shifts) && shifts[i].key == k; i++ {
			a, d := shifts[i].account, shifts[i].delta
			for i+1 < len(shifts) && shifts[i+1].key == k && shifts[i+1].account == a {
				i++
				d += shifts[i].delta
			}
			du, err := moveAccountBucket(ctx, tx, a, k, d)
			if err != nil {
				return err
			}
			sessions += d
			users += du
		}
		if err := moveSessionBucket(ctx, tx, k, sessions, users); err != nil {
			return err
		}
	}
	return nil
}

// moveAccountBucket adds d to the account's count in bucket k and returns
// how the bucket's number of accounts changes: +1 for a row created, -1
// for a row that reached zero and was deleted.
func moveAccountBucket(ctx context.Context, tx pgx.Tx, account string, k bucketKey, d int64) (int64, error) {
	var n int64
	switch {
	case d > 0:
		if err := tx.QueryRow(ctx, `INSERT INTO account_buckets (account_id, platform, version, source, auth_day, sessions) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (account_id, platform, version, source, auth_day) DO UPDATE SET sessions = account_buckets.sessions + excluded.sessions
			RETURNING sessions`, account, k.platform, k.version, k.source, k.day, d).Scan(&n); err != nil {
			return 0, err
		}
		if n == d {
			return 1, nil
		}
	case d < 0:
		err := tx.QueryRow(ctx, `UPDATE account_buckets SET sessions = sessions + $6
			WHERE account_id = $1 AND platform = $2 AND version = $3 AND source = $4 AND auth_day = $5
			RETURNING sessions`, account, k.platform, k.version, k.source, k.day, d).Scan(&n)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return 0, err
		case n <= 0:
			if _, err := tx.Exec(ctx, `DELETE FROM account_buckets WHERE account_id = $1 AND platform = $2 AND version = $3 AND source = $4 AND auth_day = $5`,
				account, k.platform, k.version, k.source, k.day); err != nil {
				return 0, err
			}
			return -1, nil
		}
	}
	return 0, nil
}

// moveSessionBucket adds sessions and users to bucket k, creating it or
// deleting it at zero.
func moveSessionBucket(ctx context.Context, tx pgx.Tx, k bucketKey, sessions, users int64) error {
	if sessions > 0 {
		_, err := tx.Exec(ctx, `INSERT INTO session_buckets (platform, version, source, auth_day, sessions, users) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (platform, version, source, auth_day) DO UPDATE SET sessions = session_buckets.sessions + excluded.sessions, users = session_buckets.users + excluded.users`,
			k.platform, k.version, k.source, k.day, sessions, users)
		return err
	}
	if sessions == 0 && users == 0 {
		return nil
	}
	var n int64
	err := tx.QueryRow(ctx, `UPDATE session_buckets SET sessions = sessions + $5, users = users + $6
		WHERE platform = $1 AND version = $2 AND source = $3 AND auth_day = $4
		RETURNING sessions`, k.platform, k.version, k.source, k.day, sessions, users).Scan(&n)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	case n <= 0:
		_, err = tx.Exec(ctx, `DELETE FROM session_buckets WHERE platform = $1 AND version = $2 AND source = $3 AND auth_day = $4`,
			k.platform, k.version, k.source, k.day)
		return err
	}
	return nil
}

// Buckets returns every non-empty bucket, ordered by platform, version,
// source and day.
func (db *DB) Buckets(ctx context.Context) ([]cordon.Bucket, error) {
	rows, err := db.pool.Query(ctx, `SELECT platform, version, source, auth_day, sessions, users FROM session_buckets WHERE sessions > 0 ORDER BY platform, version, source, auth_day`)
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
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(sessions), 0)::BIGINT FROM session_buckets`).Scan(&n)
	return n, mapErr(err)
}

// SessionsOf returns the live sessions of the given accounts, newest
// first, in one query whatever their number. Unknown accounts have none.
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

// RecordSatisfied counts the account as having satisfied the campaign,
// once, and only if the campaign blocked it: progress is a funnel, and an
// account that was never blocked (outside the cohort, or not yet reached)
// has nothing to satisfy. It reports false for such an account. An
// unknown campaign: ErrNotFound.
func (db *DB) RecordSatisfied(ctx context.Context, campaignID, accountID string, at time.Time) (bool, error) {
	// Every login asks this of every enforcing campaign: answer the
	// accounts already counted, or never blocked, with one read. Blocks
	// are never undone, so a block seen here stays true in the write below.
	var satisfied, blocked, known bool
	if err := db.pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM campaign_satisfied WHERE campaign_id = $1 AND account_id = $2),
		EXISTS (SELECT 1 FROM campaign_blocked_users WHERE campaign_id = $1 AND account_id = $2),
		EXISTS (SELECT 1 FROM campaigns WHERE id = $1)`, campaignID, accountID).Scan(&satisfied, &blocked, &known); err != nil {
		return false, mapErr(err)
	}
	switch {
	case !known:
		return false, cordon.ErrNotFound
	case satisfied || !blocked:
		return false, nil
	}
	var first bool
	err := db.tx(ctx, func(tx pgx.Tx) error {
		first = false
		tag, err := tx.Exec(ctx, `INSERT INTO campaign_satisfied (campaign_id, account_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			campaignID, accountID, micros(at))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO campaign_progress (campaign_id, satisfied_users) VALUES ($1, 1)
			ON CONFLICT (campaign_id) DO UPDATE SET satisfied_users = campaign_progress.satisfied_users + 1`, campaignID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO campaign_progress_rows AS r (campaign_id, platform, version, source, satisfied_users)
			SELECT campaign_id, platform, version, source, 1 FROM campaign_blocked_users WHERE campaign_id = $1 AND account_id = $2
			ON CONFLICT (campaign_id, platform, version, source) DO UPDATE SET satisfied_users = r.satisfied_users + 1`, campaignID, accountID); err != nil {
			return err
		}
		first = true
		return nil
	})
	return first, err
}

// Progress reads the campaign's counters: one row. A campaign with nothing
// recorded has zero progress; an unknown campaign: ErrNotFound.
func (db *DB) Progress(ctx context.Context, campaignID string) (cordon.Progress, error) {
	var p cordon.Progress
	err := db.pool.QueryRow(ctx, `SELECT coalesce(p.blocked_sessions, 0), coalesce(p.blocked_users, 0), coalesce(p.satisfied_users, 0),
		coalesce(p.prompted_sessions, 0), coalesce(p.prompted_users, 0)
		FROM campaigns c LEFT JOIN campaign_progress p ON p.campaign_id = c.id WHERE c.id = $1`, campaignID).Scan(&p.BlockedSessions, &p.BlockedUsers, &p.SatisfiedUsers, &p.PromptedSessions, &p.PromptedUsers)
	if err != nil {
		return cordon.Progress{}, mapErr(err)
	}
	return p, nil
}
