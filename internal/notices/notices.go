// Package notices runs what cordon tells people: in-app notices, stored
// as drafts, published to the sessions of a cohort (a campaign's cohort,
// matched the same way against the facts each session had at login),
// acknowledged by apps and withdrawn; the notices that explain a
// campaign's denials, for the server and the gate; and incidents' public
// pages. Texts and their rendering are package notice's; this package
// stores, checks and serves.
//
// Every admin change is an audit entry written in the transaction of the
// change (subject cordon:notice/ID, or the incident's for its page), so an
// incident's timeline reads it back from the signed log.
package notices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/campaigndoc"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/notice"
	"github.com/cordon-dev/cordon/internal/wire"
)

// Category is the audit category of notice records.
const Category = "notices"

// MaxPerSession bounds the notices one session is served at once.
const MaxPerSession = 50

// Store is what the service needs of a backend.
type Store interface {
	cordon.NoticeStore
	cordon.PublicPageStore
	Campaign(ctx context.Context, id string) (*cordon.Campaign, error)
	Incident(ctx context.Context, id string) (*cordon.Incident, error)
	SessionsOf(ctx context.Context, accountIDs []string) ([]*cordon.Session, error)
	LiveSessions(ctx context.Context, fn func(*cordon.Session) error) error
}

// Config is what a Service is built from.
type Config struct {
	Store Store
	// Audit records every change; required.
	Audit *auditlog.Service
	// Campaigns resolves cohorts' users and counts whom a notice targets;
	// required.
	Campaigns *campaign.Service
	Clock     clock.Clock
	Log       *slog.Logger
}

// Service runs notices. It is safe for concurrent use.
type Service struct {
	store     Store
	audit     *auditlog.Service
	campaigns *campaign.Service
	clock     clock.Clock
	log       *slog.Logger
	// matchers caches each notice's compiled cohort by id: a notice's
	// cohort never changes after creation.
	matchers sync.Map
	// denials is what this server's own denials carry (Denials).
	denials atomic.Pointer[wire.Notices]
	// delivered remembers the (notice, session) pairs recorded, so an app
	// polling its notices does not cost a write per poll. Bounded: past
	// maxDelivered pairs the store's own once-only insert takes over.
	delivered  sync.Map
	ndelivered atomic.Int64
	// mail queues published email notices (SetMail); nil: none sent.
	mail     Outbox
	accounts Accounts
	mailWake chan struct{}
}

// maxDelivered bounds the delivered memo (about 100 bytes a pair).
const maxDelivered = 1 << 20

// New returns a service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Audit == nil || c.Campaigns == nil {
		return nil, errors.New("notices: a store, the audit log and the campaigns are required")
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: c.Store, audit: c.Audit, campaigns: c.Campaigns, clock: c.Clock, log: c.Log}
	s.denials.Store(wire.CompileNotices(nil))
	return s, nil
}

// Subject is the audit subject of a notice's records.
func Subject(id string) string { return auditlog.ObjectPrefix + "notice/" + id }

// record returns ctx carrying the audit entry of a change.
func (s *Service) record(ctx context.Context, by incident.Actor, subject, category, what string) (context.Context, error) {
	if by.TokenID != "" {
		what += " (admin token " + by.TokenID + ")"
	}
	now := s.clock.Now()
	e, err := s.audit.Entry(audit.Event{Time: now, Principal: by.Principal, Action: audit.ActionWrite, Subject: subject,
		Categories: []string{category}, Purpose: cut(what, audit.MaxPurpose), Source: by.Source}, now, -1)
	if err != nil {
		return nil, err
	}
	return cordon.WithAudit(ctx, e), nil
}

func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && s[max]&0xC0 == 0x80 {
		max--
	}
	return s[:max]
}

func short(s string) string {
	if len(s) > 64 {
		return cut(s, 64) + "…"
	}
	return s
}

// CheckTexts validates a notice's texts with package notice's rules, as a
// 422 naming the field.
func CheckTexts(def string, texts map[string]cordon.NoticeText) error {
	t := toTexts(def, texts)
	if err := t.Validate(); err != nil {
		var p *notice.Problem
		if errors.As(err, &p) {
			return cordon.FieldError(cordon.ECodeUnprocessable, p.Field, "%s", p.Message)
		}
		return cordon.Errorf(cordon.ECodeUnprocessable, "%v", err)
	}
	return nil
}

