package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// recordSeen counts a denial (prompt false) or a prompt of the session by
// the campaign, once per (campaign, session) whichever came first, in the
// counters and in the row of the session's facts at login (unknown facts
// when the store holds no such session). An unknown campaign: ErrNotFound.
func (s *Store) recordSeen(ctx context.Context, campaignID, sessionID, accountID string, at time.Time, prompt bool) (bool, error) {
	// Most calls repeat a block already counted: answer those with one
	// read, so they never queue for a write transaction (on SQLite, for
	// the one writer).
	var counted bool
	if err := s.b.Reader().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign_blocked WHERE campaign_id = $1 AND session_id = $2)`,
		campaignID, sessionID).Scan(&counted); err != nil || counted {
		return false, err
	}
	var first bool
	err := s.b.Write(ctx, func(tx Querier) error {
		first = false
		// Of concurrent inserts of one key, the later ones wait for the
		// first to commit and then do nothing: one caller counts it.
		n, err := tx.Exec(ctx, `INSERT INTO campaign_blocked (campaign_id, session_id, account_id, at, prompt) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			campaignID, sessionID, accountID, stored.Micros(at), prompt)
		if err != nil || n == 0 {
			return err
		}
		var platform, version, source string
		err = tx.QueryRow(ctx, `SELECT platform, version, source FROM sessions WHERE id = $1`, sessionID).Scan(&platform, &version, &source)
		if err != nil && !errors.Is(err, cordon.ErrNotFound) {
			return err
		}
		newUser, err := tx.Exec(ctx, `INSERT INTO campaign_blocked_users (campaign_id, account_id, platform, version, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			campaignID, accountID, platform, version, source)
		if err != nil {
			return err
		}
		var bs, bu, ps, pu int64 = 1, newUser, 0, 0
		if prompt {
			bs, bu, ps, pu = 0, 0, 1, newUser
		}
		if _, err := tx.Exec(ctx, `INSERT INTO campaign_progress AS p (campaign_id, blocked_sessions, blocked_users, prompted_sessions, prompted_users) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (campaign_id) DO UPDATE SET blocked_sessions = p.blocked_sessions + excluded.blocked_sessions, blocked_users = p.blocked_users + excluded.blocked_users,
			prompted_sessions = p.prompted_sessions + excluded.prompted_sessions, prompted_users = p.prompted_users + excluded.prompted_users`,
			campaignID, bs, bu, ps, pu); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO campaign_progress_rows AS r (campaign_id, platform, version, source, blocked_sessions, blocked_users, prompted_sessions, prompted_users) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (campaign_id, platform, version, source) DO UPDATE SET blocked_sessions = r.blocked_sessions + excluded.blocked_sessions, blocked_users = r.blocked_users + excluded.blocked_users,
			prompted_sessions = r.prompted_sessions + excluded.prompted_sessions, prompted_users = r.prompted_users + excluded.prompted_users`,
			campaignID, platform, version, source, bs, bu, ps, pu); err != nil {
			return err
		}
		first = true
		return nil
	})
	return first, err
}

// RecordBlocked counts the session, and its account, as blocked by the
// campaign, once. An unknown campaign: ErrNotFound.
func (s *Store) RecordBlocked(ctx context.Context, campaignID, sessionID, accountID string, at time.Time) (bool, error) {
	return s.recordSeen(ctx, campaignID, sessionID, accountID, at, false)
}

// RecordPrompted counts the session as prompted by the campaign, once.
func (s *Store) RecordPrompted(ctx context.Context, campaignID, sessionID, accountID string, at time.Time) (bool, error) {
	return s.recordSeen(ctx, campaignID, sessionID, accountID, at, true)
}

// campaignKnown answers ErrNotFound for a campaign the store does not hold.
func campaignKnown(ctx context.Context, q Querier, campaignID string) error {
	var one int
	return q.QueryRow(ctx, `SELECT 1 FROM campaigns WHERE id = $1`, campaignID).Scan(&one)
}

// SetTargeted replaces the campaign's cohort and its rows.
func (s *Store) SetTargeted(ctx context.Context, campaignID string, c cordon.Targeted) error {
	return s.b.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO campaign_targeted (campaign_id, sessions, users, admitted_sessions, admitted_users, exact, at, waiting_sessions, waiting_users) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (campaign_id) DO UPDATE SET sessions = excluded.sessions, users = excluded.users,
			admitted_sessions = excluded.admitted_sessions, admitted_users = excluded.admitted_users, exact = excluded.exact, at = excluded.at,
			waiting_sessions = excluded.waiting_sessions, waiting_users = excluded.waiting_users`,
			campaignID, c.Sessions, c.Users, c.AdmittedSessions, c.AdmittedUsers, c.Exact, stored.Micros(c.At), c.WaitingSessions, c.WaitingUsers); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM campaign_targeted_rows WHERE campaign_id = $1`, campaignID); err != nil {
			return err
		}
		for _, r := range c.Rows {
			if _, err := tx.Exec(ctx, `INSERT INTO campaign_targeted_rows AS t (campaign_id, platform, version, source, sessions, users, admitted_sessions, admitted_users, waiting_sessions, waiting_users) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (campaign_id, platform, version, source) DO UPDATE SET sessions = t.sessions + excluded.sessions, users = t.users + excluded.users,
				admitted_sessions = t.admitted_sessions + excluded.admitted_sessions, admitted_users = t.admitted_users + excluded.admitted_users,
				waiting_sessions = t.waiting_sessions + excluded.waiting_sessions, waiting_users = t.waiting_users + excluded.waiting_users`,
				campaignID, r.Platform, r.Version, r.Source, r.Sessions, r.Users, r.AdmittedSessions, r.AdmittedUsers, r.WaitingSessions, r.WaitingUsers); err != nil {
				return err
			}
		}
		return nil
	})
}

