package conformance_test

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/conformance"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// The suite is checked against memStore, the plainest store that keeps the
// contract, so a failure on a real backend points at the backend and not
// at a suite that only one implementation could pass.

func newMemStore(t *testing.T) cordon.Store { return &memStore{} }

func TestMemStore(t *testing.T) { conformance.RunTests(t, newMemStore) }

func TestMemStoreConcurrency(t *testing.T) { conformance.RunConcurrencyTests(t, newMemStore) }

// memStore keeps everything in maps behind one mutex. It stores copies
// with times in UTC, to the microsecond, as a real backend does.
type memStore struct {
	mu       sync.Mutex
	accounts map[string]cordon.Account // by id
	byKey    map[string]string         // username key to id
	sessions map[string]cordon.Session
	tokens   map[string]cordon.RefreshToken // by hash
	keys     []cordon.SigningKey
	admins   []cordon.AdminToken
}

func norm(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func (m *memStore) init() {
	if m.accounts == nil {
		m.accounts, m.byKey = map[string]cordon.Account{}, map[string]string{}
		m.sessions, m.tokens = map[string]cordon.Session{}, map[string]cordon.RefreshToken{}
	}
}

func (m *memStore) lock() func() {
	m.mu.Lock()
	m.init()
	return m.mu.Unlock
}

func (m *memStore) Ping(context.Context) error { return nil }
func (m *memStore) Close() error               { return nil }

func (m *memStore) CreateAccount(_ context.Context, a *cordon.Account) error {
	defer m.lock()()
	return m.insertAccount(a)
}

func (m *memStore) insertAccount(a *cordon.Account) error {
	key := cordon.UsernameKey(a.Username)
	if _, ok := m.accounts[a.ID]; ok {
		return cordon.ErrAlreadyExists
	}
	if _, ok := m.byKey[key]; ok {
		return cordon.ErrAlreadyExists
	}
	c := *a
	c.PasswordChangedAt, c.CreatedAt = norm(c.PasswordChangedAt), norm(c.CreatedAt)
	m.accounts[a.ID], m.byKey[key] = c, a.ID
	return nil
}

func (m *memStore) ImportAccounts(_ context.Context, as []*cordon.Account) (int, error) {
	defer m.lock()()
	created := 0
	for _, a := range as {
		if m.insertAccount(a) == nil {
			created++
		}
	}
	return created, nil
}

func (m *memStore) AccountByID(_ context.Context, id string) (*cordon.Account, error) {
	defer m.lock()()
	a, ok := m.accounts[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return &a, nil
}

func (m *memStore) AccountByUsername(ctx context.Context, username string) (*cordon.Account, error) {
	m.mu.Lock()
	m.init()
	id, ok := m.byKey[cordon.UsernameKey(username)]
	m.mu.Unlock()
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return m.AccountByID(ctx, id)
}

func (m *memStore) SetPasswordHash(_ context.Context, accountID, hash string, changed bool, at time.Time) error {
	defer m.lock()()
	a, ok := m.accounts[accountID]
	if !ok {
		return cordon.ErrNotFound
	}
	a.PasswordHash = hash
	if changed {
		a.PasswordChangedAt = norm(at)
	}
	m.accounts[accountID] = a
	return nil
}

func (m *memStore) CountAccounts(context.Context) (int, error) {
	defer m.lock()()
	return len(m.accounts), nil
}

func (m *memStore) CreateSession(_ context.Context, s *cordon.Session, rt *cordon.RefreshToken) error {
	defer m.lock()()
	if _, ok := m.sessions[s.ID]; ok {
		return cordon.ErrAlreadyExists
	}
	if _, ok := m.tokens[string(rt.Hash)]; ok {
		return cordon.ErrAlreadyExists
	}
	c := *s
	c.AuthTime, c.CreatedAt, c.LastSeenAt, c.RevokedAt = norm(c.AuthTime), norm(c.CreatedAt), norm(c.LastSeenAt), norm(c.RevokedAt)
	m.sessions[s.ID] = c
	m.storeToken(rt)
	return nil
}

func (m *memStore) storeToken(rt *cordon.RefreshToken) {
	c := *rt
	c.Hash = slices.Clone(rt.Hash)
	c.CreatedAt, c.IdleExpiresAt, c.AbsoluteExpiresAt = norm(c.CreatedAt), norm(c.IdleExpiresAt), norm(c.AbsoluteExpiresAt)
	m.tokens[string(c.Hash)] = c
}

func (m *memStore) SessionByID(_ context.Context, id string) (*cordon.Session, error) {
	defer m.lock()()
	s, ok := m.sessions[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return &s, nil
}

func (m *memStore) ListSessions(_ context.Context, accountID string) ([]*cordon.Session, error) {
	defer m.lock()()
	var out []*cordon.Session
	for _, s := range m.sessions {
		if s.AccountID == accountID && s.Live() {
			out = append(out, &s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (m *memStore) UpdateSessionFacts(_ context.Context, id string, f cordon.ClientFacts, seen time.Time) error {
	defer m.lock()()
	s, ok := m.sessions[id]
	if !ok {
		return cordon.ErrNotFound
	}
	s.Facts, s.LastSeenAt = f, norm(seen)
	m.sessions[id] = s
	return nil
}

func (m *memStore) RevokeSession(_ context.Context, id, reason string, at time.Time) error {
	defer m.lock()()
	return m.revoke(id, reason, at)
}

func (m *memStore) revoke(id, reason string, at time.Time) error {
	s, ok := m.sessions[id]
	if !ok {
		return cordon.ErrNotFound
	}
	if s.Live() {
		s.RevokedAt, s.RevokeReason = norm(at), reason
		m.sessions[id] = s
	}
	return nil
}

func (m *memStore) RevokeAccountSessions(_ context.Context, accountID, exceptID, reason string, at time.Time) ([]string, error) {
	defer m.lock()()
	var ids []string
	for id, s := range m.sessions {
		if s.AccountID == accountID && id != exceptID && s.Live() {
			m.revoke(id, reason, at)
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (m *memStore) RotateRefreshToken(_ context.Context, old []byte, next *cordon.RefreshToken, now time.Time) (*cordon.Session, error) {
	defer m.lock()()
	rt, ok := m.tokens[string(old)]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	if !rt.UsedAt.IsZero() {
		m.revoke(rt.SessionID, cordon.RevokeRefreshReuse, now)
		return nil, cordon.ErrRefreshReused
	}
	now = norm(now)
	s := m.sessions[rt.SessionID]
	if !now.Before(rt.IdleExpiresAt) || !now.Before(rt.AbsoluteExpiresAt) || !s.Live() {
		return nil, cordon.ErrNotFound
	}
	if _, ok := m.tokens[string(next.Hash)]; ok {
		return nil, cordon.ErrAlreadyExists
	}
	rt.UsedAt = now
	m.tokens[string(old)] = rt
	next.SessionID, next.AbsoluteExpiresAt = rt.SessionID, rt.AbsoluteExpiresAt
	if next.IdleExpiresAt.After(next.AbsoluteExpiresAt) {
		next.IdleExpiresAt = next.AbsoluteExpiresAt
	}
	m.storeToken(next)
	s.LastSeenAt = now
	m.sessions[s.ID] = s
	return &s, nil
}

func (m *memStore) SigningKeys(context.Context) ([]*cordon.SigningKey, error) {
	defer m.lock()()
	var out []*cordon.SigningKey
	for _, k := range m.keys {
		out = append(out, &k)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (m *memStore) AddSigningKey(_ context.Context, k *cordon.SigningKey) error {
	defer m.lock()()
	for _, have := range m.keys {
		if have.ID == k.ID {
			return cordon.ErrAlreadyExists
		}
	}
	for i := range m.keys {
		if m.keys[i].RetiredAt.IsZero() {
			m.keys[i].RetiredAt = norm(k.CreatedAt)
		}
	}
	c := *k
	c.PrivateKey, c.CreatedAt, c.RetiredAt = slices.Clone(k.PrivateKey), norm(k.CreatedAt), norm(k.RetiredAt)
	m.keys = append(m.keys, c)
	return nil
}

func (m *memStore) DeleteSigningKeysRetiredBefore(_ context.Context, t time.Time) error {
	defer m.lock()()
	m.keys = slices.DeleteFunc(m.keys, func(k cordon.SigningKey) bool {
		return !k.RetiredAt.IsZero() && k.RetiredAt.Before(t)
	})
	return nil
}

func (m *memStore) CreateAdminToken(_ context.Context, t *cordon.AdminToken) error {
	defer m.lock()()
	for _, have := range m.admins {
		if have.ID == t.ID || string(have.Hash) == string(t.Hash) {
			return cordon.ErrAlreadyExists
		}
	}
	c := *t
	c.Hash, c.Scopes, c.CreatedAt = slices.Clone(t.Hash), slices.Clone(t.Scopes), norm(t.CreatedAt)
	m.admins = append(m.admins, c)
	return nil
}

func (m *memStore) AdminTokenByHash(_ context.Context, hash []byte) (*cordon.AdminToken, error) {
	defer m.lock()()
	for _, t := range m.admins {
		if string(t.Hash) == string(hash) {
			t.Scopes = slices.Clone(t.Scopes)
			return &t, nil
		}
	}
	return nil, cordon.ErrNotFound
}

func (m *memStore) CountAdminTokens(context.Context) (int, error) {
	defer m.lock()()
	return len(m.admins), nil
}
