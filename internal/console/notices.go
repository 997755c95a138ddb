package console

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/cordon-dev/cordon/internal/campaigndoc"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/notice"
	"github.com/cordon-dev/cordon/internal/notices"
)

// --- Notices ---

type noticeRow struct {
	*cordon.Notice
	Title    string
	Progress cordon.NoticeProgress
	Mail     *cordon.MailCounts
}

type noticesPage struct {
	Notices   []noticeRow
	Incidents []*incident.View
	Incident  string
	Doc       string
	// Problem and Field: a refused document, at the field it names.
	Problem, Field string
	// Preview is the pasted document as phones would show it, when the
	// form asked for a preview rather than a draft.
	Preview []phoneText
}

// phoneText is one language of a notice as the app shows it: the title
// as text and the body's Markdown rendered and sanitised by package
// notice, the same HTML the app is sent.
type phoneText struct {
	Tag, Title string
	Default    bool
	Body       template.HTML
}

const exampleNotice = `default_language: en
cohort:
  platforms: [ios, android]
texts:
  en:
    title: We signed you out to protect your account
    body: |
      A support tool's access token leaked on **14 March**.
      Sign in again; nothing else is needed.
  de:
    title: Wir haben Sie zum Schutz Ihres Kontos abgemeldet
    body: |
      Am **14. März** wurde ein Zugangsschlüssel eines Support-Werkzeugs bekannt.
      Melden Sie sich erneut an; mehr ist nicht nötig.
`

// maxListedNotices bounds the notices the page lists.
const maxListedNotices = 200

func (c *Console) noticeRows(ctx context.Context) ([]noticeRow, error) {
	list, err := c.cfg.Notices.List(ctx)
	if err != nil {
		return nil, err
	}
	if len(list) > maxListedNotices {
		list = list[:maxListedNotices]
	}
	var rows []noticeRow
	for _, n := range list {
		prog, mail, err := c.cfg.Notices.Reached(ctx, n)
		if err != nil {
			return nil, err
		}
		rows = append(rows, noticeRow{Notice: n, Title: n.Texts[n.DefaultLanguage].Title, Progress: prog, Mail: mail})
	}
	return rows, nil
}

func (c *Console) noticesPage(ctx context.Context, doc, incID string) (*noticesPage, error) {
	rows, err := c.noticeRows(ctx)
	if err != nil {
		return nil, err
	}
	incs, err := c.openIncidents(ctx)
	if err != nil {
		return nil, err
	}
	return &noticesPage{Notices: rows, Incidents: incs, Incident: incID, Doc: doc}, nil
}