// CampaignTargeted reads the campaign's cohort, one row and its rows, from
// one snapshot.
func (s *Store) CampaignTargeted(ctx context.Context, campaignID string) (cordon.Targeted, error) {
	var c cordon.Targeted
	err := s.b.Snapshot(ctx, func(tx Querier) error {
		c = cordon.Targeted{}
		if err := campaignKnown(ctx, tx, campaignID); err != nil {
			return err
		}
		var at int64
		err := tx.QueryRow(ctx, `SELECT sessions, users, admitted_sessions, admitted_users, exact, at, waiting_sessions, waiting_users FROM campaign_targeted WHERE campaign_id = $1`, campaignID).Scan(&c.Sessions, &c.Users, &c.AdmittedSessions, &c.AdmittedUsers, &c.Exact, &at, &c.WaitingSessions, &c.WaitingUsers)
		if errors.Is(err, cordon.ErrNotFound) {
			c = cordon.Targeted{}
			return nil
		}
		if err != nil {
			return err
		}
		c.At = stored.Time(at)
		rows, err := tx.Query(ctx, `SELECT platform, version, source, sessions, users, admitted_sessions, admitted_users, waiting_sessions, waiting_users FROM campaign_targeted_rows WHERE campaign_id = $1 ORDER BY platform, version, source`, campaignID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r cordon.TargetedRow
			if err := rows.Scan(&r.Platform, &r.Version, &r.Source, &r.Sessions, &r.Users, &r.AdmittedSessions, &r.AdmittedUsers, &r.WaitingSessions, &r.WaitingUsers); err != nil {
				return err
			}
			c.Rows = append(c.Rows, r)
		}
		return rows.Err()
	})
	return c, err
}

// ProgressRows reads the campaign's counters by facts.
func (s *Store) ProgressRows(ctx context.Context, campaignID string) ([]cordon.ProgressRow, error) {
	q := s.b.Reader()
	if err := campaignKnown(ctx, q, campaignID); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT platform, version, source, blocked_sessions, blocked_users, prompted_sessions, prompted_users, satisfied_users
		FROM campaign_progress_rows WHERE campaign_id = $1 ORDER BY platform, version, source`, campaignID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cordon.ProgressRow
	for rows.Next() {
		var r cordon.ProgressRow
		if err := rows.Scan(&r.Platform, &r.Version, &r.Source, &r.BlockedSessions, &r.BlockedUsers, &r.PromptedSessions, &r.PromptedUsers, &r.SatisfiedUsers); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecordProgressSample stores a sample, replacing one at the same instant.
func (s *Store) RecordProgressSample(ctx context.Context, campaignID string, p cordon.ProgressSample) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO campaign_samples (campaign_id, at, targeted_sessions, targeted_users, admitted_share, blocked_sessions, blocked_users, prompted_sessions, prompted_users, satisfied_users)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (campaign_id, at) DO UPDATE SET targeted_sessions = excluded.targeted_sessions, targeted_users = excluded.targeted_users, admitted_share = excluded.admitted_share,
			blocked_sessions = excluded.blocked_sessions, blocked_users = excluded.blocked_users, prompted_sessions = excluded.prompted_sessions,
			prompted_users = excluded.prompted_users, satisfied_users = excluded.satisfied_users`,
			campaignID, stored.Micros(p.At), p.TargetedSessions, p.TargetedUsers, p.AdmittedShare, p.BlockedSessions, p.BlockedUsers, p.PromptedSessions, p.PromptedUsers, p.SatisfiedUsers)
		return err
	})
}

// ProgressSeries reads up to limit samples from from, oldest first.
func (s *Store) ProgressSeries(ctx context.Context, campaignID string, from time.Time, limit int) ([]cordon.ProgressSample, error) {
	q := s.b.Reader()
	if err := campaignKnown(ctx, q, campaignID); err != nil {
		return nil, err
	}
	limit = max(0, min(limit, cordon.MaxProgressSamples))
	rows, err := q.Query(ctx, `SELECT at, targeted_sessions, targeted_users, admitted_share, blocked_sessions, blocked_users, prompted_sessions, prompted_users, satisfied_users
		FROM campaign_samples WHERE campaign_id = $1 AND at >= $2 ORDER BY at LIMIT $3`, campaignID, stored.Micros(from), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cordon.ProgressSample
	for rows.Next() {
		var p cordon.ProgressSample
		var at int64
		if err := rows.Scan(&at, &p.TargetedSessions, &p.TargetedUsers, &p.AdmittedShare, &p.BlockedSessions, &p.BlockedUsers, &p.PromptedSessions, &p.PromptedUsers, &p.SatisfiedUsers); err != nil {
			return nil, err
		}
		p.At = stored.Time(at)
		out = append(out, p)
	}
	return out, rows.Err()
}
