// Package campaign runs campaigns: it creates them from documents, moves
// them through their lifecycle (draft → active ⇄ paused → completed |
// cancelled), keeps the compiled policy every local decision reads, answers
// previews from the store's aggregates, and counts progress as enforcement
// points report blocks and satisfactions.
package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/campaigndoc"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// Store is what the service needs of a backend.
type Store interface {
	cordon.CampaignStore
	cordon.FleetStore
	cordon.ProgressStore
	cordon.AccountStore
	SessionByID(ctx context.Context, id string) (*cordon.Session, error)
	SavedAuditReport(ctx context.Context, id string) (*cordon.SavedAuditReport, error)
	ExpireSessions(ctx context.Context, now time.Time, limit int) (int, error)
}

// Service runs campaigns. It is safe for concurrent use.
type Service struct {
	store Store
	clock clock.Clock
	log   *slog.Logger

	policy atomic.Pointer[decision.Policy]
	// progress is the policy compiled from the active and the paused
	// campaigns alike: a user who re-logs in or upgrades during a pause has
	// still done what the campaign asked.
	progress atomic.Pointer[decision.Policy]
	// enforcing is the active and paused campaigns, which a login or an
	// upgrade may satisfy (a paused campaign still counts its progress).
	enforcing atomic.Pointer[[]*cordon.Campaign]
	reloadMu  sync.Mutex
	loaded    atomic.Bool // a policy from the store has been installed
	// blocked remembers (campaign, session) pairs already recorded, so a
	// blocked client retrying does not write on every request. Bounded: past
	// maxBlockedMemo pairs the store's own once-only check takes over.
	blocked  sync.Map
	nblocked atomic.Int64
	// upgraded remembers (campaign, session) pairs an in-place update has
	// been reported for, so an updated app does not cost a store read on
	// every request. Bounded like blocked.
	upgraded  sync.Map
	nupgraded atomic.Int64
	// autoRamps is the active auto ramps' ids as the pacer last read them,
	// and pacedLogins counts the logins that satisfied one: the re-logins
	// the pace itself caused (pace.Signals.Paced).
	autoRamps   atomic.Pointer[map[string]bool]
	pacedLogins atomic.Int64
	// unusual queues the accounts seen from somewhere new (a login, a refresh)
	// until the next FlushUnusual (early.go).
	unusual unusualQueue
	// OnPolicy, when set, is called with every newly installed policy and
	// the campaigns (active and paused) it was compiled from, so enforcement
	// points beyond this process can follow.
	OnPolicy func(p *decision.Policy, campaigns []*cordon.Campaign)
}

