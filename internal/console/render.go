package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso":           func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"pct":           func(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" },
	"canTransition": canTransition,
	"list":          func(s ...string) []string { return s },
	"has":           func(list []string, s string) bool { return slices.Contains(list, s) },
	"alertList":     func(from string, as []*cordon.Alert) alertList { return alertList{From: from, Alerts: as} },
	"first":         func(n int, s []string) []string { return s[:min(n, len(s))] },
	"at": func(f *campaignForm, field string) bool {
		return f != nil && f.Problem != "" && strings.HasPrefix(f.Field, field)
	},
}

func itoa(n int) string { return strconv.Itoa(n) }

// layout is what every page's frame shows.
type layout struct {
	Admin *cordon.ConsoleAdmin
	Page  string
	Title string
	Data  any
	// Query is the request's query, for live streams that repeat it.
	Query string
	// Nav lists the sections the admin's role may open.
	Nav []navItem
}

// alertList is a list of alerts with the page its forms return to.
type alertList struct {
	From   string
	Alerts []*cordon.Alert
}

type navItem struct {
	Name, Href string
	Current    bool
}

type errorPage struct {
	Title, Message string
}

func (c *Console) nav(a *cordon.ConsoleAdmin, current string) []navItem {
	if a == nil {
		return nil
	}
	var out []navItem
	for _, n := range []struct{ name, href, scope string }{
		{"Incidents", Prefix + "/", cordon.ScopeIncidents},
		{"Alerts", Prefix + "/alerts", cordon.ScopeIncidents},
		{"Campaigns", Prefix + "/campaigns", cordon.ScopeCampaigns},
		{"Notices", Prefix + "/notices", cordon.ScopeNotices},
		{"Blast radius", Prefix + "/blast", cordon.ScopeAuditRead},
		{"Fleet", Prefix + "/fleet", cordon.ScopeCampaigns},
		{"Audit", Prefix + "/audit", cordon.ScopeAuditRead},
	} {
		if (n.name == "Alerts" && c.cfg.Alerts == nil) || (n.name == "Notices" && c.cfg.Notices == nil) {
			continue
		}
		if cordon.RoleHasScope(a.Role, n.scope) {
			out = append(out, navItem{Name: n.name, Href: n.href, Current: n.name == current})
		}
	}
	return out
}

var titles = map[string]string{"login": "Sign in", "incidents": "Incidents", "campaigns": "Campaigns", "campaign": "Campaigns",
	"blast": "Blast radius", "notices": "Notices", "notice": "Notices", "publicpage": "Incidents", "alerts": "Alerts", "fleet": "Fleet", "audit": "Audit", "error": ""}

// page renders a whole page into a buffer first, so a template error
// answers 500 rather than half a page.
func (c *Console) page(w http.ResponseWriter, r *http.Request, status int, name string, a *cordon.ConsoleAdmin, data any) {
	if a == nil {
		a = admin(r)
	}
	title := titles[name]
	if e, ok := data.(errorPage); ok {
		title = e.Title
	}
	var buf bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&buf, name+".html", layout{Admin: a, Page: name, Title: title, Data: data, Query: r.URL.RawQuery, Nav: c.nav(a, titles[name])}); err != nil {
		c.cfg.Log.Error("console: template", "page", name, "err", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fragment renders a template into HTML for a live stream.
func (c *Console) fragment(name string, data any) (template.HTML, error) {
	var buf bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil
}

// fail answers an error as a page: the message of a *cordon.Error (safe to
// show), else a generic one, the cause logged.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on the server; the log has the details."
	var ce *cordon.Error
	if errors.As(err, &ce) {
		status, msg = statusOf(ce.Code), ce.Message
		if ce.Field != "" {
			msg = fmt.Sprintf("%s: %s", ce.Field, ce.Message)
		}
	}
	if status >= 500 {
		c.cfg.Log.Error("console", "path", r.URL.Path, "err", err)
	}
	c.page(w, r, status, "error", nil, errorPage{Title: http.StatusText(status), Message: msg})
}

func statusOf(code string) int {
	switch code {
	case cordon.ECodeNotFound:
		return http.StatusNotFound
	case cordon.ECodeConflict:
		return http.StatusConflict
	case cordon.ECodeInvalid:
		return http.StatusBadRequest
	case cordon.ECodeUnprocessable:
		return http.StatusUnprocessableEntity
	case cordon.ECodeForbidden:
		return http.StatusForbidden
	case cordon.ECodeThrottled:
		return http.StatusTooManyRequests
	case cordon.ECodeOverloaded, cordon.ECodeStorageUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
