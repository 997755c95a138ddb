package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/gate"
	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/cordon-dev/cordon/internal/uafacts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/realclientip/realclientip-go"
	"github.com/spf13/cobra"
	"golang.org/x/net/netutil"
)

// GateConfig is what `cordon gate` is told.
type GateConfig struct {
	Addr     string // listen address
	Upstream string // the backend behind the gate
	Control  string // the cordon server whose feed it follows
	Bus      string // or a nats:// URL of the feed on NATS JetStream
	Token    string // admin token with scope gate
	Issuer   string // iss of access tokens; default the control URL
	Audience string
	Log      *slog.Logger
	// UserAgents infers client facts from the User-Agent of requests
	// without Cordon-Client (--ua-rules, --ua-app); nil leaves them unknown.
	UserAgents *uafacts.Rules
	// TrustedIssuers are external OpenID providers whose tokens the gate
	// accepts too (--trusted-issuer).
	TrustedIssuers []issuers.Config

	// Limits on what a client may hold; zero means the default.
	ReadHeaderTimeout time.Duration // to send the request's headers
	ReadTimeout       time.Duration // to send the body; for an allowed request, the longest pause in it
	WriteTimeout      time.Duration // to take the answer; for an allowed request, the longest pause
	IdleTimeout       time.Duration // between requests on a kept-alive connection
	MaxConns          int           // connections open at once; more wait to be accepted
	MaxHeaderBytes    int
	// TrustedProxies are the proxies whose X-Forwarded-For the gate
	// believes; from anyone else it sets the headers from the TCP peer.
	TrustedProxies []net.IPNet
	// ReportEvery is how often the gate sends the control plane what it
	// enforced (gate.DefaultReportEvery when zero; negative turns
	// reporting off); ReportCapacity bounds the reports it holds between
	// sends (gate.DefaultReportCapacity when zero). Reporting needs the
	// control URL and a token of scope gate.
	ReportEvery    time.Duration
	ReportCapacity int
}

// Defaults of the gate's limits.
const (
	DefaultGateReadHeaderTimeout = 10 * time.Second
	DefaultGateReadTimeout       = 30 * time.Second
	DefaultGateWriteTimeout      = 30 * time.Second
	DefaultGateIdleTimeout       = 60 * time.Second
	DefaultGateMaxHeaderBytes    = 64 << 10
)

// defaults fills the zero limits of c.
func (c *GateConfig) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.ReadHeaderTimeout, DefaultGateReadHeaderTimeout)
	set(&c.ReadTimeout, DefaultGateReadTimeout)
	set(&c.WriteTimeout, DefaultGateWriteTimeout)
	set(&c.IdleTimeout, DefaultGateIdleTimeout)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultGateMaxHeaderBytes
	}
	if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns(fileLimit())
	}
}

// defaultMaxConns is the connection limit for a process allowed nofile
// descriptors: each client connection may take a second one toward the
// upstream, and the feed, the listener and the runtime need a few.
func defaultMaxConns(nofile uint64) int {
	const reserve, ceiling = 64, 16384
	if nofile == 0 || nofile > 2*ceiling+reserve {
		return ceiling
	}
	if nofile < 2*64+reserve {
		return 64
	}
	return int(nofile-reserve) / 2
}

// GateMain is one running gate: a reverse proxy that decides every request
// locally on the policy it follows from the control plane.
type GateMain struct {
	Config GateConfig
	State  *gate.State
	Feed   *gate.Follower // the feed, from a server or a bus
	// Reporter sends what the gate enforced to the control plane; nil
	// when reporting is off.
	Reporter *gate.Reporter
	reported chan struct{} // closed when the Reporter's last send is done
	// Issuers are the trusted external issuers; nil when none.
	Issuers *issuers.Set

	conns atomic.Int64 // client connections the HTTP server holds (upgraded ones are Gate.Tunnels)
	gate  *gate.Gate

	ln     net.Listener
	srv    *http.Server
	cancel context.CancelFunc
	done   chan error
}