// New builds the service and loads the current policy.
func New(ctx context.Context, store Store, clk clock.Clock, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, clock: clk, log: log}
	s.policy.Store(&decision.Policy{})
	s.progress.Store(&decision.Policy{})
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Enforcing returns the campaigns the policy is made of (active and
// paused) and its version, for a snapshot of the policy feed.
func (s *Service) Enforcing(ctx context.Context) ([]*cordon.Campaign, uint64, error) {
	cs, v, err := s.store.ActiveCampaigns(ctx)
	if err != nil {
		return nil, 0, err
	}
	cs, err = s.withPrerequisites(ctx, cs)
	return cs, v, err
}

// withPrerequisites adds to the enforcing campaigns cs the completed and
// cancelled campaigns they wait for, so the policy (here and at every
// gate, which compiles what the feed carries) knows a completed
// prerequisite releases its dependants and a cancelled one never does.
// Active and paused prerequisites are in cs already.
func (s *Service) withPrerequisites(ctx context.Context, cs []*cordon.Campaign) ([]*cordon.Campaign, error) {
	have := make(map[string]bool, len(cs))
	for _, c := range cs {
		have[c.ID] = true
	}
	out := cs
	for _, c := range cs {
		if c.After == nil || have[c.After.Campaign] {
			continue
		}
		pre, err := s.store.Campaign(ctx, c.After.Campaign)
		if errors.Is(err, cordon.ErrNotFound) {
			continue // the engine holds a dependant whose prerequisite it lacks
		}
		if err != nil {
			return nil, fmt.Errorf("prerequisite %s of %s: %w", c.After.Campaign, c.ID, err)
		}
		have[pre.ID] = true
		out = append(out[:len(out):len(out)], pre)
	}
	return out, nil
}

// Policy is the current compiled policy; never nil.
func (s *Service) Policy() *decision.Policy { return s.policy.Load() }

// Reload reads the enforcing campaigns and installs their compiled policy
// when its version is newer than the one held.
func (s *Service) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	// One cheap read tells whether anything changed. Version 0 (no
	// campaign ever) is installed once, not on every poll: each install is
	// also a feed event to every gate.
	loaded := s.loaded.Load()
	if v, err := s.store.PolicyVersion(ctx); err == nil && v == s.policy.Load().Version && loaded {
		return nil
	}
	cs, v, err := s.store.ActiveCampaigns(ctx)
	if err != nil {
		return fmt.Errorf("load campaigns: %w", err)
	}
	if cur := s.policy.Load(); cur.Version >= v && loaded {
		return nil
	}
	all, err := s.withPrerequisites(ctx, cs)
	if err != nil {
		return fmt.Errorf("load campaigns: %w", err)
	}
	p, err := decision.Compile(all, v, s.clock.Now())
	if err != nil {
		return err
	}
	asActive := make([]*cordon.Campaign, len(all))
	for i, c := range all {
		cc := *c
		if cc.State == cordon.StatePaused {
			cc.State = cordon.StateActive
		}
		asActive[i] = &cc
	}
	prog, err := decision.Compile(asActive, v, s.clock.Now())
	if err != nil {
		return err
	}
	s.progress.Store(prog)
	s.policy.Store(p)
	s.enforcing.Store(&cs)
	s.loaded.Store(true)
	if s.OnPolicy != nil {
		s.OnPolicy(p, all)
	}
	s.log.Info("policy installed", "version", v, "campaigns", p.Campaigns())
	return nil
}

// Watch reloads the policy every interval until ctx ends, so changes made
// by another node on the same store arrive here too.
func (s *Service) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Reload(ctx); err != nil {
				s.log.Warn("policy reload", "err", err)
			}
		}
	}
}

// Create validates a campaign document and stores it as a draft.
func (s *Service) Create(ctx context.Context, doc []byte, format, actor string) (*cordon.Campaign, error) {
	return s.CreateWithID(ctx, cordon.NewID("c"), doc, format, actor)
}

// CreateWithID is Create with the id chosen by the caller (from
// cordon.NewID("c")), so a record of the change can name the campaign
// before it exists.
func (s *Service) CreateWithID(ctx context.Context, id string, doc []byte, format, actor string) (*cordon.Campaign, error) {
	c, err := campaigndoc.Parse(doc, format)
	if err != nil {
		return nil, err
	}
	ids, err := s.CohortUsers(ctx, c.Cohort)
	if err != nil {
		return nil, err
	}
	early, err := s.priorityUsers(ctx, c.Ramp)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	c.ID, c.State, c.Created, c.Updated, c.UserIDs, c.Early = id, cordon.StateDraft, now, now, ids, early
	if _, err := decision.NewMatcher(c); err != nil {
		return nil, cordon.Errorf(cordon.ECodeUnprocessable, "campaign does not compile: %v", err)
	}
	if err := s.checkAfter(ctx, c); err != nil {
		return nil, err
	}
	if err := s.store.CreateCampaign(ctx, c, &cordon.TrailEntry{CampaignID: c.ID, Action: "create", Actor: actor, At: now, Document: doc}); err != nil {
		return nil, err
	}
	s.log.Info("campaign created", "campaign", c.ID, "kind", c.Kind, "actor", actor)
	return c, nil
}

// maxAfterChain bounds a chain of prerequisites (a after b after c …):
// each link is one more read at creation and one more campaign a session
// must get past.
const maxAfterChain = 8

