package notice

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/gorilla/feeds"
)

// Update is one published statement of a public page.
type Update struct {
	ID    string    `json:"id"`
	At    time.Time `json:"published_at"`
	Texts Texts     `json:"-"`
}

// Page is an incident's public page: its updates, newest first. Only what
// was published is in it; the caller never passes a draft.
type Page struct {
	// URL is where the page is served, absolute (the feed's links).
	URL     string
	Updates []Update
}

// rendered is a page's updates in the reader's language.
type rendered struct {
	Lang    string
	Title   string
	Updated time.Time
	Items   []renderedUpdate
}

type renderedUpdate struct {
	ID    string
	At    time.Time
	Lang  string
	Title string
	Body  template.HTML
	Text  string
}

func (p Page) render(preference string) (rendered, error) {
	var r rendered
	for i, u := range p.Updates {
		tag, tx := u.Texts.Pick(preference)
		body, err := HTML(tx.Body)
		if err != nil {
			return r, err
		}
		if i == 0 {
			r.Lang, r.Title, r.Updated = tag, tx.Title, u.At
		}
		r.Items = append(r.Items, renderedUpdate{ID: u.ID, At: u.At.UTC(), Lang: tag, Title: tx.Title, Body: body, Text: tx.Body})
	}
	return r, nil
}

// pageTemplate reads well on a phone and in dark mode, loads nothing from
// elsewhere and runs no script, so PageCSP can forbid everything but its
// one inline style, allowed by hash.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + pageCSS + `</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="updated">Last updated <time datetime="{{.Updated.Format "2006-01-02T15:04:05Z07:00"}}">{{.Updated.Format "2 January 2006, 15:04 MST"}}</time></p>
{{range .Items}}<article id="{{.ID}}" lang="{{.Lang}}">
<h2>{{.Title}}</h2>
<p class="when"><time datetime="{{.At.Format "2006-01-02T15:04:05Z07:00"}}">{{.At.Format "2 January 2006, 15:04 MST"}}</time></p>
{{.Body}}
</article>
{{end}}</main>
</body>
</html>
`))

// pageCSS is the page's only style, inline.
const pageCSS = `:root{color-scheme:light dark}body{font:1.05rem/1.6 system-ui,sans-serif;margin:0;padding:1rem}main{max-width:40rem;margin:auto}h1{font-size:1.6rem;line-height:1.25}article{border-top:1px solid #8884;padding-top:.5rem;margin-top:1.5rem}.updated,.when{color:#777;font-size:.9rem}a{color:#36c}@media (prefers-color-scheme:dark){a{color:#8af}}`

// PageCSP is the Content-Security-Policy to serve the page with: nothing
// but its own inline style (by hash), no script, no frames, no forms.
var PageCSP = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

// HTMLPage writes the page in the reader's language.
func (p Page) HTMLPage(w io.Writer, preference string) error {
	if len(p.Updates) == 0 {
		return fmt.Errorf("notice: a public page needs a published update")
	}
	r, err := p.render(preference)
	if err != nil {
		return err
	}
	return pageTemplate.Execute(w, r)
}

// Atom returns the page's updates as an Atom feed (RFC 4287).
func (p Page) Atom(preference string) ([]byte, error) {
	if len(p.Updates) == 0 {
		return nil, fmt.Errorf("notice: a public page needs a published update")
	}
	r, err := p.render(preference)
	if err != nil {
		return nil, err
	}
	f := &feeds.Feed{Title: r.Title, Link: &feeds.Link{Href: p.URL}, Id: p.URL, Updated: r.Updated, Created: r.Items[len(r.Items)-1].At}
	for _, it := range r.Items {
		f.Items = append(f.Items, &feeds.Item{Id: p.URL + "#" + it.ID, Title: it.Title, Link: &feeds.Link{Href: p.URL + "#" + it.ID},
			Created: it.At, Updated: it.At, Content: string(it.Body)})
	}
	s, err := f.ToAtom()
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// JSON returns the page's updates in the reader's language, Markdown and
// sanitised HTML both, for apps that show the page themselves.
func (p Page) JSON(preference string) ([]byte, error) {
	r, err := p.render(preference)
	if err != nil {
		return nil, err
	}
	type item struct {
		ID       string    `json:"id"`
		At       time.Time `json:"published_at"`
		Language string    `json:"language"`
		Title    string    `json:"title"`
		Markdown string    `json:"markdown"`
		HTML     string    `json:"html"`
	}
	out := struct {
		URL     string `json:"url"`
		Updates []item `json:"updates"`
	}{URL: p.URL, Updates: []item{}}
	for _, it := range r.Items {
		out.Updates = append(out.Updates, item{it.ID, it.At, it.Lang, it.Title, it.Text, string(it.Body)})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
