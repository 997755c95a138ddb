package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/console"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/detect"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/httpapi"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/issuers"
	cmail "github.com/cordon-dev/cordon/internal/mail"
	"github.com/cordon-dev/cordon/internal/natsbus"
	"github.com/cordon-dev/cordon/internal/notices"
	"github.com/cordon-dev/cordon/internal/outbox"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/cordon-dev/cordon/internal/resetmail"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/cordon-dev/cordon/internal/ssf"
	"github.com/cordon-dev/cordon/internal/throttle"
	"github.com/cordon-dev/cordon/internal/token"
	"github.com/cordon-dev/cordon/internal/uafacts"
	"github.com/cordon-dev/cordon/internal/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

// Config is what `cordon serve` is told.
type Config struct {
	Addr string // listen address; port 0 picks a free port
	Data string // data folder, holding cordon.db
	// Store, when set, is a postgres:// URL of the state store; empty means
	// the embedded SQLite file in Data.
	Store string
	// Bus, when set, is a nats:// URL: the policy feed is also published to
	// NATS JetStream, for gates that follow it there and for other nodes.
	Bus string
	// AdminToken, when set and no admin token exists yet, becomes the
	// first admin token (CORDON_ADMIN_TOKEN at first start).
	AdminToken string
	// MinPasswordLength overrides the password policy's minimum (8).
	MinPasswordLength int
	// Issuer is the iss of access tokens, kept in the store at the first
	// start; empty means the stored one (at the first start: http://ADDR,
	// with the host name for an unspecified address). A value that
	// differs from the stored one is refused unless ChangeIssuer is set.
	Issuer       string
	ChangeIssuer bool
	// SkipCheck skips SQLite's quick_check at start (about 2.4 s per
	// million audit entries, 375 MB), for a file cordon doctor just passed.
	SkipCheck bool
	// AuditCategories are accepted in audit events besides the defaults.
	AuditCategories []string
	// AuditEvery and AuditInterval: a checkpoint is signed once this many
	// audit entries are unsigned, or this long after the last when any are
	// (zero: auditlog's defaults).
	AuditEvery uint64
	// AuditMaxLateness refuses reported events timed longer ago than
	// this (0: any time).
	AuditMaxLateness time.Duration
	AuditInterval    time.Duration
	// AuditKey is the checkpoint signer key kept outside the database
	// (--audit-key FILE); empty: the key the store keeps.
	AuditKey string
	// DPO is the data protection officer's contact, shown in incident
	// summaries (--dpo); empty: "not known yet".
	DPO string
	// DebugAddr serves Go's profiles on an address of its own (--debug-addr);
	// empty: none.
	DebugAddr string
	// AccessLogSample logs one access line in this many answers below 400
	// (--access-log-sample); 0 or 1: every one.
	AccessLogSample int
	// TokenCache bounds the verified-token cache of access tokens: 0 means
	// authn's default, a negative size turns it off (benchmarks of the
	// cold path).
	TokenCache int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client; the zero value trusts none.
	TrustedProxies httpapi.TrustedProxies
	// Hash are the argon2id parameters; zero means password.DefaultParams.
	Hash password.Params
	// UserAgents infers client facts from the User-Agent of requests
	// without Cordon-Client (--ua-rules, --ua-app); nil leaves them unknown.
	UserAgents *uafacts.Rules
	// TrustedIssuers are external OpenID providers whose tokens
	// /v1/decide and introspection accept too (--trusted-issuer).
	TrustedIssuers []issuers.Config
	// ProgressSample is how often each running campaign's cohort is
	// recounted and its counters sampled (campaign.SampleEvery when zero).
	ProgressSample time.Duration
	// FourEyes makes a campaign activation in the console need a second
	// admin's approval.
	FourEyes bool
	// SSFAllowHTTP lets Shared Signals push endpoints be http:// on
	// loopback (--ssf-allow-http; tests and development).
	SSFAllowHTTP bool
	// SSFTick is how often the transmitter reads events and pushes; zero
	// means every second.
	SSFTick time.Duration
	// SSFBackoff is the Shared Signals push's first retry delay (tests;
	// zero: the transmitter's default of 1 s).
	SSFBackoff time.Duration
	// PaceEvery is how often this node paces the active auto ramps
	// (campaign.Pacer) and publishes its login tier sample; zero means
	// every 30 s. PaceNodes is how many nodes share the login tier behind
	// the balancer (--pace-nodes), for nodes that cannot share a store:
	// while this node sees no other node's sample, its load and capacity
	// are scaled by it; zero means 1.
	PaceEvery time.Duration
	PaceNodes int
	// PolicyPoll is how often the store is read for campaign changes made
	// by other nodes; zero means every second.
	PolicyPoll time.Duration
	// AlertWebhook, when set, receives every new alert, signed with
	// AlertWebhookSecret (--alert-webhook, CORDON_ALERT_WEBHOOK_SECRET).
	AlertWebhook       string
	AlertWebhookSecret []byte
	// AlertWebhookBackoff is the webhook's first retry delay (1 s when zero).
	AlertWebhookBackoff time.Duration
	// DetectRules are detection's thresholds and access rules
	// (--detect-rules FILE); nil means the defaults.
	DetectRules *detect.File
	// SMTPURL is the relay emails go through (--smtp-url
	// smtp://user:pass@host:587, STARTTLS required; smtps:// for TLS from
	// the first byte); empty: emails are queued but not sent.
	SMTPURL  string
	SMTPFrom string // the sender address (--smtp-from)
	// SMTPRate bounds emails per second (--smtp-rate; 0 unbounded).
	SMTPRate float64
	// SMTPAllowPlain allows a relay in clear on this machine only
	// (--smtp-allow-plain; development).
	SMTPAllowPlain bool
	// SMTPTLS, when set, replaces the relay's TLS configuration (tests
	// trust their relay's own certificate with it).
	SMTPTLS *tls.Config
	// ResetURL is where a password_reset (verify: email) link leads; the
	// token is appended (--reset-url; default ISSUER/reset#token=).
	ResetURL string
	// OutboxPoll is how often the mail worker looks for due messages
	// (zero: every 2 s).
	OutboxPoll time.Duration
	// Clock, when set, replaces the system clock (tests).
	Clock clock.Clock
	Log   *slog.Logger
	// Out receives the one-time print of a generated admin token.
	Out io.Writer
}