// checkAfter validates a new campaign's prerequisite: it exists, is not
// the campaign itself, is of a kind something may wait for, was not
// cancelled (a cancelled prerequisite never releases, so the campaign
// would never start), per user is asked only where the account's state is
// what each of its sessions shows, and the chain it starts ends without a
// cycle within maxAfterChain links. Campaigns are immutable once created
// and a prerequisite must exist first, so a cycle cannot be built; the
// walk is the belt to that brace.
func (s *Service) checkAfter(ctx context.Context, c *cordon.Campaign) error {
	a := c.After
	if a == nil {
		return nil
	}
	if a.Campaign == c.ID {
		return cordon.FieldError(cordon.ECodeUnprocessable, "after.campaign", "a campaign cannot wait for itself")
	}
	pre, err := s.store.Campaign(ctx, a.Campaign)
	if errors.Is(err, cordon.ErrNotFound) {
		return cordon.FieldError(cordon.ECodeUnprocessable, "after.campaign", "no campaign %s to wait for; create the prerequisite first (cordon campaign list shows the ids)", a.Campaign)
	}
	if err != nil {
		return err
	}
	if r, ok := pre.Kind.Rules(); !ok || !r.Precedes {
		return cordon.FieldError(cordon.ECodeUnprocessable, "after.campaign",
			"%s is an %s campaign, which nothing can wait for: a new offline grant satisfies it, and no request shows one; wait for the reauth, password_reset or upgrade it follows", pre.ID, pre.Kind)
	}
	if pre.State == cordon.StateCancelled {
		return cordon.FieldError(cordon.ECodeUnprocessable, "after.campaign", "%s was cancelled and would never release this campaign; wait for another or leave after out", pre.ID)
	}
	if a.Satisfied && a.Per == cordon.AfterPerUser && pre.Kind != cordon.KindPasswordReset {
		return cordon.FieldError(cordon.ECodeUnprocessable, "after.per",
			"per user needs a password_reset prerequisite (a new password is the account's, and every live session shows it); %s is %s: judge it per install", pre.ID, pre.Kind)
	}
	seen := map[string]bool{c.ID: true}
	for link := pre; link.After != nil; {
		if seen[link.ID] || len(seen) > maxAfterChain {
			return cordon.FieldError(cordon.ECodeUnprocessable, "after.campaign", "the prerequisites from %s form a cycle or a chain longer than %d", pre.ID, maxAfterChain)
		}
		seen[link.ID] = true
		next, err := s.store.Campaign(ctx, link.After.Campaign)
		if errors.Is(err, cordon.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		link = next
	}
	return nil
}

// checkStartable refuses to start (activate or resume) a campaign whose
// prerequisite cannot release it: a draft (activate that first) or a
// cancelled one (it never releases).
func (s *Service) checkStartable(ctx context.Context, id string) error {
	c, err := s.store.Campaign(ctx, id)
	if err != nil || c.After == nil {
		return err
	}
	pre, err := s.store.Campaign(ctx, c.After.Campaign)
	if errors.Is(err, cordon.ErrNotFound) {
		return cordon.Errorf(cordon.ECodeConflict, "campaign %s waits for %s, which no longer exists; it would never start", id, c.After.Campaign)
	}
	if err != nil {
		return err
	}
	switch pre.State {
	case cordon.StateDraft:
		return cordon.Errorf(cordon.ECodeConflict, "campaign %s waits for %s, still a draft; activate %s first", id, pre.ID, pre.ID)
	case cordon.StateCancelled:
		return cordon.Errorf(cordon.ECodeConflict, "campaign %s waits for %s, which was cancelled and never releases it; cancel %s too, or create one that waits for another", id, pre.ID, id)
	case cordon.StateActive, cordon.StatePaused, cordon.StateCompleted:
	}
	return nil
}

// CohortUsers resolves a cohort's explicit users (cohort.users, ids or
// usernames, and cohort.users_from_report) to sorted account ids, as a
// campaign's are at creation; a notice's cohort is resolved the same way.
func (s *Service) CohortUsers(ctx context.Context, c cordon.Cohort) ([]string, error) {
	ids, err := s.resolveUsers(ctx, c.Users)
	if err != nil {
		return nil, err
	}
	if c.UsersFromReport != "" {
		more, err := s.reportUsers(ctx, c.UsersFromReport)
		if err != nil {
			return nil, err
		}
		ids = slices.Compact(slices.Sorted(slices.Values(append(ids, more...))))
	}
	if len(c.Subjects) > 0 {
		// External subjects have no account to resolve: their issuer
		// vouches for them, token by token.
		for _, sub := range c.Subjects {
			ids = append(ids, sub.AccountID())
		}
		ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	}
	return ids, nil
}

// priorityUsers resolves a ramp's priority users (named, and from a saved
// audit report) to early admissions from the ramp's first instant, once,
// at creation: the set is fixed for the campaign's life, so an admission
// it gives never moves. An error names the priority's field.
func (s *Service) priorityUsers(ctx context.Context, r *cordon.Ramp) ([]cordon.EarlyAdmission, error) {
	if r == nil || r.Priority == nil || (len(r.Priority.Users) == 0 && r.Priority.UsersFromReport == "") {
		return nil, nil
	}
	ids, err := s.CohortUsers(ctx, cordon.Cohort{Users: r.Priority.Users, UsersFromReport: r.Priority.UsersFromReport})
	if err != nil {
		var ce *cordon.Error
		if errors.As(err, &ce) && strings.HasPrefix(ce.Field, "cohort.") {
			e := *ce
			e.Field = "ramp.priority." + strings.TrimPrefix(ce.Field, "cohort.")
			return nil, &e
		}
		return nil, err
	}
	early := make([]cordon.EarlyAdmission, len(ids))
	for i, id := range ids {
		early[i] = cordon.EarlyAdmission{Account: id, Why: cordon.AdmitPriority}
	}
	return early, nil
}

// reportUsers returns the account ids of a saved audit report's users.
// Users the report names that are no longer accounts (or never were: a
// reporter may name users another way) are left out; a report with no
// account at all is refused, since its campaign would reach nobody.
func (s *Service) reportUsers(ctx context.Context, id string) ([]string, error) {
	r, err := s.store.SavedAuditReport(ctx, id)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.FieldError(cordon.ECodeUnprocessable, "cohort.users_from_report", "no saved audit report %q; save one with cordon audit report --save", id)
	}
	if err != nil {
		return nil, err
	}
	// Reporters name users by username or by account id, as cohort.users
	// may (reports saved since subjects resolve name account ids). One
	// set-based lookup, not one per user: a report may name a million.
	found, err := s.store.LiveAccountIDs(ctx, r.Subjects)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(found))
	seen := make(map[string]bool, len(found))
	for _, u := range r.Subjects {
		id, ok := found[u]
		if !ok {
			// An external issuer's user has no account: the id is the
			// subject itself, as cohort.subjects writes it.
			_, ok = cordon.ParseSubjectID(u)
			id = u
		}
		if ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, cordon.FieldError(cordon.ECodeUnprocessable, "cohort.users_from_report", "report %q names no existing account (%d users)", id, len(r.Subjects))
	}
	// Not silent: the campaign's log line says how many of the report's
	// users are not accounts (deleted since, or never cordon's).
	s.log.Info("campaign cohort from audit report", "report", id, "users", len(r.Subjects), "accounts", len(ids), "not_accounts", len(r.Subjects)-len(ids))
	return ids, nil
}

