package auditlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// InclusionProof is the proof that an entry is in the tree of Size
// entries, with the checkpoint signed at that size.
type InclusionProof struct {
	Index      uint64
	Size       uint64
	Leaf       []byte // the entry as stored, so the prover can show and rehash it
	LeafHash   []byte
	Hashes     [][]byte
	Checkpoint []byte
}

// ConsistencyProof is the proof that the tree of From entries is a prefix
// of the tree of To, with both checkpoints.
type ConsistencyProof struct {
	From, To                   uint64
	Hashes                     [][]byte
	FromCheckpoint, Checkpoint []byte
}

// checkpoint returns the checkpoint signed at size (0: the latest) as a
// client error naming field when there is none.
func (s *Service) checkpoint(ctx context.Context, size uint64, field string) (*cordon.AuditCheckpoint, error) {
	c, err := s.store.AuditCheckpoint(ctx, size)
	switch {
	case errors.Is(err, cordon.ErrNotFound) && size == 0:
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no checkpoint has been signed yet")
	case errors.Is(err, cordon.ErrNotFound):
		return nil, cordon.FieldError(cordon.ECodeNotFound, field, "no checkpoint was signed at size %d", size)
	}
	return c, err
}

// Inclusion proves entry index against the checkpoint of the given size;
// size 0 means the latest checkpoint. Proofs are only given against signed
// sizes: a proof against an unsigned root proves nothing.
func (s *Service) Inclusion(ctx context.Context, index, size uint64) (*InclusionProof, error) {
	c, err := s.checkpoint(ctx, size, "size")
	if err != nil {
		return nil, err
	}
	size = c.Size
	if index >= size {
		return nil, cordon.FieldError(cordon.ECodeNotFound, "index", "entry %d is not in the tree of size %d", index, size)
	}
	var leaf, leafHash []byte
	err = s.store.AuditEntries(ctx, index, index+1, func(e *cordon.AuditEntry) error {
		leaf, leafHash = e.Leaf, audit.LeafHash(e.Leaf)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if leafHash == nil {
		return nil, fmt.Errorf("auditlog: entry %d is missing from the store", index)
	}
	hs, err := audit.InclusionProofFrom(s.nodeFunc(ctx), index, size)
	if err != nil {
		return nil, err
	}
	return &InclusionProof{Index: index, Size: size, Leaf: leaf, LeafHash: leafHash, Hashes: hs, Checkpoint: c.Note}, nil
}

// Consistency proves the checkpoint at from a prefix of the one at to; to
// 0 means the latest.
func (s *Service) Consistency(ctx context.Context, from, to uint64) (*ConsistencyProof, error) {
	ct, err := s.checkpoint(ctx, to, "to")
	if err != nil {
		return nil, err
	}
	to = ct.Size
	if from == 0 {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "from", "from must be the size of a signed checkpoint, not 0")
	}
	cf, err := s.checkpoint(ctx, from, "from")
	if err != nil {
		return nil, err
	}
	if from > to {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "from", "from (%d) is past to (%d)", from, to)
	}
	hs, err := audit.ConsistencyProofFrom(s.nodeFunc(ctx), from, to)
	if err != nil {
		return nil, err
	}
	return &ConsistencyProof{From: from, To: to, Hashes: hs, FromCheckpoint: cf.Note, Checkpoint: ct.Note}, nil
}

// Checkpoints returns every signed checkpoint, smallest first.
func (s *Service) Checkpoints(ctx context.Context) ([]*cordon.AuditCheckpoint, error) {
	return s.store.AuditCheckpoints(ctx)
}

// MaxCheckpointPage is the most checkpoints one page of the listing holds.
const MaxCheckpointPage = 10_000

// CheckpointsAfter returns a page of the signed checkpoints: up to limit
// (1 to MaxCheckpointPage) whose size is above after, smallest first.
func (s *Service) CheckpointsAfter(ctx context.Context, after uint64, limit int) ([]*cordon.AuditCheckpoint, error) {
	if limit < 1 || limit > MaxCheckpointPage {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "limit", "limit must be 1 to %d, not %d", MaxCheckpointPage, limit)
	}
	return s.store.AuditCheckpointsAfter(ctx, after, limit)
}

// Size returns the number of entries.
func (s *Service) Size(ctx context.Context) (uint64, error) { return s.store.AuditSize(ctx) }

// Entries calls fn for entries [from, to) in index order.
func (s *Service) Entries(ctx context.Context, from, to uint64, fn func(*cordon.AuditEntry) error) error {
	return s.store.AuditEntries(ctx, from, to, fn)
}

