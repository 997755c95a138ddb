package campaigndoc

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// NoticeDoc is an in-app notice document as read by ParseNotice: the
// cohort (a campaign's, read by the same rules), the campaign it may
// explain and its texts by language. The texts' content is checked by
// package notice; ParseNotice checks only their shape.
type NoticeDoc struct {
	Campaign        string
	Cohort          cordon.Cohort
	DefaultLanguage string
	Texts           map[string]cordon.NoticeText
	// Email sends the notice by email too, once published.
	Email bool
}

// noticeSchema is the keys of a notice document's objects (texts maps
// language tags, each to an object checked on its own).
var noticeSchema = map[string][]string{
	"":       {"campaign", "cohort", "default_language", "texts", "email"},
	"cohort": schema["cohort"],
}

var textSchema = map[string][]string{"": {"title", "body"}}

type noticeDocument struct {
	Campaign        *string                    `json:"campaign"`
	Cohort          *docCohort                 `json:"cohort"`
	DefaultLanguage *string                    `json:"default_language"`
	Texts           map[string]json.RawMessage `json:"texts"`
	Email           *bool                      `json:"email"`
}

// MaxNoticeSize is the largest notice document ParseNotice reads: a
// campaign's cohort (MaxSize) and fifty languages of a 20 kB body.
const MaxNoticeSize = 2 << 20

// ParseNotice reads an in-app notice document in format JSON or YAML, as
// strictly as Parse reads a campaign: one object, no unknown, misspelt or
// repeated key, the cohort under the campaign rules.
func ParseNotice(data []byte, format string) (*NoticeDoc, error) {
	if len(data) > MaxNoticeSize {
		return nil, &cordon.Error{Code: cordon.ECodeTooLarge, Message: "the notice document is larger than 2 MiB"}
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
		return nil, cordon.Errorf(cordon.ECodeMediaType, "a notice document is JSON or YAML, not %q", format)
	}
	if err := checkStructure(data, noticeSchema); err != nil {
		return nil, err
	}
	var doc noticeDocument
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, decodeError(data, err, yamlInput)
	}
	out := &NoticeDoc{Texts: map[string]cordon.NoticeText{}}
	if doc.Email != nil {
		out.Email = *doc.Email
	}
	if doc.Campaign != nil {
		if len(*doc.Campaign) > maxCampaignIDLen || !campaignID.MatchString(*doc.Campaign) {
			return nil, refuse("campaign", "campaign %q is not a campaign id such as \"c-…\"", short(*doc.Campaign))
		}
		out.Campaign = *doc.Campaign
	}
	if doc.Cohort != nil {
		c, err := doc.Cohort.cohort()
		if err != nil {
			return nil, err
		}
		out.Cohort = c
	}
	if doc.DefaultLanguage == nil {
		return nil, invalid("default_language", "default_language is required: the language tag of the text shown when none of the reader's languages is written (e.g. \"en\")")
	}
	out.DefaultLanguage = *doc.DefaultLanguage
	if len(doc.Texts) == 0 {
		return nil, invalid("texts", "texts is required: the notice in at least one language, e.g. texts: {en: {title: ..., body: ...}}")
	}
	tags := make([]string, 0, len(doc.Texts))
	for tag := range doc.Texts {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		raw := doc.Texts[tag]
		if err := checkStructure(raw, textSchema); err != nil {
			if e, ok := err.(*cordon.Error); ok && e.Field != "" {
				e.Field = "texts." + short(tag) + "." + e.Field
			}
			return nil, err
		}
		var t struct {
			Title *string `json:"title"`
			Body  *string `json:"body"`
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&t); err != nil {
			return nil, decodeError(raw, err, yamlInput)
		}
		if t.Title == nil || t.Body == nil {
			return nil, invalid("texts."+short(tag), "each text has a title and a body")
		}
		out.Texts[tag] = cordon.NoticeText{Title: *t.Title, Body: *t.Body}
	}
	return out, nil
}
