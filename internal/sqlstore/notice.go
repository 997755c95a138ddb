package sqlstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

var (
	_ cordon.NoticeStore     = (*Store)(nil)
	_ cordon.PublicPageStore = (*Store)(nil)
)

const noticeCols = `id, incident, campaign, state, created_at, created_by, updated_at, published_at, withdrawn_at, doc`

// CreateNotice stores a new notice with its context's audit entries.
func (s *Store) CreateNotice(ctx context.Context, n *cordon.Notice) error {
	if err := stored.CheckNotice(n); err != nil {
		return err
	}
	doc, err := stored.EncodeNotice(n)
	if err != nil {
		return err
	}
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO notices (`+noticeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			n.ID, n.Incident, n.Campaign, string(n.State), stored.Micros(n.CreatedAt), n.CreatedBy, stored.Micros(n.UpdatedAt),
			stored.ZeroMicros(n.PublishedAt), stored.ZeroMicros(n.WithdrawnAt), string(doc))
		return err
	})
}

func scanNotice(row Row) (*cordon.Notice, error) {
	var r stored.NoticeRow
	var doc string
	if err := row.Scan(&r.ID, &r.Incident, &r.Campaign, &r.State, &r.Created, &r.CreatedBy, &r.Updated, &r.Published, &r.Withdrawn, &doc); err != nil {
		return nil, err
	}
	r.Doc = []byte(doc)
	return stored.DecodeNotice(&r)
}

// Notice looks a notice up by id.
func (s *Store) Notice(ctx context.Context, id string) (*cordon.Notice, error) {
	return scanNotice(s.b.Reader().QueryRow(ctx, `SELECT `+noticeCols+` FROM notices WHERE id = $1`, id))
}

func (s *Store) notices(ctx context.Context, q string, args ...any) ([]*cordon.Notice, error) {
	rows, err := s.b.Reader().Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*cordon.Notice{}
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Notices lists every notice, newest first.
func (s *Store) Notices(ctx context.Context) ([]*cordon.Notice, error) {
	return s.notices(ctx, `SELECT `+noticeCols+` FROM notices ORDER BY created_at DESC, id DESC`)
}

// PublishedNotices lists the published notices, oldest publication first.
func (s *Store) PublishedNotices(ctx context.Context) ([]*cordon.Notice, error) {
	return s.notices(ctx, `SELECT `+noticeCols+` FROM notices WHERE state = $1 ORDER BY published_at, id`, string(cordon.NoticePublished))
}

// TransitionNotice is a compare-and-set on the state: the UPDATE names
// the states it leaves, so of two racing moves one finds none.
func (s *Store) TransitionNotice(ctx context.Context, id string, from []cordon.NoticeState, to cordon.NoticeState, at time.Time) (*cordon.Notice, error) {
	var n *cordon.Notice
	err := s.b.Write(ctx, func(tx Querier) error {
		n = nil
		var err error
		// ForUpdate (PostgreSQL): a racing move waits and reads the state
		// it left. SQLite's one writer already runs the moves one by one.
		if n, err = scanNotice(tx.QueryRow(ctx, `SELECT `+noticeCols+` FROM notices WHERE id = $1`+s.d.ForUpdate, id)); err != nil {
			return err
		}
		if !slices.Contains(from, n.State) {
			return stored.NoticeConflict(id, n.State, to)
		}
		prev := n.State
		stored.NoticeMoved(n, to, at)
		k, err := tx.Exec(ctx, `UPDATE notices SET state = $1, updated_at = $2, published_at = $3, withdrawn_at = $4 WHERE id = $5 AND state = $6`,
			string(to), stored.Micros(n.UpdatedAt), stored.ZeroMicros(n.PublishedAt), stored.ZeroMicros(n.WithdrawnAt), id, string(prev))
		if err != nil {
			return err
		}
		if k != 1 {
			return stored.NoticeConflict(id, prev, to)
		}
		if n.Campaign != "" {
			_, err = tx.Exec(ctx, `UPDATE policy_version SET version = version + 1 WHERE id = 1`)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// RecordNoticeDelivered records that the session was served the notice;
// true if this was its first delivery to the session.
func (s *Store) RecordNoticeDelivered(ctx context.Context, noticeID, sessionID, accountID string, at time.Time) (bool, error) {
	var first bool
	err := s.b.Write(ctx, func(tx Querier) error {
		d, err := deliverTx(ctx, tx, noticeID, sessionID, accountID, at)
		if err != nil {
			return err
		}
		first = d.deliveredSessions == 1
		return countTx(ctx, tx, noticeID, d)
	})
	return first, err
}

// noticeDelta is what one write adds to a notice's counters.
type noticeDelta struct{ deliveredSessions, deliveredUsers, ackedSessions, ackedUsers int64 }

// deliverTx records a delivery once per session, and its account once
// per notice. Rows are taken in one order (delivery, account, counters)
// by every write, so concurrent writes wait rather than deadlock.
func deliverTx(ctx context.Context, tx Querier, noticeID, sessionID, accountID string, at time.Time) (noticeDelta, error) {
	var d noticeDelta
	n, err := tx.Exec(ctx, `INSERT INTO notice_deliveries (notice, session, account, delivered_at, acked_at) VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING`,
		noticeID, sessionID, accountID, stored.Micros(at))
	if err != nil {
		return d, err
	}
	if d.deliveredSessions = n; d.deliveredSessions == 0 {
		return d, nil
	}
	n, err = tx.Exec(ctx, `INSERT INTO notice_accounts (notice, account, acked) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`, noticeID, accountID)
	if err != nil {
		return d, err
	}
	d.deliveredUsers = n
	return d, nil
}

// countTx adds d to the notice's counters.
func countTx(ctx context.Context, tx Querier, noticeID string, d noticeDelta) error {
	if d == (noticeDelta{}) {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO notice_counts AS c (notice, delivered_sessions, delivered_users, acked_sessions, acked_users) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (notice) DO UPDATE SET delivered_sessions = c.delivered_sessions + excluded.delivered_sessions,
		delivered_users = c.delivered_users + excluded.delivered_users, acked_sessions = c.acked_sessions + excluded.acked_sessions,
		acked_users = c.acked_users + excluded.acked_users`, noticeID, d.deliveredSessions, d.deliveredUsers, d.ackedSessions, d.ackedUsers)
	return err
}