// Main is one running server. Run starts it; Close stops it. End-to-end
// tests run it in-process on port 0.
type Main struct {
	Config Config

	ln         net.Listener
	srv        *http.Server
	debug      *debugServer
	store      serveStore
	unlock     func() // releases the SQLite file's lock
	deployment string // this deployment's id, from the store
	healed     prometheus.Counter
	Authn      *authn.Service
	Campaigns  *campaign.Service
	Audit      *auditlog.Service
	// Issuers are the trusted external issuers; nil when none.
	Issuers   *issuers.Set
	Incidents *incident.Service
	Notices   *notices.Service
	// heldNotices are the denial notices read last: a policy published
	// while they cannot be read carries these, as this server's own
	// denials keep them, rather than none (which would strip every
	// gate's notices).
	heldNotices atomic.Pointer[[]wire.DenialNotice]
	// SSF is the OpenID Shared Signals transmitter.
	SSF *ssf.Transmitter
	// Alerts keeps what detection raises; Watcher feeds it logins.
	Alerts  *alert.Service
	Watcher *alert.Watcher
	Access  *alert.AccessWatcher
	webhook *alert.Webhook
	// Outbox queues email (Enqueue, Counts); with --smtp-url, this
	// node's worker sends it.
	Outbox    *outbox.Outbox
	resetMail *resetmail.Mailer
	Feed      *feed.Hub
	bus       *natsbus.Bus
	hasher    *password.Hasher
	pwKey     *detect.PasswordKey
	node      string // this node's id on the bus
	stopWatch context.CancelFunc
	// workers are the background loops that record their state on the
	// way out (the Shared Signals transmitter gives back the SETs it
	// claimed, the mail outbox the messages it was sending): Close waits
	// for them before it closes the store, or their claims would wait out
	// a lease (15 s, 2 min) after a restart.
	workers sync.WaitGroup
	done    chan error
}

