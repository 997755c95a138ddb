// Package httpapi serves cordon over HTTP: the client API (/v1, /oauth2),
// the admin API (/admin/v1), JWKS, health and metrics. It translates
// between the wire contract of SPEC.md and the authn service; it holds no
// rules of its own beyond input validation.
package httpapi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"github.com/cordon-dev/cordon/internal/admintokens"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/notices"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/ssf"
	"github.com/cordon-dev/cordon/internal/uafacts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the HTTP face of cordon.
type Server struct {
	authn     *authn.Service
	campaigns *campaign.Service
	audit     *auditlog.Service
	incidents *incident.Service
	notices   *notices.Service
	alerts    *alert.Service
	tokens    *admintokens.Service
	feed      http.Handler
	console   http.Handler
	closing   context.Context
	store     cordon.Store
	hasher    *password.Hasher
	log       *slog.Logger
	clock     clock.Clock
	reg       *prometheus.Registry
	proxies   TrustedProxies
	handler   http.Handler
	// userAgents infers client facts for requests without Cordon-Client.
	userAgents *uafacts.Rules
	// accessSample logs one in accessSample answers below 400 (every one
	// at 0 or 1); accessSeen counts them.
	accessSample uint64
	accessSeen   atomic.Uint64
	// gateBudget bounds the reports each gate token sends a second.
	gateBudget reportBudget
	// ssf is the Shared Signals transmitter; nil leaves /ssf out.
	ssf *ssf.Transmitter

	// patterns are the routes registered, in order (see router).
	patterns []string
	// openapi is the embedded OpenAPI description as JSON.
	openapi    []byte
	openapiErr error

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	refresh  *prometheus.CounterVec
}

// Deps are what a Server is built from.
type Deps struct {
	Authn *authn.Service
	// Campaigns runs campaigns; nil leaves the campaign API out.
	Campaigns *campaign.Service
	// Audit is the data-access audit log; nil leaves the audit API out and
	// admin actions unrecorded.
	Audit *auditlog.Service
	// Incidents runs the incident record; nil leaves the incident API out.
	Incidents *incident.Service
	// Notices runs in-app notices and public pages; nil leaves them out.
	Notices *notices.Service
	// Alerts keeps what detection raises; nil leaves the alert API out.
	Alerts *alert.Service
	// Feed serves the policy feed to enforcement points (scope gate).
	Feed http.Handler
	// Closing ends when the server shuts down; it ends feed streams, which
	// would otherwise hold a graceful shutdown for its whole timeout.
	Closing context.Context
	Store   cordon.Store
	Hasher  *password.Hasher
	Log     *slog.Logger
	Clock   clock.Clock
	// Registry receives the server's metrics; /metrics serves it.
	Registry *prometheus.Registry
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (for throttling and logs); none by default.
	TrustedProxies TrustedProxies
	// UserAgents infers client facts from the User-Agent of requests that
	// send no Cordon-Client header; nil leaves them unknown.
	UserAgents *uafacts.Rules
	// AccessLogSample logs one access line in this many answers below
	// 400; 0 or 1 logs every one. Answers of 400 and above are always
	// logged (their level permitting).
	AccessLogSample int
	// Console is the web console, served at /console; nil leaves it out.
	Console http.Handler
	// SSF is the OpenID Shared Signals transmitter; nil leaves
	// /.well-known/ssf-configuration and /ssf/* out.
	SSF *ssf.Transmitter
}

