package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const ssfStreamCols = `id, owner, audience, delivery, endpoint_url, auth_header, events, description, status, status_reason, created_at, updated_at, dropped, last_error, last_error_at`

func scanSSFStream(sc interface{ Scan(...any) error }) (*cordon.SSFStream, error) {
	var s cordon.SSFStream
	var events string
	var created, updated, errAt int64
	if err := sc.Scan(&s.ID, &s.Owner, &s.Audience, &s.Delivery, &s.EndpointURL, &s.Authorization, &events, &s.Description,
		&s.Status, &s.StatusReason, &created, &updated, &s.Dropped, &s.LastError, &errAt); err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal([]byte(events), &s.EventsRequested); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt, s.LastErrorAt = fromMicros(created), fromMicros(updated), fromMicros(errAt)
	return &s, nil
}

func eventsJSON(evs []string) string {
	if evs == nil {
		evs = []string{}
	}
	b, _ := json.Marshal(evs)
	return string(b)
}

func (db *DB) CreateSSFStream(ctx context.Context, s *cordon.SSFStream) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO ssf_streams (`+ssfStreamCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, '', 0)`,
			s.ID, s.Owner, s.Audience, s.Delivery, s.EndpointURL, s.Authorization, eventsJSON(s.EventsRequested), s.Description,
			s.Status, s.StatusReason, micros(s.CreatedAt), micros(s.UpdatedAt))
		return err
	})
}

func (db *DB) SSFStreamByID(ctx context.Context, id string) (*cordon.SSFStream, error) {
	return scanSSFStream(db.pool.QueryRow(ctx, `SELECT `+ssfStreamCols+` FROM ssf_streams WHERE id = $1`, id))
}

func (db *DB) SSFStreams(ctx context.Context, owner string) ([]*cordon.SSFStream, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+ssfStreamCols+` FROM ssf_streams WHERE $1::text = '' OR owner = $1 ORDER BY created_at, id`, owner)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*cordon.SSFStream
	for rows.Next() {
		s, err := scanSSFStream(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, mapErr(rows.Err())
}

func (db *DB) UpdateSSFStream(ctx context.Context, s *cordon.SSFStream) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE ssf_streams SET audience = $1, delivery = $2, endpoint_url = $3, auth_header = $4, events = $5,
			description = $6, status = $7, status_reason = $8, updated_at = $9 WHERE id = $10`,
			s.Audience, s.Delivery, s.EndpointURL, s.Authorization, eventsJSON(s.EventsRequested), s.Description, s.Status, s.StatusReason, micros(s.UpdatedAt), s.ID)
		return oneRow(res, err)
	})
}

func oneRow(res pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if res.RowsAffected() == 0 {
		return cordon.ErrNotFound
	}
	return nil
}

func (db *DB) DeleteSSFStream(ctx context.Context, id string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM ssf_outbox WHERE stream_id = $1`, id); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM ssf_streams WHERE id = $1`, id)
		return oneRow(res, err)
	})
}

func (db *DB) EnqueueSSF(ctx context.Context, streamID string, evs []*cordon.SSFEvent, limit int) (int, error) {
	dropped := 0
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM ssf_streams WHERE id = $1 FOR UPDATE`, streamID).Scan(&one); err != nil {
			return err
		}
		for _, e := range evs {
			if _, err := tx.Exec(ctx, `INSERT INTO ssf_outbox (stream_id, jti, set_jwt, created_at, next_attempt) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (stream_id, jti) DO NOTHING`, streamID, e.JTI, e.SET, micros(e.CreatedAt), micros(e.NextAttempt)); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM ssf_outbox WHERE stream_id = $1 AND settled_at = 0`, streamID).Scan(&n); err != nil {
			return err
		}
		if limit < 0 || n <= limit {
			return nil
		}
		dropped = n - limit
		if _, err := tx.Exec(ctx, `DELETE FROM ssf_outbox WHERE (stream_id, jti) IN (SELECT stream_id, jti FROM ssf_outbox WHERE stream_id = $1 AND settled_at = 0
			ORDER BY created_at, jti LIMIT $2)`, streamID, dropped); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE ssf_streams SET dropped = dropped + $1 WHERE id = $2`, dropped, streamID)
		return err
	})
	if err != nil {
		return 0, err
	}
	return dropped, nil
}

