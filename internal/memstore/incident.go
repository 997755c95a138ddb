package memstore

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

func copyIncident(inc cordon.Incident) *cordon.Incident {
	inc.Links = slices.Clone(inc.Links)
	if inc.Links == nil {
		inc.Links = []cordon.IncidentLink{}
	}
	return &inc
}

func (m *Store) CreateIncident(ctx context.Context, inc *cordon.Incident) error {
	if err := stored.CheckIncident(inc); err != nil {
		return err
	}
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	if m.incidents == nil {
		m.incidents = map[string]cordon.Incident{}
	}
	if _, ok := m.incidents[inc.ID]; ok {
		return cordon.ErrAlreadyExists
	}
	c := *inc
	c.AwareAt, c.CreatedAt, c.UpdatedAt = norm(c.AwareAt), norm(c.CreatedAt), norm(c.UpdatedAt)
	c.Version, c.Links = 1, nil
	if err := m.audited(ctx, nil); err != nil {
		return err
	}
	m.incidents[inc.ID] = c
	inc.Version = 1
	return nil
}

func (m *Store) Incident(_ context.Context, id string) (*cordon.Incident, error) {
	defer m.lock()()
	inc, ok := m.incidents[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return copyIncident(inc), nil
}

func (m *Store) Incidents(context.Context) ([]*cordon.Incident, error) {
	defer m.lock()()
	out := make([]*cordon.Incident, 0, len(m.incidents))
	for _, inc := range m.incidents {
		out = append(out, copyIncident(inc))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// current returns the stored incident if its version is still version;
// m.mu is held.
func (m *Store) current(id string, version int64) (cordon.Incident, error) {
	inc, ok := m.incidents[id]
	if !ok {
		return inc, cordon.ErrNotFound
	}
	if inc.Version != version {
		return inc, cordon.ErrStale
	}
	return inc, nil
}

func (m *Store) UpdateIncident(ctx context.Context, inc *cordon.Incident) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	cur, err := m.current(inc.ID, inc.Version)
	if err != nil {
		return err
	}
	cur.Title, cur.Severity, cur.State, cur.UpdatedAt = inc.Title, inc.Severity, inc.State, norm(inc.UpdatedAt)
	cur.Version++
	if err := m.audited(ctx, nil); err != nil {
		return err
	}
	m.incidents[inc.ID] = cur
	inc.Version = cur.Version
	return nil
}

func (m *Store) LinkIncident(ctx context.Context, id string, version int64, l cordon.IncidentLink, at time.Time) (int64, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return 0, err
	}
	cur, err := m.current(id, version)
	if err != nil {
		return 0, err
	}
	for _, x := range cur.Links {
		if x.Kind == l.Kind && x.ID == l.ID {
			return 0, cordon.ErrAlreadyExists
		}
	}
	l.LinkedAt = norm(l.LinkedAt)
	cur.Links = append(slices.Clone(cur.Links), l)
	cur.UpdatedAt = norm(at)
	cur.Version++
	if err := m.audited(ctx, nil); err != nil {
		return 0, err
	}
	m.incidents[id] = cur
	return cur.Version, nil
}

func (m *Store) UnlinkIncident(ctx context.Context, id string, version int64, kind cordon.LinkKind, object string, at time.Time) (int64, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return 0, err
	}
	cur, err := m.current(id, version)
	if err != nil {
		return 0, err
	}
	i := slices.IndexFunc(cur.Links, func(x cordon.IncidentLink) bool { return x.Kind == kind && x.ID == object })
	if i < 0 {
		return 0, cordon.ErrNotFound
	}
	cur.Links = slices.Delete(slices.Clone(cur.Links), i, i+1)
	cur.UpdatedAt = norm(at)
	cur.Version++
	if err := m.audited(ctx, nil); err != nil {
		return 0, err
	}
	m.incidents[id] = cur
	return cur.Version, nil
}

func (m *Store) AuditEntriesAbout(_ context.Context, subjects []string, fn func(*cordon.AuditEntry) error) error {
	if err := stored.CheckAboutSubjects(subjects); err != nil {
		return err
	}
	m.mu.Lock()
	var es []cordon.AuditEntry
	for _, e := range m.audit {
		if slices.Contains(subjects, e.Subject) {
			es = append(es, e)
		}
	}
	m.mu.Unlock()
	for i := range es {
		if err := fn(&es[i]); err != nil {
			return err
		}
	}
	return nil
}