// Run opens the store, prepares keys and the first admin token, binds the
// listener (so a bind error surfaces at once) and starts serving in the
// background. If it fails, what it had started is undone (Close).
func (m *Main) Run(ctx context.Context) (err error) {
	c := &m.Config
	if c.Log == nil {
		c.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Out == nil {
		c.Out = os.Stderr
	}
	if c.PolicyPoll <= 0 {
		c.PolicyPoll = time.Second
	}
	m.node = cordon.NewID("n")
	m.healed = prometheus.NewCounter(prometheus.CounterOpts{Name: "cordon_policy_version_healed_total",
		Help: "Times the store's policy version was found behind the bus's (a restored store) and raised past it."})
	if c.Hash == (password.Params{}) {
		c.Hash = password.DefaultParams()
	}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if m.ln, err = net.Listen("tcp", c.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	if c.DebugAddr != "" {
		if m.debug, err = startDebug(c.DebugAddr, m.ln.Addr().String(), c.Log); err != nil {
			return err
		}
	}
	if m.Issuers, err = newIssuers(c.TrustedIssuers, c.Log, c.Clock.Now); err != nil {
		return err
	}
	store, where, unlock, err := openStore(ctx, c.Store, c.Data, !c.SkipCheck)
	if err != nil {
		return err
	}
	m.store, m.unlock = store, unlock
	if db, ok := store.(*sqlite.DB); ok {
		db.SetLogger(c.Log)
	}
	// First-time setup (deployment id, issuer, admin token, signing key,
	// audit key) runs under the store's lock: nodes starting at once on an
	// empty store must not each make their own.
	if err := store.Initialise(ctx, m.initialise); err != nil {
		return err
	}
	if c.Bus != "" {
		bus, err := natsbus.Open(ctx, c.Bus, natsbus.Options{RevocationTTL: authn.DefaultConfig().AccessTTL + tokenLeeway, Log: c.Log, Origin: m.node, Deployment: m.deployment})
		if err != nil {
			return fmt.Errorf("--bus: %w", err)
		}
		m.bus = bus
		c.Log.Info("publishing the policy feed to NATS; gates follow it with --bus and --issuer",
			"deployment", m.deployment, "issuer", c.Issuer)
	}
	// Every field the background work reads is set: only now may it start
	// (TestServeWiresBeforeBackgroundWork).
	m.start()
	c.Log.Info("cordon serving", "addr", m.ln.Addr().String(), "store", where, "issuer", c.Issuer, "deployment", m.deployment)
	return nil
}

// start runs the background work and the HTTP server. Close stops them.
func (m *Main) start() {
	c := &m.Config
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.healed)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cordon_detect_attempts_dropped_total",
		Help: "Login attempts detection did not see: its queue was full (a login never waits for detection)."},
		func() float64 { return float64(m.Watcher.Dropped()) }))
	if wh := m.webhook; wh != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cordon_alert_webhook_delivered_total",
			Help: "Alerts the webhook receiver accepted (2xx)."}, func() float64 { return float64(wh.Delivered()) }))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cordon_alert_webhook_failed_total",
			Help: "Alerts the webhook gave up on (a 4xx, the tries spent, or a full queue)."}, func() float64 { return float64(wh.Failed()) }))
	}
	if db, ok := m.store.(*sqlite.DB); ok {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cordon_store_checkpoint_failures_total",
			Help: "SQLite WAL checkpoints that failed (the WAL keeps every commit and grows until one succeeds; a refused one also puts /readyz down)."},
			func() float64 { return float64(db.CheckpointFailures()) }))
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	m.stopWatch = stopWatch
	// Another node on the same store may change campaigns; a cheap version
	// read each second keeps this node's policy within a second of it.
	go m.Campaigns.Watch(watchCtx, c.PolicyPoll)
	go m.Campaigns.Sample(watchCtx, c.ProgressSample)
	go m.Audit.Run(watchCtx)
	if m.bus != nil {
		go m.followBus(watchCtx)
	}
	go sweep(watchCtx, m.Authn, c.Log)
	go m.reloadKeys(watchCtx)
	issuerMetrics(reg, m.Issuers)
	go runIssuers(watchCtx, m.Issuers, c.Log)
	m.SSF = ssf.New(m.store, c.Clock, c.Log, ssf.Config{Issuer: c.Issuer, Keys: m.Authn.KeySet, Policy: ssf.Policy{AllowHTTP: c.SSFAllowHTTP}, Tick: c.SSFTick, Backoff: c.SSFBackoff, Campaigns: m.Campaigns.Policy})
	m.workers.Go(func() { m.SSF.Run(watchCtx) })
	go m.pace(watchCtx, c)
	// Accounts seen from somewhere new (a login, a refresh) go first in a ramp that
	// asks for it, a lead after they were seen: flushed each second.
	// Sightings drain at one a second until the pacer measures the tier
	// and sets this node's share (campaign.SightingShare), or for good if
	// it cannot.
	m.Campaigns.SetSightingRate(1)
	go m.Campaigns.RunUnusual(watchCtx, time.Second)
	con, err := console.New(console.Config{Store: m.store, Campaigns: m.Campaigns, Incidents: m.Incidents, Audit: m.Audit, Notices: m.Notices, Alerts: m.Alerts, Hasher: m.hasher,
		Clock: c.Clock, Log: c.Log, FourEyes: c.FourEyes, Closing: watchCtx, ClientAddr: c.TrustedProxies.Addr,
		Throttle: throttle.New(throttle.DefaultConfig(), c.Clock)})
	if err != nil {
		// The templates are embedded and parsed by the package's tests: a
		// failure here is a broken build.
		panic(err)
	}
	go m.Watcher.Run(watchCtx)
	go m.Access.Run(watchCtx, time.Second)
	if m.webhook != nil {
		go m.webhook.Run(watchCtx)
	}
	m.workers.Go(func() { _ = m.Outbox.Run(watchCtx) })
	go m.resetMail.Run(watchCtx, m.Outbox, c.PolicyPoll)
	go m.Notices.RunMail(watchCtx, c.OutboxPoll)
	api := httpapi.New(httpapi.Deps{Console: con, Authn: m.Authn, Campaigns: m.Campaigns, Audit: m.Audit, Incidents: m.Incidents, Notices: m.Notices, Alerts: m.Alerts, Feed: feed.Handler(m.Feed, c.Log), Closing: watchCtx, Store: m.store, Hasher: m.hasher, Log: c.Log, Clock: c.Clock, Registry: reg, TrustedProxies: c.TrustedProxies, UserAgents: c.UserAgents, AccessLogSample: c.AccessLogSample, SSF: m.SSF})
	m.srv = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 1 << 20,
		ErrorLog: slog.NewLogLogger(c.Log.Handler(), slog.LevelWarn)}
	m.done = make(chan error, 1)
	go func() { m.done <- m.srv.Serve(m.ln) }()
}

