// Package console is the web console people run an incident from, served
// by cordon serve at /console: server-rendered pages (html/template) with
// their assets embedded, sign-in with a password and a TOTP code, sessions
// kept in the store, CSRF refused by the standard library's
// cross-origin protection, a Content-Security-Policy that allows only the
// server's own script and stylesheet, and every action recorded in the
// audit log under the person's name. Pages read without JavaScript; the
// live parts (progress, fleet) are refreshed from the server's own event
// stream by one small embedded script.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/notices"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/throttle"
)

//go:embed static templates
var files embed.FS

// Prefix is where the console is served.
const Prefix = "/console"

// CSP is the console's Content-Security-Policy: nothing but the server's
// own script, stylesheet and images; no inline script or style, no
// framing, forms post only to the server.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// CookieName is the session cookie. The __Host- prefix makes browsers
// accept it only with Secure, Path=/ and no Domain: no subdomain can set
// or shadow it.
const CookieName = "__Host-cordon-console"

// Config is what the console uses.
type Config struct {
	Store     cordon.Store
	Campaigns *campaign.Service
	Incidents *incident.Service
	Audit     *auditlog.Service
	// Notices runs in-app notices and incidents' public pages; nil: the
	// console has no Notices page.
	Notices *notices.Service
	// Alerts lists, acknowledges and escalates detection's alerts; nil:
	// no Alerts page and none in the incident room.
	Alerts *alert.Service
	Hasher *password.Hasher
	Clock  clock.Clock
	Log    *slog.Logger
	// Throttle delays failed sign-ins per name and per address.
	Throttle *throttle.Throttle
	// FourEyes makes a campaign's activation need a second admin's
	// approval.
	FourEyes bool
	// SessionTTL is how long a sign-in lasts (8 hours when zero).
	SessionTTL time.Duration
	// Closing ends when the server shuts down; it ends event streams.
	Closing context.Context
	// ClientAddr is the client's address for throttling and the audit
	// record (httpapi.TrustedProxies.Addr); the peer's when nil.
	ClientAddr func(*http.Request) string
	// LiveEvery is how often a live stream re-renders (2 s when zero).
	LiveEvery time.Duration
}

// Console serves the console. Make one with New.
type Console struct {
	cfg     Config
	tmpl    *template.Template
	handler http.Handler

	mu        sync.Mutex
	approvals map[string]approval // campaign id → activation awaiting a second admin
	job       verifyJob
}

type approval struct {
	By string
	At time.Time
}