func (c *Console) handleNotices(w http.ResponseWriter, r *http.Request) {
	p, err := c.noticesPage(r.Context(), exampleNotice, r.URL.Query().Get("incident"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "notices", nil, p)
}

// phone renders texts as the app would, the default language first.
func phone(def string, texts map[string]cordon.NoticeText) ([]phoneText, error) {
	tags := make([]string, 0, len(texts))
	for tag := range texts {
		tags = append(tags, tag)
	}
	slices.SortFunc(tags, func(a, b string) int {
		switch {
		case a == def:
			return -1
		case b == def:
			return 1
		}
		return strings.Compare(a, b)
	})
	var out []phoneText
	for _, tag := range tags {
		body, err := notice.HTML(texts[tag].Body)
		if err != nil {
			return nil, err
		}
		out = append(out, phoneText{Tag: tag, Title: texts[tag].Title, Default: tag == def, Body: body})
	}
	return out, nil
}

// handleCreateNotice stores the pasted document as a draft (linked to
// the incident chosen), or, for a preview, only checks and shows it.
func (c *Console) handleCreateNotice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, campaigndoc.MaxNoticeSize+4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read (a notice document is at most 2 MiB)", http.StatusBadRequest)
		return
	}
	a := admin(r)
	doc, incID := r.PostFormValue("document"), r.PostFormValue("incident")
	again := func(status int, problem, field string, preview []phoneText) {
		p, err := c.noticesPage(r.Context(), doc, incID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		p.Problem, p.Field, p.Preview = problem, field, preview
		c.page(w, r, status, "notices", nil, p)
	}
	refused := func(err error) bool {
		var ce *cordon.Error
		if errors.As(err, &ce) && statusOf(ce.Code) < 500 {
			again(statusOf(ce.Code), ce.Message, ce.Field, nil)
			return true
		}
		return false
	}
	if r.PostFormValue("preview") != "" {
		d, err := campaigndoc.ParseNotice([]byte(doc), campaigndoc.YAML)
		if err == nil {
			err = notices.CheckTexts(d.DefaultLanguage, d.Texts)
		}
		if refused(err) {
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		pv, err := phone(d.DefaultLanguage, d.Texts)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		again(http.StatusOK, "", "", pv)
		return
	}
	if incID != "" {
		if !cordon.RoleHasScope(a.Role, cordon.ScopeIncidents) {
			again(http.StatusForbidden, "your role cannot link notices to incidents", "incident", nil)
			return
		}
		if _, err := c.cfg.Incidents.Get(r.Context(), incID); err != nil {
			again(http.StatusUnprocessableEntity, "no such incident; pick one from the list", "incident", nil)
			return
		}
	}
	n, err := c.cfg.Notices.Create(r.Context(), c.actor(r), []byte(doc), campaigndoc.YAML, incID)
	if refused(err) {
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if incID != "" {
		if _, err := c.cfg.Incidents.Link(r.Context(), c.actor(r), incID, cordon.LinkNotice, n.ID); err != nil {
			c.fail(w, r, cordon.Errorf(cordon.ErrorCode(err), "notice %s was created as a draft but not linked to the incident: %s", n.ID, publicMessage(err)))
			return
		}
	}
	http.Redirect(w, r, Prefix+"/notices/"+n.ID, http.StatusSeeOther)
}

type noticePage struct {
	N       *notices.View
	Phone   []phoneText
	Problem string
}

func (c *Console) noticePage(ctx context.Context, id string) (*noticePage, error) {
	v, err := c.cfg.Notices.Show(ctx, id)
	if err != nil {
		return nil, err
	}
	pv, err := phone(v.DefaultLanguage, v.Texts)
	if err != nil {
		return nil, err
	}
	return &noticePage{N: v, Phone: pv}, nil
}

func (c *Console) handleNotice(w http.ResponseWriter, r *http.Request) {
	p, err := c.noticePage(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "notice", nil, p)
}

// handleNoticeMove publishes (confirmed by typing the notice's id: the
// page shows whom it reaches next to the box) or withdraws a notice.
func (c *Console) handleNoticeMove(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	again := func(status int, problem string) {
		p, err := c.noticePage(r.Context(), id)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		p.Problem = problem
		c.page(w, r, status, "notice", nil, p)
	}
	var err error
	switch action {
	case "publish":
		if r.PostFormValue("confirm") != id {
			again(http.StatusUnprocessableEntity, "Type the notice's id, "+id+", to confirm the publication.")
			return
		}
		_, err = c.cfg.Notices.Publish(r.Context(), c.actor(r), id)
	case "withdraw":
		_, err = c.cfg.Notices.Withdraw(r.Context(), c.actor(r), id)
	default:
		c.fail(w, r, cordon.Errorf(cordon.ECodeNotFound, "no notice action %q", clip(action, 40)))
		return
	}
	var ce *cordon.Error
	if errors.As(err, &ce) && ce.Code == cordon.ECodeConflict {
		again(http.StatusConflict, ce.Message)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/notices/"+id, http.StatusSeeOther)
}

// --- An incident's public page ---

type publicUpdate struct {
	cordon.PublicUpdate
	Phone []phoneText
}

type publicPageView struct {
	Incident *incident.View
	Slug     string
	Updates  []publicUpdate
	// Form is the statement's last input when it was refused.
	Form struct{ Slug, Language, Title, Body string }
	// Problem and Field: the refusal, at the form field it names.
	Problem, Field string
}

func (c *Console) publicPage(ctx context.Context, id string) (*publicPageView, error) {
	inc, err := c.cfg.Incidents.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &publicPageView{Incident: inc}
	p.Form.Language = "en"
	pg, err := c.cfg.Notices.PageOf(ctx, id)
	if cordon.ErrorCode(err) == cordon.ECodeNotFound {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	p.Slug, p.Form.Slug = pg.Slug, pg.Slug
	for _, u := range pg.Updates {
		pv, err := phone(u.DefaultLanguage, u.Texts)
		if err != nil {
			return nil, err
		}
		p.Updates = append(p.Updates, publicUpdate{PublicUpdate: u, Phone: pv})
	}
	return p, nil
}

func (c *Console) handlePublicPage(w http.ResponseWriter, r *http.Request) {
	p, err := c.publicPage(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "publicpage", nil, p)
}

// pageField is the form field a refused statement's field names.
func pageField(field string) string {
	switch {
	case field == "slug":
		return "slug"
	case strings.HasSuffix(field, ".title"):
		return "title"
	case strings.HasSuffix(field, ".body"):
		return "body"
	case field == "default_language" || strings.HasPrefix(field, "texts"):
		return "language"
	}
	return ""
}

// handlePublishPage publishes one statement, in one language, on the
// incident's public page (creating the page under the slug at the first).
func (c *Console) handlePublishPage(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	id := r.PathValue("id")
	slug, lang := strings.TrimSpace(r.PostFormValue("slug")), strings.TrimSpace(r.PostFormValue("language"))
	title, body := r.PostFormValue("title"), r.PostFormValue("body")
	u := notices.PageUpdate{Slug: slug, DefaultLanguage: lang, Texts: map[string]cordon.NoticeText{lang: {Title: title, Body: body}}}
	_, err := c.cfg.Notices.PublishPage(r.Context(), c.actor(r), id, u)
	var ce *cordon.Error
	if errors.As(err, &ce) && statusOf(ce.Code) < 500 && ce.Code != cordon.ECodeNotFound {
		p, perr := c.publicPage(r.Context(), id)
		if perr != nil {
			c.fail(w, r, perr)
			return
		}
		p.Form.Slug, p.Form.Language, p.Form.Title, p.Form.Body = slug, lang, title, body
		p.Problem, p.Field = ce.Message, pageField(ce.Field)
		c.page(w, r, statusOf(ce.Code), "publicpage", nil, p)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/incidents/"+id+"/page", http.StatusSeeOther)
}