// New builds the server and its routes.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Closing == nil {
		d.Closing = context.Background()
	}
	s := &Server{authn: d.Authn, campaigns: d.Campaigns, audit: d.Audit, incidents: d.Incidents, notices: d.Notices, alerts: d.Alerts, feed: d.Feed, closing: d.Closing, store: d.Store, hasher: d.Hasher, log: d.Log, clock: d.Clock, reg: d.Registry, proxies: d.TrustedProxies, userAgents: d.UserAgents, ssf: d.SSF, console: d.Console,
		tokens: admintokens.New(d.Store, d.Clock)}
	if d.AccessLogSample > 1 {
		s.accessSample = uint64(d.AccessLogSample)
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cordon_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cordon_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"})
	s.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cordon_logins_total", Help: "Password logins by outcome (ok or the error code)."}, []string{"outcome"})
	s.refresh = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cordon_refreshes_total", Help: "Refresh-token exchanges by outcome (ok or the reason)."}, []string{"outcome"})
	d.Registry.MustRegister(s.requests, s.latency, s.logins, s.refresh,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.Campaigns != nil {
		d.Registry.MustRegister(d.Campaigns.Collector())
	}
	if d.Hasher != nil {
		d.Registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_password_hashes_in_flight", Help: "Password hashes computing now."}, func() float64 { return float64(d.Hasher.InFlight()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_password_hashes_waiting", Help: "Password hashes queued for a slot."}, func() float64 { return float64(d.Hasher.Waiting()) }),
			newVerifications(d.Hasher),
		)
	}
	if s.openapi, s.openapiErr = openapiJSON(); s.openapiErr != nil {
		d.Log.Error("the embedded OpenAPI description does not convert to JSON", "err", s.openapiErr)
	}
	mux := &router{ServeMux: http.NewServeMux()}
	s.routes(mux)
	s.patterns = mux.patterns
	s.handler = s.middleware(mux.ServeMux)
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes(mux *router) {
	// Client API.
	mux.HandleFunc("POST /v1/login", s.handleLogin)
	mux.HandleFunc("POST /oauth2/token", s.handleToken)
	mux.HandleFunc("GET /v1/session", s.withUser(s.handleSession))
	mux.HandleFunc("GET /v1/sessions", s.withUser(s.handleSessions))
	mux.HandleFunc("DELETE /v1/sessions/{id}", s.withUser(s.handleRevokeOwn))
	mux.HandleFunc("POST /v1/logout", s.withUser(s.handleLogout))
	mux.HandleFunc("POST /v1/password", s.withUser(s.handlePassword))
	mux.HandleFunc("POST /v1/password/reset", s.handleReset)
	mux.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
	mux.HandleFunc("POST /v1/decide", s.handleDecide)
	mux.HandleFunc("POST /v1/offline/grants", s.withUser(s.handleIssueGrant))
	mux.HandleFunc("POST /v1/offline/grants/check", s.handleCheckGrant)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.handleMetadata)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.handleMetadata)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/{path...}", s.handleMetadata)
	mux.HandleFunc("POST /oauth2/revoke", s.handleRevoke)
	mux.HandleFunc("POST /oauth2/introspect", s.withIntrospector(s.handleIntrospect))

	// Admin API.
	mux.HandleFunc("POST /admin/v1/accounts", s.withAdmin(cordon.ScopeAccounts, s.handleCreateAccount))
	mux.HandleFunc("POST /admin/v1/accounts/import", s.withAdmin(cordon.ScopeAccounts, s.handleImport))
	mux.HandleFunc("GET /admin/v1/accounts/{ref}", s.withAdmin(cordon.ScopeAccounts, s.handleGetAccount))
	mux.HandleFunc("GET /admin/v1/accounts/{ref}/sessions", s.withAdmin(cordon.ScopeSessions, s.handleAdminSessions))
	mux.HandleFunc("DELETE /admin/v1/accounts/{ref}/sessions", s.withAdmin(cordon.ScopeSessions, s.handleAdminRevokeAll))
	mux.HandleFunc("DELETE /admin/v1/sessions/{id}", s.withAdmin(cordon.ScopeSessions, s.handleAdminRevoke))
	mux.HandleFunc("POST /admin/v1/keys/rotate", s.withAdmin(cordon.ScopeKeys, s.handleRotateKeys))
	mux.HandleFunc("POST /admin/v1/tokens", s.withAdmin(cordon.ScopeTokens, s.handleCreateToken))
	mux.HandleFunc("GET /admin/v1/tokens", s.withAdmin(cordon.ScopeTokens, s.handleListTokens))
	mux.HandleFunc("GET /admin/v1/tokens/{ref}", s.withAdmin(cordon.ScopeTokens, s.handleGetToken))
	mux.HandleFunc("POST /admin/v1/tokens/{ref}/revoke", s.withAdmin(cordon.ScopeTokens, s.handleRevokeToken))
	mux.HandleFunc("POST /admin/v1/tokens/{ref}/rotate", s.withAdmin(cordon.ScopeTokens, s.handleRotateToken))
	mux.HandleFunc("POST /admin/v1/tokens/{ref}/expiry", s.withAdmin(cordon.ScopeTokens, s.handleTokenExpiry))
	mux.HandleFunc("GET /admin/v1/accounts", s.withAdmin(cordon.ScopeAccounts, s.handleListAccounts))
	mux.HandleFunc("POST /admin/v1/accounts/{ref}/lock", s.withAdmin(cordon.ScopeAccounts, s.handleLockAccount))
	mux.HandleFunc("POST /admin/v1/accounts/{ref}/unlock", s.withAdmin(cordon.ScopeAccounts, s.handleUnlockAccount))
	mux.HandleFunc("PUT /admin/v1/accounts/{ref}/email", s.withAdmin(cordon.ScopeAccounts, s.handleSetEmail))
	mux.HandleFunc("DELETE /admin/v1/accounts/{ref}", s.withAdmin(cordon.ScopeAccounts, s.handleDeleteAccount))
	mux.HandleFunc("POST /admin/v1/console/admins", s.withAdmin(cordon.ScopeTokens, s.handleCreateConsoleAdmin))
	mux.HandleFunc("GET /admin/v1/console/admins", s.withAdmin(cordon.ScopeTokens, s.handleListConsoleAdmins))
	mux.HandleFunc("DELETE /admin/v1/console/admins/{name}", s.withAdmin(cordon.ScopeTokens, s.handleDeleteConsoleAdmin))
	mux.HandleFunc("POST /admin/v1/ua/classify", s.withAdmin(cordon.ScopeCampaigns, s.handleClassifyUA))
	if s.feed != nil {
		mux.HandleFunc("GET /v1/gate/feed", s.withAdmin(cordon.ScopeGate, func(w http.ResponseWriter, r *http.Request) {
			// A feed is a stream that lives for hours: lift the server's
			// write timeout for it alone.
			http.NewResponseController(w).SetWriteDeadline(time.Time{})
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			defer context.AfterFunc(s.closing, cancel)()
			// A revoked or expired gate token loses its stream too.
			if at, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken); at != nil {
				go s.watchToken(ctx, cancel, at.ID)
			}
			s.feed.ServeHTTP(w, r.WithContext(ctx))
		}))
	}
	if s.campaigns != nil {
		mux.HandleFunc("POST /admin/v1/campaigns", s.withAdmin(cordon.ScopeCampaigns, s.handleCreateCampaign))
		mux.HandleFunc("GET /admin/v1/campaigns", s.withAdmin(cordon.ScopeCampaigns, s.handleListCampaigns))
		mux.HandleFunc("GET /admin/v1/campaigns/{id}", s.withAdmin(cordon.ScopeCampaigns, s.handleGetCampaign))
		mux.HandleFunc("GET /admin/v1/campaigns/{id}/preview", s.withAdmin(cordon.ScopeCampaigns, s.handlePreview))
		mux.HandleFunc("GET /admin/v1/campaigns/{id}/trail", s.withAdmin(cordon.ScopeCampaigns, s.handleTrail))
		mux.HandleFunc("GET /admin/v1/campaigns/{id}/admission", s.withAdmin(cordon.ScopeCampaigns, s.handleAdmission))
		mux.HandleFunc("GET /admin/v1/campaigns/{id}/progress", s.withAdmin(cordon.ScopeCampaigns, s.handleProgress))
		mux.HandleFunc("GET /admin/v1/campaigns/{id}/progress/series", s.withAdmin(cordon.ScopeCampaigns, s.handleProgressSeries))
		mux.HandleFunc("POST /v1/gate/reports", s.withAdmin(cordon.ScopeGate, s.handleGateReports))
		mux.HandleFunc("POST /admin/v1/campaigns/{id}/{action}", s.withAdmin(cordon.ScopeCampaigns, s.handleTransition))
	}

	// Operations.
	if s.audit != nil {
		mux.HandleFunc("POST /audit/v1/events", s.withAdmin(cordon.ScopeAuditWrite, s.handleIngest))
		mux.HandleFunc("GET /audit/v1/checkpoints", s.withAdmin(cordon.ScopeAuditRead, s.handleCheckpoints))
		mux.HandleFunc("GET /audit/v1/entries", s.withAdmin(cordon.ScopeAuditRead, s.handleEntries))
		mux.HandleFunc("GET /audit/v1/proof/inclusion", s.withAdmin(cordon.ScopeAuditRead, s.handleInclusion))
		mux.HandleFunc("GET /audit/v1/proof/consistency", s.withAdmin(cordon.ScopeAuditRead, s.handleConsistency))
		mux.HandleFunc("GET /admin/v1/audit/report", s.withAdmin(cordon.ScopeAuditRead, s.handleReport))
		mux.HandleFunc("POST /admin/v1/audit/reports", s.withAdmin(cordon.ScopeAuditRead, s.handleSaveReport))
		mux.HandleFunc("GET /admin/v1/audit/reports/{id}", s.withAdmin(cordon.ScopeAuditRead, s.handleSavedReport))
		mux.HandleFunc("GET /admin/v1/audit/subject", s.withAdmin(cordon.ScopeAuditRead, s.handleQuestion(auditlog.QuestionSubject)))
		mux.HandleFunc("GET /admin/v1/audit/category", s.withAdmin(cordon.ScopeAuditRead, s.handleQuestion(auditlog.QuestionCategory)))
		mux.HandleFunc("GET /admin/v1/audit/principals", s.withAdmin(cordon.ScopeAuditRead, s.handleQuestion(auditlog.QuestionPrincipals)))
	}
	if s.incidents != nil {
		s.incidentRoutes(mux)
	}
	if s.alerts != nil {
		s.alertRoutes(mux)
	}
	if s.ssf != nil {
		s.ssfRoutes(mux)
	}
	if s.notices != nil {
		s.noticeRoutes(mux)
	}
	if s.console != nil {
		// The console is pages for people, not API: its routes are its
		// own (console.Console) and not in the OpenAPI description.
		mux.ServeMux.Handle("/console/", s.console)
		mux.ServeMux.Handle("/console", s.console)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /openapi.json", s.handleOpenAPI)
	mux.HandleFunc("GET /schema/campaign.json", handleCampaignSchema)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))

	// The catch-all answers JSON for unknown paths, and 405 with Allow for
	// a known path with the wrong method (a "/" pattern would otherwise
	// swallow the mux's own 405).
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pat := mux.Handler(r2); pat != "/" && pat != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, r, cordon.Errorf(cordon.ECodeMethod, "%s is not allowed here; use %s", r.Method, strings.Join(allow, " or ")))
			return
		}
		path := r.URL.Path
		if len(path) > 100 {
			path = path[:100] + "…"
		}
		writeError(w, r, cordon.Errorf(cordon.ECodeNotFound, "no such endpoint: %s %s", r.Method, path))
	})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger(r).Warn("not ready: store", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "store_unavailable", "message": "the store does not answer"})
		return
	}
	// A store that answers a ping may still refuse every write (a full
	// disk): the store remembers the last write's failure and probes.
	if rd, ok := s.store.(interface{ Ready(context.Context) error }); ok {
		if err := rd.Ready(ctx); err != nil {
			s.logger(r).Warn("not ready: store cannot take writes", "err", err)
			writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type ctxKey int

const (
	keyLogger ctxKey = iota
	keyActor
	keyAdmin
	keyNotices
)

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streaming handlers (the policy feed) flush through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// middleware gives every request an id, a logger, a panic guard (a panic
// is a bug: 500 with a JSON body, never a dropped connection), a log line
// and metrics.
//
// It is on every request's path, so it does the least it can: the route
// is the pattern the mux matched, read back from the request after
// serving (the mux sets it on this very request) rather than looked up a
// second time; the request logger is built only when something logs; the
// id comes from the runtime's per-thread generator, since it names a
// request in the logs and guards nothing.
func (s *Server) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header()["X-Request-Id"] = []string{id}
		rl := &reqLog{base: s.log, id: id}
		ctx := context.WithValue(r.Context(), keyLogger, rl)
		if s.notices != nil {
			// Denials carry the notice that explains their campaign.
			ctx = context.WithValue(ctx, keyNotices, s.notices)
		}
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route := r.Pattern
			if route == "" || route == "/" {
				route = "other"
			}
			level := slog.LevelInfo
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				rl.get().Error("panic", "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r, cordon.Errorf(cordon.ECodeInternal, "internal error; the request id is %s", id))
				}
			}
			d := time.Since(start)
			s.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
			s.latency.WithLabelValues(route).Observe(d.Seconds())
			if sw.status >= 500 {
				level = slog.LevelError
			}
			if !s.logsAccess(r.Context(), s.log, level, sw.status) {
				return
			}
			rl.get().Log(r.Context(), level, "request", "method", r.Method, "route", route, "status", sw.status,
				"duration_ms", float64(d.Microseconds())/1000, "remote", s.proxies.Addr(r))
		}()
		mux.ServeHTTP(sw, r)
	})
}