// initialise makes or reads what a deployment makes once: its id, its
// issuer, the first admin token, the signing and audit keys (made by the
// services' constructors when absent). It runs under the store's
// initialisation lock.
func (m *Main) initialise(ctx context.Context) error {
	c := &m.Config
	dep, err := m.store.PutMeta(ctx, cordon.MetaDeployment, cordon.NewID("d"))
	if err != nil {
		return fmt.Errorf("deployment id: %w", err)
	}
	m.deployment = dep
	if err := m.settleIssuer(ctx); err != nil {
		return err
	}
	if err := m.bootstrapAdmin(ctx); err != nil {
		return err
	}
	camps, err := campaign.New(ctx, m.store, c.Clock, c.Log)
	if err != nil {
		return err
	}
	m.Campaigns = camps
	auditLog, err := auditlog.New(ctx, auditlog.Config{Store: m.store, Clock: c.Clock, Log: c.Log, Origin: auditOrigin(c.Issuer),
		Categories: c.AuditCategories, Every: c.AuditEvery, Interval: c.AuditInterval, Key: c.AuditKey, MaxLateness: c.AuditMaxLateness})
	if err != nil {
		return err
	}
	m.Audit = auditLog
	if m.Incidents, err = incident.New(incident.Config{Store: m.store, Audit: auditLog, Campaigns: camps, Clock: c.Clock, DPO: c.DPO}); err != nil {
		return err
	}
	// The policy feed: every policy version, revocation and key set, to
	// enforcement points (cordon gate, the gate middleware).
	if m.Notices, err = notices.New(notices.Config{Store: m.store, Audit: auditLog, Campaigns: camps, Clock: c.Clock, Log: c.Log}); err != nil {
		return err
	}
	if _, err := m.denialNotices(ctx); err != nil {
		return fmt.Errorf("notices: %w", err)
	}
	m.Feed = feed.NewHub(func(ctx context.Context) (feed.Event, error) { return m.snapshot(ctx) }, 0)
	camps.OnPolicy = func(_ *decision.Policy, cs []*cordon.Campaign) {
		p := feed.WirePolicy(camps.Policy().Version, cs)
		// A notice's publish or withdraw moved this version: its denial
		// notices go with the policy, to this server and every gate. If
		// they cannot be read, the ones held stay (fail static).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if ns, err := m.denialNotices(ctx); err != nil {
			c.Log.Error("denial notices: the policy goes out with the ones read last", "err", err)
			if held := m.heldNotices.Load(); held != nil {
				p.Notices = *held
			}
		} else {
			p.Notices = ns
		}
		m.publish(feed.Event{Kind: feed.KindPolicy, Policy: p})
	}
	if err := m.detection(ctx); err != nil {
		return err
	}
	m.hasher = password.NewHasher(c.Hash, password.Limits{})
	pol := password.DefaultPolicy()
	if c.MinPasswordLength > 0 {
		pol.MinLength = c.MinPasswordLength
	}
	var svc *authn.Service
	svc, err = authn.New(ctx, authn.Deps{Store: m.store, Hasher: m.hasher, Policy: pol,
		Throttle: throttle.New(throttle.DefaultConfig(), c.Clock), Clock: c.Clock, Log: c.Log, Campaigns: camps, Issuers: m.Issuers,
		OnRevoke: func(ids []string, at time.Time) {
			m.publish(feed.Event{Kind: feed.KindRevoke, Revoked: revocations(ids, at, svc.Config().AccessTTL)})
		},
		OnKeys: func(jwks []byte) { m.publish(feed.Event{Kind: feed.KindKeys, JWKS: jwks}) },
		Detect: m.Watcher, PasswordKey: m.pwKey,
		OnEmailReset: func(ctx context.Context, campaignID string, acct *cordon.Account) {
			camp, err := m.store.Campaign(ctx, campaignID)
			if err != nil || camp.State != cordon.StateActive {
				return
			}
			m.resetMail.Resend(ctx, m.Outbox, camp, acct)
		},
	}, authn.Config{Issuer: c.Issuer, TokenCache: c.TokenCache})
	if err != nil {
		return err
	}
	m.Authn = svc
	var sender outbox.Sender
	if c.SMTPURL != "" {
		mc, err := relayConfig(c.SMTPURL, c.SMTPFrom, c.SMTPAllowPlain, c.SMTPTLS)
		if err != nil {
			return err
		}
		if sender, err = cmail.New(mc); err != nil {
			return err
		}
	}
	resetURL := c.ResetURL
	if resetURL == "" {
		resetURL = strings.TrimSuffix(c.Issuer, "/") + "/reset#token="
	}
	m.resetMail = resetmail.New(resetmail.Config{Store: m.store, Links: svc, URL: resetURL, Clock: c.Clock, Log: c.Log})
	m.Outbox, err = outbox.New(outbox.Config{Store: m.store, Sender: sender, Clock: c.Clock, Log: c.Log, Owner: m.node,
		Domain: fromDomain(c.SMTPFrom), Rate: c.SMTPRate, Poll: c.OutboxPoll,
		Renderers: map[string]outbox.Renderer{resetmail.Kind: m.resetMail.Render, notices.MailKind: m.Notices.RenderMail}})
	if err != nil {
		return err
	}
	m.Notices.SetMail(m.Outbox, m.store)
	return nil
}

// detectFlags reads --detect-rules and the webhook's secret.
func detectFlags(c *Config, rulesFile string, getenv func(string) string) error {
	if rulesFile != "" {
		data, err := os.ReadFile(rulesFile)
		if err != nil {
			return usageError("--detect-rules: %v", err)
		}
		if c.DetectRules, err = detect.ParseFile(data); err != nil {
			return usageError("--detect-rules %s: %v", rulesFile, err)
		}
	}
	if c.AlertWebhook != "" {
		secret, err := alert.ParseSecret(getenv("CORDON_ALERT_WEBHOOK_SECRET"))
		if err != nil {
			return usageError("--alert-webhook: CORDON_ALERT_WEBHOOK_SECRET: %v", err)
		}
		c.AlertWebhookSecret = secret
		if _, err := alert.NewWebhook(alert.WebhookConfig{URL: c.AlertWebhook, Secret: secret, Policy: ssf.Policy{AllowHTTP: c.SSFAllowHTTP}}); err != nil {
			return usageError("%v", err)
		}
	}
	return nil
}

// detection builds the alert service, the login watcher and the access
// watcher. The password key that names sprayed passwords is derived from
// a secret the store keeps (made at the first start, like the other
// keys), so every node and every restart hash a password alike.
func (m *Main) detection(ctx context.Context) error {
	c := &m.Config
	fresh := make([]byte, 32)
	rand.Read(fresh)
	secret, err := m.store.PutMeta(ctx, cordon.MetaDetectKey, hex.EncodeToString(fresh))
	if err != nil {
		return fmt.Errorf("detection key: %w", err)
	}
	raw, err := hex.DecodeString(secret)
	if err != nil || len(raw) < 32 {
		return fmt.Errorf("detection key: the stored %s is damaged", cordon.MetaDetectKey)
	}
	m.pwKey = detect.PasswordKeyOf(raw)
	if c.AlertWebhook != "" {
		if m.webhook, err = alert.NewWebhook(alert.WebhookConfig{URL: c.AlertWebhook, Secret: c.AlertWebhookSecret,
			Policy: ssf.Policy{AllowHTTP: c.SSFAllowHTTP}, Clock: c.Clock, Log: c.Log, Backoff: c.AlertWebhookBackoff}); err != nil {
			return err
		}
	}
	rules := c.DetectRules
	if rules == nil {
		rules = detect.DefaultFile()
	}
	if m.Alerts, err = alert.New(alert.Config{Store: m.store, Audit: m.Audit, Incidents: m.Incidents, Campaigns: m.Campaigns,
		Clock: c.Clock, Log: c.Log, Webhook: m.webhook}); err != nil {
		return err
	}
	m.Watcher = alert.NewWatcher(detect.New(rules.Login), m.Alerts, c.Log)
	m.Access = alert.NewAccessWatcher(m.store, m.Audit, detect.NewAccess(rules.Access), m.Alerts, c.Log)
	return m.Access.Start(ctx)
}

