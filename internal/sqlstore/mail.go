package sqlstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

var _ cordon.MailStore = (*Store)(nil)

// EnqueueMail stores new messages, skipping keys already stored (also by
// an earlier message of the same call), one statement a message.
// PostgreSQL serves it with one unnest statement (postgres.DB.EnqueueMail).
func (s *Store) EnqueueMail(ctx context.Context, ms []*cordon.MailMessage) (int, error) {
	for _, m := range ms {
		if err := cordon.CheckMailKey(m.Key); err != nil {
			return 0, err
		}
	}
	n := 0
	err := s.b.Write(ctx, func(tx Querier) error {
		n = 0
		for _, m := range ms {
			next := m.NextAt
			if next.IsZero() {
				next = m.CreatedAt
			}
			k, err := tx.Exec(ctx, `INSERT INTO mail_outbox (key, recipient, subject, body, language, state, attempts, created_at, next_at, owner, lease_until, sent_at, reason)
				VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, '', 0, 0, '') ON CONFLICT (key) DO NOTHING`,
				m.Key, m.To, m.Subject, m.Text, m.Language, stored.Micros(m.CreatedAt), stored.Micros(next))
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	return n, err
}

// mailCols are the columns scanMail reads, in its order.
const mailCols = `key, recipient, subject, body, language, state, attempts, created_at, next_at, owner, lease_until, sent_at, reason`

func scanMail(row Row) (*cordon.MailMessage, error) {
	var m cordon.MailMessage
	var state string
	var created, next, lease, sent int64
	if err := row.Scan(&m.Key, &m.To, &m.Subject, &m.Text, &m.Language, &state, &m.Attempts, &created, &next, &m.Owner, &lease, &sent, &m.Reason); err != nil {
		return nil, err
	}
	m.State = cordon.MailState(state)
	m.CreatedAt, m.NextAt, m.LeaseUntil, m.SentAt = stored.Time(created), stored.Time(next), stored.Time(lease), stored.Time(sent)
	return &m, nil
}

// ClaimMail leases due messages to owner in one statement: the dialect's
// DueMail picks the due keys ($1 the time, $4 the limit), locked with
// SkipLocked where other nodes' workers claim at once.
func (s *Store) ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*cordon.MailMessage, error) {
	var out []*cordon.MailMessage
	err := s.b.Write(ctx, func(tx Querier) error {
		out = nil
		// RETURNING names the updated table's columns unqualified (SQLite
		// allows no other), so the due key is named due_key.
		rows, err := tx.Query(ctx, `UPDATE mail_outbox SET state = 'sending', owner = $2, lease_until = $3, attempts = attempts + 1
			FROM (`+s.d.DueMail+s.d.SkipLocked+`) due
			WHERE key = due.due_key
			RETURNING `+mailCols,
			stored.Micros(now), owner, stored.Micros(now.Add(lease)), limit)
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
	slices.SortFunc(out, func(a, b *cordon.MailMessage) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// MarkMailSent records an accepted message.
func (s *Store) MarkMailSent(ctx context.Context, key string, at time.Time) error {
	return s.b.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `UPDATE mail_outbox SET state = 'sent', sent_at = $1, owner = '', lease_until = 0, reason = '' WHERE key = $2 AND state != 'sent'`, stored.Micros(at), key)
		if err != nil || n > 0 {
			return err
		}
		var one int
		return tx.QueryRow(ctx, `SELECT 1 FROM mail_outbox WHERE key = $1`, key).Scan(&one)
	})
}

func (s *Store) endLease(ctx context.Context, q string, args ...any) error {
	return s.b.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

// RetryMail puts a held message back in the queue.
func (s *Store) RetryMail(ctx context.Context, key, owner string, next time.Time, reason string) error {
	return s.endLease(ctx, `UPDATE mail_outbox SET state = 'queued', next_at = $1, reason = $2, owner = '', lease_until = 0 WHERE key = $3 AND state = 'sending' AND owner = $4`,
		stored.Micros(next), reason, key, owner)
}

// FailMail gives a held message up.
func (s *Store) FailMail(ctx context.Context, key, owner, reason string) error {
	return s.endLease(ctx, `UPDATE mail_outbox SET state = 'failed', reason = $1, owner = '', lease_until = 0 WHERE key = $2 AND state = 'sending' AND owner = $3`,
		reason, key, owner)
}

// MailByKey returns one message.
func (s *Store) MailByKey(ctx context.Context, key string) (*cordon.MailMessage, error) {
	return scanMail(s.b.Reader().QueryRow(ctx, `SELECT `+mailCols+` FROM mail_outbox WHERE key = $1`, key))
}

// MailCounts counts a prefix's messages by state: a range of the key
// index, since keys are printable ASCII (cordon.CheckMailKey) and compare
// bytewise, so [prefix, prefix+U+10FFFF) is the prefix's range.
func (s *Store) MailCounts(ctx context.Context, prefix string) (cordon.MailCounts, error) {
	var c cordon.MailCounts
	rows, err := s.b.Reader().Query(ctx, `SELECT state, count(*) FROM mail_outbox WHERE key >= $1 AND key < $2 GROUP BY state`, prefix, prefix+"\U0010FFFF")
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return c, err
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
	return c, rows.Err()
}
