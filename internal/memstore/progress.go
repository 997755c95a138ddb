package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// progressState is what the ProgressStore methods keep.
type progressState struct {
	targeted map[string]cordon.Targeted
	rows     map[string]map[factsKey]*cordon.ProgressRow // campaign → facts
	userRow  map[[2]string]factsKey                      // campaign, account → row first seen in
	prompted map[[2]string]bool                          // campaign, session
	samples  map[string][]cordon.ProgressSample
}

type factsKey struct{ platform, version, source string }

func (p *progressState) init() {
	if p.targeted == nil {
		p.targeted = map[string]cordon.Targeted{}
		p.rows = map[string]map[factsKey]*cordon.ProgressRow{}
		p.userRow = map[[2]string]factsKey{}
		p.prompted = map[[2]string]bool{}
		p.samples = map[string][]cordon.ProgressSample{}
	}
}

// row returns the campaign's counters for k, creating them.
func (m *Store) row(campaignID string, k factsKey) *cordon.ProgressRow {
	m.prog.init()
	rs := m.prog.rows[campaignID]
	if rs == nil {
		rs = map[factsKey]*cordon.ProgressRow{}
		m.prog.rows[campaignID] = rs
	}
	r := rs[k]
	if r == nil {
		r = &cordon.ProgressRow{Platform: k.platform, Version: k.version, Source: k.source}
		rs[k] = r
	}
	return r
}

// rowOfUser is the row the account was first seen in.
func (m *Store) rowOfUser(campaignID, accountID string) *cordon.ProgressRow {
	m.prog.init()
	return m.row(campaignID, m.prog.userRow[[2]string{campaignID, accountID}])
}

// recordSeen counts a denial (prompt false) or a prompt of the session,
// once per (campaign, session) whichever came first; the caller holds the
// lock. The row is that of the session's facts at login (unknown facts for
// a session the store does not hold).
func (m *Store) recordSeen(campaignID, sessionID, accountID string, prompt bool) (bool, error) {
	if _, ok := m.campaigns[campaignID]; !ok {
		return false, cordon.ErrNotFound
	}
	m.prog.init()
	key := [2]string{campaignID, sessionID}
	if m.blocked[key] || m.prog.prompted[key] {
		return false, nil
	}
	var k factsKey
	if s, ok := m.sessions[sessionID]; ok {
		k = factsKey{s.Facts.Platform, s.Facts.Version, s.Facts.Source}
	}
	r := m.row(campaignID, k)
	p := m.progress[campaignID]
	newUser := !m.blockedUsers[[2]string{campaignID, accountID}]
	if newUser {
		m.blockedUsers[[2]string{campaignID, accountID}] = true
		m.prog.userRow[[2]string{campaignID, accountID}] = k
	}
	if prompt {
		m.prog.prompted[key] = true
		p.PromptedSessions++
		r.PromptedSessions++
		if newUser {
			p.PromptedUsers++
			r.PromptedUsers++
		}
	} else {
		m.blocked[key] = true
		p.BlockedSessions++
		r.BlockedSessions++
		if newUser {
			p.BlockedUsers++
			r.BlockedUsers++
		}
	}
	m.progress[campaignID] = p
	return true, nil
}

func (m *Store) RecordPrompted(_ context.Context, campaignID, sessionID, accountID string, _ time.Time) (bool, error) {
	defer m.lock()()
	return m.recordSeen(campaignID, sessionID, accountID, true)
}

func (m *Store) SetTargeted(_ context.Context, campaignID string, c cordon.Targeted) error {
	defer m.lock()()
	if _, ok := m.campaigns[campaignID]; !ok {
		return cordon.ErrNotFound
	}
	m.prog.init()
	c.At = norm(c.At)
	c.Rows = slices.Clone(c.Rows)
	sortTargetedRows(c.Rows)
	m.prog.targeted[campaignID] = c
	return nil
}

func sortTargetedRows(rs []cordon.TargetedRow) {
	slices.SortFunc(rs, func(a, b cordon.TargetedRow) int {
		return strings.Compare(a.Platform+"\x00"+a.Version+"\x00"+a.Source, b.Platform+"\x00"+b.Version+"\x00"+b.Source)
	})
}

func (m *Store) CampaignTargeted(_ context.Context, campaignID string) (cordon.Targeted, error) {
	defer m.lock()()
	if _, ok := m.campaigns[campaignID]; !ok {
		return cordon.Targeted{}, cordon.ErrNotFound
	}
	m.prog.init()
	c := m.prog.targeted[campaignID]
	c.Rows = slices.Clone(c.Rows)
	return c, nil
}

func (m *Store) ProgressRows(_ context.Context, campaignID string) ([]cordon.ProgressRow, error) {
	defer m.lock()()
	if _, ok := m.campaigns[campaignID]; !ok {
		return nil, cordon.ErrNotFound
	}
	m.prog.init()
	var out []cordon.ProgressRow
	for _, r := range m.prog.rows[campaignID] {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b cordon.ProgressRow) int {
		return strings.Compare(a.Platform+"\x00"+a.Version+"\x00"+a.Source, b.Platform+"\x00"+b.Version+"\x00"+b.Source)
	})
	return out, nil
}

func (m *Store) RecordProgressSample(_ context.Context, campaignID string, s cordon.ProgressSample) error {
	defer m.lock()()
	if _, ok := m.campaigns[campaignID]; !ok {
		return cordon.ErrNotFound
	}
	m.prog.init()
	s.At = norm(s.At)
	ss := m.prog.samples[campaignID]
	i, found := slices.BinarySearchFunc(ss, s.At, func(e cordon.ProgressSample, t time.Time) int { return e.At.Compare(t) })
	if found {
		ss[i] = s
	} else {
		ss = slices.Insert(ss, i, s)
	}
	m.prog.samples[campaignID] = ss
	return nil
}

func (m *Store) ProgressSeries(_ context.Context, campaignID string, from time.Time, limit int) ([]cordon.ProgressSample, error) {
	defer m.lock()()
	if _, ok := m.campaigns[campaignID]; !ok {
		return nil, cordon.ErrNotFound
	}
	m.prog.init()
	limit = max(0, min(limit, cordon.MaxProgressSamples))
	var out []cordon.ProgressSample
	for _, s := range m.prog.samples[campaignID] {
		if len(out) >= limit {
			break
		}
		if !s.At.Before(from) {
			out = append(out, s)
		}
	}
	return out, nil
}