// AckNotice records the session's acknowledgement of the notice (and its
// delivery, if not yet recorded); true if this was the session's first.
func (s *Store) AckNotice(ctx context.Context, noticeID, sessionID, accountID string, at time.Time) (bool, error) {
	var first bool
	err := s.b.Write(ctx, func(tx Querier) error {
		d, err := deliverTx(ctx, tx, noticeID, sessionID, accountID, at)
		if err != nil {
			return err
		}
		if d.ackedSessions, err = tx.Exec(ctx, `UPDATE notice_deliveries SET acked_at = $1 WHERE notice = $2 AND session = $3 AND acked_at = 0`,
			stored.Micros(at), noticeID, sessionID); err != nil {
			return err
		}
		if first = d.ackedSessions == 1; first {
			// The delivery's own account: a session never changes account.
			if d.ackedUsers, err = tx.Exec(ctx, `UPDATE notice_accounts SET acked = 1 WHERE notice = $1 AND account = (SELECT account FROM notice_deliveries WHERE notice = $1 AND session = $2) AND acked = 0`,
				noticeID, sessionID); err != nil {
				return err
			}
		}
		return countTx(ctx, tx, noticeID, d)
	})
	return first, err
}

// SessionNoticeAcks returns when the session acknowledged each notice it
// acknowledged.
func (s *Store) SessionNoticeAcks(ctx context.Context, sessionID string) (map[string]time.Time, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT notice, acked_at FROM notice_deliveries WHERE session = $1 AND acked_at > 0`, sessionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		out[id] = stored.Time(at)
	}
	return out, rows.Err()
}

// NoticeProgress reads the notice's counters: one row, whatever the
// number of deliveries.
func (s *Store) NoticeProgress(ctx context.Context, noticeID string) (cordon.NoticeProgress, error) {
	var p cordon.NoticeProgress
	err := s.b.Reader().QueryRow(ctx, `SELECT delivered_sessions, delivered_users, acked_sessions, acked_users FROM notice_counts WHERE notice = $1`, noticeID).
		Scan(&p.DeliveredSessions, &p.DeliveredUsers, &p.AckedSessions, &p.AckedUsers)
	if errors.Is(err, cordon.ErrNotFound) {
		return cordon.NoticeProgress{}, nil
	}
	return p, err
}

// PublishPageUpdate adds an update to the incident's public page, making
// the page (at slug) with its first update.
func (s *Store) PublishPageUpdate(ctx context.Context, incident, slug string, u *cordon.PublicUpdate) (*cordon.PublicPage, error) {
	if err := stored.CheckPageUpdate(incident, slug, u); err != nil {
		return nil, err
	}
	texts, err := stored.EncodeTexts(u.Texts)
	if err != nil {
		return nil, err
	}
	err = s.b.Write(ctx, func(tx Querier) error {
		var have string
		err := tx.QueryRow(ctx, `SELECT slug FROM public_pages WHERE incident = $1`, incident).Scan(&have)
		switch {
		case errors.Is(err, cordon.ErrNotFound) && slug == "":
			return cordon.ErrNotFound
		case errors.Is(err, cordon.ErrNotFound):
			if _, err := tx.Exec(ctx, `INSERT INTO public_pages (incident, slug) VALUES ($1, $2)`, incident, slug); err != nil {
				return err
			}
		case err != nil:
			return err
		case slug != "" && slug != have:
			return stored.PageSlugConflict(incident, have, slug)
		}
		_, err = tx.Exec(ctx, `INSERT INTO public_updates (id, incident, published_at, published_by, default_language, texts) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, incident, stored.Micros(u.PublishedAt), u.PublishedBy, u.DefaultLanguage, string(texts))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.PublicPageOf(ctx, incident)
}