// bootstrapAdmin makes the first admin token when there is none: the
// operator's CORDON_ADMIN_TOKEN if given, else a generated one printed
// once. Only its hash is stored.
func (m *Main) bootstrapAdmin(ctx context.Context) error {
	n, err := m.store.CountAdminTokens(ctx)
	if err != nil || n > 0 {
		return err
	}
	secret := m.Config.AdminToken
	generated := secret == ""
	if generated {
		secret, _ = token.NewSecret("cat_")
	} else if len(secret) < 16 {
		return errors.New("CORDON_ADMIN_TOKEN must be at least 16 characters")
	}
	t := &cordon.AdminToken{ID: cordon.NewID("t"), Name: "root", Hash: token.HashSecret(secret), Scopes: []string{cordon.ScopeAll}, CreatedAt: m.Config.Clock.Now()}
	if err := m.store.CreateAdminToken(ctx, t); errors.Is(err, cordon.ErrAlreadyExists) {
		return nil // another node starting at the same moment made it
	} else if err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(m.Config.Out, "\nThe first admin token (shown once, stored only as a hash):\n\n    export CORDON_ADMIN_TOKEN=%s\n\n", secret)
	}
	return nil
}

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// URL is the server's base URL.
func (m *Main) URL() string { return "http://" + m.Addr() }

