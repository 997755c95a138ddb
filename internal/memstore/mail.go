package memstore

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func (m *Store) EnqueueMail(_ context.Context, ms []*cordon.MailMessage) (int, error) {
	defer m.lock()()
	if m.outbox == nil {
		m.outbox = map[string]cordon.MailMessage{}
	}
	for _, msg := range ms {
		if err := cordon.CheckMailKey(msg.Key); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, msg := range ms {
		if _, ok := m.outbox[msg.Key]; ok {
			continue
		}
		c := *msg
		c.State, c.Attempts, c.Owner, c.LeaseUntil, c.SentAt, c.Reason = cordon.MailQueued, 0, "", time.Time{}, time.Time{}, ""
		c.CreatedAt = norm(c.CreatedAt)
		if c.NextAt.IsZero() {
			c.NextAt = c.CreatedAt
		}
		c.NextAt = norm(c.NextAt)
		m.outbox[c.Key] = c
		n++
	}
	return n, nil
}

func (m *Store) ClaimMail(_ context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*cordon.MailMessage, error) {
	defer m.lock()()
	var due []cordon.MailMessage
	for _, msg := range m.outbox {
		if (msg.State == cordon.MailQueued && !msg.NextAt.After(now)) || (msg.State == cordon.MailSending && !msg.LeaseUntil.After(now)) {
			due = append(due, msg)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextAt.Equal(due[j].NextAt) {
			return due[i].NextAt.Before(due[j].NextAt)
		}
		return due[i].Key < due[j].Key
	})
	if len(due) > limit {
		due = due[:limit]
	}
	out := make([]*cordon.MailMessage, 0, len(due))
	for _, msg := range due {
		msg.State, msg.Owner, msg.LeaseUntil = cordon.MailSending, owner, norm(now.Add(lease))
		msg.Attempts++
		m.outbox[msg.Key] = msg
		c := msg
		out = append(out, &c)
	}
	return out, nil
}

func (m *Store) MarkMailSent(_ context.Context, key string, at time.Time) error {
	defer m.lock()()
	msg, ok := m.outbox[key]
	if !ok {
		return cordon.ErrNotFound
	}
	if msg.State == cordon.MailSent {
		return nil
	}
	msg.State, msg.SentAt, msg.Owner, msg.LeaseUntil, msg.Reason = cordon.MailSent, norm(at), "", time.Time{}, ""
	m.outbox[key] = msg
	return nil
}

func (m *Store) RetryMail(_ context.Context, key, owner string, next time.Time, reason string) error {
	defer m.lock()()
	msg, ok := m.outbox[key]
	if !ok || msg.State != cordon.MailSending || msg.Owner != owner {
		return cordon.ErrNotFound
	}
	msg.State, msg.NextAt, msg.Reason, msg.Owner, msg.LeaseUntil = cordon.MailQueued, norm(next), reason, "", time.Time{}
	m.outbox[key] = msg
	return nil
}

func (m *Store) FailMail(_ context.Context, key, owner, reason string) error {
	defer m.lock()()
	msg, ok := m.outbox[key]
	if !ok || msg.State != cordon.MailSending || msg.Owner != owner {
		return cordon.ErrNotFound
	}
	msg.State, msg.Reason, msg.Owner, msg.LeaseUntil = cordon.MailFailed, reason, "", time.Time{}
	m.outbox[key] = msg
	return nil
}

func (m *Store) MailByKey(_ context.Context, key string) (*cordon.MailMessage, error) {
	defer m.lock()()
	msg, ok := m.outbox[key]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return &msg, nil
}

func (m *Store) MailCounts(_ context.Context, prefix string) (cordon.MailCounts, error) {
	defer m.lock()()
	var c cordon.MailCounts
	for k, msg := range m.outbox {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		switch msg.State {
		case cordon.MailQueued, cordon.MailSending:
			c.Queued++
		case cordon.MailSent:
			c.Sent++
		case cordon.MailFailed:
			c.Failed++
		}
	}
	return c, nil
}
