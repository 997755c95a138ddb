package memstore

import (
	"context"
	"sort"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// storedAlert keeps the evidence encoded, as the databases do, so a
// caller's slices are never shared.
type storedAlert struct {
	a        cordon.Alert
	evidence string
}

func (s storedAlert) alert() (*cordon.Alert, error) {
	a := s.a
	ev, err := stored.ParseAlertEvidence(s.evidence)
	if err != nil {
		return nil, err
	}
	a.Evidence = ev
	if s.a.AcknowledgedAt != nil {
		t := *s.a.AcknowledgedAt
		a.AcknowledgedAt = &t
	}
	return &a, nil
}

func (m *Store) RaiseAlert(ctx context.Context, a *cordon.Alert) (bool, error) {
	a.State = cordon.AlertOpen
	if err := stored.CheckAlert(a); err != nil {
		return false, err
	}
	ev, err := stored.AlertEvidence(a.Evidence)
	if err != nil {
		return false, err
	}
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return false, err
	}
	if m.alerts == nil {
		m.alerts = map[string]storedAlert{}
	}
	for id, s := range m.alerts {
		if s.a.State == cordon.AlertOpen && s.a.Kind == a.Kind && s.a.Key == a.Key {
			s.a.Summary, s.a.Report, s.a.UpdatedAt = a.Summary, a.Report, norm(a.UpdatedAt)
			s.a.Seen++
			s.a.Version++
			s.evidence = ev
			if err := m.audited(ctx, nil); err != nil {
				return false, err
			}
			m.alerts[id] = s
			got, err := s.alert()
			if err != nil {
				return false, err
			}
			*a = *got
			return false, nil
		}
	}
	if _, ok := m.alerts[a.ID]; ok {
		return false, cordon.ErrAlreadyExists
	}
	s := storedAlert{a: *a, evidence: ev}
	s.a.Evidence = cordon.AlertEvidence{}
	s.a.CreatedAt, s.a.UpdatedAt = norm(a.CreatedAt), norm(a.UpdatedAt)
	s.a.Incident, s.a.Campaign, s.a.AcknowledgedAt, s.a.AcknowledgedBy = "", "", nil, ""
	s.a.Seen, s.a.Version = 1, 1
	if err := m.audited(ctx, nil); err != nil {
		return false, err
	}
	m.alerts[a.ID] = s
	got, err := s.alert()
	if err != nil {
		return false, err
	}
	*a = *got
	return true, nil
}

func (m *Store) Alert(_ context.Context, id string) (*cordon.Alert, error) {
	defer m.lock()()
	s, ok := m.alerts[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return s.alert()
}

func (m *Store) Alerts(_ context.Context, q cordon.AlertQuery) ([]*cordon.Alert, error) {
	defer m.lock()()
	out := []*cordon.Alert{}
	for _, s := range m.alerts {
		if q.State != "" && s.a.State != q.State || (q.Kind != "" || q.Key != "") && (s.a.Kind != q.Kind || s.a.Key != q.Key) {
			continue
		}
		a, err := s.alert()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (m *Store) UpdateAlert(ctx context.Context, a *cordon.Alert) error {
	if err := stored.CheckAlert(a); err != nil {
		return err
	}
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	s, ok := m.alerts[a.ID]
	if !ok {
		return cordon.ErrNotFound
	}
	if s.a.Version != a.Version {
		return cordon.ErrStale
	}
	s.a.State, s.a.AcknowledgedBy, s.a.Incident, s.a.Campaign, s.a.UpdatedAt = a.State, a.AcknowledgedBy, a.Incident, a.Campaign, norm(a.UpdatedAt)
	s.a.AcknowledgedAt = nil
	if a.AcknowledgedAt != nil {
		t := norm(*a.AcknowledgedAt)
		s.a.AcknowledgedAt = &t
	}
	s.a.Version++
	if err := m.audited(ctx, nil); err != nil {
		return err
	}
	m.alerts[a.ID] = s
	a.Version = s.a.Version
	return nil
}
