package uafacts

import (
	"cmp"
	"slices"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Families of user agents the rules do not read at all.
const (
	FamilyEmpty     = "(empty)"
	FamilyOversized = "(oversized)"
	FamilyMalformed = "(malformed)"
)

// maxFamilyLen bounds a family name taken from a user agent.
const maxFamilyLen = 40

// Family names the family a user agent belongs to, for counting what the
// rules miss: the configured app token the built-in rules find in it,
// else its first product name ("okhttp", "Dalvik", "Discord"), with the
// "Mozilla/5.0 …" of browsers and web views split into "Electron" and
// "browser". Bytes outside printable ASCII read as "?", so a family is
// safe to show and to use as a label.
func (r *Rules) Family(ua string) string {
	switch {
	case ua == "":
		return FamilyEmpty
	case len(ua) > MaxUserAgent:
		return FamilyOversized
	case !readable(ua):
		return FamilyMalformed
	}
	if r != nil {
		if a, _ := findApp(ua, r.apps); a != nil {
			return a.token
		}
	}
	end := strings.IndexAny(ua, "/ (;")
	if end < 0 {
		end = len(ua)
	}
	name := ua[:end]
	if name == "Mozilla" {
		if strings.Contains(ua, "Electron/") {
			return "Electron"
		}
		return "browser"
	}
	if name == "" {
		return "(no product)"
	}
	if len(name) > maxFamilyLen {
		name = name[:maxFamilyLen]
	}
	b := []byte(name)
	for i, c := range b {
		if c < 0x21 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// Report is what Classify found, per family and in total.
type Report struct {
	Total    int            `json:"total"`
	Resolved int            `json:"resolved"`
	Unknown  int            `json:"unknown"`
	Families []FamilyReport `json:"families"`
}

// FamilyReport counts one family's user agents: how many the rules
// resolved to a platform (and to which platforms, by which rules), and
// how many stayed unknown, with a few distinct ones as examples.
type FamilyReport struct {
	Family    string         `json:"family"`
	Total     int            `json:"total"`
	Resolved  int            `json:"resolved"`
	Unknown   int            `json:"unknown"`
	Versioned int            `json:"with_version"`
	Platforms map[string]int `json:"platforms,omitempty"`
	Rules     map[string]int `json:"rules,omitempty"`
	Examples  []string       `json:"unknown_examples,omitempty"`
}

// Examples of unknown user agents kept per family, and their length.
const (
	maxExamples   = 3
	maxExampleLen = 200
)

// Classify runs the rules over a list of user agents (without the other
// headers of their requests, so rules that read the version from a header
// find none) and counts the outcome per family. A user agent is resolved
// when the rules give it a platform. Families come most unknown first,
// then largest, then by name.
func (r *Rules) Classify(uas []string) Report {
	byFamily := map[string]*FamilyReport{}
	var rep Report
	for _, ua := range uas {
		fam := r.Family(ua)
		fr := byFamily[fam]
		if fr == nil {
			fr = &FamilyReport{Family: fam}
			byFamily[fam] = fr
		}
		res := r.Match(ua, nil)
		fr.Total++
		rep.Total++
		if res.Facts.Platform == cordon.PlatformUnknown {
			fr.Unknown++
			rep.Unknown++
			if ex := example(ua); len(fr.Examples) < maxExamples && !slices.Contains(fr.Examples, ex) {
				fr.Examples = append(fr.Examples, ex)
			}
			continue
		}
		fr.Resolved++
		rep.Resolved++
		if res.Facts.Version != "" {
			fr.Versioned++
		}
		if fr.Platforms == nil {
			fr.Platforms, fr.Rules = map[string]int{}, map[string]int{}
		}
		fr.Platforms[res.Facts.Platform]++
		fr.Rules[res.Rule]++
	}
	rep.Families = make([]FamilyReport, 0, len(byFamily))
	for _, fr := range byFamily {
		rep.Families = append(rep.Families, *fr)
	}
	slices.SortFunc(rep.Families, func(a, b FamilyReport) int {
		return cmp.Or(cmp.Compare(b.Unknown, a.Unknown), cmp.Compare(b.Total, a.Total), strings.Compare(a.Family, b.Family))
	})
	return rep
}

// example shortens a user agent and replaces what is not printable ASCII,
// so an example is safe to show in a terminal.
func example(ua string) string {
	if len(ua) > maxExampleLen {
		ua = ua[:maxExampleLen] + "…"
	}
	var b strings.Builder
	for i := 0; i < len(ua); i++ {
		if c := ua[i]; c >= 0x20 && c <= 0x7e {
			b.WriteByte(c)
		} else if strings.HasPrefix(ua[i:], "…") && i == len(ua)-len("…") {
			b.WriteString("…")
			break
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}
