package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// The fleet aggregates: every live session is counted in one row of
// session_buckets (by platform, version, source and UTC day of auth_time)
// and one row of account_buckets (the same key and its account), and
// session_buckets.users counts the account_buckets rows of its key. Every
// session write moves the counts in its own transaction through
// MoveBuckets, so a preview sums a few hundred buckets instead of scanning
// the sessions.
//
// Bucket rows are shared by every session with the same facts, so
// concurrent session writes meet on them. An upsert or a conditional
// UPDATE on a row waits for its lock and applies to the newest version, so
// the counts stay exact; MoveBuckets takes the rows in one global order
// (by key, then account, account_buckets before session_buckets) so that
// PostgreSQL writers moving several buckets, like a facts update or a mass
// revocation, cannot deadlock one another. (SQLite's one writer runs them
// one after another.)

// BucketKey is what puts a session in a bucket.
type BucketKey struct {
	platform, version, source string
	day                       int64
}

// KeyOf is the bucket of s: its facts and the UTC day of its auth time
// (stored.AuthDay).
func KeyOf(s *cordon.Session) BucketKey {
	return BucketKey{s.Facts.Platform, s.Facts.Version, s.Facts.Source, stored.AuthDay(s.AuthTime)}
}

func compareKeys(a, b BucketKey) int {
	return cmp.Or(cmp.Compare(a.platform, b.platform), cmp.Compare(a.version, b.version), cmp.Compare(a.source, b.source), cmp.Compare(a.day, b.day))
}

// Shift changes the number of one account's live sessions in one bucket.
type Shift struct {
	key     BucketKey
	account string
	delta   int64
}

// Enter counts s, a session live from now on, in its bucket.
func Enter(s *cordon.Session) Shift { return Shift{KeyOf(s), s.AccountID, 1} }

// Leave takes s, a session that was live until this transaction, out of
// its bucket.
func Leave(s *cordon.Session) Shift { return Shift{KeyOf(s), s.AccountID, -1} }

// MoveBuckets applies the shifts in tx, a write transaction:
// account_buckets rows are created, counted or deleted at zero, and each
// key's session_buckets row follows with the sessions and the accounts it
// gained or lost. A row missing for a leaving session is skipped rather
// than refused: a count must never stand in the way of a revocation. The
// session writes of both backends call it inside their own transactions.
func MoveBuckets(ctx context.Context, tx Querier, shifts []Shift) error {
	slices.SortFunc(shifts, func(a, b Shift) int {
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
func moveAccountBucket(ctx context.Context, tx Querier, account string, k BucketKey, d int64) (int64, error) {
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
		case errors.Is(err, cordon.ErrNotFound):
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
func moveSessionBucket(ctx context.Context, tx Querier, k BucketKey, sessions, users int64) error {
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
	case errors.Is(err, cordon.ErrNotFound):
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
func (s *Store) Buckets(ctx context.Context) ([]cordon.Bucket, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT platform, version, source, auth_day, sessions, users FROM session_buckets WHERE sessions > 0 ORDER BY platform, version, source, auth_day`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cordon.Bucket
	for rows.Next() {
		var b cordon.Bucket
		var day int64
		if err := rows.Scan(&b.Platform, &b.Version, &b.Source, &day, &b.Sessions, &b.Users); err != nil {
			return nil, err
		}
		b.AuthDay = stored.Time(day)
		out = append(out, b)
	}
	return out, rows.Err()
}

// LiveSessionCount sums the buckets.
func (s *Store) LiveSessionCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.b.Reader().QueryRow(ctx, `SELECT CAST(coalesce(sum(sessions), 0) AS BIGINT) FROM session_buckets`).Scan(&n)
	return n, err
}

// RecordSatisfied counts the account as having satisfied the campaign,
// once, and only if the campaign blocked it: progress is a funnel, and an
// account that was never blocked (outside the cohort, or not yet reached)
// has nothing to satisfy. It reports false for such an account. An
// unknown campaign: ErrNotFound.
func (s *Store) RecordSatisfied(ctx context.Context, campaignID, accountID string, at time.Time) (bool, error) {
	// Every login asks this of every enforcing campaign: answer the
	// accounts already counted, or never blocked, with one read (on
	// SQLite, never queueing for the one writer). Blocks are never undone,
	// so a block seen here stays true in the write below.
	var satisfied, blocked, known bool
	if err := s.b.Reader().QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM campaign_satisfied WHERE campaign_id = $1 AND account_id = $2),
		EXISTS (SELECT 1 FROM campaign_blocked_users WHERE campaign_id = $1 AND account_id = $2),
		EXISTS (SELECT 1 FROM campaigns WHERE id = $1)`, campaignID, accountID).Scan(&satisfied, &blocked, &known); err != nil {
		return false, err
	}
	switch {
	case !known:
		return false, cordon.ErrNotFound
	case satisfied || !blocked:
		return false, nil
	}
	var first bool
	err := s.b.Write(ctx, func(tx Querier) error {
		first = false
		n, err := tx.Exec(ctx, `INSERT INTO campaign_satisfied (campaign_id, account_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			campaignID, accountID, stored.Micros(at))
		if err != nil || n == 0 {
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
func (s *Store) Progress(ctx context.Context, campaignID string) (cordon.Progress, error) {
	var p cordon.Progress
	err := s.b.Reader().QueryRow(ctx, `SELECT coalesce(p.blocked_sessions, 0), coalesce(p.blocked_users, 0), coalesce(p.satisfied_users, 0),
		coalesce(p.prompted_sessions, 0), coalesce(p.prompted_users, 0)
		FROM campaigns c LEFT JOIN campaign_progress p ON p.campaign_id = c.id WHERE c.id = $1`, campaignID).Scan(&p.BlockedSessions, &p.BlockedUsers, &p.SatisfiedUsers, &p.PromptedSessions, &p.PromptedUsers)
	if err != nil {
		return cordon.Progress{}, err
	}
	return p, nil
}