func (db *DB) PendingSSF(ctx context.Context, streamID string, now time.Time, max int, lease time.Duration) ([]*cordon.SSFEvent, error) {
	var out []*cordon.SSFEvent
	const q = `SELECT jti, set_jwt, created_at, attempts, next_attempt FROM ssf_outbox
		WHERE stream_id = $1 AND settled_at = 0 AND next_attempt <= $2 ORDER BY created_at, jti LIMIT $3`
	read := func(rows pgx.Rows, err error) error {
		out = out[:0]
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e := &cordon.SSFEvent{StreamID: streamID}
			var created, next int64
			if err := rows.Scan(&e.JTI, &e.SET, &created, &e.Attempts, &next); err != nil {
				return err
			}
			e.CreatedAt, e.NextAttempt = fromMicros(created), fromMicros(next)
			out = append(out, e)
		}
		return rows.Err()
	}
	if lease <= 0 {
		return out, mapErr(read(db.pool.Query(ctx, q, streamID, micros(now), max)))
	}
	// SKIP LOCKED: a node claiming at the same moment takes other rows.
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := read(tx.Query(ctx, q+` FOR UPDATE SKIP LOCKED`, streamID, micros(now), max)); err != nil {
			return err
		}
		for _, e := range out {
			if _, err := tx.Exec(ctx, `UPDATE ssf_outbox SET next_attempt = $1 WHERE stream_id = $2 AND jti = $3`, micros(now.Add(lease)), streamID, e.JTI); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func (db *DB) SettleSSF(ctx context.Context, streamID string, jtis []string, at time.Time, failure string) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, j := range jtis {
			res, err := tx.Exec(ctx, `UPDATE ssf_outbox SET settled_at = $1 WHERE stream_id = $2 AND jti = $3 AND settled_at = 0`, max(micros(at), 1), streamID, j)
			if err != nil {
				return err
			}
			n += int(res.RowsAffected())
		}
		if failure != "" && n > 0 {
			_, err := tx.Exec(ctx, `UPDATE ssf_streams SET last_error = $1, last_error_at = $2 WHERE id = $3`, failure, micros(at), streamID)
			return err
		}
		return nil
	})
	return n, err
}

func (db *DB) DeferSSF(ctx context.Context, streamID, jti string, next, at time.Time, failure string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE ssf_outbox SET attempts = attempts + 1, next_attempt = $1 WHERE stream_id = $2 AND jti = $3 AND settled_at = 0`,
			micros(next), streamID, jti)
		if err := oneRow(res, err); err != nil {
			return err
		}
		if failure == "" {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE ssf_streams SET last_error = $1, last_error_at = $2 WHERE id = $3`, failure, micros(at), streamID)
		return err
	})
}

func (db *DB) PruneSSF(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM ssf_outbox WHERE settled_at != 0 AND settled_at < $1`, micros(before))
		if err != nil {
			return err
		}
		n = res.RowsAffected()
		return nil
	})
	return int(n), err
}

func (db *DB) PasswordsChangedSince(ctx context.Context, since time.Time, limit int) ([]cordon.PasswordChange, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, password_changed_at FROM accounts
		WHERE password_changed_at >= $1 AND password_changed_at > created_at ORDER BY password_changed_at, id LIMIT $2`, micros(since), limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []cordon.PasswordChange
	for rows.Next() {
		var c cordon.PasswordChange
		var at int64
		if err := rows.Scan(&c.AccountID, &at); err != nil {
			return nil, mapErr(err)
		}
		c.At = fromMicros(at)
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}
