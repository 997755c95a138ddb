// Package memstore is the in-memory reference implementation of the
// storage contract (cordon.Store): the plainest store that keeps every
// promise the contract's doc comments make, held in maps behind one mutex.
//
// The conformance and concurrency suites (internal/conformance) run against
// it as against SQLite and PostgreSQL, so a failure on a real backend
// points at the backend, not at a suite only one implementation could
// pass. Services' own tests use it to run in milliseconds without a
// database. Nothing is persisted; it is not for production.
package memstore

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

var _ cordon.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	m := &Store{}
	m.init()
	return m
}

// Store keeps everything in maps behind one mutex. It stores copies
// with times in UTC, to the microsecond, as a real backend does. Safe for
// concurrent use.
type Store struct {
	mu       sync.Mutex
	accounts map[string]cordon.Account // by id
	byKey    map[string]string         // username key to id
	byEmail  map[string]string         // email to id, live accounts only
	gone     map[string]bool           // ids of deleted accounts
	sessions map[string]cordon.Session
	tokens   map[string]cordon.RefreshToken // by hash
	keys     []cordon.SigningKey
	admins   []cordon.AdminToken

	campaigns    map[string]cordon.Campaign
	trail        map[string][]cordon.TrailEntry
	version      uint64
	blocked      map[[2]string]bool // campaign, session
	blockedUsers map[[2]string]bool // campaign, account
	satisfied    map[[2]string]bool // campaign, account
	progress     map[string]cordon.Progress
	prog         progressState
	grants       map[string]cordon.OfflineGrant // by hash
	resets       map[string]cordon.PasswordReset

	audit       []cordon.AuditEntry
	checkpoints map[uint64]cordon.AuditCheckpoint
	nodes       map[[2]uint64][]byte // level, index
	auditKey    *cordon.AuditKey
	reports     map[string]cordon.SavedAuditReport
	batches     map[string]cordon.AuditBatch

	incidents map[string]cordon.Incident
	alerts    map[string]storedAlert
	ssf       ssfState
	notes     noticeState
	console   consoleState
	outbox    map[string]cordon.MailMessage // by key
	tier      map[string]cordon.TierSample  // by node
}

func norm(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func (m *Store) init() {
	if m.accounts == nil {
		m.accounts, m.byKey = map[string]cordon.Account{}, map[string]string{}
		m.sessions, m.tokens = map[string]cordon.Session{}, map[string]cordon.RefreshToken{}
		m.campaigns, m.trail, m.progress = map[string]cordon.Campaign{}, map[string][]cordon.TrailEntry{}, map[string]cordon.Progress{}
		m.blocked, m.blockedUsers, m.satisfied = map[[2]string]bool{}, map[[2]string]bool{}, map[[2]string]bool{}
	}
}

func (m *Store) lock() func() {
	m.mu.Lock()
	m.init()
	return m.mu.Unlock
}

func (m *Store) Ping(context.Context) error { return nil }
func (m *Store) Close() error               { return nil }

func (m *Store) CreateAccount(ctx context.Context, a *cordon.Account) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	return m.audited(ctx, m.createAccountLocked(ctx, a))
}

func (m *Store) createAccountLocked(ctx context.Context, a *cordon.Account) error {
	return m.insertAccount(a)
}

func (m *Store) insertAccount(a *cordon.Account) error {
	key := cordon.UsernameKey(a.Username)
	if _, ok := m.accounts[a.ID]; ok {
		return cordon.ErrAlreadyExists
	}
	if _, ok := m.byKey[key]; ok {
		return cordon.ErrAlreadyExists
	}
	if m.byEmail == nil {
		m.byEmail = map[string]string{}
	}
	if _, ok := m.byEmail[a.Email]; ok && a.Email != "" {
		return cordon.ErrAlreadyExists
	}
	c := *a
	c.PasswordChangedAt, c.CreatedAt = norm(c.PasswordChangedAt), norm(c.CreatedAt)
	m.accounts[a.ID], m.byKey[key] = c, a.ID
	if a.Email != "" {
		m.byEmail[a.Email] = a.ID
	}
	return nil
}

func (m *Store) ImportAccounts(ctx context.Context, as []*cordon.Account) (int, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return 0, err
	}
	created := 0
	for _, a := range as {
		if m.insertAccount(a) == nil {
			created++
		}
	}
	return created, m.audited(ctx, nil)
}