// Run binds the listener, starts following the feed and serving. If it
// fails, what it had started is undone (Close).
func (g *GateMain) Run(ctx context.Context) (err error) {
	c := &g.Config
	if c.Log == nil {
		c.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	up, err := url.Parse(c.Upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return fmt.Errorf("--upstream must be an http(s) URL, got %q", c.Upstream)
	}
	if c.Bus == "" {
		ctl, err := url.Parse(c.Control)
		if err != nil || (ctl.Scheme != "http" && ctl.Scheme != "https") || ctl.Host == "" {
			return fmt.Errorf("--control must be an http(s) URL, got %q", c.Control)
		}
	} else if c.Issuer == "" {
		return errors.New("a gate on --bus needs --issuer: the iss of cordon serve's tokens")
	}
	if c.Issuer == "" {
		c.Issuer = strings.TrimRight(c.Control, "/")
	}
	if c.Audience == "" {
		c.Audience = "cordon"
	}
	c.defaults()
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	// Beyond MaxConns, connections wait in the kernel's accept queue and
	// cost the gate no descriptor: a flood of held connections cannot run
	// it out of descriptors for its upstream and its feed.
	ln = netutil.LimitListener(ln, c.MaxConns)
	g.ln = ln
	g.State = gate.NewState(c.Issuer, c.Audience)
	reg := prometheus.NewRegistry()
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cordon_gate_decisions_total", Help: "Decisions by outcome and reason."}, []string{"outcome", "reason"})
	reg.MustRegister(decisions, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_gate_policy_version", Help: "Version of the policy the gate enforces."},
			func() float64 { return float64(g.State.PolicyVersion()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_gate_policy_age_seconds", Help: "Seconds since the gate last heard from the control plane (an event or a ping)."},
			func() float64 { return g.age().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_gate_feed_connected", Help: "1 while the feed stream is open."},
			func() float64 {
				if g.connected() {
					return 1
				}
				return 0
			}))
	opts := gate.Options{Log: c.Log, OnDecision: func(d gate.Decision) {
		decisions.WithLabelValues(d.Outcome.String(), d.Reason).Inc()
	}}
	if c.ReportEvery >= 0 && c.Token != "" && strings.HasPrefix(c.Control, "http") {
		rep, err := gate.NewReporter(gate.ReporterConfig{Server: c.Control, Token: c.Token, Every: c.ReportEvery, Capacity: c.ReportCapacity, Log: c.Log})
		if err != nil {
			return fmt.Errorf("--control: %w", err)
		}
		g.Reporter, opts.Reporter = rep, rep
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cordon_gate_reports_sent_total", Help: "Denials and prompts reported to the control plane."},
				func() float64 { return float64(rep.Stats().Sent) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cordon_gate_reports_dropped_total", Help: "Reports dropped because the buffer was full."},
				func() float64 { return float64(rep.Stats().Dropped) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_gate_reports_pending", Help: "Reports waiting for the next send."},
				func() float64 { return float64(rep.Stats().Pending) }))
	}
	if ua := c.UserAgents; ua != nil {
		opts.UserAgentFacts = func(h http.Header) (gate.ClientFacts, bool) {
			f, ok := ua.FromHeader(h)
			return gate.ClientFacts(f), ok
		}
	}
	set, err := newIssuers(c.TrustedIssuers, c.Log, time.Now)
	if err != nil {
		return err
	}
	if set != nil {
		opts.External, g.Issuers = set, set
		issuerMetrics(reg, set)
	}
	gt := gate.New(g.State, opts)
	g.gate = gt
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_gate_connections", Help: "Client connections open, upgraded ones excepted."},
			func() float64 { return float64(g.conns.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_gate_tunnels", Help: "Upgraded connections (WebSockets) open through the gate."},
			func() float64 { return float64(gt.Tunnels()) }))
	proxy, err := gate.NewProxy(gate.ProxyConfig{Upstream: c.Upstream, Gate: gt, TrustedProxies: c.TrustedProxies,
		ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout, Log: c.Log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := gt.Ready(); err != nil {
			nr := err.(*gate.NotReady)
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"error": "not_ready", "reason": nr.Reason, "message": nr.Message})
			return
		}
		fmt.Fprintf(w, `{"status":"ready","policy_version":%d,"policy_age_seconds":%.3f,"feed_connected":%t}`+"\n",
			g.State.PolicyVersion(), g.age().Seconds(), g.connected())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", proxy)

	f, err := gate.NewFollower(ctx, g.State, gate.FollowerConfig{Server: c.Control, Token: c.Token, Bus: c.Bus,
		RevocationTTL: authn.DefaultConfig().AccessTTL + tokenLeeway, Log: c.Log})
	if err != nil {
		if c.Bus != "" {
			return fmt.Errorf("--bus: %w", err)
		}
		return err
	}
	g.Feed = f
	runCtx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go f.Run(runCtx)
	go runIssuers(runCtx, g.Issuers, c.Log)
	if g.Reporter != nil {
		g.reported = make(chan struct{})
		go func() {
			defer close(g.reported)
			g.Reporter.Run(runCtx)
		}()
	}
	// ReadTimeout and WriteTimeout bound every request until the gate
	// has allowed it; an allowed one gets deadlines that move with its
	// progress instead (streaming), so uploads, long polls, streamed
	// answers and upgraded connections are not cut at a fixed age.
	g.srv = &http.Server{Handler: mux,
		ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(c.Log.Handler(), slog.LevelWarn),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				g.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				g.conns.Add(-1)
			}
		}}
	g.done = make(chan error, 1)
	go func() { g.done <- g.srv.Serve(ln) }()
	c.Log.Info("cordon gate serving", "addr", ln.Addr().String(), "upstream", c.Upstream, "control", c.Control)
	return nil
}

// age is how long since the gate last heard from the control plane (on a
// bus: since the last event, as a bus carries no pings).
func (g *GateMain) age() time.Duration {
	t := g.Feed.LastEvent()
	if t.IsZero() {
		return 0
	}
	return time.Since(t)
}

// connected reports whether the feed (SSE or bus) is connected.
func (g *GateMain) connected() bool { return g.Feed.Connected() }

// Conns is how many client connections the gate holds open, and how
// many of them are upgraded (WebSocket) tunnels.
func (g *GateMain) Conns() (conns, tunnels int) {
	return int(g.conns.Load()) + g.gate.Tunnels(), g.gate.Tunnels()
}

// Addr is the address the gate listens on.
func (g *GateMain) Addr() string { return g.ln.Addr().String() }

// Close stops the gate: in-flight requests get up to 10 s. It is the one
// cleanup path: Run calls it when it fails part way, and a second Close
// does nothing more.
func (g *GateMain) Close() error {
	if g.cancel != nil {
		g.cancel()
	}
	if g.reported != nil {
		<-g.reported // the last send, bounded by the Reporter (2 s)
	}
	if g.Feed != nil {
		g.Feed.Close()
	}
	if g.srv == nil {
		if g.ln != nil {
			g.ln.Close() // Run failed before serving
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := g.srv.Shutdown(ctx)
	if serr := <-g.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	g.srv = nil // a second Close is a no-op
	return err
}

func gateCmd(a *app) *cobra.Command {
	var cmd *cobra.Command
	cmd = leaf(&cobra.Command{
		Use:   "gate --upstream URL",
		Short: "Run an enforcement point in front of an API",
		Long: `Run a gate: a reverse proxy in front of your API (--upstream) that follows the
cordon server's policy feed (--control, else --server or CORDON_SERVER) or
NATS (--bus), verifies access tokens, and enforces campaigns and revocations
before a request reaches the API. It needs a token with scope gate in
CORDON_GATE_TOKEN (cordon token create NAME --scope gate).

` + configHelp,
		Example: `  CORDON_GATE_TOKEN=$(cordon token create edge-1 --scope gate) cordon gate --upstream http://127.0.0.1:9000
  cordon gate --upstream http://api:9000 --control https://cordon.internal:8080 --issuer https://id.example.com
  cordon gate --config /etc/cordon/gate.yaml`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		var c GateConfig
		fs.String("config", "", "YAML file of flag values (default $CORDON_CONFIG); flags and the environment win over it")
		fs.StringVar(&c.Addr, "addr", "127.0.0.1:8081", "listen address")
		fs.StringVar(&c.Upstream, "upstream", "", "URL of the backend to protect (required)")
		fs.StringVar(&c.Control, "control", "", "URL of the cordon server to follow (default $CORDON_SERVER or http://127.0.0.1:8080)")
		fs.StringVar(&c.Bus, "bus", "", "nats://host:4222: follow the feed on NATS JetStream instead of a server (needs --issuer)")
		fs.StringVar(&c.Issuer, "issuer", "", "iss of access tokens, as cordon serve --issuer (default the control URL)")
		fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", DefaultGateReadHeaderTimeout, "time a client has to send a request's headers")
		fs.DurationVar(&c.ReadTimeout, "read-timeout", DefaultGateReadTimeout, "time a client has to send a request; for an allowed request, the longest pause in its body")
		fs.DurationVar(&c.WriteTimeout, "write-timeout", DefaultGateWriteTimeout, "time a client has to take an answer; for an allowed request, the longest pause")
		fs.DurationVar(&c.IdleTimeout, "idle-timeout", DefaultGateIdleTimeout, "how long a kept-alive connection may wait for its next request")
		fs.IntVar(&c.MaxConns, "max-conns", 0, "client connections open at once (default: half the descriptor limit, at most 16384)")
		fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", DefaultGateMaxHeaderBytes, "largest request header block")
		fs.DurationVar(&c.ReportEvery, "report-every", gate.DefaultReportEvery, "how often to report denials and prompts to the control plane, for campaign progress (negative: never)")
		fs.IntVar(&c.ReportCapacity, "report-buffer", gate.DefaultReportCapacity, "reports held between sends; beyond it they are counted as dropped")
		proxies := fs.String("trusted-proxies", "", "CIDR,...: proxies whose X-Forwarded-For the gate believes (default none: the TCP peer is the client)")
		userAgents := uaFlags(fs)
		trusted := issuerFlags(fs)
		return func(ctx context.Context, _ []string) error {
			onArgv := argvFlags(cmd.Flags())
			if err := settle(cmd.Flags(), os.Getenv); err != nil {
				return err
			}
			warnSecrets(cmd.Flags(), onArgv, a.stderr)
			c.TrustedIssuers = trusted.list
			if c.Control == "" {
				c.Control = a.serverURL()
			}
			return runGate(ctx, c, *proxies, userAgents, a.stderr)
		}
	})
	return cmd
}

// runGate checks gate's settled flags and runs the gate until ctx ends.
func runGate(ctx context.Context, c GateConfig, proxies string, userAgents func() (*uafacts.Rules, error), stderr io.Writer) error {
	if ua, err := userAgents(); err != nil {
		return err
	} else {
		c.UserAgents = ua
	}
	if c.Upstream == "" {
		return usageError("gate needs --upstream URL")
	}
	if proxies != "" {
		nets, err := parseTrustedProxies(proxies)
		if err != nil {
			return usageError("--trusted-proxies: %v", err)
		}
		c.TrustedProxies = nets
	}
	if c.ReadHeaderTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.IdleTimeout < 0 || c.MaxConns < 0 || c.MaxHeaderBytes < 0 || c.ReportCapacity < 0 {
		return usageError("gate limits must not be negative")
	}
	if c.Control == "" {
		c.Control = os.Getenv("CORDON_SERVER")
	}
	if c.Control == "" {
		if c.Bus != "" {
			c.ReportEvery = -1 // a gate on a bus reports only to a server it is given
		}
		c.Control = "http://127.0.0.1:8080"
	}
	c.Token = os.Getenv("CORDON_GATE_TOKEN")
	if c.Token == "" {
		c.Token = os.Getenv("CORDON_ADMIN_TOKEN")
	}
	if c.Token == "" && c.Bus == "" {
		return usageError("gate needs a token with scope gate in CORDON_GATE_TOKEN (cordon token create NAME --scope gate)")
	}
	c.Log = slog.New(slog.NewJSONHandler(stderr, nil))
	g := &GateMain{Config: c}
	if err := g.Run(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		c.Log.Info("shutting down")
	case err := <-g.done:
		g.done <- err
	}
	return g.Close()
}

// parseTrustedProxies reads --trusted-proxies: addresses and CIDR ranges,
// comma-separated.
func parseTrustedProxies(s string) ([]net.IPNet, error) {
	var list []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	if len(list) == 0 {
		return nil, errors.New("no address or range given")
	}
	nets, err := realclientip.AddressesAndRangesToIPNets(list...)
	if err != nil {
		return nil, fmt.Errorf("want addresses or CIDR ranges, comma-separated: %w", err)
	}
	return nets, nil
}