// Close undoes what Run started, in reverse: background work and feed
// streams first, then the server (in-flight requests get up to 10
// seconds), the bus, and the store last. It is the one cleanup path: Run
// calls it when it fails part way, and a second Close does nothing more.
func (m *Main) Close() error {
	var err error
	if m.stopWatch != nil {
		m.stopWatch()
		done := make(chan struct{})
		go func() { m.workers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = m.srv.Shutdown(ctx)
		cancel()
		if serr := <-m.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		m.srv = nil
	} else if m.ln != nil {
		m.ln.Close() // Run failed before serving; a second Close finds it closed
	}
	if m.debug != nil {
		err = errors.Join(err, m.debug.Close())
		m.debug = nil
	}
	if m.bus != nil {
		// Kept, closed: publish and followBus may still read the field,
		// and a closed Bus answers them ErrClosed.
		m.bus.Close()
	}
	if m.store != nil {
		err = errors.Join(err, m.store.Close())
		m.store = nil
	}
	if m.unlock != nil {
		m.unlock()
		m.unlock = nil
	}
	return err
}

func serveCmd(a *app) *cobra.Command {
	var cmd *cobra.Command
	cmd = leaf(&cobra.Command{
		Use:   "serve",
		Short: "Run the cordon server",
		Long: `Run the cordon server: the login and token API for apps, the admin API, and
the policy feed gates follow. State is kept in SQLite in --data (one node), or
in PostgreSQL (--store postgres://...) shared by several nodes, which then also
share the feed over NATS (--bus). At the first start with no admin token,
CORDON_ADMIN_TOKEN (or --token) becomes the first one; else one is made and
printed once on stderr.

` + configHelp,
		Example: `  cordon serve
  cordon serve --addr 0.0.0.0:8080 --issuer https://id.example.com --data /var/lib/cordon
  cordon serve --store postgres://cordon@db/cordon --bus nats://nats:4222
  cordon serve --config /etc/cordon/serve.yaml`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		var c Config
		fs.String("config", "", "YAML file of flag values (default $CORDON_CONFIG); flags and the environment win over it")
		fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address")
		fs.StringVar(&c.Data, "data", "./cordon-data", "data folder (holds cordon.db, SQLite in WAL mode)")
		fs.StringVar(&c.Store, "store", "", "state store: postgres://... for PostgreSQL (default: SQLite in --data)")
		fs.StringVar(&c.Bus, "bus", "", "nats://host:4222 to publish the policy feed to NATS JetStream (for gates with --bus, and other nodes)")
		fs.IntVar(&c.MinPasswordLength, "min-password-length", 8, "minimum password length in characters (NIST allows 8; 15 is stricter)")
		fs.StringVar(&c.Issuer, "issuer", "", "iss of access tokens, kept in the store at the first start (default http://ADDR, the host name for 0.0.0.0); later starts use the stored one")
		fs.DurationVar(&c.PaceEvery, "pace-every", 30*time.Second, "how often this node paces the active auto ramps from the login load of every node on the store (an interval without logins times one probe hash: tens of ms of a core and 19 MiB at the default cost)")
		fs.IntVar(&c.PaceNodes, "pace-nodes", 1, "for nodes that cannot share a store: how many cordon nodes share the logins behind the balancer (a node that sees no other node's load on its store paces on its own times this; nodes on one PostgreSQL store sum each other's instead)")
		fs.BoolVar(&c.FourEyes, "four-eyes", false, "a campaign activation in the web console needs a second admin's approval")
		fs.StringVar(&c.SMTPURL, "smtp-url", "", "the SMTP relay emails go through: smtp://user:password@host:587 (STARTTLS required) or smtps://…:465 (default: emails are queued, not sent)")
		fs.StringVar(&c.SMTPFrom, "smtp-from", "", "the sender of emails, e.g. 'Example Security <security@example.com>' (required with --smtp-url)")
		fs.Float64Var(&c.SMTPRate, "smtp-rate", 10, "emails sent per second at most, per node (0: no bound)")
		fs.BoolVar(&c.SMTPAllowPlain, "smtp-allow-plain", false, "allow a relay without TLS, on this machine only (localhost; development)")
		fs.StringVar(&c.ResetURL, "reset-url", "", "where a password-reset email's link leads; the token is appended (default ISSUER/reset#token=)")
		fs.BoolVar(&c.SSFAllowHTTP, "ssf-allow-http", false, "let Shared Signals receivers push to http:// endpoints on this machine (tests and development only)")
		fs.BoolVar(&c.SkipCheck, "skip-check", false, "skip SQLite's quick_check of the file at start (it reads the whole file: ~2.4 s per 375 MB)")
		fs.BoolVar(&c.ChangeIssuer, "change-issuer", false, "replace the stored issuer with --issuer (tokens of the old one stop verifying; gates need the new --issuer)")
		var categories string
		fs.StringVar(&categories, "audit-categories", "", "comma-separated audit field categories accepted besides the defaults ("+strings.Join(audit.DefaultCategories(), ",")+")")
		fs.DurationVar(&c.AuditMaxLateness, "audit-max-lateness", 24*time.Hour, "refuse reported audit events timed longer ago than this (a stolen reporter token cannot write into a past breach window); raise it for a backfill of older logs, 0 for none")
		fs.Uint64Var(&c.AuditEvery, "audit-checkpoint-every", auditlog.DefaultEvery, "sign an audit checkpoint once this many entries are unsigned")
		fs.DurationVar(&c.AuditInterval, "audit-checkpoint-interval", auditlog.DefaultInterval, "sign an audit checkpoint this long after the last when entries are unsigned")
		auditKeyFile := fs.String("audit-key", "", "sign audit checkpoints with the key in this file (made by cordon audit keygen, mode 0600) instead of one kept in the database, so a database-level attacker cannot sign a rewrite")
		fs.StringVar(&c.DPO, "dpo", "", "the data protection officer's contact (name, email), shown in incident summaries (GDPR Article 33(3)(b))")
		fs.StringVar(&c.DebugAddr, "debug-addr", "", "serve Go's profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; never on --addr (default: off)")
		logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error (access lines are info; 5xx are error)")
		fs.IntVar(&c.AccessLogSample, "access-log-sample", 1, "log one access line in N answers below 400 (answers of 400 and above are always logged)")
		var proxies string
		fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (default: none; the peer is the client)")
		userAgents := uaFlags(fs)
		trusted := issuerFlags(fs)
		fs.StringVar(&c.AlertWebhook, "alert-webhook", "", "deliver every new alert to this https URL, signed as Standard Webhooks sign (secret: CORDON_ALERT_WEBHOOK_SECRET=whsec_...)")
		rulesFile := fs.String("detect-rules", "", "detection rules file (YAML): login-abuse thresholds and access rules over the audit log (default: the built-in rules, see README)")
		return func(ctx context.Context, _ []string) error {
			onArgv := argvFlags(cmd.Flags())
			if err := settle(cmd.Flags(), os.Getenv); err != nil {
				return err
			}
			warnSecrets(cmd.Flags(), onArgv, a.stderr)
			c.AdminToken = a.adminToken()
			c.TrustedIssuers = trusted.list
			level, err := parseLevel(*logLevel)
			if err != nil {
				return err
			}
			if c.AccessLogSample < 0 {
				return usageError("--access-log-sample must be 1 or more (1 logs every answer)")
			}
			if c.PaceNodes < 1 || c.PaceNodes > 10000 {
				return usageError("--pace-nodes must be between 1 and 10000: the number of cordon nodes behind the balancer")
			}
			if c.PaceEvery < time.Second || c.PaceEvery > time.Hour {
				return usageError("--pace-every must be between 1s and 1h (default 30s)")
			}
			c.Log = slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			if err := detectFlags(&c, *rulesFile, os.Getenv); err != nil {
				return err
			}
			return runServe(ctx, c, categories, *auditKeyFile, proxies, userAgents, a.stderr)
		}
	})
	return cmd
}

// runServe checks serve's settled flags and runs the server until ctx ends.
func runServe(ctx context.Context, c Config, categories, auditKeyFile, proxies string, userAgents func() (*uafacts.Rules, error), stderr io.Writer) error {
	var err error
	if c.TrustedProxies, err = httpapi.ParseTrustedProxies(proxies); err != nil {
		return usageError("--trusted-proxies: %v", err)
	}
	if c.UserAgents, err = userAgents(); err != nil {
		return err
	}
	if c.MinPasswordLength < 8 || c.MinPasswordLength > 64 {
		return usageError("--min-password-length must be between 8 and 64")
	}
	if c.SMTPRate < 0 {
		return usageError("--smtp-rate must not be negative (0: no bound)")
	}
	if c.SMTPURL != "" {
		if _, err := relayConfig(c.SMTPURL, c.SMTPFrom, c.SMTPAllowPlain, nil); err != nil {
			return usageError("%v", err)
		}
	} else if c.SMTPFrom != "" || c.SMTPAllowPlain {
		return usageError("--smtp-from and --smtp-allow-plain need --smtp-url")
	}
	if c.ResetURL != "" {
		if u, err := neturl.Parse(c.ResetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return usageError("--reset-url %q: want an http(s) URL such as https://app.example.com/reset#token=", c.ResetURL)
		}
	}
	for _, cat := range strings.Split(categories, ",") {
		if cat = strings.TrimSpace(cat); cat == "" {
			continue
		}
		if !validCategory(cat) {
			return usageError("--audit-categories: %q is not a category name (lowercase letters, digits and _ only)", cat)
		}
		c.AuditCategories = append(c.AuditCategories, cat)
	}
	if c.AuditEvery == 0 || c.AuditInterval <= 0 {
		return usageError("--audit-checkpoint-every and --audit-checkpoint-interval must be positive")
	}
	if c.AuditMaxLateness < 0 {
		return usageError("--audit-max-lateness must be 0 (any time) or positive, e.g. 24h")
	}
	if auditKeyFile != "" {
		if c.AuditKey, err = readAuditKey(auditKeyFile); err != nil {
			return err
		}
	}
	c.Out = stderr
	if c.Log == nil {
		c.Log = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	m := &Main{Config: c}
	if err := m.Run(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		c.Log.Info("shutting down")
	case err := <-m.done:
		m.done <- err
	}
	return m.Close()
}

// snapshot is the whole state an enforcement point needs: the enforcing
// campaigns, the revocations whose tokens may still be valid, the keys.
func (m *Main) snapshot(ctx context.Context) (feed.Event, error) {
	cs, v, err := m.Campaigns.Enforcing(ctx)
	if err != nil {
		return feed.Event{}, err
	}
	ttl := m.Authn.Config().AccessTTL
	rs, err := m.store.RevokedSince(ctx, m.Config.Clock.Now().Add(-ttl-tokenLeeway))
	if err != nil {
		return feed.Event{}, err
	}
	e := feed.Event{Kind: feed.KindSnapshot, Policy: feed.WirePolicy(v, cs), JWKS: m.Authn.JWKS()}
	if e.Policy.Notices, err = m.denialNotices(ctx); err != nil {
		// The notices read last, as a policy change does (fail static):
		// a notice explains a denial, the campaigns and revocations
		// above are what a gate must not start without.
		held := m.heldNotices.Load()
		if held == nil {
			return feed.Event{}, err
		}
		m.Config.Log.Error("denial notices: the snapshot goes out with the ones read last", "err", err)
		e.Policy.Notices = *held
	}
	for _, r := range rs {
		e.Revoked = append(e.Revoked, feed.Revocation{SessionID: r.SessionID, Until: r.RevokedAt.Add(ttl + tokenLeeway)})
	}
	return e, nil
}

// denialNotices reads the published notices that explain campaigns and
// installs them for this server's own denials.
func (m *Main) denialNotices(ctx context.Context) ([]wire.DenialNotice, error) {
	ns, err := m.Notices.DenialNotices(ctx)
	if err != nil {
		return nil, err
	}
	m.Notices.SetDenials(ns)
	m.heldNotices.Store(&ns)
	return ns, nil
}

// tokenLeeway is the clock skew verifiers allow past exp.
const tokenLeeway = time.Minute

// revocations are sessions revoked at at, to be refused until every
// access token they hold has expired.
func revocations(ids []string, at time.Time, ttl time.Duration) []feed.Revocation {
	out := make([]feed.Revocation, len(ids))
	for i, id := range ids {
		out[i] = feed.Revocation{SessionID: id, Until: at.Add(ttl + tokenLeeway)}
	}
	return out
}

// sweep revokes expired sessions every minute, so previews and the
// fleet's aggregates count only sessions that can still act.
func sweep(ctx context.Context, svc *authn.Service, log *slog.Logger) {
	every(ctx, time.Minute, func() {
		if n, err := svc.SweepExpired(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep expired sessions", "err", err)
		} else if n > 0 {
			log.Info("swept expired sessions", "count", n)
		}
	})
}

// reloadKeys rereads the signing keys every 10 s, so a rotation made on
// another node reaches this node's signer and verifier long before the
// retired key stops being published. A key set that changed under it is
// published like one this node made: gates following only this node (or
// a bus no other node reached) would otherwise refuse the new key's
// tokens.
func (m *Main) reloadKeys(ctx context.Context) {
	svc, log := m.Authn, m.Config.Log
	every(ctx, 10*time.Second, func() {
		before := svc.JWKS()
		if err := svc.ReloadKeys(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reload signing keys", "err", err)
			return
		}
		if after := svc.JWKS(); !bytes.Equal(before, after) {
			log.Info("the signing keys changed in the store; publishing them")
			m.publish(feed.Event{Kind: feed.KindKeys, JWKS: after})
		}
	})
}

// every runs fn now and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serveStore is what cordon serve needs of a store: the contract and the
// deployment's identity.
type serveStore interface {
	cordon.Store
	cordon.MetaStore
}

// openStore opens the store a URL names: postgres:// or postgresql:// for
// PostgreSQL, sqlite:PATH or nothing for the SQLite file in data. A
// SQLite file is locked for this process (unlock releases it) and
// checked for damage before use.
func openStore(ctx context.Context, url, data string, check bool) (s serveStore, where string, unlock func(), err error) {
	switch {
	case url == "":
		return openSQLite(ctx, filepath.Join(data, "cordon.db"), check)
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//"), check)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, "", nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		return db, redactURL(url), nil, nil
	}
	return nil, "", nil, fmt.Errorf("--store must be postgres://…, postgresql://… or sqlite:PATH, got %q", redactURL(url))
}

func openSQLite(ctx context.Context, path string, check bool) (_ serveStore, _ string, _ func(), err error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, "", nil, err
	}
	var db *sqlite.DB
	defer func() {
		if err != nil {
			if db != nil {
				db.Close()
			}
			unlock()
		}
	}()
	if db, err = sqlite.Open(ctx, path); err != nil {
		return nil, "", nil, damaged(path, err)
	}
	if check {
		if err := db.QuickCheck(ctx); err != nil {
			return nil, "", nil, damaged(path, err)
		}
	}
	return db, path, unlock, nil
}

// damaged explains a SQLite file that cannot be used.
func damaged(path string, err error) error {
	if !sqlite.IsDamaged(err) {
		return fmt.Errorf("open %s: %w", path, err)
	}
	return fmt.Errorf("the database %s is damaged (%v): cordon will not start on it. "+
		"Stop, keep a copy of the file, run `cordon doctor --data %s` for the full check, "+
		"and restore the last good backup (a restored store heals its policy version on the bus by itself)",
		path, err, filepath.Dir(path))
}

// redactURL hides a password in a store URL before it reaches a log.
func redactURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// publish sends an event to the gates following this node (SSE) and, with
// a bus, to NATS, after the change it describes is committed.
func (m *Main) publish(e feed.Event) {
	m.Feed.Publish(e)
	if m.bus == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := m.bus.Publish(ctx, e)
	var stale *natsbus.StaleError
	switch {
	case errors.As(err, &stale):
		go m.heal(stale.Stored)
	case err != nil:
		// Gates on the bus catch up from the next policy or key event and
		// from their own TTL; the store and SSE gates have it already.
		m.Config.Log.Error("publish to the bus", "kind", e.Kind, "err", err)
	}
}

// heal answers a bus that holds a newer policy version than this node
// published. Another node's newer version published first is a race, and
// nothing to do. A store whose version is behind the bus's went backwards
// (restored from a backup): gates keep the highest version they have
// seen and would ignore this store's policy and every change after it.
// The store is the truth, so its version is raised past the bus's and
// its policy installed and published again — gates then enforce the
// restored campaigns, and every later change reaches them.
func (m *Main) heal(busVersion uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := m.Config.Log
	v, err := m.store.PolicyVersion(ctx)
	if err != nil {
		log.Error("heal the policy version: read it", "err", err)
		return
	}
	if v >= busVersion {
		return
	}
	nv, err := m.store.RaisePolicyVersion(ctx, busVersion)
	if err != nil {
		log.Error("heal the policy version: raise it", "err", err)
		return
	}
	m.healed.Inc()
	log.Warn("the store's policy version went backwards (restored from a backup?): raised past the bus's and republished",
		"store_version", v, "bus_version", busVersion, "new_version", nv)
	if err := m.Campaigns.Reload(ctx); err != nil {
		log.Error("heal the policy version: reload", "err", err)
	}
}

// followBus makes this node hear other nodes' changes at once: a policy
// event reloads the campaigns (instead of waiting for the next poll), a
// key event the keys, and revocations reach this node's SSE gates.
func (m *Main) followBus(ctx context.Context) {
	// Start with this node's state, so a bus that is new (or was wiped)
	// holds a policy and keys for the first gate.
	if snap, err := m.snapshot(ctx); err == nil {
		var stale *natsbus.StaleError
		if err := m.bus.Publish(ctx, snap); errors.As(err, &stale) {
			m.heal(stale.Stored)
		} else if err != nil {
			m.Config.Log.Warn("publish the initial state to the bus", "err", err)
		}
	}
	apply := func(e feed.Event, origin string) {
		if origin == m.node {
			return
		}
		switch e.Kind {
		case feed.KindPolicy:
			if err := m.Campaigns.Reload(ctx); err != nil {
				m.Config.Log.Warn("reload after a bus policy event", "err", err)
			}
		case feed.KindKeys:
			if err := m.Authn.ReloadKeys(ctx); err != nil {
				m.Config.Log.Warn("reload keys after a bus event", "err", err)
			}
			m.Feed.Publish(feed.Event{Kind: feed.KindKeys, JWKS: m.Authn.JWKS()})
		case feed.KindRevoke:
			m.Feed.Publish(e)
		}
	}
	// A node that stopped following would miss other nodes' revocations
	// for its own SSE gates (the policy has its one-second poll; those
	// have none), so a failed Follow is tried again until Close.
	err := natsbus.Retry(ctx, m.Config.Log, "follow the bus", natsbus.RetryFirst, natsbus.RetryMost, func(ctx context.Context) error { return m.bus.Follow(ctx, apply) })
	if err != nil && ctx.Err() == nil && !errors.Is(err, natsbus.ErrClosed) {
		m.Config.Log.Error("follow the bus", "err", err)
	}
}

// auditOrigin names a new audit log after the issuer's host: the origin
// line of its checkpoints and the name of its key.
func auditOrigin(issuer string) string {
	if u, err := neturl.Parse(issuer); err == nil && u.Host != "" {
		return u.Host + "/audit"
	}
	return "cordon/audit"
}

func validCategory(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// readAuditKey reads a checkpoint signer key file, refusing one others
// can read: the key is what makes a rewritten log detectable.
func readAuditKey(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", usageError("--audit-key: %v", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", usageError("--audit-key: %s can be read by other users (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageError("--audit-key: %v", err)
	}
	key := strings.TrimSpace(string(b))
	if _, err := audit.VerifierKeyOf(key); err != nil {
		return "", usageError("--audit-key: %s holds no checkpoint signer key (make one with cordon audit keygen): %v", path, err)
	}
	return key, nil
}

// pace runs this node's pacer of the auto ramps until ctx ends, on the
// hashing pools' load of every node that shares the store (this node's
// scaled by --pace-nodes while it has seen no other): it first times one
// hash, so the pace knows the node's capacity before the first login,
// and times one again in each interval its pool hashed nothing.
func (m *Main) pace(ctx context.Context, c *Config) {
	every := c.PaceEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	perOp, err := campaign.Calibrate(ctx, m.hasher)
	if err != nil {
		if ctx.Err() == nil {
			c.Log.Warn("auto ramps: cannot time a hash; they admit along their max_duration line", "err", err)
		}
		return
	}
	tier := m.Campaigns.NewTier(campaign.TierConfig{Node: m.node, Load: m.hasher.Load, PerOp: perOp, Every: every, Nodes: c.PaceNodes,
		Probe: func(ctx context.Context) (time.Duration, error) { return campaign.Calibrate(ctx, m.hasher) }, Queue: campaign.HasherQueue(m.hasher)})
	campaign.NewPacer(m.Campaigns, every, m.Campaigns.LiveAges).SeenEvery(m.Authn.Config().AccessTTL).Run(ctx, tier)
}