func toTexts(def string, texts map[string]cordon.NoticeText) notice.Texts {
	t := notice.Texts{Default: def, ByTag: make(map[string]notice.Text, len(texts))}
	for tag, tx := range texts {
		t.ByTag[tag] = notice.Text{Title: tx.Title, Body: tx.Body}
	}
	return t
}

// Create validates a notice document and stores it as a draft. incidentID
// is the incident it belongs to, or empty; linking it there is the
// caller's (incident.Service.Link), after.
func (s *Service) Create(ctx context.Context, by incident.Actor, doc []byte, format, incidentID string) (*cordon.Notice, error) {
	d, err := campaigndoc.ParseNotice(doc, format)
	if err != nil {
		return nil, err
	}
	if err := CheckTexts(d.DefaultLanguage, d.Texts); err != nil {
		return nil, err
	}
	if d.Campaign != "" {
		if _, err := s.store.Campaign(ctx, d.Campaign); errors.Is(err, cordon.ErrNotFound) {
			return nil, cordon.FieldError(cordon.ECodeUnprocessable, "campaign", "no campaign %q; the notice explains an existing campaign", d.Campaign)
		} else if err != nil {
			return nil, err
		}
	}
	ids, err := s.campaigns.CohortUsers(ctx, d.Cohort)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	n := &cordon.Notice{ID: cordon.NewID("n"), Incident: incidentID, Campaign: d.Campaign, Cohort: d.Cohort, DefaultLanguage: d.DefaultLanguage,
		Texts: d.Texts, Email: d.Email, State: cordon.NoticeDraft, CreatedAt: now, CreatedBy: by.Principal, UpdatedAt: now, UserIDs: ids}
	if _, err := s.matcher(n); err != nil {
		return nil, cordon.Errorf(cordon.ECodeUnprocessable, "the notice's cohort does not compile: %v", err)
	}
	what := fmt.Sprintf("notice draft created: %d languages, default %s", len(n.Texts), n.DefaultLanguage)
	if n.Campaign != "" {
		what += "; explains campaign " + n.Campaign
	}
	if n.Email {
		what += "; sent by email once published"
	}
	rctx, err := s.record(ctx, by, Subject(n.ID), Category, what)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateNotice(rctx, n); err != nil {
		return nil, err
	}
	s.log.Info("notice created", "notice", n.ID, "by", by.Principal)
	return n, nil
}

// asCampaign is the notice's cohort as a campaign that owes nothing but
// being in it (an offline re-key with no ramp matches every session of
// its cohort), so cohort matching and counting are the campaigns' own.
func asCampaign(n *cordon.Notice) *cordon.Campaign {
	return &cordon.Campaign{ID: n.ID, Kind: cordon.KindOfflineRekey, Name: n.ID, Cohort: n.Cohort, State: cordon.StateDraft, UserIDs: n.UserIDs}
}

func (s *Service) matcher(n *cordon.Notice) (*decision.Matcher, error) {
	if m, ok := s.matchers.Load(n.ID); ok {
		return m.(*decision.Matcher), nil
	}
	m, err := decision.NewMatcher(asCampaign(n))
	if err != nil {
		return nil, err
	}
	s.matchers.Store(n.ID, m)
	return m, nil
}

// Get returns a notice.
func (s *Service) Get(ctx context.Context, id string) (*cordon.Notice, error) {
	n, err := s.store.Notice(ctx, id)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no notice %q", short(id))
	}
	return n, err
}

// List returns every notice, newest first.
func (s *Service) List(ctx context.Context) ([]*cordon.Notice, error) {
	return s.store.Notices(ctx)
}

// View is a notice with its reach: whom it targets now (the campaign
// preview's computation) and what it has reached.
type View struct {
	*cordon.Notice
	Targeted Targeted              `json:"targeted"`
	Progress cordon.NoticeProgress `json:"progress"`
	// Mail is its email's progress in the outbox (email: true only).
	Mail *cordon.MailCounts `json:"mail,omitempty"`
}

// Targeted is whom a notice targets, counted as a campaign preview counts.
type Targeted struct {
	Sessions int64 `json:"sessions"`
	Users    int64 `json:"users"`
	// Exact is false when counted from buckets (Users an upper bound).
	Exact bool      `json:"exact"`
	At    time.Time `json:"at"`
}

