// Package campaigndoc reads and writes the campaign document of SPEC.md,
// the JSON (or YAML) an operator posts to create a campaign.
//
// Parse is strict because a campaign blocks real users: an unknown or
// misspelt field, a duplicated key or a second document is refused rather
// than ignored, so a typo never widens or silently empties a cohort. Every
// refusal is a *cordon.Error: ECodeInvalid (400) when the document is
// malformed, ECodeUnprocessable (422) when a well-formed field holds a value
// cordon refuses, and ECodeTooLarge (413) past MaxSize. Field names the
// dotted path of the field at fault, e.g. "cohort.versions".
//
// Format writes a campaign back as the same document, so what `cordon
// campaign show` prints can be edited and posted again.
package campaigndoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// MaxSize is the largest document Parse reads, in bytes. A real campaign
// is a few hundred bytes; the limit leaves room for an explicit list of
// tens of thousands of users.
const MaxSize = 1 << 20

// Document formats accepted by Parse.
const (
	JSON = "json"
	YAML = "yaml"
)

// Parse reads a campaign document in format JSON or YAML and validates it.
// The campaign it returns is a draft with Kind, Name, Cohort, Ramp, Upgrade
// and Message set; the caller gives it an id and times, and resolves
// Cohort.Users and Cohort.UsersFromReport to account ids.
//
// Times are returned in UTC. Cohort.Users keeps the order of the document
// with duplicates removed.
func Parse(data []byte, format string) (*cordon.Campaign, error) {
	if len(data) > MaxSize {
		return nil, &cordon.Error{Code: cordon.ECodeTooLarge,
			Message: "the campaign document is larger than 1 MiB"}
	}
	yamlInput := false
	switch format {
	case JSON:
	case YAML:
		yamlInput = true
		var err error
		if data, err = yamlToJSON(data); err != nil {
			return nil, err
		}
	default:
		return nil, cordon.Errorf(cordon.ECodeMediaType, "a campaign document is JSON or YAML, not %q", format)
	}
	doc, err := decode(data, yamlInput)
	if err != nil {
		return nil, err
	}
	c, err := doc.campaign()
	if err != nil {
		return nil, err
	}
	// The canonical form of a document can be longer than its input (YAML
	// is terser than JSON, and Format indents). Refusing here what could
	// not be posted again keeps every stored campaign re-creatable from
	// what `campaign show` prints.
	if b, err := marshal(c, false); err != nil || len(b) > MaxSize {
		return nil, &cordon.Error{Code: cordon.ECodeTooLarge,
			Message: "the campaign document is larger than 1 MiB once written out as JSON"}
	}
	return c, nil
}

// Format returns c as an indented JSON campaign document that Parse reads
// back to the same campaign. Durations are Go duration strings ("72h"),
// times RFC 3339 in UTC. Ids, state and the times of the lifecycle are not
// part of the document and are left out.
func Format(c *cordon.Campaign) ([]byte, error) {
	if c == nil {
		return nil, errors.New("campaigndoc: format a nil campaign")
	}
	b, err := marshal(c, true)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		// Indentation alone can push a long user list past the limit;
		// the compact form always fits what Parse accepted.
		return marshal(c, false)
	}
	return b, nil
}

// wireCohort, wireRamp and wireUpgrade are the document as Format writes
// it: cordon.Campaign carries a time.Duration, which encoding/json would
// write as nanoseconds.
type wireDoc struct {
	Kind    string       `json:"kind"`
	Name    string       `json:"name"`
	Cohort  wireCohort   `json:"cohort"`
	Ramp    *wireRamp    `json:"ramp,omitempty"`
	Upgrade *wireUpgrade `json:"upgrade,omitempty"`
	Message string       `json:"message,omitempty"`
	After   *wireAfter   `json:"after,omitempty"`
	Verify  string       `json:"verify,omitempty"`
}

type wireAfter struct {
	Campaign  string `json:"campaign"`
	Satisfied bool   `json:"satisfied"`
	Per       string `json:"per"`
}

type wireCohort struct {
	Platforms           []string         `json:"platforms,omitempty"`
	Versions            string           `json:"versions,omitempty"`
	Sources             []string         `json:"sources,omitempty"`
	AuthenticatedBefore string           `json:"authenticated_before,omitempty"`
	Users               []string         `json:"users,omitempty"`
	UsersFromReport     string           `json:"users_from_report,omitempty"`
	Subjects            []cordon.Subject `json:"subjects,omitempty"`
}

type wireRamp struct {
	Start             string               `json:"start"`
	Duration          string               `json:"duration,omitempty"`
	Mode              string               `json:"mode,omitempty"`
	MaxDuration       string               `json:"max_duration,omitempty"`
	TargetUtilisation float64              `json:"target_utilisation,omitempty"`
	Priority          *cordon.RampPriority `json:"priority,omitempty"`
}

type wireUpgrade struct {
	MinVersion string            `json:"min_version"`
	Mode       string            `json:"mode"`
	URLs       map[string]string `json:"urls"`
}

func marshal(c *cordon.Campaign, indent bool) ([]byte, error) {
	d := wireDoc{
		Kind: string(c.Kind),
		Name: c.Name,
		Cohort: wireCohort{
			Platforms:       c.Cohort.Platforms,
			Versions:        c.Cohort.Versions,
			Sources:         c.Cohort.Sources,
			Users:           c.Cohort.Users,
			UsersFromReport: c.Cohort.UsersFromReport,
			Subjects:        c.Cohort.Subjects,
		},
		Message: c.Message,
		Verify:  c.Verify,
	}
	if t := c.Cohort.AuthenticatedBefore; t != nil {
		d.Cohort.AuthenticatedBefore = formatTime(*t)
	}
	if r := c.Ramp; r != nil {
		d.Ramp = &wireRamp{Start: formatTime(r.Start), Duration: cordon.FormatDuration(r.Duration)}
		if r.Auto() {
			d.Ramp = &wireRamp{Start: formatTime(r.Start), Mode: cordon.RampAuto, MaxDuration: cordon.FormatDuration(r.Duration), TargetUtilisation: r.TargetUtilisation}
		}
		d.Ramp.Priority = r.Priority
	}
	if a := c.After; a != nil {
		d.After = &wireAfter{Campaign: a.Campaign, Satisfied: a.Satisfied, Per: a.Per}
	}
	if u := c.Upgrade; u != nil {
		d.Upgrade = &wireUpgrade{MinVersion: u.MinVersion, Mode: u.Mode, URLs: u.URLs}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Constraints such as "< 8.5.0" and URLs with "&" should read as the
	// operator wrote them, not as \u003c and \u0026.
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}