func (m *Store) AccountByID(_ context.Context, id string) (*cordon.Account, error) {
	defer m.lock()()
	a, ok := m.accounts[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return &a, nil
}

func (m *Store) AccountByUsername(ctx context.Context, username string) (*cordon.Account, error) {
	m.mu.Lock()
	m.init()
	id, ok := m.byKey[cordon.UsernameKey(username)]
	m.mu.Unlock()
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return m.AccountByID(ctx, id)
}

func (m *Store) SetPasswordHash(_ context.Context, accountID, hash string, changed bool, at time.Time) error {
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

func (m *Store) SetAccountEmail(ctx context.Context, accountID, email string) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	a, ok := m.accounts[accountID]
	if !ok {
		return cordon.ErrNotFound
	}
	if m.byEmail == nil {
		m.byEmail = map[string]string{}
	}
	if id, ok := m.byEmail[email]; ok && email != "" && id != accountID {
		return cordon.ErrAlreadyExists
	}
	if err := m.audited(ctx, nil); err != nil {
		return err
	}
	delete(m.byEmail, a.Email)
	a.Email = email
	if email != "" {
		m.byEmail[email] = accountID
	}
	m.accounts[accountID] = a
	// A link sent to the old address must not outlive it.
	for h, r := range m.resets {
		if r.AccountID == accountID {
			delete(m.resets, h)
		}
	}
	return nil
}

func (m *Store) CountAccounts(context.Context) (int, error) {
	defer m.lock()()
	return len(m.accounts), nil
}

func (m *Store) CreateSession(_ context.Context, s *cordon.Session, rt *cordon.RefreshToken) error {
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

func (m *Store) storeToken(rt *cordon.RefreshToken) {
	c := *rt
	c.Hash = slices.Clone(rt.Hash)
	c.CreatedAt, c.IdleExpiresAt, c.AbsoluteExpiresAt = norm(c.CreatedAt), norm(c.IdleExpiresAt), norm(c.AbsoluteExpiresAt)
	m.tokens[string(c.Hash)] = c
}

func (m *Store) SessionByID(_ context.Context, id string) (*cordon.Session, error) {
	defer m.lock()()
	s, ok := m.sessions[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return &s, nil
}

func (m *Store) ListSessions(_ context.Context, accountID string) ([]*cordon.Session, error) {
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

func (m *Store) UpdateSessionFacts(_ context.Context, id string, f cordon.ClientFacts, seen time.Time) error {
	defer m.lock()()
	s, ok := m.sessions[id]
	if !ok {
		return cordon.ErrNotFound
	}
	s.Facts, s.LastSeenAt = f, norm(seen)
	m.sessions[id] = s
	return nil
}

func (m *Store) RevokeSession(ctx context.Context, id, reason string, at time.Time) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	return m.audited(ctx, m.revokeSessionLocked(ctx, id, reason, at))
}

func (m *Store) revokeSessionLocked(ctx context.Context, id, reason string, at time.Time) error {
	return m.revoke(id, reason, at)
}

func (m *Store) revoke(id, reason string, at time.Time) error {
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

func (m *Store) RevokeAccountSessions(ctx context.Context, accountID, exceptID, reason string, at time.Time) ([]string, error) {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return nil, err
	}
	defer m.audited(ctx, nil)
	var ids []string
	for id, s := range m.sessions {
		if s.AccountID == accountID && id != exceptID && s.Live() {
			m.revoke(id, reason, at)
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (m *Store) RotateRefreshToken(_ context.Context, old []byte, next *cordon.RefreshToken, now time.Time) (*cordon.Session, error) {
	defer m.lock()()
	rt, ok := m.tokens[string(old)]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	if !rt.UsedAt.IsZero() {
		m.revoke(rt.SessionID, cordon.RevokeRefreshReuse, now)
		s := m.sessions[rt.SessionID]
		return &s, cordon.ErrRefreshReused
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

func (m *Store) SigningKeys(context.Context) ([]*cordon.SigningKey, error) {
	defer m.lock()()
	var out []*cordon.SigningKey
	for _, k := range m.keys {
		out = append(out, &k)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (m *Store) AddSigningKey(ctx context.Context, k *cordon.SigningKey) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	return m.audited(ctx, m.addSigningKeyLocked(ctx, k))
}

func (m *Store) addSigningKeyLocked(ctx context.Context, k *cordon.SigningKey) error {
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

func (m *Store) DeleteSigningKeysRetiredBefore(_ context.Context, t time.Time) error {
	defer m.lock()()
	m.keys = slices.DeleteFunc(m.keys, func(k cordon.SigningKey) bool {
		return !k.RetiredAt.IsZero() && k.RetiredAt.Before(t)
	})
	return nil
}

func (m *Store) CreateAdminToken(ctx context.Context, t *cordon.AdminToken) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	return m.audited(ctx, m.createAdminTokenLocked(ctx, t))
}

func (m *Store) createAdminTokenLocked(ctx context.Context, t *cordon.AdminToken) error {
	for _, have := range m.admins {
		if have.ID == t.ID || string(have.Hash) == string(t.Hash) || (have.Name == t.Name && have.ReplacedBy == "") {
			return cordon.ErrAlreadyExists
		}
	}
	c := *t
	c.Hash, c.Scopes, c.CreatedAt, c.ExpiresAt = slices.Clone(t.Hash), slices.Clone(t.Scopes), norm(t.CreatedAt), norm(t.ExpiresAt)
	m.admins = append(m.admins, c)
	return nil
}

func (m *Store) AdminTokenByHash(_ context.Context, hash []byte) (*cordon.AdminToken, error) {
	defer m.lock()()
	for _, t := range m.admins {
		if string(t.Hash) == string(hash) {
			t.Scopes = slices.Clone(t.Scopes)
			return &t, nil
		}
	}
	return nil, cordon.ErrNotFound
}

func (m *Store) CountAdminTokens(context.Context) (int, error) {
	defer m.lock()()
	return len(m.admins), nil
}

// cloneCampaign deep-copies c with its times in UTC, to the microsecond.
func cloneCampaign(c cordon.Campaign) *cordon.Campaign {
	c.Cohort.Platforms = slices.Clone(c.Cohort.Platforms)
	c.Cohort.Sources = slices.Clone(c.Cohort.Sources)
	c.Cohort.Users = slices.Clone(c.Cohort.Users)
	if b := c.Cohort.AuthenticatedBefore; b != nil {
		t := norm(*b)
		c.Cohort.AuthenticatedBefore = &t
	}
	if c.Ramp != nil {
		r := *c.Ramp
		r.Start = norm(r.Start)
		if r.Priority != nil {
			pr := *r.Priority
			pr.Users = slices.Clone(pr.Users)
			r.Priority = &pr
		}
		if r.Pace != nil {
			p := *r.Pace
			p.Points = slices.Clone(p.Points)
			r.Pace = &p
		}
		c.Ramp = &r
	}
	if c.Upgrade != nil {
		u := *c.Upgrade
		u.URLs = maps.Clone(u.URLs)
		c.Upgrade = &u
	}
	c.UserIDs = slices.Clone(c.UserIDs)
	c.Early = slices.Clone(c.Early)
	for i := range c.Early {
		c.Early[i].At = normZero(c.Early[i].At)
	}
	c.Created, c.Updated, c.Activated, c.Ended = norm(c.Created), norm(c.Updated), norm(c.Activated), norm(c.Ended)
	return &c
}

var errNoTrail = cordon.Errorf(cordon.ECodeInvalid, "a campaign change needs its trail entry")

func (m *Store) CreateCampaign(ctx context.Context, c *cordon.Campaign, t *cordon.TrailEntry) error {
	defer m.lock()()
	if err := checkPending(ctx); err != nil {
		return err
	}
	return m.audited(ctx, m.createCampaignLocked(ctx, c, t))
}

func (m *Store) createCampaignLocked(ctx context.Context, c *cordon.Campaign, t *cordon.TrailEntry) error {
	if t == nil {
		return errNoTrail
	}
	if _, ok := m.campaigns[c.ID]; ok {
		return cordon.ErrAlreadyExists
	}
	d := cloneCampaign(*c)
	d.State, d.Activated, d.Ended = cordon.StateDraft, time.Time{}, time.Time{}
	if d.Updated.IsZero() {
		d.Updated = d.Created
	}
	m.campaigns[c.ID] = *d
	m.appendTrail(c.ID, t)
	return nil
}

func (m *Store) appendTrail(id string, t *cordon.TrailEntry) {
	e := *t
	e.CampaignID, e.At, e.Document = id, norm(e.At), slices.Clone(e.Document)
	m.trail[id] = append(m.trail[id], e)
}

func (m *Store) Campaign(_ context.Context, id string) (*cordon.Campaign, error) {
	defer m.lock()()
	c, ok := m.campaigns[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return cloneCampaign(c), nil
}

func (m *Store) Campaigns(context.Context) ([]*cordon.Campaign, error) {
	defer m.lock()()
	var out []*cordon.Campaign
	for _, c := range m.campaigns {
		out = append(out, cloneCampaign(c))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (m *Store) TransitionCampaign(ctx context.Context, id string, from []cordon.State, to cordon.State, t *cordon.TrailEntry) (*cordon.Campaign, uint64, error) {
	defer m.lock()()
	if t == nil {
		return nil, 0, errNoTrail
	}
	if err := checkPending(ctx); err != nil {
		return nil, 0, err
	}
	c, ok := m.campaigns[id]
	if !ok {
		return nil, 0, cordon.ErrNotFound
	}
	if !slices.Contains(from, c.State) {
		return nil, 0, cordon.Errorf(cordon.ECodeConflict, "campaign is %s; cannot %s", c.State, t.Action)
	}
	when := norm(t.At)
	c.State, c.Updated = to, when
	if to == cordon.StateActive && c.Activated.IsZero() {
		c.Activated = when
	}
	c.Ended = time.Time{}
	if to == cordon.StateCompleted || to == cordon.StateCancelled {
		c.Ended = when
	}
	m.campaigns[id] = c
	m.appendTrail(id, t)
	m.version++
	// The admin's record of the change commits with it, as a backend's
	// transaction would append it.
	m.audited(ctx, nil)
	return cloneCampaign(c), m.version, nil
}

func (m *Store) SetCampaignPace(_ context.Context, id string, prev, next *cordon.Pace) (uint64, error) {
	defer m.lock()()
	c, ok := m.campaigns[id]
	if !ok {
		return 0, cordon.ErrNotFound
	}
	if err := cordon.CheckPaceChange(&c, prev, next); err != nil {
		return 0, err
	}
	r := *c.Ramp
	p := *next
	p.Points = slices.Clone(next.Points)
	r.Pace = &p
	c.Ramp = &r
	m.campaigns[id] = c
	m.version++
	return m.version, nil
}

func (m *Store) AdmitEarly(_ context.Context, id string, adds []cordon.EarlyAdmission) (int, uint64, error) {
	defer m.lock()()
	c, ok := m.campaigns[id]
	if !ok {
		return 0, 0, cordon.ErrNotFound
	}
	early, n, err := cordon.MergeEarly(&c, adds)
	if err != nil || n == 0 {
		return 0, m.version, err
	}
	for i := range early {
		early[i].At = normZero(early[i].At)
	}
	c.Early = early
	m.campaigns[id] = c
	m.version++
	return n, m.version, nil
}

func (m *Store) ActiveCampaigns(context.Context) ([]*cordon.Campaign, uint64, error) {
	defer m.lock()()
	var out []*cordon.Campaign
	for _, c := range m.campaigns {
		if c.State == cordon.StateActive || c.State == cordon.StatePaused {
			out = append(out, cloneCampaign(c))
		}
	}
	return out, m.version, nil
}

func (m *Store) PolicyVersion(context.Context) (uint64, error) {
	defer m.lock()()
	return m.version, nil
}

func (m *Store) Trail(_ context.Context, campaignID string) ([]*cordon.TrailEntry, error) {
	defer m.lock()()
	var out []*cordon.TrailEntry
	for _, e := range m.trail[campaignID] {
		e.Document = slices.Clone(e.Document)
		out = append(out, &e)
	}
	return out, nil
}

// Buckets counts the live sessions afresh on every call: the plainest
// thing that keeps the contract.
func (m *Store) Buckets(context.Context) ([]cordon.Bucket, error) {
	defer m.lock()()
	type key struct {
		platform, version, source string
		day                       time.Time
	}
	idx := map[key]int{}
	users := map[key]map[string]bool{}
	var out []cordon.Bucket
	for _, s := range m.sessions {
		if !s.Live() {
			continue
		}
		u := s.AuthTime.UTC()
		k := key{s.Facts.Platform, s.Facts.Version, s.Facts.Source, time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)}
		i, ok := idx[k]
		if !ok {
			i, idx[k], users[k] = len(out), len(out), map[string]bool{}
			out = append(out, cordon.Bucket{Platform: k.platform, Version: k.version, Source: k.source, AuthDay: k.day})
		}
		out[i].Sessions++
		if !users[k][s.AccountID] {
			users[k][s.AccountID] = true
			out[i].Users++
		}
	}
	return out, nil
}

func (m *Store) LiveSessionCount(context.Context) (int64, error) {
	defer m.lock()()
	var n int64
	for _, s := range m.sessions {
		if s.Live() {
			n++
		}
	}
	return n, nil
}

func (m *Store) SessionsOf(_ context.Context, accountIDs []string) ([]*cordon.Session, error) {
	defer m.lock()()
	var out []*cordon.Session
	for _, s := range m.sessions {
		if s.Live() && slices.Contains(accountIDs, s.AccountID) {
			out = append(out, &s)
		}
	}
	return out, nil
}

// LiveSessions copies the live sessions under the lock and calls fn
// without it, so fn may call the store.
func (m *Store) LiveSessions(_ context.Context, fn func(*cordon.Session) error) error {
	m.mu.Lock()
	m.init()
	var live []cordon.Session
	for _, s := range m.sessions {
		if s.Live() {
			live = append(live, s)
		}
	}
	m.mu.Unlock()
	for _, s := range live {
		if err := fn(&s); err != nil {
			return err
		}
	}
	return nil
}

func (m *Store) RecordBlocked(_ context.Context, campaignID, sessionID, accountID string, _ time.Time) (bool, error) {
	defer m.lock()()
	return m.recordSeen(campaignID, sessionID, accountID, false)
}

func (m *Store) AccountBlocked(_ context.Context, campaignID, accountID string) (bool, error) {
	defer m.lock()()
	return m.blockedUsers[[2]string{campaignID, accountID}], nil
}

func (m *Store) RecordSatisfied(_ context.Context, campaignID, accountID string, _ time.Time) (bool, error) {
	defer m.lock()()
	if _, ok := m.campaigns[campaignID]; !ok {
		return false, cordon.ErrNotFound
	}
	if m.satisfied[[2]string{campaignID, accountID}] || !m.blockedUsers[[2]string{campaignID, accountID}] {
		return false, nil
	}
	m.satisfied[[2]string{campaignID, accountID}] = true
	p := m.progress[campaignID]
	p.SatisfiedUsers++
	m.progress[campaignID] = p
	m.rowOfUser(campaignID, accountID).SatisfiedUsers++
	return true, nil
}

func (m *Store) Progress(_ context.Context, campaignID string) (cordon.Progress, error) {
	defer m.lock()()
	if _, ok := m.campaigns[campaignID]; !ok {
		return cordon.Progress{}, cordon.ErrNotFound
	}
	return m.progress[campaignID], nil
}

func (m *Store) CreateOfflineGrant(_ context.Context, g *cordon.OfflineGrant) error {
	defer m.lock()()
	if m.grants == nil {
		m.grants = map[string]cordon.OfflineGrant{}
	}
	if _, ok := m.grants[string(g.Hash)]; ok {
		return cordon.ErrAlreadyExists
	}
	if _, ok := m.sessions[g.SessionID]; !ok {
		return cordon.ErrNotFound
	}
	c := *g
	c.Hash = append([]byte(nil), g.Hash...)
	c.AuthTime, c.IssuedAt, c.ExpiresAt = norm(g.AuthTime), norm(g.IssuedAt), norm(g.ExpiresAt)
	m.grants[string(g.Hash)] = c
	return nil
}

func (m *Store) OfflineGrantByHash(_ context.Context, hash []byte) (*cordon.OfflineGrant, error) {
	defer m.lock()()
	g, ok := m.grants[string(hash)]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return &g, nil
}

func (m *Store) CreatePasswordReset(_ context.Context, r *cordon.PasswordReset) error {
	defer m.lock()()
	if m.resets == nil {
		m.resets = map[string]cordon.PasswordReset{}
	}
	if _, ok := m.resets[string(r.Hash)]; ok {
		return cordon.ErrAlreadyExists
	}
	if _, ok := m.accounts[r.AccountID]; !ok {
		return cordon.ErrNotFound
	}
	c := *r
	c.CreatedAt, c.ExpiresAt = norm(r.CreatedAt), norm(r.ExpiresAt)
	m.resets[string(r.Hash)] = c
	return nil
}

func (m *Store) ConsumePasswordReset(_ context.Context, hash []byte, now time.Time) (*cordon.PasswordReset, error) {
	defer m.lock()()
	r, ok := m.resets[string(hash)]
	if !ok || !r.UsedAt.IsZero() || !norm(now).Before(r.ExpiresAt) {
		return nil, cordon.ErrNotFound
	}
	r.UsedAt = norm(now)
	m.resets[string(hash)] = r
	return &r, nil
}

func (m *Store) DeletePasswordResets(_ context.Context, accountID string) error {
	defer m.lock()()
	for h, r := range m.resets {
		if r.AccountID == accountID {
			delete(m.resets, h)
		}
	}
	return nil
}

func (m *Store) RevokedSince(_ context.Context, t time.Time) ([]cordon.Revoked, error) {
	defer m.lock()()
	var out []cordon.Revoked
	for _, s := range m.sessions {
		if !s.Live() && !s.RevokedAt.Before(norm(t)) {
			out = append(out, cordon.Revoked{SessionID: s.ID, RevokedAt: s.RevokedAt})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RevokedAt.Equal(out[j].RevokedAt) {
			return out[i].RevokedAt.Before(out[j].RevokedAt)
		}
		return out[i].SessionID < out[j].SessionID
	})
	return out, nil
}

// familyEnds gives, per session, when its newest usable refresh token
// stops working; a session without one is absent. One pass over the
// tokens, so a sweep of a large fleet stays linear.
func (m *Store) familyEnds() map[string]time.Time {
	ends := map[string]time.Time{}
	for _, rt := range m.tokens {
		if !rt.UsedAt.IsZero() {
			continue
		}
		e := rt.IdleExpiresAt
		if rt.AbsoluteExpiresAt.Before(e) {
			e = rt.AbsoluteExpiresAt
		}
		if e.After(ends[rt.SessionID]) {
			ends[rt.SessionID] = e
		}
	}
	return ends
}

func (m *Store) PeekRefreshToken(_ context.Context, hash []byte, now time.Time) (*cordon.Session, error) {
	defer m.lock()()
	now = norm(now)
	rt, ok := m.tokens[string(hash)]
	if !ok || !rt.UsedAt.IsZero() || !now.Before(rt.IdleExpiresAt) || !now.Before(rt.AbsoluteExpiresAt) {
		return nil, cordon.ErrNotFound
	}
	s := m.sessions[rt.SessionID]
	if !s.Live() {
		return nil, cordon.ErrNotFound
	}
	return &s, nil
}

func (m *Store) ExpireSessions(_ context.Context, now time.Time, limit int) (int, error) {
	defer m.lock()()
	now = norm(now)
	ids := make([]string, 0)
	ends := m.familyEnds()
	for id, s := range m.sessions {
		if end := ends[id]; s.Live() && !end.IsZero() && !now.Before(end) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	for _, id := range ids {
		m.revoke(id, cordon.RevokeExpired, now)
	}
	return len(ids), nil
}

func (m *Store) AppendAudit(_ context.Context, entries []*cordon.AuditEntry) (uint64, error) {
	defer m.lock()()
	for _, e := range entries {
		if e == nil || len(e.Leaf) == 0 || len(e.LeafHash) == 0 {
			return 0, cordon.Errorf(cordon.ECodeInvalid, "audit entry lacks its leaf")
		}
	}
	m.appendAudit(entries)
	return uint64(len(m.audit)), nil
}

func (m *Store) AppendAuditBatch(_ context.Context, b *cordon.AuditBatch, entries []*cordon.AuditEntry, forgetBefore time.Time) (*cordon.AuditBatch, bool, error) {
	if err := stored.CheckAuditBatch(b, entries); err != nil {
		return nil, false, err
	}
	defer m.lock()()
	if m.batches == nil {
		m.batches = map[string]cordon.AuditBatch{}
	}
	forgetBefore = norm(forgetBefore)
	for k, old := range m.batches {
		if old.At.Before(forgetBefore) {
			delete(m.batches, k)
		}
	}
	if old, ok := m.batches[b.Key]; ok {
		old.Digest = slices.Clone(old.Digest)
		return &old, false, nil
	}
	m.appendAudit(entries)
	nb := *b
	nb.Digest, nb.At = slices.Clone(b.Digest), norm(b.At)
	nb.Count, nb.Size = len(entries), uint64(len(m.audit))
	nb.First = nb.Size - uint64(len(entries))
	m.batches[b.Key] = nb
	return &nb, true, nil
}

func (m *Store) appendAudit(entries []*cordon.AuditEntry) {
	for _, e := range entries {
		e.Index = uint64(len(m.audit))
		c := *e
		c.Leaf, c.LeafHash = slices.Clone(e.Leaf), slices.Clone(e.LeafHash)
		c.Categories = slices.Sorted(slices.Values(e.Categories))
		c.Time = norm(e.Time)
		if !c.Resolved {
			c.Account = ""
		}
		m.audit = append(m.audit, c)
	}
}

func (m *Store) AuditSize(context.Context) (uint64, error) {
	defer m.lock()()
	return uint64(len(m.audit)), nil
}

func (m *Store) AuditEntries(_ context.Context, from, to uint64, fn func(*cordon.AuditEntry) error) error {
	m.mu.Lock()
	to = min(to, uint64(len(m.audit)))
	var es []cordon.AuditEntry
	if from < to {
		es = slices.Clone(m.audit[from:to])
	}
	m.mu.Unlock()
	for i := range es {
		if err := fn(&es[i]); err != nil {
			return err
		}
	}
	return nil
}

// audited appends the context's pending audit entries when err is nil,
// as a store's transaction would; m.mu is held.
func (m *Store) audited(ctx context.Context, err error) error {
	pending := cordon.PendingAudit(ctx)
	if err != nil || pending == nil {
		return err
	}
	m.appendAudit(pending)
	cordon.AuditCommitted(ctx, uint64(len(m.audit)))
	return nil
}

// checkPending refuses a write whose audit entries a store could not keep.
func checkPending(ctx context.Context) error {
	for _, e := range cordon.PendingAudit(ctx) {
		if e == nil || len(e.Leaf) == 0 || len(e.LeafHash) == 0 {
			return cordon.Errorf(cordon.ECodeInvalid, "audit entry lacks its leaf")
		}
	}
	return nil
}

func (m *Store) AuditNodeHash(_ context.Context, level uint, index uint64) ([]byte, error) {
	defer m.lock()()
	h, ok := m.nodes[[2]uint64{uint64(level), index}]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return slices.Clone(h), nil
}

func (m *Store) AuditKey(_ context.Context, k *cordon.AuditKey) (*cordon.AuditKey, error) {
	defer m.lock()()
	if m.auditKey == nil && k != nil && k.Signer != "" {
		c := *k
		c.Created = norm(k.Created)
		m.auditKey = &c
	}
	if m.auditKey == nil {
		return nil, cordon.ErrNotFound
	}
	c := *m.auditKey
	return &c, nil
}

func (m *Store) SaveAuditReport(_ context.Context, r *cordon.SavedAuditReport) error {
	defer m.lock()()
	if m.reports == nil {
		m.reports = map[string]cordon.SavedAuditReport{}
	}
	if _, ok := m.reports[r.ID]; ok {
		return cordon.ErrAlreadyExists
	}
	c := *r
	c.Principals, c.Subjects = slices.Clone(r.Principals), slices.Clone(r.Subjects)
	c.From, c.To, c.Created = norm(r.From), norm(r.To), norm(r.Created)
	m.reports[r.ID] = c
	return nil
}

func (m *Store) SavedAuditReport(_ context.Context, id string) (*cordon.SavedAuditReport, error) {
	defer m.lock()()
	r, ok := m.reports[id]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	r.Principals, r.Subjects = slices.Clone(r.Principals), slices.Clone(r.Subjects)
	return &r, nil
}

func (m *Store) AddAuditCheckpoint(_ context.Context, c *cordon.AuditCheckpoint, nodes []cordon.AuditNode) error {
	defer m.lock()()
	if m.checkpoints == nil {
		m.checkpoints = map[uint64]cordon.AuditCheckpoint{}
	}
	if _, ok := m.checkpoints[c.Size]; ok {
		return cordon.ErrAlreadyExists
	}
	for _, n := range nodes {
		if len(n.Hash) != 32 || n.Level > 63 {
			return cordon.Errorf(cordon.ECodeInvalid, "bad audit node")
		}
	}
	cp := *c
	cp.Root, cp.Note, cp.Created = slices.Clone(c.Root), slices.Clone(c.Note), norm(c.Created)
	m.checkpoints[c.Size] = cp
	if m.nodes == nil {
		m.nodes = map[[2]uint64][]byte{}
	}
	for _, n := range nodes {
		k := [2]uint64{uint64(n.Level), n.Index}
		if _, ok := m.nodes[k]; !ok {
			m.nodes[k] = slices.Clone(n.Hash)
		}
	}
	return nil
}

func (m *Store) AuditCheckpoint(_ context.Context, size uint64) (*cordon.AuditCheckpoint, error) {
	defer m.lock()()
	if size == 0 {
		for s := range m.checkpoints {
			size = max(size, s)
		}
	}
	c, ok := m.checkpoints[size]
	if !ok {
		return nil, cordon.ErrNotFound
	}
	return &c, nil
}

func (m *Store) AuditCheckpoints(context.Context) ([]*cordon.AuditCheckpoint, error) {
	defer m.lock()()
	var out []*cordon.AuditCheckpoint
	for _, size := range slices.Sorted(maps.Keys(m.checkpoints)) {
		c := m.checkpoints[size]
		out = append(out, &c)
	}
	return out, nil
}

func (m *Store) AuditCheckpointsAfter(_ context.Context, after uint64, limit int) ([]*cordon.AuditCheckpoint, error) {
	defer m.lock()()
	var out []*cordon.AuditCheckpoint
	for _, size := range slices.Sorted(maps.Keys(m.checkpoints)) {
		if size <= after {
			continue
		}
		if limit >= 0 && len(out) >= limit {
			break
		}
		c := m.checkpoints[size]
		out = append(out, &c)
	}
	return out, nil
}

func (m *Store) AuditReport(ctx context.Context, principals []string, from, to time.Time, fn func(*cordon.AuditAccess) error) error {
	if len(principals) == 0 {
		return nil
	}
	return m.AuditQuery(ctx, cordon.AuditFilter{Principals: principals, From: from, To: to, By: cordon.AuditBySubject}, fn)
}

// AuditQuery groups the selected entries as the SQL backends do, through
// the same merger.
func (m *Store) AuditQuery(_ context.Context, f cordon.AuditFilter, fn func(*cordon.AuditAccess) error) error {
	from, to := norm(f.From), norm(f.To)
	type key struct {
		k          string
		unresolved bool
		action     string
	}
	rows := map[key]*stored.AuditRow{}
	m.mu.Lock()
	for _, e := range m.audit {
		if e.Time.Before(from) || (!f.To.IsZero() && !e.Time.Before(to)) {
			continue
		}
		if len(f.Principals) > 0 && !slices.ContainsFunc(f.Principals, func(p string) bool { return stored.MatchPrincipal(p, e.Principal) }) {
			continue
		}
		user := e.Subject
		if e.Resolved && e.Account != "" {
			user = e.Account
		}
		if len(f.Users) > 0 && !slices.Contains(f.Users, user) {
			continue
		}
		if f.Category != "" && !slices.Contains(e.Categories, f.Category) {
			continue
		}
		k := key{action: e.Action}
		switch {
		case f.By == cordon.AuditByPrincipal:
			k.k = e.Principal
		case e.Resolved && e.Account != "":
			k.k = e.Account
		default:
			k.k, k.unresolved = e.Subject, e.Resolved
		}
		r := rows[k]
		if r == nil {
			r = &stored.AuditRow{Key: k.k, Unresolved: k.unresolved, Action: e.Action, First: stored.Micros(e.Time), Last: stored.Micros(e.Time)}
			if f.By == cordon.AuditBySubject {
				r.Account = e.Account
			}
			rows[k] = r
		}
		r.Count++
		r.Categories = append(r.Categories, e.Categories...)
		r.Aliases = append(r.Aliases, e.Subject)
		r.First, r.Last = min(r.First, stored.Micros(e.Time)), max(r.Last, stored.Micros(e.Time))
	}
	m.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(rows), func(a, b key) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		if a.unresolved != b.unresolved {
			if a.unresolved {
				return 1
			}
			return -1
		}
		return strings.Compare(a.action, b.action)
	})
	merge := &stored.AuditMerger{By: f.By, Fn: fn}
	for _, k := range keys {
		if err := merge.Add(*rows[k]); err != nil {
			return err
		}
	}
	return merge.Flush()
}

// ResolveSubjects maps subjects naming an account, by id first, then by
// username key; deleted accounts too.
func (m *Store) ResolveSubjects(_ context.Context, subjects []string) (map[string]string, error) {
	return m.accountIDs(subjects, false), nil
}

// LiveAccountIDs is ResolveSubjects without deleted accounts.
func (m *Store) LiveAccountIDs(_ context.Context, refs []string) (map[string]string, error) {
	return m.accountIDs(refs, true), nil
}

func (m *Store) accountIDs(refs []string, live bool) map[string]string {
	defer m.lock()()
	out := make(map[string]string, len(refs))
	known := func(id string) bool {
		_, ok := m.accounts[id]
		return ok || (!live && m.gone[id])
	}
	for _, s := range refs {
		if known(s) {
			out[s] = s
		} else if id, ok := m.byKey[cordon.UsernameKey(s)]; ok && known(id) {
			out[s] = id
		}
	}
	return out
}
