package memstore

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// The credential and account lifecycle of Store. A deleted account
// leaves m.accounts but keeps its entry in m.byKey, so its username stays
// taken while every lookup misses it.

func (m *Store) AdminTokens(context.Context) ([]*cordon.AdminToken, error) {
	defer m.lock()()
	out := []*cordon.AdminToken{}
	for _, t := range m.admins {
		t.Scopes = slices.Clone(t.Scopes)
		out = append(out, &t)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (m *Store) adminIndex(id string) int {
	return slices.IndexFunc(m.admins, func(t cordon.AdminToken) bool { return t.ID == id })
}

func (m *Store) AdminTokenByID(_ context.Context, id string) (*cordon.AdminToken, error) {
	defer m.lock()()
	i := m.adminIndex(id)
	if i < 0 {
		return nil, cordon.ErrNotFound
	}
	t := m.admins[i]
	t.Scopes = slices.Clone(t.Scopes)
	return &t, nil
}

func (m *Store) RevokeAdminToken(ctx context.Context, id string, at time.Time) (*cordon.AdminToken, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return nil, err
	}
	i := m.adminIndex(id)
	if i < 0 {
		return nil, cordon.ErrNotFound
	}
	if m.admins[i].RevokedAt.IsZero() {
		var live []*cordon.AdminToken
		for _, t := range m.admins {
			if t.RevokedAt.IsZero() {
				live = append(live, &t)
			}
		}
		if stored.LastAdmin(&m.admins[i], live, at) {
			return nil, cordon.ErrLastAdmin
		}
		m.admins[i].RevokedAt = norm(at)
		m.audited(ctx, nil)
	}
	t := m.admins[i]
	return &t, nil
}

func (m *Store) SetAdminTokenExpiry(ctx context.Context, id string, expiresAt, now time.Time) (*cordon.AdminToken, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return nil, err
	}
	i := m.adminIndex(id)
	if i < 0 {
		return nil, cordon.ErrNotFound
	}
	if !m.admins[i].Usable(now) || m.admins[i].ReplacedBy != "" {
		return nil, cordon.ErrTokenEnded
	}
	if !expiresAt.IsZero() {
		expiresAt = norm(expiresAt)
	}
	m.admins[i].ExpiresAt = expiresAt
	m.audited(ctx, nil)
	t := m.admins[i]
	return &t, nil
}

func (m *Store) RotateAdminToken(ctx context.Context, id string, next *cordon.AdminToken, oldUntil time.Time) (*cordon.AdminToken, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return nil, err
	}
	i := m.adminIndex(id)
	if i < 0 {
		return nil, cordon.ErrNotFound
	}
	old := m.admins[i]
	if !old.Usable(next.CreatedAt) || old.ReplacedBy != "" {
		return nil, cordon.ErrTokenEnded
	}
	for _, have := range m.admins {
		if have.ID == next.ID || string(have.Hash) == string(next.Hash) {
			return nil, cordon.ErrAlreadyExists
		}
	}
	revoked, expires := stored.RotatedEnd(&old, next.CreatedAt, oldUntil)
	old.ReplacedBy = next.ID
	if !revoked.IsZero() {
		revoked = norm(revoked)
	}
	if !expires.IsZero() {
		expires = norm(expires)
	}
	old.RevokedAt, old.ExpiresAt = revoked, expires
	m.admins[i] = old
	next.Name, next.Scopes = old.Name, slices.Clone(old.Scopes)
	c := *next
	c.Hash, c.Scopes, c.CreatedAt = slices.Clone(next.Hash), slices.Clone(next.Scopes), norm(next.CreatedAt)
	if !c.ExpiresAt.IsZero() {
		c.ExpiresAt = norm(c.ExpiresAt)
	}
	m.admins = append(m.admins, c)
	m.audited(ctx, nil)
	return &old, nil
}

func (m *Store) LockAccount(ctx context.Context, id string, at time.Time) ([]string, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return nil, err
	}
	a, ok := m.accounts[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	if a.LockedAt.IsZero() {
		a.LockedAt = norm(at)
		m.accounts[id] = a
	}
	ids := m.revokeAccount(id, cordon.RevokeAccountLocked, at)
	for h, r := range m.resets {
		if r.AccountID == id {
			delete(m.resets, h)
		}
	}
	m.audited(ctx, nil)
	return ids, nil
}

func (m *Store) revokeAccount(accountID, reason string, at time.Time) []string {
	ids := []string{}
	for id, s := range m.sessions {
		if s.AccountID == accountID && s.Live() {
			m.revoke(id, reason, at)
			ids = append(ids, id)
		}
	}
	return ids
}

func (m *Store) UnlockAccount(ctx context.Context, id string) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	a, ok := m.accounts[id]
	if !ok {
		return cordon.ErrNotFound
	}
	a.LockedAt = time.Time{}
	m.accounts[id] = a
	return m.audited(ctx, nil)
}

func (m *Store) DeleteAccount(ctx context.Context, id string, at time.Time) ([]string, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return nil, err
	}
	a, ok := m.accounts[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	if a.Email != "" {
		delete(m.byEmail, a.Email)
	}
	delete(m.accounts, id)
	if m.gone == nil {
		m.gone = map[string]bool{}
	}
	m.gone[id] = true
	ids := m.revokeAccount(id, cordon.RevokeAccountDeleted, at)
	for sid, s := range m.sessions {
		if s.AccountID == id {
			s.Facts.Device = ""
			m.sessions[sid] = s
		}
	}
	for h, rt := range m.tokens {
		if m.sessions[rt.SessionID].AccountID == id {
			delete(m.tokens, h)
		}
	}
	for h, g := range m.grants {
		if g.AccountID == id {
			delete(m.grants, h)
		}
	}
	for h, r := range m.resets {
		if r.AccountID == id {
			delete(m.resets, h)
		}
	}
	m.audited(ctx, nil)
	return ids, nil
}

func (m *Store) ListAccounts(_ context.Context, q cordon.AccountQuery) ([]*cordon.Account, error) {
	defer m.lock()()
	var all []*cordon.Account
	prefix := cordon.UsernameKey(q.Prefix)
	for _, a := range m.accounts {
		switch {
		case !strings.HasPrefix(cordon.UsernameKey(a.Username), prefix),
			q.Locked == cordon.LockedOnly && a.LockedAt.IsZero(),
			q.Locked == cordon.UnlockedOnly && !a.LockedAt.IsZero(),
			a.CreatedAt.Before(q.After.CreatedAt),
			a.CreatedAt.Equal(q.After.CreatedAt) && a.ID <= q.After.ID:
			continue
		}
		all = append(all, &a)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.Before(all[j].CreatedAt)
		}
		return all[i].ID < all[j].ID
	})
	if len(all) > max(q.Limit, 1) {
		all = all[:max(q.Limit, 1)]
	}
	if all == nil {
		all = []*cordon.Account{}
	}
	return all, nil
}
