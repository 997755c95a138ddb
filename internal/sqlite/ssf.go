package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
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
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ssf_streams (`+ssfStreamCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', 0)`,
			s.ID, s.Owner, s.Audience, s.Delivery, s.EndpointURL, s.Authorization, eventsJSON(s.EventsRequested), s.Description,
			s.Status, s.StatusReason, micros(s.CreatedAt), micros(s.UpdatedAt))
		return err
	})
}

func (db *DB) SSFStreamByID(ctx context.Context, id string) (*cordon.SSFStream, error) {
	return scanSSFStream(db.r.QueryRowContext(ctx, `SELECT `+ssfStreamCols+` FROM ssf_streams WHERE id = ?`, id))
}

func (db *DB) SSFStreams(ctx context.Context, owner string) ([]*cordon.SSFStream, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+ssfStreamCols+` FROM ssf_streams WHERE ? = '' OR owner = ? ORDER BY created_at, id`, owner, owner)
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
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE ssf_streams SET audience = ?, delivery = ?, endpoint_url = ?, auth_header = ?, events = ?,
			description = ?, status = ?, status_reason = ?, updated_at = ? WHERE id = ?`,
			s.Audience, s.Delivery, s.EndpointURL, s.Authorization, eventsJSON(s.EventsRequested), s.Description, s.Status, s.StatusReason, micros(s.UpdatedAt), s.ID)
		return oneRow(res, err)
	})
}

func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return cordon.ErrNotFound
	}
	return nil
}

func (db *DB) DeleteSSFStream(ctx context.Context, id string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM ssf_outbox WHERE stream_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM ssf_streams WHERE id = ?`, id)
		return oneRow(res, err)
	})
}

func (db *DB) EnqueueSSF(ctx context.Context, streamID string, evs []*cordon.SSFEvent, limit int) (int, error) {
	dropped := 0
	err := db.write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM ssf_streams WHERE id = ?`, streamID).Scan(&one); err != nil {
			return err
		}
		for _, e := range evs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO ssf_outbox (stream_id, jti, set_jwt, created_at, next_attempt) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (stream_id, jti) DO NOTHING`, streamID, e.JTI, e.SET, micros(e.CreatedAt), micros(e.NextAttempt)); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM ssf_outbox WHERE stream_id = ? AND settled_at = 0`, streamID).Scan(&n); err != nil {
			return err
		}
		if limit < 0 || n <= limit {
			return nil
		}
		dropped = n - limit
		if _, err := tx.ExecContext(ctx, `DELETE FROM ssf_outbox WHERE rowid IN (SELECT rowid FROM ssf_outbox WHERE stream_id = ? AND settled_at = 0
			ORDER BY created_at, jti LIMIT ?)`, streamID, dropped); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE ssf_streams SET dropped = dropped + ? WHERE id = ?`, dropped, streamID)
		return err
	})
	if err != nil {
		return 0, err
	}
	return dropped, nil
}

func (db *DB) PendingSSF(ctx context.Context, streamID string, now time.Time, max int, lease time.Duration) ([]*cordon.SSFEvent, error) {
	var out []*cordon.SSFEvent
	read := func(q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}) error {
		out = out[:0]
		rows, err := q.QueryContext(ctx, `SELECT jti, set_jwt, created_at, attempts, next_attempt FROM ssf_outbox
			WHERE stream_id = ? AND settled_at = 0 AND next_attempt <= ? ORDER BY created_at, jti LIMIT ?`, streamID, micros(now), max)
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
		return out, mapErr(read(db.r))
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		if err := read(tx); err != nil {
			return err
		}
		for _, e := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE ssf_outbox SET next_attempt = ? WHERE stream_id = ? AND jti = ?`, micros(now.Add(lease)), streamID, e.JTI); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func (db *DB) SettleSSF(ctx context.Context, streamID string, jtis []string, at time.Time, failure string) (int, error) {
	n := 0
	err := db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, j := range jtis {
			res, err := tx.ExecContext(ctx, `UPDATE ssf_outbox SET settled_at = ? WHERE stream_id = ? AND jti = ? AND settled_at = 0`, max(micros(at), 1), streamID, j)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		if failure != "" && n > 0 {
			_, err := tx.ExecContext(ctx, `UPDATE ssf_streams SET last_error = ?, last_error_at = ? WHERE id = ?`, failure, micros(at), streamID)
			return err
		}
		return nil
	})
	return n, err
}

func (db *DB) DeferSSF(ctx context.Context, streamID, jti string, next, at time.Time, failure string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE ssf_outbox SET attempts = attempts + 1, next_attempt = ? WHERE stream_id = ? AND jti = ? AND settled_at = 0`,
			micros(next), streamID, jti)
		if err := oneRow(res, err); err != nil {
			return err
		}
		if failure == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE ssf_streams SET last_error = ?, last_error_at = ? WHERE id = ?`, failure, micros(at), streamID)
		return err
	})
}

func (db *DB) PruneSSF(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM ssf_outbox WHERE settled_at != 0 AND settled_at < ?`, micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

func (db *DB) PasswordsChangedSince(ctx context.Context, since time.Time, limit int) ([]cordon.PasswordChange, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, password_changed_at FROM accounts
		WHERE password_changed_at >= ? AND password_changed_at > created_at ORDER BY password_changed_at, id LIMIT ?`, micros(since), limit)
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