// resolveUsers turns account ids or usernames into account ids; any that
// names no account is an error naming it, so a typo never shrinks a cohort
// silently.
func (s *Service) resolveUsers(ctx context.Context, refs []string) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, r := range refs {
		a, err := s.store.AccountByID(ctx, r)
		if errors.Is(err, cordon.ErrNotFound) {
			a, err = s.store.AccountByUsername(ctx, r)
		}
		if errors.Is(err, cordon.ErrNotFound) {
			return nil, cordon.FieldError(cordon.ECodeUnprocessable, "cohort.users", "no account %q", r)
		}
		if err != nil {
			return nil, err
		}
		if !seen[a.ID] {
			seen[a.ID] = true
			ids = append(ids, a.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// transitions maps each action to the states it leaves and the state it
// reaches.
var transitions = map[string]struct {
	from []cordon.State
	to   cordon.State
}{
	"activate": {[]cordon.State{cordon.StateDraft}, cordon.StateActive},
	"pause":    {[]cordon.State{cordon.StateActive}, cordon.StatePaused},
	"resume":   {[]cordon.State{cordon.StatePaused}, cordon.StateActive},
	"cancel":   {[]cordon.State{cordon.StateDraft, cordon.StateActive, cordon.StatePaused}, cordon.StateCancelled},
	"complete": {[]cordon.State{cordon.StateActive, cordon.StatePaused}, cordon.StateCompleted},
}

// Transition applies a lifecycle action and installs the new policy at
// once, so cancel restores access with the next request.
func (s *Service) Transition(ctx context.Context, id, action, actor string) (*cordon.Campaign, error) {
	tr, ok := transitions[action]
	if !ok {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no campaign action %q", action)
	}
	if action == "activate" || action == "resume" {
		if err := s.checkStartable(ctx, id); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	c, _, err := s.store.TransitionCampaign(ctx, id, tr.from, tr.to, &cordon.TrailEntry{CampaignID: id, Action: action, Actor: actor, At: now})
	if err != nil {
		return nil, err
	}
	s.log.Info("campaign "+action, "campaign", id, "actor", actor)
	if err := s.Reload(ctx); err != nil {
		return c, err
	}
	if action == "activate" {
		// Whom it targets is fixed now, from the preview's computation;
		// the activation stands even if counting fails (the next sample
		// counts again).
		if err := s.refreshTargeted(ctx, c, s.clock.Now()); err != nil {
			s.log.Warn("campaign cohort at activation", "campaign", id, "err", err)
		}
	}
	return c, nil
}

// Get returns a campaign.
func (s *Service) Get(ctx context.Context, id string) (*cordon.Campaign, error) {
	return s.store.Campaign(ctx, id)
}

// List returns every campaign, newest first.
func (s *Service) List(ctx context.Context) ([]*cordon.Campaign, error) {
	return s.store.Campaigns(ctx)
}

// Trail returns the campaign's admin trail.
func (s *Service) Trail(ctx context.Context, id string) ([]*cordon.TrailEntry, error) {
	return s.store.Trail(ctx, id)
}

// maxBlockedMemo bounds the in-memory set of recorded blocks (about 100 MB
// at the bound); a cohort larger than that costs one indexed read per
// repeated denial instead.
const maxBlockedMemo = 1 << 20

// Blocked records that a decision denied a session, once per
// (campaign, session).
func (s *Service) Blocked(ctx context.Context, d decision.Decision, sess *cordon.Session) {
	if d.Campaign == "" {
		return
	}
	key := d.Campaign + "\x00" + sess.ID
	if _, seen := s.blocked.Load(key); seen {
		return
	}
	if _, err := s.store.RecordBlocked(ctx, d.Campaign, sess.ID, sess.AccountID, s.clock.Now()); err != nil {
		s.log.Warn("record blocked", "campaign", d.Campaign, "err", err)
		return
	}
	if s.nblocked.Load() < maxBlockedMemo {
		if _, loaded := s.blocked.LoadOrStore(key, struct{}{}); !loaded {
			s.nblocked.Add(1)
		}
	}
}

// Satisfied records that an account did what a campaign asked.
func (s *Service) Satisfied(ctx context.Context, campaignID, accountID string) {
	if _, err := s.store.RecordSatisfied(ctx, campaignID, accountID, s.clock.Now()); err != nil {
		s.log.Warn("record satisfied", "campaign", campaignID, "err", err)
	}
}

// LoggedIn counts a fresh login as satisfying the reauth campaigns that
// blocked the account, when the new session is itself in the campaign's
// cohort (a login from elsewhere proves nothing about the cohort's
// installs). A login never satisfies a password_reset campaign: only a
// new password does (PasswordSet).
func (s *Service) LoggedIn(ctx context.Context, sess *cordon.Session) {
	auto := s.autoRamps.Load()
	pol := s.progress.Load()
	for _, id := range pol.Reauthenticated(sess) {
		// Only re-logins the ramp's order admitted are the pace's own: a
		// priority user's counts with the other logins, which the pacer
		// measures and leaves room for.
		if auto != nil && (*auto)[id] {
			if _, why, _ := pol.AdmissionWhy(id, sess.AccountID); why == cordon.AdmitRamp {
				s.pacedLogins.Add(1)
			}
		}
		s.Satisfied(ctx, id, sess.AccountID)
	}
}

// PasswordSet counts a new password as satisfying the password_reset
// campaigns that blocked the account (the store counts an account only if
// the campaign blocked it, which it did only once the account was
// admitted, so the password is newer than the admission).
//
// A campaign with verify: email is not satisfied so: only its link is
// proof (EmailReset), never a change made with the old password.
func (s *Service) PasswordSet(ctx context.Context, accountID string) {
	pol := s.policy.Load()
	for _, id := range s.campaignIDs(cordon.EventPasswordSet) {
		if pol.ResetByEmail(id) {
			continue
		}
		s.Satisfied(ctx, id, accountID)
	}
}

// EmailReset counts a new password set through a verify: email
// campaign's link: the link reached the account (counted as blocked
// once, as a login held back is) and the account did what it asked.
func (s *Service) EmailReset(ctx context.Context, campaignID, accountID string) {
	if _, err := s.store.RecordBlocked(ctx, campaignID, "email-"+accountID, accountID, s.clock.Now()); err != nil {
		s.log.Warn("record blocked", "campaign", campaignID, "err", err)
	}
	s.Satisfied(ctx, campaignID, accountID)
}

// ResetAdmissions returns the password_reset campaigns that have already
// denied the account: their admission holds for every later login,
// whatever it claims to be.
func (s *Service) ResetAdmissions(ctx context.Context, accountID string) (map[string]bool, error) {
	var got map[string]bool
	for _, id := range s.policy.Load().ResetCampaigns() {
		ok, err := s.store.AccountBlocked(ctx, id, accountID)
		if err != nil {
			return nil, err
		}
		if ok {
			if got == nil {
				got = map[string]bool{}
			}
			got[id] = true
		}
	}
	return got, nil
}

// Upgraded counts an in-place update, reported by a request of the
// session's install, as satisfying the upgrade campaigns that blocked the
// account, once the version the request reports owes no upgrade.
func (s *Service) Upgraded(ctx context.Context, sess *cordon.Session, client cordon.ClientFacts) {
	ids := s.campaignIDs(cordon.EventUpgraded)
	if len(ids) == 0 {
		return
	}
	d := decision.Decide(&decision.Input{Session: sess, Client: client, Now: s.clock.Now(), Policy: s.progress.Load()})
	if d.Reason == decision.ReasonUpgradeRequired || d.Upgrade != nil {
		return
	}
	for _, id := range ids {
		key := id + "\x00" + sess.ID
		if _, seen := s.upgraded.Load(key); seen {
			continue
		}
		s.Satisfied(ctx, id, sess.AccountID)
		if s.nupgraded.Load() < maxBlockedMemo {
			if _, loaded := s.upgraded.LoadOrStore(key, struct{}{}); !loaded {
				s.nupgraded.Add(1)
			}
		}
	}
}

// OfflineRenewed counts a new offline grant as satisfying the
// offline_rekey campaigns that revoked the account's grants.
func (s *Service) OfflineRenewed(ctx context.Context, sess *cordon.Session) {
	for _, id := range s.campaignIDs(cordon.EventOfflineGrant) {
		s.Satisfied(ctx, id, sess.AccountID)
	}
}

// campaignIDs lists the active and paused campaigns whose kind one of the
// events satisfies (cordon.KindRules.SatisfiedBy).
func (s *Service) campaignIDs(events ...cordon.Event) []string {
	cs := s.enforcing.Load()
	if cs == nil {
		return nil
	}
	var ids []string
	for _, c := range *cs {
		if r, ok := c.Kind.Rules(); ok && slices.Contains(events, r.SatisfiedBy) {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
