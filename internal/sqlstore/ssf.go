package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

const ssfStreamCols = `id, owner, audience, delivery, endpoint_url, auth_header, events, description, status, status_reason, created_at, updated_at, dropped, last_error, last_error_at`

func scanSSFStream(sc Row) (*cordon.SSFStream, error) {
	var s cordon.SSFStream
	var events string
	var created, updated, errAt int64
	if err := sc.Scan(&s.ID, &s.Owner, &s.Audience, &s.Delivery, &s.EndpointURL, &s.Authorization, &events, &s.Description,
		&s.Status, &s.StatusReason, &created, &updated, &s.Dropped, &s.LastError, &errAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &s.EventsRequested); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt, s.LastErrorAt = stored.Time(created), stored.Time(updated), stored.Time(errAt)
	return &s, nil
}

func eventsJSON(evs []string) string {
	if evs == nil {
		evs = []string{}
	}
	b, _ := json.Marshal(evs)
	return string(b)
}

// changedOne is an Exec's error, or cordon.ErrNotFound if it changed no
// row.
func changedOne(n int64, err error) error {
	if err == nil && n == 0 {
		return cordon.ErrNotFound
	}
	return err
}

func (s *Store) CreateSSFStream(ctx context.Context, st *cordon.SSFStream) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO ssf_streams (`+ssfStreamCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, '', 0)`,
			st.ID, st.Owner, st.Audience, st.Delivery, st.EndpointURL, st.Authorization, eventsJSON(st.EventsRequested), st.Description,
			st.Status, st.StatusReason, stored.Micros(st.CreatedAt), stored.Micros(st.UpdatedAt))
		return err
	})
}

func (s *Store) SSFStreamByID(ctx context.Context, id string) (*cordon.SSFStream, error) {
	return scanSSFStream(s.b.Reader().QueryRow(ctx, `SELECT `+ssfStreamCols+` FROM ssf_streams WHERE id = $1`, id))
}

