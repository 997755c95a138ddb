package stored

import (
	"slices"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// IsPrincipalPattern reports whether a principal a query names is a
// pattern: one holding '*'.
func IsPrincipalPattern(p string) bool { return strings.Contains(p, "*") }

// MatchPrincipal reports whether principal matches pattern, where '*'
// matches any run of characters and every other character only itself.
// It is the meaning each backend's SQL must give a pattern.
func MatchPrincipal(pattern, principal string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == principal
	}
	if !strings.HasPrefix(principal, parts[0]) {
		return false
	}
	principal = principal[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(principal, part)
		if i < 0 {
			return false
		}
		principal = principal[i+len(part):]
	}
	return len(principal) >= len(last) && strings.HasSuffix(principal, last)
}

// GlobPattern is a principal pattern as a SQLite GLOB: '*' stays, and
// GLOB's other metacharacters ('?', '[') are bracketed so they match
// themselves. GLOB, unlike SQLite's LIKE, is case-sensitive, as
// principals are.
func GlobPattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '?':
			b.WriteString("[?]")
		case '[':
			b.WriteString("[[]")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// LikePattern is a principal pattern as a LIKE pattern with ESCAPE '\':
// LIKE's metacharacters ('%', '_', '\') are escaped and '*' becomes '%'.
func LikePattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '*':
			b.WriteByte('%')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SplitPrincipals separates a query's exact principal names from its
// patterns.
func SplitPrincipals(ps []string) (names, patterns []string) {
	for _, p := range ps {
		if IsPrincipalPattern(p) {
			patterns = append(patterns, p)
		} else {
			names = append(names, p)
		}
	}
	return names, patterns
}

// AuditActions are the actions a backend counts in columns of its own,
// in this order: an event's action is one of them (audit.Event.Validate),
// so a row per group, not per group and action, counts them all.
var AuditActions = [4]string{"read", "write", "export", "delete"}

// AuditRow is one row as a backend's SQL gives it: the entries of one
// group (or, from memstore, of one group and action).
type AuditRow struct {
	Key        string // the group: account id, raw subject or principal
	Account    string
	Unresolved bool
	// Action, when set, is the one action of all Count entries; else
	// PerAction counts them in the order of AuditActions.
	Action     string
	PerAction  [4]int64
	Categories []string // may repeat; merged here
	Aliases    []string // may repeat; merged here
	Count      int64
	First      int64 // microseconds
	Last       int64
}

// AuditMerger joins a backend's rows, ordered by (Key, Unresolved), into
// one AuditAccess per group and hands each to fn, so every backend
// builds the same rows.
type AuditMerger struct {
	By  cordon.AuditGroupBy
	Fn  func(*cordon.AuditAccess) error
	cur *cordon.AuditAccess
}

// Add takes the next row.
func (m *AuditMerger) Add(r AuditRow) error {
	if m.cur != nil && (m.keyOf() != r.Key || m.cur.Unresolved != r.Unresolved) {
		if err := m.Flush(); err != nil {
			return err
		}
	}
	if m.cur == nil {
		a := &cordon.AuditAccess{Account: r.Account, Unresolved: r.Unresolved, Actions: map[string]int64{},
			First: Time(r.First), Last: Time(r.Last)}
		if m.By == cordon.AuditByPrincipal {
			a.Principal = r.Key
		} else {
			a.Subject = r.Key
		}
		m.cur = a
	}
	a := m.cur
	a.Count += r.Count
	if r.Action != "" {
		a.Actions[r.Action] += r.Count
	} else {
		for i, n := range r.PerAction {
			if n > 0 {
				a.Actions[AuditActions[i]] += n
			}
		}
	}
	a.Categories = append(a.Categories, r.Categories...)
	a.Aliases = append(a.Aliases, r.Aliases...)
	if t := Time(r.First); t.Before(a.First) {
		a.First = t
	}
	if t := Time(r.Last); t.After(a.Last) {
		a.Last = t
	}
	return nil
}

func (m *AuditMerger) keyOf() string {
	if m.By == cordon.AuditByPrincipal {
		return m.cur.Principal
	}
	return m.cur.Subject
}

// Flush hands the group being built to fn; call it after the last row.
func (m *AuditMerger) Flush() error {
	a := m.cur
	if a == nil {
		return nil
	}
	m.cur = nil
	// Add built both slices afresh, so they are sorted in place.
	slices.Sort(a.Categories)
	a.Categories = slices.Compact(a.Categories)
	slices.Sort(a.Aliases)
	a.Aliases = slices.Compact(a.Aliases)
	if m.By == cordon.AuditByPrincipal {
		a.Aliases = nil
	}
	return m.Fn(a)
}

// AuditAccount is the value of an entry's account column: nil (NULL)
// when its subject was not resolved, else the account ("" for none).
func AuditAccount(e *cordon.AuditEntry) any {
	if !e.Resolved {
		return nil
	}
	return e.Account
}
