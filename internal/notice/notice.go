// Package notice holds what cordon tells people: a notice's text in several
// languages (BCP 47 tags, one of them the default), the choice of language
// for a reader (an Accept-Language header or an app's locale), and the
// rendering of the team's Markdown into HTML that can show nothing the team
// did not write — no raw HTML, no script, no link that runs code — for the
// in-app notice, the email and the public page (HTML, Atom, JSON).
//
// No I/O: storing, publishing and delivering are the callers'.
package notice

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"golang.org/x/text/language"
)

// Limits on a notice's text.
const (
	MaxTitle     = 200
	MaxBody      = 20_000
	MaxLanguages = 50
)

// Text is a notice in one language: a plain-text title and a Markdown body.
type Text struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Texts is a notice in every language it is written in, by BCP 47 tag.
type Texts struct {
	Default string          `json:"default_language"`
	ByTag   map[string]Text `json:"texts"`
}

// Problem is a refused notice text, naming the field.
type Problem struct {
	Field   string
	Message string
}

func (p *Problem) Error() string { return p.Field + ": " + p.Message }

// Validate checks every tag is a well-formed BCP 47 tag in its canonical
// form, the default is among them, and each text is within its limits,
// valid UTF-8, and has a title and a body.
func (t Texts) Validate() error {
	if len(t.ByTag) == 0 {
		return &Problem{"texts", "a notice needs its text in at least one language"}
	}
	if len(t.ByTag) > MaxLanguages {
		return &Problem{"texts", fmt.Sprintf("at most %d languages", MaxLanguages)}
	}
	for _, tag := range sortedTags(t.ByTag) {
		field := "texts." + tag
		parsed, err := language.Parse(tag)
		if err != nil {
			return &Problem{field, fmt.Sprintf("%q is not a BCP 47 language tag (en, de-CH, pt-BR…)", tag)}
		}
		if parsed.String() != tag {
			return &Problem{field, fmt.Sprintf("write the tag as %q", parsed.String())}
		}
		tx := t.ByTag[tag]
		switch {
		case strings.TrimSpace(tx.Title) == "":
			return &Problem{field + ".title", "a title is required"}
		case strings.TrimSpace(tx.Body) == "":
			return &Problem{field + ".body", "a body is required"}
		case len(tx.Title) > MaxTitle:
			return &Problem{field + ".title", fmt.Sprintf("at most %d bytes", MaxTitle)}
		case len(tx.Body) > MaxBody:
			return &Problem{field + ".body", fmt.Sprintf("at most %d bytes", MaxBody)}
		case !utf8.ValidString(tx.Title) || !utf8.ValidString(tx.Body):
			return &Problem{field, "not valid UTF-8"}
		case strings.ContainsAny(tx.Title, "\r\n\x00"):
			return &Problem{field + ".title", "a title is one line"}
		}
	}
	if _, ok := t.ByTag[t.Default]; !ok {
		return &Problem{"default_language", fmt.Sprintf("the default language %q has no text; it is one of %s", t.Default, strings.Join(sortedTags(t.ByTag), ", "))}
	}
	return nil
}

// Pick returns the text for a reader whose preferences are given as an
// Accept-Language header (or a single locale such as "de-AT"): the best
// match among the notice's languages, else the default. It never fails:
// a malformed preference gets the default.
func (t Texts) Pick(preference string) (string, Text) {
	tags := sortedTags(t.ByTag)
	if len(tags) == 0 {
		return "", Text{}
	}
	// The default first: the matcher falls back to the first supported.
	supported := []language.Tag{language.Make(t.Default)}
	names := []string{t.Default}
	for _, tag := range tags {
		if tag != t.Default {
			supported = append(supported, language.Make(tag))
			names = append(names, tag)
		}
	}
	want, _, err := language.ParseAcceptLanguage(preference)
	if err != nil || len(want) == 0 {
		return t.Default, t.ByTag[t.Default]
	}
	_, i, conf := language.NewMatcher(supported).Match(want...)
	if conf == language.No {
		return t.Default, t.ByTag[t.Default]
	}
	return names[i], t.ByTag[names[i]]
}

func sortedTags(m map[string]Text) []string {
	tags := make([]string, 0, len(m))
	for tag := range m {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	return tags
}

// markdown renders CommonMark with goldmark's defaults, which write raw
// HTML in the source as a comment rather than pass it through.
var markdown = goldmark.New()

// policy allows the text formatting Markdown produces and absolute links
// to http(s) and mailto only, opened without a referrer or follow;
// everything else is removed. A relative link is removed too: on a page
// served beside the API it would point into cordon itself. No image: a
// notice loads nothing (an image would tell its host who read it), and
// bluemonday's UGC policy, which allows them, kept an <img> whose source
// it had dropped (a fuzz input: invalid UTF-8 before "![]()").
var policy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowStandardURLs()
	p.AllowURLSchemes("https", "http", "mailto")
	p.AllowRelativeURLs(false)
	p.RequireParseableURLs(true)
	p.AllowAttrs("href").OnElements("a")
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(false)
	p.AllowElements("p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6")
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	return p
}()

// HTML renders a notice body from Markdown to sanitised HTML.
func HTML(body string) (template.HTML, error) {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(body), &b); err != nil {
		return "", fmt.Errorf("notice: rendering markdown: %w", err)
	}
	return template.HTML(policy.SanitizeBytes(b.Bytes())), nil //nolint:gosec // sanitised above
}
