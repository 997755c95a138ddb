package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

func (m *Store) PutTierSample(_ context.Context, s *cordon.TierSample, prune time.Time) error {
	if err := stored.CheckTierSample(s); err != nil {
		return err
	}
	defer m.lock()()
	if m.tier == nil {
		m.tier = map[string]cordon.TierSample{}
	}
	for node, old := range m.tier {
		if old.At.Before(norm(prune)) {
			delete(m.tier, node)
		}
	}
	c := *s
	c.At = norm(c.At)
	if old, ok := m.tier[c.Node]; ok && old.At.After(c.At) && !old.At.After(c.At.Add(stored.TierClockStep)) {
		return nil // a late write; a clock stepped back replaces (sqlstore.PutTierSample)
	}
	m.tier[c.Node] = c
	return nil
}

func (m *Store) TierSamples(_ context.Context, since time.Time) ([]cordon.TierSample, error) {
	defer m.lock()()
	var out []cordon.TierSample
	for _, s := range m.tier {
		if !s.At.Before(norm(since)) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b cordon.TierSample) int { return strings.Compare(a.Node, b.Node) })
	return out, nil
}