// PublicPageBySlug returns the public page at slug with its updates.
func (s *Store) PublicPageBySlug(ctx context.Context, slug string) (*cordon.PublicPage, error) {
	var p cordon.PublicPage
	if err := s.b.Reader().QueryRow(ctx, `SELECT incident, slug FROM public_pages WHERE slug = $1`, slug).Scan(&p.Incident, &p.Slug); err != nil {
		return nil, err
	}
	return s.pageUpdates(ctx, &p)
}

// PublicPageOf returns the incident's public page with its updates.
func (s *Store) PublicPageOf(ctx context.Context, incident string) (*cordon.PublicPage, error) {
	var p cordon.PublicPage
	if err := s.b.Reader().QueryRow(ctx, `SELECT incident, slug FROM public_pages WHERE incident = $1`, incident).Scan(&p.Incident, &p.Slug); err != nil {
		return nil, err
	}
	return s.pageUpdates(ctx, &p)
}

func (s *Store) pageUpdates(ctx context.Context, p *cordon.PublicPage) (*cordon.PublicPage, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT id, published_at, published_by, default_language, texts FROM public_updates WHERE incident = $1 ORDER BY published_at DESC, id DESC`, p.Incident)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	p.Updates = []cordon.PublicUpdate{}
	for rows.Next() {
		var (
			u     cordon.PublicUpdate
			at    int64
			texts string
		)
		if err := rows.Scan(&u.ID, &at, &u.PublishedBy, &u.DefaultLanguage, &texts); err != nil {
			return nil, err
		}
		u.PublishedAt = stored.Time(at)
		if u.Texts, err = stored.DecodeTexts([]byte(texts)); err != nil {
			return nil, err
		}
		p.Updates = append(p.Updates, u)
	}
	return p, rows.Err()
}
