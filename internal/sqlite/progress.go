package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// recordSeen counts a denial (prompt false) or a prompt of the session by
// the campaign, once per (campaign, session) whichever came first, in the
// counters and in the row of the session's facts at login (unknown facts
// when the store holds no such session). An unknown campaign: ErrNotFound.
func (db *DB) recordSeen(ctx context.Context, campaignID, sessionID, accountID string, at time.Time, prompt bool) (bool, error) {
	// Most calls repeat a block already counted: answer those from a
	// reader, so they never queue for the one writer.
	if ok, err := db.exists(ctx, `SELECT 1 FROM campaign_blocked WHERE campaign_id = ? AND session_id = ?`, campaignID, sessionID); ok || err != nil {
		return false, err
	}
	var first bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		first = false
		res, err := tx.ExecContext(ctx, `INSERT INTO campaign_blocked (campaign_id, session_id, account_id, at, prompt) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			campaignID, sessionID, accountID, micros(at), prompt)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		var platform, version, source string
		err = tx.QueryRowContext(ctx, `SELECT platform, version, source FROM sessions WHERE id = ?`, sessionID).Scan(&platform, &version, &source)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO campaign_blocked_users (campaign_id, account_id, platform, version, source) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			campaignID, accountID, platform, version, source)
		if err != nil {
			return err
		}
		newUser, _ := res.RowsAffected()
		var bs, bu, ps, pu int64 = 1, newUser, 0, 0
		if prompt {
			bs, bu, ps, pu = 0, 0, 1, newUser
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_progress (campaign_id, blocked_sessions, blocked_users, prompted_sessions, prompted_users) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (campaign_id) DO UPDATE SET blocked_sessions = blocked_sessions + excluded.blocked_sessions, blocked_users = blocked_users + excluded.blocked_users,
			prompted_sessions = prompted_sessions + excluded.prompted_sessions, prompted_users = prompted_users + excluded.prompted_users`,
			campaignID, bs, bu, ps, pu); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_progress_rows (campaign_id, platform, version, source, blocked_sessions, blocked_users, prompted_sessions, prompted_users) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (campaign_id, platform, version, source) DO UPDATE SET blocked_sessions = blocked_sessions + excluded.blocked_sessions, blocked_users = blocked_users + excluded.blocked_users,
			prompted_sessions = prompted_sessions + excluded.prompted_sessions, prompted_users = prompted_users + excluded.prompted_users`,
			campaignID, platform, version, source, bs, bu, ps, pu); err != nil {
			return err
		}
		first = true
		return nil
	})
	return first, err
}

// RecordPrompted counts the session as prompted by the campaign, once.
func (db *DB) RecordPrompted(ctx context.Context, campaignID, sessionID, accountID string, at time.Time) (bool, error) {
	return db.recordSeen(ctx, campaignID, sessionID, accountID, at, true)
}

// campaignKnown answers ErrNotFound for a campaign the store does not hold.
func campaignKnown(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, campaignID string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM campaigns WHERE id = ?`, campaignID).Scan(&one)
	return mapErr(err)
}

