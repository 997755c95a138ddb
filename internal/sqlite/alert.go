package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

var _ cordon.AlertStore = (*DB)(nil)

const alertCols = `id, kind, key, summary, state, evidence, report, incident, campaign, created_at, updated_at, seen, acked_at, acked_by, version`

func scanAlert(row interface{ Scan(...any) error }) (*cordon.Alert, error) {
	var (
		a                cordon.Alert
		state, evidence  string
		created, updated int64
		acked            sql.NullInt64
	)
	if err := row.Scan(&a.ID, &a.Kind, &a.Key, &a.Summary, &state, &evidence, &a.Report, &a.Incident, &a.Campaign,
		&created, &updated, &a.Seen, &acked, &a.AcknowledgedBy, &a.Version); err != nil {
		return nil, mapErr(err)
	}
	ev, err := stored.ParseAlertEvidence(evidence)
	if err != nil {
		return nil, err
	}
	a.State, a.Evidence = cordon.AlertState(state), ev
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	if acked.Valid {
		t := fromMicros(acked.Int64)
		a.AcknowledgedAt = &t
	}
	return &a, nil
}

// RaiseAlert inserts the alert, or updates the open one of its kind and
// key: the partial unique index makes the two one statement, so raisers
// on several nodes at once still make one alert.
func (db *DB) RaiseAlert(ctx context.Context, a *cordon.Alert) (bool, error) {
	a.State = cordon.AlertOpen
	if err := stored.CheckAlert(a); err != nil {
		return false, err
	}
	ev, err := stored.AlertEvidence(a.Evidence)
	if err != nil {
		return false, err
	}
	var got *cordon.Alert
	err = db.write(ctx, func(tx *sql.Tx) error {
		var err error
		got, err = scanAlert(tx.QueryRowContext(ctx, `INSERT INTO alerts (`+alertCols+`)
			VALUES (?, ?, ?, ?, 'open', ?, ?, '', '', ?, ?, 1, NULL, '', 1)
			ON CONFLICT (kind, key) WHERE state = 'open' DO UPDATE SET
				summary = excluded.summary, evidence = excluded.evidence, report = excluded.report,
				updated_at = excluded.updated_at, seen = alerts.seen + 1, version = alerts.version + 1
			RETURNING `+alertCols,
			a.ID, a.Kind, a.Key, a.Summary, ev, a.Report, micros(a.CreatedAt), micros(a.UpdatedAt)))
		return err
	})
	if err != nil {
		return false, err
	}
	*a = *got
	return a.Seen == 1 && a.Version == 1, nil
}

func (db *DB) Alert(ctx context.Context, id string) (*cordon.Alert, error) {
	return scanAlert(db.r.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE id = ?`, id))
}

func (db *DB) Alerts(ctx context.Context, q cordon.AlertQuery) ([]*cordon.Alert, error) {
	query, args := `SELECT `+alertCols+` FROM alerts WHERE 1 = 1`, []any{}
	if q.State != "" {
		query += ` AND state = ?`
		args = append(args, string(q.State))
	}
	if q.Kind != "" || q.Key != "" {
		query += ` AND kind = ? AND key = ?`
		args = append(args, q.Kind, q.Key)
	}
	query += ` ORDER BY created_at DESC, id DESC`
	if q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
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
	return out, mapErr(rows.Err())
}

func (db *DB) UpdateAlert(ctx context.Context, a *cordon.Alert) error {
	if err := stored.CheckAlert(a); err != nil {
		return err
	}
	var acked any
	if a.AcknowledgedAt != nil {
		acked = micros(*a.AcknowledgedAt)
	}
	var next int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE alerts SET state = ?, acked_at = ?, acked_by = ?, incident = ?, campaign = ?,
			updated_at = ?, version = version + 1 WHERE id = ? AND version = ? RETURNING version`,
			string(a.State), acked, a.AcknowledgedBy, a.Incident, a.Campaign, micros(a.UpdatedAt), a.ID, a.Version).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM alerts WHERE id = ?`, a.ID).Scan(&n); err != nil {
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
