package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// ssfState holds the Shared Signals streams and their outboxes.
type ssfState struct {
	streams map[string]cordon.SSFStream
	order   []string               // stream ids, oldest first
	outbox  map[string][]ssfRow    // stream id to events, enqueue order
	seen    map[[2]string]struct{} // stream id, jti
}

type ssfRow struct {
	ev        cordon.SSFEvent
	settledAt time.Time // zero while undelivered
}

func (m *Store) ssfInit() {
	if m.ssf.streams == nil {
		m.ssf.streams, m.ssf.outbox, m.ssf.seen = map[string]cordon.SSFStream{}, map[string][]ssfRow{}, map[[2]string]struct{}{}
	}
}

func copyStream(s cordon.SSFStream) *cordon.SSFStream {
	s.EventsRequested = slices.Clone(s.EventsRequested)
	return &s
}

func normStream(s *cordon.SSFStream) cordon.SSFStream {
	c := *copyStream(*s)
	c.CreatedAt, c.UpdatedAt, c.LastErrorAt = normZero(c.CreatedAt), normZero(c.UpdatedAt), normZero(c.LastErrorAt)
	return c
}

func normZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return norm(t)
}

func (m *Store) CreateSSFStream(ctx context.Context, s *cordon.SSFStream) error {
	defer m.lock()()
	m.ssfInit()
	if err := checkPending(ctx); err != nil {
		return err
	}
	if _, ok := m.ssf.streams[s.ID]; ok {
		return cordon.ErrAlreadyExists
	}
	m.ssf.streams[s.ID] = normStream(s)
	m.ssf.order = append(m.ssf.order, s.ID)
	return m.audited(ctx, nil)
}

