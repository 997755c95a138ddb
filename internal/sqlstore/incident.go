package sqlstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

var _ cordon.IncidentStore = (*Store)(nil)

const incidentCols = `id, title, severity, state, aware_at, created_at, created_by, updated_at, version`

// CreateIncident stores a new incident at version 1 with its context's
// audit entries.
func (s *Store) CreateIncident(ctx context.Context, inc *cordon.Incident) error {
	if err := stored.CheckIncident(inc); err != nil {
		return err
	}
	err := s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO incidents (`+incidentCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)`,
			inc.ID, inc.Title, string(inc.Severity), string(inc.State), stored.Micros(inc.AwareAt), stored.Micros(inc.CreatedAt), inc.CreatedBy, stored.Micros(inc.UpdatedAt))
		return err
	})
	if err == nil {
		inc.Version = 1
	}
	return err
}

func scanIncident(row Row) (*cordon.Incident, error) {
	var (
		inc                     cordon.Incident
		severity, state         string
		aware, created, updated int64
	)
	if err := row.Scan(&inc.ID, &inc.Title, &severity, &state, &aware, &created, &inc.CreatedBy, &updated, &inc.Version); err != nil {
		return nil, err
	}
	inc.Severity, inc.State = cordon.IncidentSeverity(severity), cordon.IncidentState(state)
	inc.AwareAt, inc.CreatedAt, inc.UpdatedAt = stored.Time(aware), stored.Time(created), stored.Time(updated)
	inc.Links = []cordon.IncidentLink{}
	return &inc, nil
}

// Incident looks an incident up by id, with its links.
func (s *Store) Incident(ctx context.Context, id string) (*cordon.Incident, error) {
	inc, err := scanIncident(s.b.Reader().QueryRow(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = $1`, id))
	if err != nil {
		return nil, err
	}
	if err := s.incidentLinks(ctx, map[string]*cordon.Incident{id: inc}, `WHERE incident = $1`, id); err != nil {
		return nil, err
	}
	return inc, nil
}

// Incidents lists every incident with its links, newest first.
func (s *Store) Incidents(ctx context.Context) ([]*cordon.Incident, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT `+incidentCols+` FROM incidents ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, err
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
	err = rows.Err()
	// The rows give back their connection before the links are read.
	rows.Close()
	if err != nil {
		return nil, err
	}
	if err := s.incidentLinks(ctx, byID, ``); err != nil {
		return nil, err
	}
	return out, nil
}

// incidentLinks fills the links of the incidents in byID, oldest first.
func (s *Store) incidentLinks(ctx context.Context, byID map[string]*cordon.Incident, where string, args ...any) error {
	rows, err := s.b.Reader().Query(ctx, `SELECT incident, kind, object, linked_at, linked_by FROM incident_links `+where+` ORDER BY linked_at, kind, object`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, kind string
			at       int64
			l        cordon.IncidentLink
		)
		if err := rows.Scan(&id, &kind, &l.ID, &at, &l.LinkedBy); err != nil {
			return err
		}
		l.Kind, l.LinkedAt = cordon.LinkKind(kind), stored.Time(at)
		if inc := byID[id]; inc != nil {
			inc.Links = append(inc.Links, l)
		}
	}
	return rows.Err()
}

// bumpIncident moves the incident's version from version to the next,
// inside tx, and sets what set names (its placeholders $2 to $n+1 bind
// args): ErrNotFound when it is missing, ErrStale when the version moved.
// The conditional UPDATE is the compare-and-set: on PostgreSQL a
// concurrent update waits for the row lock and then finds the version
// moved; on SQLite the one writer serialises them.
func bumpIncident(ctx context.Context, tx Querier, id string, version int64, at time.Time, set string, args ...any) (int64, error) {
	n := len(args)
	q := `UPDATE incidents SET version = version + 1, updated_at = $1` + set +
		` WHERE id = $` + strconv.Itoa(n+2) + ` AND version = $` + strconv.Itoa(n+3) + ` RETURNING version`
	all := append([]any{stored.Micros(at)}, args...)
	all = append(all, id, version)
	var next int64
	err := tx.QueryRow(ctx, q, all...).Scan(&next)
	if errors.Is(err, cordon.ErrNotFound) {
		var count int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM incidents WHERE id = $1`, id).Scan(&count); err != nil {
			return 0, err
		}
		if count == 0 {
			return 0, cordon.ErrNotFound
		}
		return 0, cordon.ErrStale
	}
	return next, err
}

// UpdateIncident writes inc's title, severity and state if its version is
// still the stored one.
func (s *Store) UpdateIncident(ctx context.Context, inc *cordon.Incident) error {
	var next int64
	err := s.b.Write(ctx, func(tx Querier) error {
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

// LinkIncident links an object to the incident at version and returns its
// next version.
func (s *Store) LinkIncident(ctx context.Context, id string, version int64, l cordon.IncidentLink, at time.Time) (int64, error) {
	var next int64
	err := s.b.Write(ctx, func(tx Querier) error {
		var err error
		if next, err = bumpIncident(ctx, tx, id, version, at, ``); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO incident_links (incident, kind, object, linked_at, linked_by) VALUES ($1, $2, $3, $4, $5)`,
			id, string(l.Kind), l.ID, stored.Micros(l.LinkedAt), l.LinkedBy)
		return err
	})
	return next, err
}

// UnlinkIncident removes a link of the incident at version and returns its
// next version; cordon.ErrNotFound if there was no such link.
func (s *Store) UnlinkIncident(ctx context.Context, id string, version int64, kind cordon.LinkKind, object string, at time.Time) (int64, error) {
	var next int64
	err := s.b.Write(ctx, func(tx Querier) error {
		var err error
		if next, err = bumpIncident(ctx, tx, id, version, at, ``); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM incident_links WHERE incident = $1 AND kind = $2 AND object = $3`, id, string(kind), object)
		if err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
	return next, err
}