// Show returns a notice with its reach.
func (s *Service) Show(ctx context.Context, id string) (*View, error) {
	n, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := s.campaigns.PreviewOf(ctx, asCampaign(n))
	if err != nil {
		return nil, err
	}
	prog, mail, err := s.Reached(ctx, n)
	if err != nil {
		return nil, err
	}
	return &View{Notice: n, Targeted: Targeted{Sessions: p.Sessions, Users: p.Users, Exact: p.Exact, At: s.clock.Now().UTC()}, Progress: prog, Mail: mail}, nil
}

// Reached returns what a notice has reached: its counters, and its
// email's progress in the outbox (nil unless email: true and mail is
// sent). Unlike Show it counts no cohort, so a list of notices costs a
// few reads each.
func (s *Service) Reached(ctx context.Context, n *cordon.Notice) (cordon.NoticeProgress, *cordon.MailCounts, error) {
	prog, err := s.store.NoticeProgress(ctx, n.ID)
	if err != nil {
		return prog, nil, err
	}
	if !n.Email || s.mail == nil {
		return prog, nil, nil
	}
	c, err := s.mail.Counts(ctx, MailPrefix(n.ID))
	if err != nil {
		return prog, nil, err
	}
	return prog, &c, nil
}

// Publish makes a draft visible to its cohort. Withdraw takes a draft or
// a published notice out for good. Of a publish and a withdraw racing,
// the notice ends withdrawn either way: a withdraw is never undone.
func (s *Service) Publish(ctx context.Context, by incident.Actor, id string) (*cordon.Notice, error) {
	n, err := s.move(ctx, by, id, []cordon.NoticeState{cordon.NoticeDraft}, cordon.NoticePublished)
	if err == nil && n.Email && s.mailWake != nil {
		select {
		case s.mailWake <- struct{}{}:
		default:
		}
	}
	return n, err
}

// Withdraw stops a notice.
func (s *Service) Withdraw(ctx context.Context, by incident.Actor, id string) (*cordon.Notice, error) {
	return s.move(ctx, by, id, []cordon.NoticeState{cordon.NoticeDraft, cordon.NoticePublished}, cordon.NoticeWithdrawn)
}

func (s *Service) move(ctx context.Context, by incident.Actor, id string, from []cordon.NoticeState, to cordon.NoticeState) (*cordon.Notice, error) {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(from, cur.State) {
		return nil, cordon.Errorf(cordon.ECodeConflict, "notice %s is %s; it cannot become %s", id, cur.State, to)
	}
	rctx, err := s.record(ctx, by, Subject(id), Category, fmt.Sprintf("notice %s -> %s", cur.State, to))
	if err != nil {
		return nil, err
	}
	n, err := s.store.TransitionNotice(rctx, id, from, to, s.clock.Now())
	if err != nil {
		return nil, err
	}
	s.log.Info("notice "+string(to), "notice", id, "by", by.Principal)
	if n.Campaign != "" {
		// The store moved the policy version: reloading now sends the
		// denial notices to this node's feed at once (other nodes follow
		// within their poll).
		if err := s.campaigns.Reload(ctx); err != nil {
			s.log.Warn("policy reload after a notice", "notice", id, "err", err)
		}
	}
	return n, nil
}

// DenialNotices returns the published notices that explain a campaign,
// oldest published first (the newest of a campaign's wins), for the
// policy feed and this server's denials.
func (s *Service) DenialNotices(ctx context.Context) ([]wire.DenialNotice, error) {
	ns, err := s.store.PublishedNotices(ctx)
	if err != nil {
		return nil, err
	}
	out := []wire.DenialNotice{}
	for _, n := range ns {
		if n.Campaign == "" {
			continue
		}
		d := wire.DenialNotice{ID: n.ID, Campaign: n.Campaign, Default: n.DefaultLanguage, Titles: map[string]string{}}
		for tag, t := range n.Texts {
			d.Titles[tag] = t.Title
		}
		out = append(out, d)
	}
	return out, nil
}

// SetDenials installs the denial notices this server's answers carry.
func (s *Service) SetDenials(ns []wire.DenialNotice) { s.denials.Store(wire.CompileNotices(ns)) }

// Denials is what this server's campaign denials carry; never nil.
func (s *Service) Denials() *wire.Notices { return s.denials.Load() }

// AppNotice is a notice as an app is served it, in one language.
type AppNotice struct {
	ID       string `json:"id"`
	Language string `json:"language"`
	Title    string `json:"title"`
	// Markdown is the body as written; HTML is it rendered and sanitised.
	Markdown     string     `json:"markdown"`
	HTML         string     `json:"html"`
	PublishedAt  time.Time  `json:"published_at"`
	Campaign     string     `json:"campaign,omitempty"`
	Acknowledged *time.Time `json:"acknowledged_at,omitempty"`
}

