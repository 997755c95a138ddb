package alert

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/detect"
)

// CursorStore keeps how far access detection has read the log.
type CursorStore interface {
	Meta(ctx context.Context, key string) (string, error)
	PutMeta(ctx context.Context, key, value string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
}

// AccessWatcher evaluates the access rules over the audit log's new
// entries: every tick it reads from where it stopped to the log's end
// (in batches), so each entry is read once, never the whole log again.
// Where it stopped is kept in the store, so a restart resumes; the
// baselines are kept in memory and learn again after a restart. A
// deployment's first start begins at the log's end (Start): the reads
// logged before detection existed raise nothing.
type AccessWatcher struct {
	store  CursorStore
	audit  *auditlog.Service
	eng    *detect.Access
	raiser Raiser
	log    *slog.Logger

	mu     sync.Mutex // one Step at a time
	cursor uint64
	loaded bool
}

// NewAccessWatcher returns a watcher of the log; Run or Step drive it.
func NewAccessWatcher(store CursorStore, audit *auditlog.Service, eng *detect.Access, r Raiser, log *slog.Logger) *AccessWatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AccessWatcher{store: store, audit: audit, eng: eng, raiser: r, log: log}
}

// Start reads where the watcher stopped, or, the first time, marks the
// log's current end as the start. Run it before entries can be appended
// that should be judged (cordon serve does, at initialisation).
func (w *AccessWatcher) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	size, err := w.audit.Size(ctx)
	if err != nil {
		return err
	}
	v, err := w.store.PutMeta(ctx, cordon.MetaAccessCursor, strconv.FormatUint(size, 10))
	if err != nil {
		return err
	}
	if w.cursor, err = strconv.ParseUint(v, 10, 64); err != nil {
		return fmt.Errorf("the stored %s %q is damaged", cordon.MetaAccessCursor, v)
	}
	w.loaded = true
	return nil
}

// Run steps every tick until ctx ends.
func (w *AccessWatcher) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := w.Step(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("access detection step failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// batch bounds the entries read per store call.
const batch = 10000

// Step reads the entries appended since the last step, evaluates them and
// raises what they show; it returns how many it read.
func (w *AccessWatcher) Step(ctx context.Context) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.loaded {
		v, err := w.store.Meta(ctx, cordon.MetaAccessCursor)
		switch {
		case cordon.ErrorCode(err) == cordon.ECodeNotFound:
		case err != nil:
			return 0, err
		default:
			if w.cursor, err = strconv.ParseUint(v, 10, 64); err != nil {
				return 0, fmt.Errorf("the stored %s %q is damaged", cordon.MetaAccessCursor, v)
			}
		}
		w.loaded = true
	}
	size, err := w.audit.Size(ctx)
	if err != nil {
		return 0, err
	}
	read := 0
	for w.cursor < size {
		to := min(size, w.cursor+batch)
		var raised []detect.AccessAlert
		err := w.audit.Entries(ctx, w.cursor, to, func(e *cordon.AuditEntry) error {
			read++
			if strings.HasPrefix(e.Principal, auditlog.ObjectPrefix) || !auditlog.IsUser(e.Subject) {
				return nil // cordon's own records
			}
			user := e.Subject
			if e.Account != "" {
				user = e.Account
			}
			raised = append(raised, w.eng.Observe(detect.AccessEvent{Index: e.Index, At: e.Time, Principal: e.Principal, User: user, Categories: e.Categories})...)
			return nil
		})
		if err != nil {
			return read, err
		}
		for _, al := range raised {
			if _, err := w.raiser.Raise(ctx, FromAccess(al)); err != nil {
				return read, err
			}
		}
		w.cursor = to
		if err := w.store.SetMeta(ctx, cordon.MetaAccessCursor, strconv.FormatUint(to, 10)); err != nil {
			return read, err
		}
	}
	return read, nil
}

// ReportPath is the admin API path of the blast-radius report of a
// principal's reads between from and to: what an access alert links to.
func ReportPath(principal string, from, to time.Time) string {
	q := url.Values{"principal": {principal}, "from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Add(time.Second).Truncate(time.Second).Format(time.RFC3339)}}
	return "/admin/v1/audit/report?" + q.Encode()
}

// FromAccess turns an access anomaly into a stored alert.
func FromAccess(al detect.AccessAlert) *cordon.Alert {
	var summary string
	switch al.Kind {
	case detect.RuleDistinctUsers:
		summary = fmt.Sprintf("%s read %d distinct users since %s, %.1f× its baseline of %.1f (rule %s)", al.Principal, al.Users, al.From.Format(time.RFC3339), float64(al.Users)/max(al.Baseline, 1), al.Baseline, al.Rule)
	case detect.RuleCategories:
		summary = fmt.Sprintf("%s read %s of %d users (rule %s)", al.Principal, strings.Join(al.Categories, ", "), al.Users, al.Rule)
	case detect.RuleOffHours:
		summary = fmt.Sprintf("%s read %d users at %02d:00 UTC, outside its usual hours (rule %s)", al.Principal, al.Users, al.Hour, al.Rule)
	default:
		summary = al.Rule
	}
	ev := cordon.AlertEvidence{From: al.From.UTC(), To: al.To.UTC(), Rule: al.Rule, Principal: al.Principal, Users: al.Users, Baseline: al.Baseline,
		Categories: al.Categories, Subjects: al.Subjects, Entries: al.Entries}
	if al.Hour >= 0 {
		h := al.Hour
		ev.Hour = &h
	}
	return &cordon.Alert{Kind: "access_" + al.Kind, Key: al.Rule + "/" + al.Principal, Summary: summary, Evidence: ev,
		Report: ReportPath(al.Principal, al.From, al.To)}
}