// SetTargeted replaces the campaign's cohort and its rows.
func (db *DB) SetTargeted(ctx context.Context, campaignID string, c cordon.Targeted) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_targeted (campaign_id, sessions, users, admitted_sessions, admitted_users, exact, at, waiting_sessions, waiting_users) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (campaign_id) DO UPDATE SET sessions = excluded.sessions, users = excluded.users,
			admitted_sessions = excluded.admitted_sessions, admitted_users = excluded.admitted_users, exact = excluded.exact, at = excluded.at,
			waiting_sessions = excluded.waiting_sessions, waiting_users = excluded.waiting_users`,
			campaignID, c.Sessions, c.Users, c.AdmittedSessions, c.AdmittedUsers, c.Exact, micros(c.At), c.WaitingSessions, c.WaitingUsers); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM campaign_targeted_rows WHERE campaign_id = ?`, campaignID); err != nil {
			return err
		}
		for _, r := range c.Rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_targeted_rows (campaign_id, platform, version, source, sessions, users, admitted_sessions, admitted_users, waiting_sessions, waiting_users) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT DO UPDATE SET sessions = sessions + excluded.sessions, users = users + excluded.users,
				admitted_sessions = admitted_sessions + excluded.admitted_sessions, admitted_users = admitted_users + excluded.admitted_users,
				waiting_sessions = waiting_sessions + excluded.waiting_sessions, waiting_users = waiting_users + excluded.waiting_users`,
				campaignID, r.Platform, r.Version, r.Source, r.Sessions, r.Users, r.AdmittedSessions, r.AdmittedUsers, r.WaitingSessions, r.WaitingUsers); err != nil {
				return err
			}
		}
		return nil
	})
}

// CampaignTargeted reads the campaign's cohort: one row and its rows.
func (db *DB) CampaignTargeted(ctx context.Context, campaignID string) (cordon.Targeted, error) {
	var c cordon.Targeted
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return c, mapErr(err)
	}
	defer tx.Rollback()
	if err := campaignKnown(ctx, tx, campaignID); err != nil {
		return c, err
	}
	var at int64
	err = tx.QueryRowContext(ctx, `SELECT sessions, users, admitted_sessions, admitted_users, exact, at, waiting_sessions, waiting_users FROM campaign_targeted WHERE campaign_id = ?`, campaignID).Scan(&c.Sessions, &c.Users, &c.AdmittedSessions, &c.AdmittedUsers, &c.Exact, &at, &c.WaitingSessions, &c.WaitingUsers)
	if err == sql.ErrNoRows {
		return cordon.Targeted{}, nil
	}
	if err != nil {
		return c, mapErr(err)
	}
	c.At = fromMicros(at)
	rows, err := tx.QueryContext(ctx, `SELECT platform, version, source, sessions, users, admitted_sessions, admitted_users, waiting_sessions, waiting_users FROM campaign_targeted_rows WHERE campaign_id = ? ORDER BY platform, version, source`, campaignID)
	if err != nil {
		return c, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r cordon.TargetedRow
		if err := rows.Scan(&r.Platform, &r.Version, &r.Source, &r.Sessions, &r.Users, &r.AdmittedSessions, &r.AdmittedUsers, &r.WaitingSessions, &r.WaitingUsers); err != nil {
			return c, mapErr(err)
		}
		c.Rows = append(c.Rows, r)
	}
	return c, mapErr(rows.Err())
}

// ProgressRows reads the campaign's counters by facts.
func (db *DB) ProgressRows(ctx context.Context, campaignID string) ([]cordon.ProgressRow, error) {
	if err := campaignKnown(ctx, db.r, campaignID); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT platform, version, source, blocked_sessions, blocked_users, prompted_sessions, prompted_users, satisfied_users
		FROM campaign_progress_rows WHERE campaign_id = ? ORDER BY platform, version, source`, campaignID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []cordon.ProgressRow
	for rows.Next() {
		var r cordon.ProgressRow
		if err := rows.Scan(&r.Platform, &r.Version, &r.Source, &r.BlockedSessions, &r.BlockedUsers, &r.PromptedSessions, &r.PromptedUsers, &r.SatisfiedUsers); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// RecordProgressSample stores a sample, replacing one at the same instant.
func (db *DB) RecordProgressSample(ctx context.Context, campaignID string, s cordon.ProgressSample) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO campaign_samples (campaign_id, at, targeted_sessions, targeted_users, admitted_share, blocked_sessions, blocked_users, prompted_sessions, prompted_users, satisfied_users)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (campaign_id, at) DO UPDATE SET targeted_sessions = excluded.targeted_sessions, targeted_users = excluded.targeted_users, admitted_share = excluded.admitted_share,
			blocked_sessions = excluded.blocked_sessions, blocked_users = excluded.blocked_users, prompted_sessions = excluded.prompted_sessions,
			prompted_users = excluded.prompted_users, satisfied_users = excluded.satisfied_users`,
			campaignID, micros(s.At), s.TargetedSessions, s.TargetedUsers, s.AdmittedShare, s.BlockedSessions, s.BlockedUsers, s.PromptedSessions, s.PromptedUsers, s.SatisfiedUsers)
		return err
	})
}

// ProgressSeries reads up to limit samples from from, oldest first.
func (db *DB) ProgressSeries(ctx context.Context, campaignID string, from time.Time, limit int) ([]cordon.ProgressSample, error) {
	if err := campaignKnown(ctx, db.r, campaignID); err != nil {
		return nil, err
	}
	limit = max(0, min(limit, cordon.MaxProgressSamples))
	rows, err := db.r.QueryContext(ctx, `SELECT at, targeted_sessions, targeted_users, admitted_share, blocked_sessions, blocked_users, prompted_sessions, prompted_users, satisfied_users
		FROM campaign_samples WHERE campaign_id = ? AND at >= ? ORDER BY at LIMIT ?`, campaignID, micros(from), limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []cordon.ProgressSample
	for rows.Next() {
		var s cordon.ProgressSample
		var at int64
		if err := rows.Scan(&at, &s.TargetedSessions, &s.TargetedUsers, &s.AdmittedShare, &s.BlockedSessions, &s.BlockedUsers, &s.PromptedSessions, &s.PromptedUsers, &s.SatisfiedUsers); err != nil {
			return nil, mapErr(err)
		}
		s.At = fromMicros(at)
		out = append(out, s)
	}
	return out, mapErr(rows.Err())
}