func (s *Store) SSFStreams(ctx context.Context, owner string) ([]*cordon.SSFStream, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT `+ssfStreamCols+` FROM ssf_streams WHERE CAST($1 AS TEXT) = '' OR owner = $1 ORDER BY created_at, id`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*cordon.SSFStream
	for rows.Next() {
		st, err := scanSSFStream(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func (s *Store) UpdateSSFStream(ctx context.Context, st *cordon.SSFStream) error {
	return s.b.Write(ctx, func(tx Querier) error {
		return changedOne(tx.Exec(ctx, `UPDATE ssf_streams SET audience = $1, delivery = $2, endpoint_url = $3, auth_header = $4, events = $5,
			description = $6, status = $7, status_reason = $8, updated_at = $9 WHERE id = $10`,
			st.Audience, st.Delivery, st.EndpointURL, st.Authorization, eventsJSON(st.EventsRequested), st.Description, st.Status, st.StatusReason, stored.Micros(st.UpdatedAt), st.ID))
	})
}

func (s *Store) DeleteSSFStream(ctx context.Context, id string) error {
	return s.b.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `DELETE FROM ssf_outbox WHERE stream_id = $1`, id); err != nil {
			return err
		}
		return changedOne(tx.Exec(ctx, `DELETE FROM ssf_streams WHERE id = $1`, id))
	})
}

// EnqueueSSF queues events on a stream and drops its oldest undelivered
// ones beyond limit. The stream's row is locked first (on PostgreSQL), so
// two enqueues on one stream count and drop one after the other.
func (s *Store) EnqueueSSF(ctx context.Context, streamID string, evs []*cordon.SSFEvent, limit int) (int, error) {
	dropped := 0
	err := s.b.Write(ctx, func(tx Querier) error {
		dropped = 0
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM ssf_streams WHERE id = $1`+s.d.ForUpdate, streamID).Scan(&one); err != nil {
			return err
		}
		for _, e := range evs {
			if _, err := tx.Exec(ctx, `INSERT INTO ssf_outbox (stream_id, jti, set_jwt, created_at, next_attempt) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (stream_id, jti) DO NOTHING`, streamID, e.JTI, e.SET, stored.Micros(e.CreatedAt), stored.Micros(e.NextAttempt)); err != nil {
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

// PendingSSF returns a stream's due events; a lease holds them from other
// readers until it runs out (on PostgreSQL, SKIP LOCKED: a node claiming
// at the same moment takes other rows).
func (s *Store) PendingSSF(ctx context.Context, streamID string, now time.Time, max int, lease time.Duration) ([]*cordon.SSFEvent, error) {
	const q = `SELECT jti, set_jwt, created_at, attempts, next_attempt FROM ssf_outbox
		WHERE stream_id = $1 AND settled_at = 0 AND next_attempt <= $2 ORDER BY created_at, jti LIMIT $3`
	var out []*cordon.SSFEvent
	read := func(rows Rows, err error) error {
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
			e.CreatedAt, e.NextAttempt = stored.Time(created), stored.Time(next)
			out = append(out, e)
		}
		return rows.Err()
	}
	if lease <= 0 {
		return out, read(s.b.Reader().Query(ctx, q, streamID, stored.Micros(now), max))
	}
	err := s.b.Write(ctx, func(tx Querier) error {
		if err := read(tx.Query(ctx, q+s.d.SkipLocked, streamID, stored.Micros(now), max)); err != nil {
			return err
		}
		for _, e := range out {
			if _, err := tx.Exec(ctx, `UPDATE ssf_outbox SET next_attempt = $1 WHERE stream_id = $2 AND jti = $3`, stored.Micros(now.Add(lease)), streamID, e.JTI); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func (s *Store) SettleSSF(ctx context.Context, streamID string, jtis []string, at time.Time, failure string) (int, error) {
	n := 0
	err := s.b.Write(ctx, func(tx Querier) error {
		n = 0
		for _, j := range jtis {
			k, err := tx.Exec(ctx, `UPDATE ssf_outbox SET settled_at = $1 WHERE stream_id = $2 AND jti = $3 AND settled_at = 0`, max(stored.Micros(at), 1), streamID, j)
			if err != nil {
				return err
			}
			n += int(k)
		}
		if failure != "" && n > 0 {
			_, err := tx.Exec(ctx, `UPDATE ssf_streams SET last_error = $1, last_error_at = $2 WHERE id = $3`, failure, stored.Micros(at), streamID)
			return err
		}
		return nil
	})
	return n, err
}

func (s *Store) DeferSSF(ctx context.Context, streamID, jti string, next, at time.Time, failure string) error {
	return s.b.Write(ctx, func(tx Querier) error {
		if err := changedOne(tx.Exec(ctx, `UPDATE ssf_outbox SET attempts = attempts + 1, next_attempt = $1 WHERE stream_id = $2 AND jti = $3 AND settled_at = 0`,
			stored.Micros(next), streamID, jti)); err != nil {
			return err
		}
		if failure == "" {
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE ssf_streams SET last_error = $1, last_error_at = $2 WHERE id = $3`, failure, stored.Micros(at), streamID)
		return err
	})
}

func (s *Store) PruneSSF(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.b.Write(ctx, func(tx Querier) error {
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM ssf_outbox WHERE settled_at != 0 AND settled_at < $1`, stored.Micros(before))
		return err
	})
	return int(n), err
}

func (s *Store) PasswordsChangedSince(ctx context.Context, since time.Time, limit int) ([]cordon.PasswordChange, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT id, password_changed_at FROM accounts
		WHERE password_changed_at >= $1 AND password_changed_at > created_at ORDER BY password_changed_at, id LIMIT $2`, stored.Micros(since), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cordon.PasswordChange
	for rows.Next() {
		var c cordon.PasswordChange
		var at int64
		if err := rows.Scan(&c.AccountID, &at); err != nil {
			return nil, err
		}
		c.At = stored.Time(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
