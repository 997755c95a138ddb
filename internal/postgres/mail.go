package postgres

import (
	"context"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
)

// EnqueueMail stores new messages in one statement, skipping keys
// already stored (also by an earlier message of the same call). It
// overrides the shared statement-a-message form (sqlstore.EnqueueMail):
// one unnest insert is one round trip for a whole batch of notices.
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
