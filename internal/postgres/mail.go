package postgres

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
)

var _ cordon.MailStore = (*DB)(nil)

// EnqueueMail stores new messages in one statement, skipping keys
// already stored (also by an earlier message of the same call).
func (db *DB) EnqueueMail(ctx context.Context, ms []*cordon.MailMessage) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	n := len(ms)
	keys, tos, subjects, bodies, langs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	created, next := make([]int64, n), make([]int64, n)
	for i, m := range ms {
		if err := cordon.CheckMailKey(m.Key); err != nil {
			return 0, err
		}
		keys[i], tos[i], subjects[i], bodies[i], langs[i] = m.Key, m.To, m.Subject, m.Text, m.Language
		created[i], next[i] = micros(m.CreatedAt), micros(m.NextAt)
		if m.NextAt.IsZero() {
			next[i] = created[i]
		}
	}
	var count int
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO mail_outbox (key, recipient, subject, body, language, state, attempts, created_at, next_at, owner, lease_until, sent_at, reason)
			SELECT key, recipient, subject, body, language, 'queued', 0, created_at, next_at, '', 0, 0, ''
			FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[]) WITH ORDINALITY AS m(key, recipient, subject, body, language, created_at, next_at, i)
			ORDER BY i
			ON CONFLICT (key) DO NOTHING`, keys, tos, subjects, bodies, langs, created, next)
		count = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, err
	}
	return count, nil
}

const mailCols = `key, recipient, subject, body, language, state, attempts, created_at, next_at, owner, lease_until, sent_at, reason`

func scanMail(row rowScanner) (*cordon.MailMessage, error) {
	var m cordon.MailMessage
	var created, next, lease, sent int64
	var state string
	if err := row.Scan(&m.Key, &m.To, &m.Subject, &m.Text, &m.Language, &state, &m.Attempts, &created, &next, &m.Owner, &lease, &sent, &m.Reason); err != nil {
		return nil, mapErr(err)
	}
	m.State = cordon.MailState(state)
	m.CreatedAt, m.NextAt, m.LeaseUntil, m.SentAt = fromMicros(created), fromMicros(next), fromMicros(lease), fromMicros(sent)
	return &m, nil
}

// ClaimMail leases due messages to owner. FOR UPDATE SKIP LOCKED lets
// the workers of several nodes claim at once, each getting other rows.
func (db *DB) ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*cordon.MailMessage, error) {
	var out []*cordon.MailMessage
	err := db.tx(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `UPDATE mail_outbox o SET state = 'sending', owner = $2, lease_until = $3, attempts = o.attempts + 1
			FROM (SELECT key FROM mail_outbox
				WHERE (state = 'queued' AND next_at <= $1) OR (state = 'sending' AND lease_until <= $1)
				ORDER BY next_at, key LIMIT $4 FOR UPDATE SKIP LOCKED) due
			WHERE o.key = due.key
			RETURNING o.key, o.recipient, o.subject, o.body, o.language, o.state, o.attempts, o.created_at, o.next_at, o.owner, o.lease_until, o.sent_at, o.reason`,
			micros(now), owner, micros(now.Add(lease)), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order; hand them out oldest first.
	sortMail(out)
	return out, nil
}

func sortMail(ms []*cordon.MailMessage) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && (ms[j].NextAt.Before(ms[j-1].NextAt) || (ms[j].NextAt.Equal(ms[j-1].NextAt) && ms[j].Key < ms[j-1].Key)); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// MarkMailSent records an accepted message.
func (db *DB) MarkMailSent(ctx context.Context, key string, at time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `WITH u AS (UPDATE mail_outbox SET state = 'sent', sent_at = $2, owner = '', lease_until = 0, reason = '' WHERE key = $1 AND state <> 'sent' RETURNING 1)
			SELECT 1 FROM mail_outbox WHERE key = $1`, key, micros(at)).Scan(&one)
		return err
	})
}

func (db *DB) endLease(ctx context.Context, q string, args ...any) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

// RetryMail puts a held message back in the queue.
func (db *DB) RetryMail(ctx context.Context, key, owner string, next time.Time, reason string) error {
	return db.endLease(ctx, `UPDATE mail_outbox SET state = 'queued', next_at = $1, reason = $2, owner = '', lease_until = 0 WHERE key = $3 AND state = 'sending' AND owner = $4`,
		micros(next), reason, key, owner)
}

// FailMail gives a held message up.
func (db *DB) FailMail(ctx context.Context, key, owner, reason string) error {
	return db.endLease(ctx, `UPDATE mail_outbox SET state = 'failed', reason = $1, owner = '', lease_until = 0 WHERE key = $2 AND state = 'sending' AND owner = $3`,
		reason, key, owner)
}

// MailByKey returns one message.
func (db *DB) MailByKey(ctx context.Context, key string) (*cordon.MailMessage, error) {
	return scanMail(db.pool.QueryRow(ctx, `SELECT `+mailCols+` FROM mail_outbox WHERE key = $1`, key))
}

// MailCounts counts a prefix's messages by state: a range of the key
// index, since keys compare bytewise and are printable ASCII.
func (db *DB) MailCounts(ctx context.Context, prefix string) (cordon.MailCounts, error) {
	var c cordon.MailCounts
	rows, err := db.pool.Query(ctx, `SELECT state, count(*) FROM mail_outbox WHERE key >= $1 AND key < $2 GROUP BY state`, prefix, prefix+"\U0010FFFF")
	if err != nil {
		return c, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return c, mapErr(err)
		}
		switch cordon.MailState(st) {
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
