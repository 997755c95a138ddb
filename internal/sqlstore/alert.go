package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

var _ cordon.AlertStore = (*Store)(nil)

const alertCols = `id, kind, key, summary, state, evidence, report, incident, campaign, created_at, updated_at, seen, acked_at, acked_by, version`

func scanAlert(row Row) (*cordon.Alert, error) {
	var (
		a                cordon.Alert
		state, evidence  string
		created, updated int64
		acked            sql.NullInt64
	)
	if err := row.Scan(&a.ID, &a.Kind, &a.Key, &a.Summary, &state, &evidence, &a.Report, &a.Incident, &a.Campaign,
		&created, &updated, &a.Seen, &acked, &a.AcknowledgedBy, &a.Version); err != nil {
		return nil, err
	}
	ev, err := stored.ParseAlertEvidence(evidence)
	if err != nil {
		return nil, err
	}
	a.State, a.Evidence = cordon.AlertState(state), ev
	a.CreatedAt, a.UpdatedAt = stored.Time(created), stored.Time(updated)
	if acked.Valid {
		t := stored.Time(acked.Int64)
		a.AcknowledgedAt = &t
	}
	return &a, nil
}

// RaiseAlert inserts the alert, or updates the open one of its kind and
// key: the partial unique index makes the two one statement, so raisers
// on several nodes at once still make one alert.
func (s *Store) RaiseAlert(ctx context.Context, a *cordon.Alert) (bool, error) {
	a.State = cordon.AlertOpen
	if err := stored.CheckAlert(a); err != nil {
		return false, err
	}
	ev, err := stored.AlertEvidence(a.Evidence)
	if err != nil {
		return false, err
	}
	var got *cordon.Alert
	err = s.b.Write(ctx, func(tx Querier) error {
		var err error
		got, err = scanAlert(tx.QueryRow(ctx, `INSERT INTO alerts (`+alertCols+`)
			VALUES ($1, $2, $3, $4, 'open', $5, $6, '', '', $7, $8, 1, NULL, '', 1)
			ON CONFLICT (kind, key) WHERE state = 'open' DO UPDATE SET
				summary = excluded.summary, evidence = excluded.evidence, report = excluded.report,
				updated_at = excluded.updated_at, seen = alerts.seen + 1, version = alerts.version + 1
			RETURNING `+alertCols,
			a.ID, a.Kind, a.Key, a.Summary, ev, a.Report, stored.Micros(a.CreatedAt), stored.Micros(a.UpdatedAt)))
		return err
	})
	if err != nil {
		return false, err
	}
	*a = *got
	return a.Seen == 1 && a.Version == 1, nil
}

// Alert looks an alert up by id.
func (s *Store) Alert(ctx context.Context, id string) (*cordon.Alert, error) {
	return scanAlert(s.b.Reader().QueryRow(ctx, `SELECT `+alertCols+` FROM alerts WHERE id = $1`, id))
}

// Alerts lists the alerts q asks for, newest first.
func (s *Store) Alerts(ctx context.Context, q cordon.AlertQuery) ([]*cordon.Alert, error) {
	query, args := `SELECT `+alertCols+` FROM alerts WHERE 1 = 1`, []any{}
	if q.State != "" {
		args = append(args, string(q.State))
		query += fmt.Sprintf(` AND state = $%d`, len(args))
	}
	if q.Kind != "" || q.Key != "" {
		args = append(args, q.Kind, q.Key)
		query += fmt.Sprintf(` AND kind = $%d AND key = $%d`, len(args)-1, len(args))
	}
	query += ` ORDER BY created_at DESC, id DESC`
	if q.Limit > 0 {
		args = append(args, q.Limit)
		query += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.b.Reader().Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*cordon.Alert{}
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// UpdateAlert writes a's state, acknowledgement and links if its version
// is still the stored one (compare-and-set): cordon.ErrStale if another
// change came first.
func (s *Store) UpdateAlert(ctx context.Context, a *cordon.Alert) error {
	if err := stored.CheckAlert(a); err != nil {
		return err
	}
	var acked any
	if a.AcknowledgedAt != nil {
		acked = stored.Micros(*a.AcknowledgedAt)
	}
	var next int64
	err := s.b.Write(ctx, func(tx Querier) error {
		err := tx.QueryRow(ctx, `UPDATE alerts SET state = $1, acked_at = $2, acked_by = $3, incident = $4, campaign = $5,
			updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8 RETURNING version`,
			string(a.State), acked, a.AcknowledgedBy, a.Incident, a.Campaign, stored.Micros(a.UpdatedAt), a.ID, a.Version).Scan(&next)
		if errors.Is(err, cordon.ErrNotFound) {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM alerts WHERE id = $1`, a.ID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return cordon.ErrNotFound
			}
			return cordon.ErrStale
		}
		return err
	})
	if err == nil {
		a.Version = next
	}
	return err
}