// validRequestID reports whether a client's X-Request-Id may be kept:
// 1 to 64 of [A-Za-z0-9._-], so nothing a client sends can forge a log line.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 hex digits from the runtime's generator: unique
// enough to find a request in the logs, and no secret.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], mrand.Uint64())
	return hex.EncodeToString(b[:])
}

// reqLog is a request's logger, built from base with its request id the
// first time something logs.
type reqLog struct {
	base *slog.Logger
	id   string
	once sync.Once
	l    *slog.Logger
}

func (rl *reqLog) get() *slog.Logger {
	rl.once.Do(func() { rl.l = rl.base.With("request_id", rl.id) })
	return rl.l
}

// Error logs at error level with the request id (writeError's logger).
func (rl *reqLog) Error(msg string, args ...any) { rl.get().Error(msg, args...) }

// logsAccess says whether this answer gets its access line: the level
// must be enabled, and an answer below 400 is sampled one in accessSample.
func (s *Server) logsAccess(ctx context.Context, log *slog.Logger, level slog.Level, status int) bool {
	if !log.Enabled(ctx, level) {
		return false
	}
	if status >= 400 || s.accessSample <= 1 {
		return true
	}
	return s.accessSeen.Add(1)%s.accessSample == 0
}

func (s *Server) logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(keyLogger).(*reqLog); ok {
		return l.get()
	}
	return s.log
}
