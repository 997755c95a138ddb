package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
	"github.com/jackc/pgx/v5"
)

var _ cordon.IncidentStore = (*DB)(nil)

const incidentCols = `id, title, severity, state, aware_at, created_at, created_by, updated_at, version`

// CreateIncident stores a new incident at version 1 with its context's
// audit entries.
func (db *DB) CreateIncident(ctx context.Context, inc *cordon.Incident) error {
	if err := stored.CheckIncident(inc); err != nil {
		return err
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO incidents (`+incidentCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)`,
			inc.ID, inc.Title, string(inc.Severity), string(inc.State), micros(inc.AwareAt), micros(inc.CreatedAt), inc.CreatedBy, micros(inc.UpdatedAt))
		return err
	})
	if err == nil {
		inc.Version = 1
	}
	return err
}

func scanIncident(row pgx.Row) (*cordon.Incident, error) {
	var (
		inc                     cordon.Incident
		severity, state         string
		aware, created, updated int64
	)
	if err := row.Scan(&inc.ID, &inc.Title, &severity, &state, &aware, &created, &inc.CreatedBy, &updated, &inc.Version); err != nil {
		return nil, mapErr(err)
	}
	inc.Severity, inc.State = cordon.IncidentSeverity(severity), cordon.IncidentState(state)
	inc.AwareAt, inc.CreatedAt, inc.UpdatedAt = fromMicros(aware), fromMicros(created), fromMicros(updated)
	inc.Links = []cordon.IncidentLink{}
	return &inc, nil
}

func (db *DB) Incident(ctx context.Context, id string) (*cordon.Incident, error) {
	inc, err := scanIncident(db.pool.QueryRow(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = $1`, id))
	if err != nil {
		return nil, err
	}
	if err := db.incidentLinks(ctx, map[string]*cordon.Incident{id: inc}, `WHERE incident = $1`, id); err != nil {
		return nil, err
	}
	return inc, nil
}

func (db *DB) Incidents(ctx context.Context) ([]*cordon.Incident, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+incidentCols+` FROM incidents ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, mapErr(err)
	}
	out := []*cordon.Incident{}
	byID := map[string]*cordon.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, inc)
		byID[inc.ID] = inc
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	if err := db.incidentLinks(ctx, byID, ``); err != nil {
		return nil, err
	}
	return out, nil
}

// incidentLinks fills the links of the incidents in byID, oldest first.
func (db *DB) incidentLinks(ctx context.Context, byID map[string]*cordon.Incident, where string, args ...any) error {
	rows, err := db.pool.Query(ctx, `SELECT incident, kind, object, linked_at, linked_by FROM incident_links `+where+` ORDER BY linked_at, kind, object`, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, kind string
			at       int64
			l        cordon.IncidentLink
		)
		if err := rows.Scan(&id, &kind, &l.ID, &at, &l.LinkedBy); err != nil {
			return mapErr(err)
		}
		l.Kind, l.LinkedAt = cordon.LinkKind(kind), fromMicros(at)
		if inc := byID[id]; inc != nil {
			inc.Links = append(inc.Links, l)
		}
	}
	return mapErr(rows.Err())
}

// bumpIncident moves the incident's version from version to the next,
// inside tx: ErrNotFound when it is missing, ErrStale when the version
// moved. The conditional UPDATE is the compare-and-set: a concurrent
// update waits for the row lock and then finds the version moved.
func bumpIncident(ctx context.Context, tx pgx.Tx, id string, version int64, at time.Time, set string, args ...any) (int64, error) {
	n := len(args)
	q := `UPDATE incidents SET version = version + 1, updated_at = $1` + set +
		` WHERE id = $` + strconv.Itoa(n+2) + ` AND version = $` + strconv.Itoa(n+3) + ` RETURNING version`
	all := append([]any{micros(at)}, args...)
	all = append(all, id, version)
	var next int64
	err := tx.QueryRow(ctx, q, all...).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		var found bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)`, id).Scan(&found); err != nil {
			return 0, err
		}
		if !found {
			return 0, cordon.ErrNotFound
		}
		return 0, cordon.ErrStale
	}
	return next, err
}

func (db *DB) UpdateIncident(ctx context.Context, inc *cordon.Incident) error {
	var next int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		next, err = bumpIncident(ctx, tx, inc.ID, inc.Version, inc.UpdatedAt, `, title = $2, severity = $3, state = $4`,
			inc.Title, string(inc.Severity), string(inc.State))
		return err
	})
	if err == nil {
		inc.Version = next
	}
	return err
}

func (db *DB) LinkIncident(ctx context.Context, id string, version int64, l cordon.IncidentLink, at time.Time) (int64, error) {
	var next int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if next, err = bumpIncident(ctx, tx, id, version, at, ``); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO incident_links (incident, kind, object, linked_at, linked_by) VALUES ($1, $2, $3, $4, $5)`,
			id, string(l.Kind), l.ID, micros(l.LinkedAt), l.LinkedBy)
		return err
	})
	return next, err
}

func (db *DB) UnlinkIncident(ctx context.Context, id string, version int64, kind cordon.LinkKind, object string, at time.Time) (int64, error) {
	var next int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if next, err = bumpIncident(ctx, tx, id, version, at, ``); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM incident_links WHERE incident = $1 AND kind = $2 AND object = $3`, id, string(kind), object)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
	return next, err
}

// AuditEntriesAbout reads through the partial index of cordon's own
// subjects; the query repeats the index's condition so the planner may
// use it.
func (db *DB) AuditEntriesAbout(ctx context.Context, subjects []string, fn func(*cordon.AuditEntry) error) error {
	if err := stored.CheckAboutSubjects(subjects); err != nil {
		return err
	}
	next := int64(0)
	for {
		batch, err := db.queryAudit(ctx, `SELECT `+auditCols+` FROM audit_entries WHERE subject = ANY($1) AND subject LIKE 'cordon:%' AND idx >= $2 ORDER BY idx LIMIT $3`,
			subjects, next, stored.AuditBatch)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < stored.AuditBatch {
			return nil
		}
		next = int64(batch[len(batch)-1].Index) + 1
	}
}
