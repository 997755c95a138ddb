package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

type consoleState struct {
	admins   map[string]cordon.ConsoleAdmin   // by id
	sessions map[string]cordon.ConsoleSession // by hash
}

func (c *consoleState) init() {
	if c.admins == nil {
		c.admins, c.sessions = map[string]cordon.ConsoleAdmin{}, map[string]cordon.ConsoleSession{}
	}
}

func (m *Store) CreateConsoleAdmin(ctx context.Context, a *cordon.ConsoleAdmin) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	m.console.init()
	for _, have := range m.console.admins {
		if have.ID == a.ID || have.Name == a.Name {
			return cordon.ErrAlreadyExists
		}
	}
	c := *a
	c.CreatedAt = norm(c.CreatedAt)
	m.console.admins[c.ID] = c
	return m.audited(ctx, nil)
}

func (m *Store) ConsoleAdminByName(_ context.Context, name string) (*cordon.ConsoleAdmin, error) {
	defer m.lock()()
	for _, a := range m.console.admins {
		if a.Name == name {
			return &a, nil
		}
	}
	return nil, cordon.ErrNotFound
}

func (m *Store) UseConsoleTOTPStep(ctx context.Context, adminID string, step int64) error {
	defer m.lock()()
	a, ok := m.console.admins[adminID]
	if !ok {
		return cordon.ErrNotFound
	}
	if a.TOTPStep >= step {
		return cordon.ErrAlreadyExists
	}
	a.TOTPStep = step
	m.console.admins[adminID] = a
	return m.audited(ctx, nil)
}

func (m *Store) CreateConsoleSession(ctx context.Context, s *cordon.ConsoleSession) error {
	defer m.lock()()
	m.console.init()
	if _, ok := m.console.admins[s.AdminID]; !ok {
		return cordon.ErrNotFound
	}
	for h, have := range m.console.sessions {
		if !have.ExpiresAt.After(s.CreatedAt) {
			delete(m.console.sessions, h)
		}
	}
	if _, ok := m.console.sessions[string(s.Hash)]; ok {
		return cordon.ErrAlreadyExists
	}
	c := *s
	c.Hash = append([]byte(nil), s.Hash...)
	c.CreatedAt, c.ExpiresAt = norm(c.CreatedAt), norm(c.ExpiresAt)
	m.console.sessions[string(c.Hash)] = c
	return m.audited(ctx, nil)
}

func (m *Store) ConsoleSession(_ context.Context, hash []byte, now time.Time) (*cordon.ConsoleSession, *cordon.ConsoleAdmin, error) {
	defer m.lock()()
	s, ok := m.console.sessions[string(hash)]
	if !ok || !s.ExpiresAt.After(now) {
		return nil, nil, cordon.ErrNotFound
	}
	a, ok := m.console.admins[s.AdminID]
	if !ok {
		return nil, nil, cordon.ErrNotFound
	}
	s.Hash = append([]byte(nil), s.Hash...)
	return &s, &a, nil
}

func (m *Store) DeleteConsoleSession(ctx context.Context, hash []byte) error {
	defer m.lock()()
	delete(m.console.sessions, string(hash))
	return m.audited(ctx, nil)
}

func (m *Store) ConsoleAdmins(_ context.Context) ([]*cordon.ConsoleAdmin, error) {
	defer m.lock()()
	var out []*cordon.ConsoleAdmin
	for _, a := range m.console.admins {
		c := a
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *cordon.ConsoleAdmin) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *Store) DeleteConsoleAdmin(ctx context.Context, name string) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	for id, a := range m.console.admins {
		if a.Name != name {
			continue
		}
		if err := m.audited(ctx, nil); err != nil {
			return err
		}
		for h, s := range m.console.sessions {
			if s.AdminID == id {
				delete(m.console.sessions, h)
			}
		}
		delete(m.console.admins, id)
		return nil
	}
	return cordon.ErrNotFound
}
