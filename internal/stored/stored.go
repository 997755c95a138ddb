// Package stored is the stored form of domain values that every storage
// backend shares: times as integer microseconds (0 meaning never), the
// campaign document and its resolved user ids, the audit entry checks and
// its category column. Backends differ in their drivers and SQL, never in
// what they store, so the conformance suite holds them to one behaviour.
package stored

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Micros is t in microseconds since the Unix epoch, 0 for the zero time.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Time is the UTC time of v microseconds, the zero time for 0.
func Time(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// utcMicro is t as it comes back from a store.
func utcMicro(t time.Time) time.Time { return Time(Micros(t)) }

// EncodeCampaign returns the document and the user-id list stored for c.
// Times inside the document are stored in UTC to the microsecond, as every
// column time is; the lifecycle is left to its columns.
func EncodeCampaign(c *cordon.Campaign) (doc, users []byte, err error) {
	d := *c
	d.State, d.Created, d.Updated, d.Activated, d.Ended = cordon.StateDraft, utcMicro(c.Created), utcMicro(c.Updated), time.Time{}, time.Time{}
	if c.Cohort.AuthenticatedBefore != nil {
		t := utcMicro(*c.Cohort.AuthenticatedBefore)
		d.Cohort.AuthenticatedBefore = &t
	}
	if c.Ramp != nil {
		r := *c.Ramp
		r.Start = utcMicro(r.Start)
		d.Ramp = &r
	}
	early := make([]cordon.EarlyAdmission, len(c.Early))
	for i, e := range c.Early {
		early[i] = cordon.EarlyAdmission{Account: e.Account, At: utcMicro(e.At), Why: e.Why}
	}
	// The early admissions ride in the document beside the campaign (the
	// domain keeps them out of its JSON, as it keeps the user ids: an API
	// answer would otherwise list every one).
	if doc, err = json.Marshal(&campaignDoc{Campaign: &d, Early: early}); err != nil {
		return nil, nil, fmt.Errorf("encode campaign %s: %w", c.ID, err)
	}
	ids := c.UserIDs
	if ids == nil {
		ids = []string{}
	}
	if users, err = json.Marshal(ids); err != nil {
		return nil, nil, fmt.Errorf("encode campaign %s: %w", c.ID, err)
	}
	return doc, users, nil
}

// campaignDoc is a campaign's stored document: the campaign's JSON and its
// early admissions.
type campaignDoc struct {
	*cordon.Campaign
	Early []cordon.EarlyAdmission `json:"early,omitempty"`
}

// CampaignRow is a campaign's row as both backends store it.
type CampaignRow struct {
	ID, Document, UserIDs, State       string
	Created, Updated, Activated, Ended int64
}

// DecodeCampaign rebuilds a campaign from its row.
func DecodeCampaign(r *CampaignRow) (*cordon.Campaign, error) {
	var c cordon.Campaign
	d := campaignDoc{Campaign: &c}
	if err := json.Unmarshal([]byte(r.Document), &d); err != nil {
		return nil, fmt.Errorf("decode campaign %s: %w", r.ID, err)
	}
	c.Early = d.Early
	for i := range c.Early {
		if !c.Early[i].At.IsZero() {
			c.Early[i].At = c.Early[i].At.UTC()
		}
	}
	if err := json.Unmarshal([]byte(r.UserIDs), &c.UserIDs); err != nil {
		return nil, fmt.Errorf("decode user ids of campaign %s: %w", r.ID, err)
	}
	if len(c.UserIDs) == 0 {
		c.UserIDs = nil
	}
	if c.Cohort.AuthenticatedBefore != nil {
		t := c.Cohort.AuthenticatedBefore.UTC()
		c.Cohort.AuthenticatedBefore = &t
	}
	if c.Ramp != nil {
		c.Ramp.Start = c.Ramp.Start.UTC()
	}
	c.ID, c.State = r.ID, cordon.State(r.State)
	c.Created, c.Updated, c.Activated, c.Ended = Time(r.Created), Time(r.Updated), Time(r.Activated), Time(r.Ended)
	return &c, nil
}

// CategorySep joins an audit entry's categories in its one column;
// CheckAuditEntry refuses categories that contain it.
const CategorySep = " "

// CheckAuditEntry refuses an entry the log cannot keep as given.
func CheckAuditEntry(e *cordon.AuditEntry) error {
	if e == nil {
		return cordon.Errorf(cordon.ECodeInvalid, "audit entry is missing")
	}
	if len(e.Leaf) == 0 {
		return cordon.Errorf(cordon.ECodeInvalid, "audit entry has no leaf")
	}
	if len(e.LeafHash) == 0 {
		return cordon.Errorf(cordon.ECodeInvalid, "audit entry has no leaf hash")
	}
	for _, c := range e.Categories {
		if c == "" || strings.Contains(c, CategorySep) {
			return cordon.Errorf(cordon.ECodeInvalid, "audit category %q is empty or contains a space", c)
		}
	}
	return nil
}

// AuditBatch is how many entries a backend's AuditEntries reads at a
// time, so a scan of a long log holds neither the whole log in memory nor
// a reader's snapshot open while fn works.
const AuditBatch = 10_000

// EachAuditEntry is AuditEntries over a backend's read of one batch:
// read returns up to AuditBatch entries of [from, to) in index order.
// Entries never change once written, so batches read in separate
// snapshots still join into one consistent range.
func EachAuditEntry(from, to uint64, read func(from, to uint64) ([]*cordon.AuditEntry, error), fn func(*cordon.AuditEntry) error) error {
	to = min(to, math.MaxInt64)
	for from < to {
		batch, err := read(from, to)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < AuditBatch {
			return nil
		}
		from = batch[len(batch)-1].Index + 1
	}
	return nil
}

// CheckAuditEntries checks every entry with CheckAuditEntry.
func CheckAuditEntries(es []*cordon.AuditEntry) error {
	for _, e := range es {
		if err := CheckAuditEntry(e); err != nil {
			return err
		}
	}
	return nil
}

// CheckAuditBatch refuses a batch a store cannot remember: no key, a
// digest that is no SHA-256, no entries, no time.
func CheckAuditBatch(b *cordon.AuditBatch, es []*cordon.AuditEntry) error {
	switch {
	case b == nil || b.Key == "":
		return cordon.Errorf(cordon.ECodeInvalid, "an audit batch needs its key")
	case len(b.Digest) != 32:
		return cordon.Errorf(cordon.ECodeInvalid, "an audit batch's digest is a SHA-256, not %d bytes", len(b.Digest))
	case len(es) == 0:
		return cordon.Errorf(cordon.ECodeInvalid, "an audit batch holds at least one entry")
	case b.At.IsZero():
		return cordon.Errorf(cordon.ECodeInvalid, "an audit batch needs the time it was appended")
	}
	return CheckAuditEntries(es)
}

// CheckAuditNodes refuses nodes a store cannot keep: a level past the
// 64-bit tree, an index past int64, a hash of the wrong size.
func CheckAuditNodes(ns []cordon.AuditNode) error {
	for _, n := range ns {
		if n.Level > 63 || n.Index > math.MaxInt64>>n.Level || len(n.Hash) != 32 {
			return cordon.Errorf(cordon.ECodeInvalid, "audit node %d/%d is out of range or has a %d-byte hash", n.Level, n.Index, len(n.Hash))
		}
	}
	return nil
}

// NonNilStrings returns ss, or an empty slice for nil, so a list is stored
// as [] rather than null.
func NonNilStrings(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// JoinCategories is the column value of a category list: sorted, without
// duplicates.
func JoinCategories(cs []string) string {
	cs = slices.Clone(cs)
	slices.Sort(cs)
	return strings.Join(slices.Compact(cs), CategorySep)
}

// SplitCategories splits a joined list, or several joined lists joined
// again, and sorts the result; duplicates remain.
func SplitCategories(s string) []string {
	cs := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' })
	slices.Sort(cs)
	return cs
}

// NonNil keeps a NOT NULL column's empty value empty rather than NULL.
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// dayMicros is one day in microseconds.
const dayMicros = 24 * 60 * 60 * 1_000_000

// AuthDay is the UTC midnight, in microseconds, of the day of t, the day
// a session's bucket is keyed by; 0 for a zero t. It floors, so a time
// before 1970 falls on its own day.
func AuthDay(t time.Time) int64 {
	m := Micros(t)
	return m - (m%dayMicros+dayMicros)%dayMicros
}
