package memstore

import (
	"context"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// noticeState is the memstore's notices, deliveries and public pages.
type noticeState struct {
	notices    map[string]cordon.Notice
	deliveries map[[2]string]*delivery // notice, session
	pages      map[string]*cordon.PublicPage
	slugs      map[string]string // slug → incident
}

type delivery struct {
	account string
	acked   time.Time
}

func (n *noticeState) init() {
	if n.notices == nil {
		n.notices, n.deliveries = map[string]cordon.Notice{}, map[[2]string]*delivery{}
		n.pages, n.slugs = map[string]*cordon.PublicPage{}, map[string]string{}
	}
}

func copyNotice(n cordon.Notice) *cordon.Notice {
	n.Texts = maps.Clone(n.Texts)
	n.UserIDs = slices.Clone(n.UserIDs)
	n.Cohort.Platforms, n.Cohort.Sources, n.Cohort.Users = slices.Clone(n.Cohort.Platforms), slices.Clone(n.Cohort.Sources), slices.Clone(n.Cohort.Users)
	if t := n.Cohort.AuthenticatedBefore; t != nil {
		u := norm(*t)
		n.Cohort.AuthenticatedBefore = &u
	}
	return &n
}

func (m *Store) CreateNotice(ctx context.Context, n *cordon.Notice) error {
	if err := stored.CheckNotice(n); err != nil {
		return err
	}
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	m.notes.init()
	if _, ok := m.notes.notices[n.ID]; ok {
		return cordon.ErrAlreadyExists
	}
	c := *copyNotice(*n)
	c.CreatedAt, c.UpdatedAt = norm(c.CreatedAt), norm(c.UpdatedAt)
	if !c.PublishedAt.IsZero() {
		c.PublishedAt = norm(c.PublishedAt)
	}
	if !c.WithdrawnAt.IsZero() {
		c.WithdrawnAt = norm(c.WithdrawnAt)
	}
	if err := m.audited(ctx, nil); err != nil {
		return err
	}
	m.notes.notices[n.ID] = c
	return nil
}

func (m *Store) Notice(_ context.Context, id string) (*cordon.Notice, error) {
	defer m.lock()()
	m.notes.init()
	n, ok := m.notes.notices[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return copyNotice(n), nil
}

func (m *Store) Notices(context.Context) ([]*cordon.Notice, error) {
	defer m.lock()()
	m.notes.init()
	out := []*cordon.Notice{}
	for _, n := range m.notes.notices {
		out = append(out, copyNotice(n))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

func (m *Store) PublishedNotices(context.Context) ([]*cordon.Notice, error) {
	defer m.lock()()
	m.notes.init()
	out := []*cordon.Notice{}
	for _, n := range m.notes.notices {
		if n.State == cordon.NoticePublished {
			out = append(out, copyNotice(n))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].PublishedAt.Equal(out[j].PublishedAt) {
			return out[i].PublishedAt.Before(out[j].PublishedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (m *Store) TransitionNotice(ctx context.Context, id string, from []cordon.NoticeState, to cordon.NoticeState, at time.Time) (*cordon.Notice, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return nil, err
	}
	m.notes.init()
	n, ok := m.notes.notices[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	if !slices.Contains(from, n.State) {
		return nil, stored.NoticeConflict(id, n.State, to)
	}
	if err := m.audited(ctx, nil); err != nil {
		return nil, err
	}
	stored.NoticeMoved(&n, to, at)
	m.notes.notices[id] = n
	if n.Campaign != "" {
		m.version++
	}
	return copyNotice(n), nil
}

func (m *Store) RecordNoticeDelivered(_ context.Context, noticeID, sessionID, accountID string, _ time.Time) (bool, error) {
	defer m.lock()()
	m.notes.init()
	k := [2]string{noticeID, sessionID}
	if m.notes.deliveries[k] != nil {
		return false, nil
	}
	m.notes.deliveries[k] = &delivery{account: accountID}
	return true, nil
}

func (m *Store) AckNotice(_ context.Context, noticeID, sessionID, accountID string, at time.Time) (bool, error) {
	defer m.lock()()
	m.notes.init()
	k := [2]string{noticeID, sessionID}
	d := m.notes.deliveries[k]
	if d == nil {
		d = &delivery{account: accountID}
		m.notes.deliveries[k] = d
	}
	if !d.acked.IsZero() {
		return false, nil
	}
	d.acked = norm(at)
	return true, nil
}

func (m *Store) SessionNoticeAcks(_ context.Context, sessionID string) (map[string]time.Time, error) {
	defer m.lock()()
	m.notes.init()
	out := map[string]time.Time{}
	for k, d := range m.notes.deliveries {
		if k[1] == sessionID && !d.acked.IsZero() {
			out[k[0]] = d.acked
		}
	}
	return out, nil
}

func (m *Store) NoticeProgress(_ context.Context, noticeID string) (cordon.NoticeProgress, error) {
	defer m.lock()()
	m.notes.init()
	var p cordon.NoticeProgress
	users, acked := map[string]bool{}, map[string]bool{}
	for k, d := range m.notes.deliveries {
		if k[0] != noticeID {
			continue
		}
		p.DeliveredSessions++
		users[d.account] = true
		if !d.acked.IsZero() {
			p.AckedSessions++
			acked[d.account] = true
		}
	}
	p.DeliveredUsers, p.AckedUsers = int64(len(users)), int64(len(acked))
	return p, nil
}

func (m *Store) PublishPageUpdate(ctx context.Context, incident, slug string, u *cordon.PublicUpdate) (*cordon.PublicPage, error) {
	if err := stored.CheckPageUpdate(incident, slug, u); err != nil {
		return nil, err
	}
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return nil, err
	}
	m.notes.init()
	p := m.notes.pages[incident]
	switch {
	case p == nil && slug == "":
		return nil, cordon.ErrNotFound
	case p == nil:
		if m.notes.slugs[slug] != "" {
			return nil, cordon.ErrAlreadyExists
		}
	case slug != "" && slug != p.Slug:
		return nil, stored.PageSlugConflict(incident, p.Slug, slug)
	}
	for _, q := range m.notes.pages {
		for _, have := range q.Updates {
			if have.ID == u.ID {
				return nil, cordon.ErrAlreadyExists
			}
		}
	}
	if err := m.audited(ctx, nil); err != nil {
		return nil, err
	}
	if p == nil {
		p = &cordon.PublicPage{Incident: incident, Slug: slug}
		m.notes.pages[incident], m.notes.slugs[slug] = p, incident
	}
	c := *u
	c.PublishedAt, c.Texts = norm(c.PublishedAt), maps.Clone(c.Texts)
	p.Updates = append([]cordon.PublicUpdate{c}, p.Updates...)
	sort.SliceStable(p.Updates, func(i, j int) bool { return p.Updates[i].PublishedAt.After(p.Updates[j].PublishedAt) })
	return copyPage(p), nil
}

func copyPage(p *cordon.PublicPage) *cordon.PublicPage {
	c := *p
	c.Updates = make([]cordon.PublicUpdate, len(p.Updates))
	for i, u := range p.Updates {
		u.Texts = maps.Clone(u.Texts)
		c.Updates[i] = u
	}
	return &c
}

func (m *Store) PublicPageBySlug(_ context.Context, slug string) (*cordon.PublicPage, error) {
	defer m.lock()()
	m.notes.init()
	inc := m.notes.slugs[slug]
	if inc == "" {
		return nil, cordon.ErrNotFound
	}
	return copyPage(m.notes.pages[inc]), nil
}

func (m *Store) PublicPageOf(_ context.Context, incident string) (*cordon.PublicPage, error) {
	defer m.lock()()
	m.notes.init()
	p := m.notes.pages[incident]
	if p == nil {
		return nil, cordon.ErrNotFound
	}
	return copyPage(p), nil
}