// EntriesAbout calls fn, in index order, for the entries about cordon's
// own objects named by subjects ("cordon:incident/i-…").
func (s *Service) EntriesAbout(ctx context.Context, subjects []string, fn func(*cordon.AuditEntry) error) error {
	return s.store.AuditEntriesAbout(ctx, subjects, fn)
}

// Report is a blast-radius report: which users' data the principals
// touched over [From, To), and which categories they did and did not.
type Report struct {
	ID         string    `json:"id,omitempty"`
	Principals []string  `json:"principals"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	// Users counts accounts, not strings: a user logged as alice and as
	// her account id is one. Unresolved subjects (naming no account at
	// ingest) are counted apart, never as users.
	Users      int   `json:"users"`
	Unresolved int   `json:"unresolved_subjects"`
	Objects    int   `json:"cordon_objects,omitempty"` // subjects that are cordon's own (ObjectPrefix)
	Events     int64 `json:"events"`
	// Actions counts the events by action (read, write, export, delete).
	Actions   map[string]int64 `json:"actions"`
	First     *time.Time       `json:"first,omitempty"`
	Last      *time.Time       `json:"last,omitempty"`
	Touched   []string         `json:"categories_touched"`
	Untouched []string         `json:"categories_not_touched"`
	// Accesses lists the first MaxListed rows, by subject; Truncated says
	// more were counted than listed (ReportRows streams them all).
	Accesses   []cordon.AuditAccess `json:"-"`
	Truncated  bool                 `json:"accesses_truncated,omitempty"`
	Summary    string               `json:"summary"`
	Created    *time.Time           `json:"created,omitempty"`
	CreatedBy  string               `json:"created_by,omitempty"`
	SavedUsers []string             `json:"-"`
}

// Bounds on reports.
const (
	// MaxPrincipals is the most principals one report names.
	MaxPrincipals = 100
	// MaxListed is the most rows a report holds in memory to show; the
	// counts always cover every row, and ReportRows streams them all.
	MaxListed = 10_000
	// MaxSavedUsers is the most users a saved report keeps for a cohort.
	// A breach that touched more is one for a campaign over everyone.
	MaxSavedUsers = 1_000_000
)

// Report builds the blast-radius report of principals over [from, to).
func (s *Service) Report(ctx context.Context, principals []string, from, to time.Time) (*Report, error) {
	return s.report(ctx, principals, from, to, nil)
}

// ReportRows calls fn for every row of the report, by subject, without
// holding them (for a CSV of millions of users).
func (s *Service) ReportRows(ctx context.Context, principals []string, from, to time.Time, fn func(*cordon.AuditAccess) error) error {
	principals, err := checkReport(principals, from, to)
	if err != nil {
		return err
	}
	return s.store.AuditReport(ctx, principals, from, to, fn)
}

func checkReport(principals []string, from, to time.Time) ([]string, error) {
	if len(principals) == 0 {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "principal", "name at least one principal")
	}
	if err := CheckPrincipals(principals); err != nil {
		return nil, err
	}
	if !from.Before(to) {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "to", "the window is empty: from must be before to")
	}
	return slices.Compact(slices.Sorted(slices.Values(principals))), nil
}

// report builds a report in one pass over the rows; each row is also
// given to each, when not nil.
func (s *Service) report(ctx context.Context, principals []string, from, to time.Time, each func(*cordon.AuditAccess) error) (*Report, error) {
	principals, err := checkReport(principals, from, to)
	if err != nil {
		return nil, err
	}
	r := &Report{Principals: principals, From: from.UTC(), To: to.UTC(), Actions: zeroActions()}
	touched := map[string]bool{}
	err = s.store.AuditReport(ctx, principals, from, to, func(a *cordon.AuditAccess) error {
		switch {
		case !IsUser(a.Subject):
			r.Objects++
		case a.Unresolved:
			r.Unresolved++
		default:
			r.Users++
		}
		r.Events += a.Count
		for act, n := range a.Actions {
			r.Actions[act] += n
		}
		for _, c := range a.Categories {
			touched[c] = true
		}
		if r.First == nil || a.First.Before(*r.First) {
			f := a.First
			r.First = &f
		}
		if r.Last == nil || a.Last.After(*r.Last) {
			l := a.Last
			r.Last = &l
		}
		if len(r.Accesses) < MaxListed {
			r.Accesses = append(r.Accesses, *a)
		} else {
			r.Truncated = true
		}
		if each != nil {
			return each(a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Untouched lists the data categories only: cordon's own (sessions,
	// campaigns …) describe admin actions, and saying "no campaigns" of a
	// support tool's reads would be noise.
	own := CordonCategories()
	for _, c := range s.categories {
		switch {
		case touched[c]:
			r.Touched = append(r.Touched, c)
		case !slices.Contains(own, c):
			r.Untouched = append(r.Untouched, c)
		}
	}
	// A stored entry may carry a category no longer configured.
	for c := range touched {
		if !slices.Contains(r.Touched, c) {
			r.Touched = append(r.Touched, c)
		}
	}
	r.Summary = summary(r)
	return r, nil
}

// summary is the report in one line: "1 user, 3 unresolved subjects;
// 12 events: 10 read, 2 export; profile, email; no password_hash, no
// payment".
func summary(r *Report) string {
	var b strings.Builder
	b.WriteString(plural(r.Users, "user", "users"))
	if r.Unresolved > 0 {
		b.WriteString(", " + plural(r.Unresolved, "unresolved subject", "unresolved subjects"))
	}
	if r.Objects > 0 {
		b.WriteString(", " + strconv.Itoa(r.Objects) + " cordon objects")
	}
	b.WriteString("; " + ActionSummary(r.Events, r.Actions))
	if len(r.Touched) > 0 {
		b.WriteString("; " + strings.Join(r.Touched, ", "))
	}
	if len(r.Untouched) > 0 {
		b.WriteString("; no " + strings.Join(r.Untouched, ", no "))
	}
	return b.String()
}

// SaveReport builds a report and keeps it under a new id, with its users,
// so a campaign can take them as its cohort.
func (s *Service) SaveReport(ctx context.Context, principals []string, from, to time.Time, actor string) (*Report, error) {
	var users []string
	r, err := s.report(ctx, principals, from, to, func(a *cordon.AuditAccess) error {
		// A subject that resolves to no account is left out, unless it is
		// an external issuer's user (ISSUER#SUB): those have no account,
		// and a campaign names them as they are.
		if _, external := cordon.ParseSubjectID(a.Subject); !IsUser(a.Subject) || a.Unresolved && !external {
			return nil
		}
		if len(users) == MaxSavedUsers {
			return cordon.Errorf(cordon.ECodeUnprocessable, "the report names more than %d users, too many for a cohort; a campaign over everyone fits a breach that large", MaxSavedUsers)
		}
		users = append(users, a.Subject)
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	saved := &cordon.SavedAuditReport{ID: cordon.NewID("r"), Principals: r.Principals, From: r.From, To: r.To,
		Created: now, CreatedBy: actor, Subjects: users}
	if err := s.store.SaveAuditReport(ctx, saved); err != nil {
		return nil, err
	}
	r.ID, r.Created, r.CreatedBy, r.SavedUsers = saved.ID, &now, actor, saved.Subjects
	return r, nil
}

// SavedReport reruns a saved report's query, so the answer shows the
// accesses as the log holds them now, and returns it with the users saved.
func (s *Service) SavedReport(ctx context.Context, id string) (*Report, error) {
	saved, err := s.store.SavedAuditReport(ctx, id)
	if err != nil {
		return nil, err
	}
	r, err := s.Report(ctx, saved.Principals, saved.From, saved.To)
	if err != nil {
		return nil, err
	}
	r.ID, r.Created, r.CreatedBy, r.SavedUsers = saved.ID, &saved.Created, saved.CreatedBy, saved.Subjects
	return r, nil
}

// ObjectPrefix begins the subjects of cordon's own admin records that are
// not users: "cordon:campaign/c-…", "cordon:signing-keys". Reporters may
// not use it, so a report tells users and cordon objects apart.
const ObjectPrefix = "cordon:"

// IsUser reports whether a subject names a user rather than a cordon object.
func IsUser(subject string) bool { return !strings.HasPrefix(subject, ObjectPrefix) }

// Actions are the actions an event may record, in the order summaries
// list them.
func Actions() []string {
	return []string{audit.ActionRead, audit.ActionWrite, audit.ActionExport, audit.ActionDelete}
}

// zeroActions is a count per action, all zero, so a JSON answer always
// names every action.
func zeroActions() map[string]int64 {
	m := map[string]int64{}
	for _, a := range Actions() {
		m[a] = 0
	}
	return m
}

// ActionSummary is "12 events: 10 read, 2 export" (actions with no event
// left out).
func ActionSummary(events int64, actions map[string]int64) string {
	s := plural64(events, "event", "events")
	if b := ActionBreakdown(actions); b != "" {
		s += ": " + b
	}
	return s
}

// ActionBreakdown is "10 read, 2 export": the actions with events, in the
// order of Actions.
func ActionBreakdown(actions map[string]int64) string {
	var parts []string
	for _, a := range Actions() {
		if n := actions[a]; n > 0 {
			parts = append(parts, strconv.FormatInt(n, 10)+" "+a)
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string { return plural64(int64(n), one, many) }

func plural64(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}