// ForSession returns the published notices whose cohort matches the
// session as it was at login (its recorded facts, never what a request
// claims now), each in the best language of preference, and records that
// they were delivered.
func (s *Service) ForSession(ctx context.Context, sess *cordon.Session, preference string) ([]AppNotice, error) {
	ns, err := s.targeting(ctx, sess)
	if err != nil {
		return nil, err
	}
	acks, err := s.store.SessionNoticeAcks(ctx, sess.ID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := []AppNotice{}
	for _, n := range ns {
		tag, tx := toTexts(n.DefaultLanguage, n.Texts).Pick(preference)
		body, err := notice.HTML(tx.Body)
		if err != nil {
			return nil, err
		}
		a := AppNotice{ID: n.ID, Language: tag, Title: tx.Title, Markdown: tx.Body, HTML: string(body), PublishedAt: n.PublishedAt, Campaign: n.Campaign}
		if at, ok := acks[n.ID]; ok {
			a.Acknowledged = &at
		}
		key := n.ID + "\x00" + sess.ID
		if _, seen := s.delivered.Load(key); !seen {
			if _, err := s.store.RecordNoticeDelivered(ctx, n.ID, sess.ID, sess.AccountID, now); err != nil {
				return nil, err
			}
			if s.ndelivered.Add(1) <= maxDelivered {
				s.delivered.Store(key, struct{}{})
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// targeting returns the published notices whose cohort holds the session.
func (s *Service) targeting(ctx context.Context, sess *cordon.Session) ([]*cordon.Notice, error) {
	ns, err := s.store.PublishedNotices(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out []*cordon.Notice
	for i := len(ns) - 1; i >= 0 && len(out) < MaxPerSession; i-- { // newest first
		m, err := s.matcher(ns[i])
		if err != nil {
			return nil, err
		}
		if m.Match(sess, now) {
			out = append(out, ns[i])
		}
	}
	return out, nil
}

// Ack records that the session acknowledged a notice. A notice that is
// not published, or whose cohort does not hold the session, is answered
// as missing: an app learns nothing of the notices of others.
func (s *Service) Ack(ctx context.Context, sess *cordon.Session, id string) (first bool, err error) {
	missing := cordon.Errorf(cordon.ECodeNotFound, "no notice %q for this session", short(id))
	n, err := s.store.Notice(ctx, id)
	if errors.Is(err, cordon.ErrNotFound) {
		return false, missing
	}
	if err != nil {
		return false, err
	}
	if n.State != cordon.NoticePublished {
		return false, missing
	}
	m, err := s.matcher(n)
	if err != nil {
		return false, err
	}
	if !m.Match(sess, s.clock.Now()) {
		return false, missing
	}
	return s.store.AckNotice(ctx, id, sess.ID, sess.AccountID, s.clock.Now())
}

// TargetAccounts returns the account ids a notice targets, sorted: the
// accounts of the live sessions its cohort holds (the sessions the
// preview counts) and, when the cohort names users, every named account
// that has no live session as well (it can still be told by email). It
// scans the fleet for a cohort without named users: for delivery jobs,
// not for a request path.
func (s *Service) TargetAccounts(ctx context.Context, id string) ([]string, error) {
	n, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := s.matcher(n)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	seen := map[string]bool{}
	add := func(sess *cordon.Session) error {
		if m.Match(sess, now) {
			seen[sess.AccountID] = true
		}
		return nil
	}
	if named(n.Cohort) {
		sessions, err := s.store.SessionsOf(ctx, n.UserIDs)
		if err != nil {
			return nil, err
		}
		for _, sess := range sessions {
			add(sess)
		}
		if onlyUsers(n.Cohort) {
			for _, u := range n.UserIDs {
				seen[u] = true
			}
		}
	} else if err := s.store.LiveSessions(ctx, add); err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

func named(c cordon.Cohort) bool { return len(c.Users) > 0 || c.UsersFromReport != "" }

// onlyUsers reports whether a cohort selects by named users alone: then
// a named account is targeted whatever sessions it has.
func onlyUsers(c cordon.Cohort) bool {
	return len(c.Platforms) == 0 && c.Versions == "" && len(c.Sources) == 0 && c.AuthenticatedBefore == nil
}

// slugPattern is a public page's slug: what a URL path segment holds
// without escaping, and nothing a browser could read as a file type.
var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