func (m *Store) SSFStreamByID(_ context.Context, id string) (*cordon.SSFStream, error) {
	defer m.lock()()
	m.ssfInit()
	s, ok := m.ssf.streams[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return copyStream(s), nil
}

func (m *Store) SSFStreams(_ context.Context, owner string) ([]*cordon.SSFStream, error) {
	defer m.lock()()
	m.ssfInit()
	var out []*cordon.SSFStream
	for _, id := range m.ssf.order {
		if s := m.ssf.streams[id]; owner == "" || s.Owner == owner {
			out = append(out, copyStream(s))
		}
	}
	return out, nil
}

func (m *Store) UpdateSSFStream(ctx context.Context, s *cordon.SSFStream) error {
	defer m.lock()()
	m.ssfInit()
	if err := checkPending(ctx); err != nil {
		return err
	}
	old, ok := m.ssf.streams[s.ID]
	if !ok {
		return cordon.ErrNotFound
	}
	n := normStream(s)
	n.Owner, n.CreatedAt, n.Dropped, n.LastError, n.LastErrorAt = old.Owner, old.CreatedAt, old.Dropped, old.LastError, old.LastErrorAt
	m.ssf.streams[s.ID] = n
	return m.audited(ctx, nil)
}

func (m *Store) DeleteSSFStream(ctx context.Context, id string) error {
	defer m.lock()()
	m.ssfInit()
	if err := checkPending(ctx); err != nil {
		return err
	}
	if _, ok := m.ssf.streams[id]; !ok {
		return cordon.ErrNotFound
	}
	delete(m.ssf.streams, id)
	m.ssf.order = slices.DeleteFunc(m.ssf.order, func(s string) bool { return s == id })
	for _, r := range m.ssf.outbox[id] {
		delete(m.ssf.seen, [2]string{id, r.ev.JTI})
	}
	delete(m.ssf.outbox, id)
	return m.audited(ctx, nil)
}

func (m *Store) EnqueueSSF(_ context.Context, streamID string, evs []*cordon.SSFEvent, limit int) (int, error) {
	defer m.lock()()
	m.ssfInit()
	st, ok := m.ssf.streams[streamID]
	if !ok {
		return 0, cordon.ErrNotFound
	}
	rows := m.ssf.outbox[streamID]
	for _, e := range evs {
		k := [2]string{streamID, e.JTI}
		if _, dup := m.ssf.seen[k]; dup {
			continue
		}
		m.ssf.seen[k] = struct{}{}
		c := *e
		c.StreamID, c.CreatedAt, c.NextAttempt = streamID, norm(c.CreatedAt), normZero(c.NextAttempt)
		rows = append(rows, ssfRow{ev: c})
	}
	undelivered := 0
	for _, r := range rows {
		if r.settledAt.IsZero() {
			undelivered++
		}
	}
	dropped := 0
	if limit >= 0 && undelivered > limit {
		over := undelivered - limit
		// Oldest first: the order of enqueue, with CreatedAt as a backend orders.
		idx := m.undeliveredOldest(rows)
		drop := map[int]bool{}
		for _, i := range idx[:over] {
			drop[i] = true
			delete(m.ssf.seen, [2]string{streamID, rows[i].ev.JTI})
		}
		kept := rows[:0:0]
		for i, r := range rows {
			if !drop[i] {
				kept = append(kept, r)
			}
		}
		rows, dropped = kept, over
		st.Dropped += int64(over)
		m.ssf.streams[streamID] = st
	}
	m.ssf.outbox[streamID] = rows
	return dropped, nil
}

// undeliveredOldest returns the indexes of undelivered rows, oldest
// (CreatedAt, then jti) first.
func (m *Store) undeliveredOldest(rows []ssfRow) []int {
	var idx []int
	for i, r := range rows {
		if r.settledAt.IsZero() {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := rows[a].ev.CreatedAt.Compare(rows[b].ev.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(rows[a].ev.JTI, rows[b].ev.JTI)
	})
	return idx
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *Store) PendingSSF(_ context.Context, streamID string, now time.Time, max int, lease time.Duration) ([]*cordon.SSFEvent, error) {
	defer m.lock()()
	m.ssfInit()
	rows := m.ssf.outbox[streamID]
	var out []*cordon.SSFEvent
	for _, i := range m.undeliveredOldest(rows) {
		if len(out) >= max {
			break
		}
		if rows[i].ev.NextAttempt.After(norm(now)) {
			continue
		}
		if lease > 0 {
			rows[i].ev.NextAttempt = norm(now.Add(lease))
		}
		c := rows[i].ev
		out = append(out, &c)
	}
	return out, nil
}

func (m *Store) SettleSSF(_ context.Context, streamID string, jtis []string, at time.Time, failure string) (int, error) {
	defer m.lock()()
	m.ssfInit()
	rows := m.ssf.outbox[streamID]
	n := 0
	for i := range rows {
		if rows[i].settledAt.IsZero() && slices.Contains(jtis, rows[i].ev.JTI) {
			rows[i].settledAt = norm(at)
			n++
		}
	}
	if failure != "" && n > 0 {
		if st, ok := m.ssf.streams[streamID]; ok {
			st.LastError, st.LastErrorAt = failure, norm(at)
			m.ssf.streams[streamID] = st
		}
	}
	return n, nil
}

func (m *Store) DeferSSF(_ context.Context, streamID, jti string, next, at time.Time, failure string) error {
	defer m.lock()()
	m.ssfInit()
	rows := m.ssf.outbox[streamID]
	for i := range rows {
		if rows[i].ev.JTI == jti && rows[i].settledAt.IsZero() {
			rows[i].ev.Attempts++
			rows[i].ev.NextAttempt = norm(next)
			if st, ok := m.ssf.streams[streamID]; ok && failure != "" {
				st.LastError, st.LastErrorAt = failure, norm(at)
				m.ssf.streams[streamID] = st
			}
			return nil
		}
	}
	return cordon.ErrNotFound
}

func (m *Store) PruneSSF(_ context.Context, before time.Time) (int, error) {
	defer m.lock()()
	m.ssfInit()
	n := 0
	for id, rows := range m.ssf.outbox {
		kept := rows[:0:0]
		for _, r := range rows {
			if !r.settledAt.IsZero() && r.settledAt.Before(norm(before)) {
				delete(m.ssf.seen, [2]string{id, r.ev.JTI})
				n++
				continue
			}
			kept = append(kept, r)
		}
		m.ssf.outbox[id] = kept
	}
	return n, nil
}

func (m *Store) PasswordsChangedSince(_ context.Context, since time.Time, limit int) ([]cordon.PasswordChange, error) {
	defer m.lock()()
	var out []cordon.PasswordChange
	for _, a := range m.accounts {
		if !a.PasswordChangedAt.Before(norm(since)) && a.PasswordChangedAt.After(a.CreatedAt) {
			out = append(out, cordon.PasswordChange{AccountID: a.ID, At: a.PasswordChangedAt})
		}
	}
	slices.SortFunc(out, func(a, b cordon.PasswordChange) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return compareStrings(a.AccountID, b.AccountID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