// New returns the console.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil || cfg.Campaigns == nil || cfg.Incidents == nil || cfg.Audit == nil || cfg.Hasher == nil {
		return nil, errors.New("console: store, campaigns, incidents, audit and hasher are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Throttle == nil {
		cfg.Throttle = throttle.New(throttle.DefaultConfig(), cfg.Clock)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.Closing == nil {
		cfg.Closing = context.Background()
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = peerAddr
	}
	if cfg.LiveEvery <= 0 {
		cfg.LiveEvery = 2 * time.Second
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, tmpl: tmpl, approvals: map[string]approval{}}
	static, _ := fs.Sub(files, "static")
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", staticFiles(static)))
	mux.HandleFunc("GET "+Prefix+"/login", c.handleLoginForm)
	mux.HandleFunc("POST "+Prefix+"/login", c.handleLogin)
	mux.HandleFunc("POST "+Prefix+"/logout", c.signedIn("", c.handleLogout))
	mux.HandleFunc("GET "+Prefix+"/{$}", c.signedIn(cordon.ScopeIncidents, c.handleIncidents))
	mux.HandleFunc("POST "+Prefix+"/incidents", c.signedIn(cordon.ScopeIncidents, c.handleOpenIncident))
	mux.HandleFunc("POST "+Prefix+"/incidents/{id}/state", c.signedIn(cordon.ScopeIncidents, c.handleIncidentState))
	mux.HandleFunc("POST "+Prefix+"/incidents/{id}/notes", c.signedIn(cordon.ScopeIncidents, c.handleIncidentNote))
	mux.HandleFunc("GET "+Prefix+"/incidents/{id}/summary.md", c.signedIn(cordon.ScopeIncidents, c.handleSummary))
	mux.HandleFunc("GET "+Prefix+"/live/incidents", c.signedIn(cordon.ScopeIncidents, c.live(c.incidentsLive)))
	mux.HandleFunc("GET "+Prefix+"/campaigns", c.signedIn(cordon.ScopeCampaigns, c.handleCampaigns))
	mux.HandleFunc("POST "+Prefix+"/campaigns", c.signedIn(cordon.ScopeCampaigns, c.handleCreateCampaign))
	mux.HandleFunc("POST "+Prefix+"/campaigns/form", c.signedIn(cordon.ScopeCampaigns, c.handleCampaignForm))
	mux.HandleFunc("GET "+Prefix+"/campaigns/{id}", c.signedIn(cordon.ScopeCampaigns, c.handleCampaign))
	mux.HandleFunc("GET "+Prefix+"/live/campaigns/{id}", c.signedIn(cordon.ScopeCampaigns, c.live(c.campaignLive)))
	mux.HandleFunc("POST "+Prefix+"/campaigns/{id}/{action}", c.signedIn(cordon.ScopeCampaigns, c.handleTransition))
	if cfg.Notices != nil {
		mux.HandleFunc("GET "+Prefix+"/notices", c.signedIn(cordon.ScopeNotices, c.handleNotices))
		mux.HandleFunc("POST "+Prefix+"/notices", c.signedIn(cordon.ScopeNotices, c.handleCreateNotice))
		mux.HandleFunc("GET "+Prefix+"/notices/{id}", c.signedIn(cordon.ScopeNotices, c.handleNotice))
		mux.HandleFunc("POST "+Prefix+"/notices/{id}/{action}", c.signedIn(cordon.ScopeNotices, c.handleNoticeMove))
		mux.HandleFunc("GET "+Prefix+"/incidents/{id}/page", c.signedIn(cordon.ScopeIncidents, c.handlePublicPage))
		mux.HandleFunc("POST "+Prefix+"/incidents/{id}/page", c.signedIn(cordon.ScopeIncidents, c.handlePublishPage))
	}
	if cfg.Alerts != nil {
		mux.HandleFunc("GET "+Prefix+"/alerts", c.signedIn(cordon.ScopeIncidents, c.handleAlerts))
		mux.HandleFunc("POST "+Prefix+"/alerts/{id}/ack", c.signedIn(cordon.ScopeIncidents, c.handleAckAlert))
		mux.HandleFunc("POST "+Prefix+"/alerts/{id}/escalate", c.signedIn(cordon.ScopeIncidents, c.handleEscalateAlert))
	}
	mux.HandleFunc("GET "+Prefix+"/blast", c.signedIn(cordon.ScopeAuditRead, c.handleBlast))
	mux.HandleFunc("GET "+Prefix+"/blast.csv", c.signedIn(cordon.ScopeAuditRead, c.handleBlastCSV))
	mux.HandleFunc("POST "+Prefix+"/blast/cohort", c.signedIn(cordon.ScopeAuditRead, c.handleSaveCohort))
	mux.HandleFunc("GET "+Prefix+"/fleet", c.signedIn(cordon.ScopeCampaigns, c.handleFleet))
	mux.HandleFunc("GET "+Prefix+"/live/fleet", c.signedIn(cordon.ScopeCampaigns, c.live(c.fleetLive)))
	mux.HandleFunc("GET "+Prefix+"/audit", c.signedIn(cordon.ScopeAuditRead, c.handleAudit))
	mux.HandleFunc("POST "+Prefix+"/audit/verify", c.signedIn(cordon.ScopeAuditRead, c.handleVerify))
	mux.HandleFunc("GET "+Prefix+"/live/audit", c.signedIn(cordon.ScopeAuditRead, c.live(c.auditLive)))
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		c.page(w, r, http.StatusNotFound, "error", nil, errorPage{Title: "Not found", Message: "There is no such page in the console."})
	})
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
	})
	// CSRF: a state-changing request from another origin (Sec-Fetch-Site
	// or Origin says so) is refused before any handler runs; the cookie is
	// SameSite=Strict besides.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.cfg.Log.Warn("console: cross-origin request refused", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		c.page(w, r, http.StatusForbidden, "error", nil, errorPage{Title: "Refused", Message: "This request came from another site and was refused. Use the console's own pages."})
	}))
	c.handler = cop.Handler(mux)
	return c, nil
}

// ServeHTTP sets the security headers on every answer and serves.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.handler.ServeHTTP(w, r)
}

func staticFiles(fsys fs.FS) http.Handler {
	fileServer := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		fileServer.ServeHTTP(w, r)
	})
}

// peerAddr is the peer's address.
func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Principal is the audit principal of a console admin: people are named
// apart from admin tokens ("cordon:admin/NAME").
func Principal(name string) string { return auditlog.ObjectPrefix + "console/" + name }

// entry is the audit record of a console admin's action.
func (c *Console) entry(r *http.Request, who *cordon.ConsoleAdmin, action, subject, purpose string, categories ...string) (*cordon.AuditEntry, error) {
	now := c.cfg.Clock.Now()
	return c.cfg.Audit.Entry(audit.Event{Time: now, Principal: clip(Principal(who.Name), audit.MaxPrincipal), Action: action,
		Subject: clip(subject, audit.MaxSubject), Categories: categories, Purpose: clip(purpose+" (console)", audit.MaxPurpose),
		Source: clip(c.cfg.ClientAddr(r), audit.MaxSource)}, now, -1)
}

// change makes a console admin's change through write and commits its
// audit record in the change's own transaction (cordon.Audited): both
// are kept or neither, and a write that returned without having carried
// the record is an error, not a silent loss.
func change[T any](c *Console, r *http.Request, who *cordon.ConsoleAdmin, write func(context.Context) (T, error), action, subject, purpose string, categories ...string) (T, error) {
	e, err := c.entry(r, who, action, subject, purpose, categories...)
	if err != nil {
		var zero T
		return zero, err
	}
	return cordon.Audited(r.Context(), e, write)
}

// record appends the action to the audit log on its own.
func (c *Console) record(r *http.Request, who *cordon.ConsoleAdmin, action, subject, purpose string, categories ...string) error {
	e, err := c.entry(r, who, action, subject, purpose, categories...)
	if err != nil {
		return err
	}
	return c.cfg.Audit.Record(r.Context(), []*cordon.AuditEntry{e})
}

// clip makes s printable and at most n bytes: an odd name must not stop
// the record of what was done.
func clip(s string, n int) string { return cordon.Printable(s, n) }
