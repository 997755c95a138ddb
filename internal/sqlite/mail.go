package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var _ cordon.MailStore = (*DB)(nil)

// prefixEnd is above every key that starts with a prefix: keys are
// printable ASCII (cordon.CheckMailKey), and SQLite compares text
// bytewise, so [prefix, prefix+U+10FFFF) is the prefix's range.
func prefixEnd(prefix string) string { return prefix + "\U0010FFFF" }

// EnqueueMail stores new messages, skipping keys already stored.
func (db *DB) EnqueueMail(ctx context.Context, ms []*cordon.MailMessage) (int, error) {
	for _, m := range ms {
		if err := cordon.CheckMailKey(m.Key); err != nil {
			return 0, err
		}
	}
	n := 0
	err := db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		st, err := tx.PrepareContext(ctx, `INSERT INTO mail_outbox (key, recipient, subject, body, language, state, attempts, created_at, next_at, owner, lease_until, sent_at, reason)
			VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, '', 0, 0, '') ON CONFLICT (key) DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range ms {
			next := m.NextAt
			if next.IsZero() {
				next = m.CreatedAt
			}
			res, err := st.ExecContext(ctx, m.Key, m.To, m.Subject, m.Text, m.Language, micros(m.CreatedAt), micros(next))
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

const mailCols = `key, recipient, subject, body, language, state, attempts, created_at, next_at, owner, lease_until, sent_at, reason`

func scanMail(row interface{ Scan(...any) error }) (*cordon.MailMessage, error) {
	var m cordon.MailMessage
	var created, next, lease, sent int64
	if err := row.Scan(&m.Key, &m.To, &m.Subject, &m.Text, &m.Language, &m.State, &m.Attempts, &created, &next, &m.Owner, &lease, &sent, &m.Reason); err != nil {
		return nil, mapErr(err)
	}
	m.CreatedAt, m.NextAt, m.LeaseUntil, m.SentAt = fromMicros(created), fromMicros(next), fromMicros(lease), fromMicros(sent)
	return &m, nil
}

// ClaimMail leases due messages to owner. SQLite has one writer, so the
// select and the update in one write transaction are a claim no other
// caller can share.
func (db *DB) ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*cordon.MailMessage, error) {
	var out []*cordon.MailMessage
	err := db.write(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `SELECT `+mailCols+` FROM (
			SELECT * FROM mail_outbox WHERE state = 'queued' AND next_at <= ?1
			UNION ALL SELECT * FROM mail_outbox WHERE state = 'sending' AND lease_until <= ?1
		) ORDER BY next_at, key LIMIT ?2`, micros(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		until := now.Add(lease)
		for _, m := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE mail_outbox SET state = 'sending', owner = ?, lease_until = ?, attempts = attempts + 1 WHERE key = ?`,
				owner, micros(until), m.Key); err != nil {
				return err
			}
			m.State, m.Owner, m.LeaseUntil = cordon.MailSending, owner, fromMicros(micros(until))
			m.Attempts++
		}
		return nil
	})
	return out, err
}

// MarkMailSent records an accepted message.
func (db *DB) MarkMailSent(ctx context.Context, key string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mail_outbox SET state = 'sent', sent_at = ?, owner = '', lease_until = 0, reason = '' WHERE key = ? AND state != 'sent'`, micros(at), key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			return mapErr(tx.QueryRowContext(ctx, `SELECT 1 FROM mail_outbox WHERE key = ?`, key).Scan(&one))
		}
		return nil
	})
}

func (db *DB) endLease(ctx context.Context, q string, args ...any) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

// RetryMail puts a held message back in the queue.
func (db *DB) RetryMail(ctx context.Context, key, owner string, next time.Time, reason string) error {
	return db.endLease(ctx, `UPDATE mail_outbox SET state = 'queued', next_at = ?, reason = ?, owner = '', lease_until = 0 WHERE key = ? AND state = 'sending' AND owner = ?`,
		micros(next), reason, key, owner)
}

// FailMail gives a held message up.
func (db *DB) FailMail(ctx context.Context, key, owner, reason string) error {
	return db.endLease(ctx, `UPDATE mail_outbox SET state = 'failed', reason = ?, owner = '', lease_until = 0 WHERE key = ? AND state = 'sending' AND owner = ?`,
		reason, key, owner)
}

// MailByKey returns one message.
func (db *DB) MailByKey(ctx context.Context, key string) (*cordon.MailMessage, error) {
	return scanMail(db.r.QueryRowContext(ctx, `SELECT `+mailCols+` FROM mail_outbox WHERE key = ?`, key))
}

// MailCounts counts a prefix's messages by state.
func (db *DB) MailCounts(ctx context.Context, prefix string) (cordon.MailCounts, error) {
	var c cordon.MailCounts
	rows, err := db.r.QueryContext(ctx, `SELECT state, count(*) FROM mail_outbox WHERE key >= ? AND key < ? GROUP BY state`, prefix, prefixEnd(prefix))
	if err != nil {
		return c, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st cordon.MailState
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return c, mapErr(err)
		}
		switch st {
		case cordon.MailQueued, cordon.MailSending:
			c.Queued += n
		case cordon.MailSent:
			c.Sent += n
		case cordon.MailFailed:
			c.Failed += n
		}
	}
	return c, mapErr(rows.Err())
}
