// Package gate is cordon's enforcement point for Go backends: HTTP
// middleware that verifies each request's access token locally and asks
// the decision engine, against the policy the control plane last sent,
// whether the request may pass. It answers denials exactly as cordon
// serve does (SPEC.md's wire contract), so an app cannot tell which of
// them refused it:
//
//   - no token: 401 unauthorized; a bad, expired or foreign one: 401
//     invalid_token; a revoked session: 401 session_revoked;
//   - reauth_required and password_reset_required: 401 with
//     WWW-Authenticate and the campaign;
//   - a campaign's denial carries a Cordon-Notice header when a published
//     notice explains that campaign (its id and title, in the best
//     language of Accept-Language), learnt over the feed with the policy;
//   - an immediate upgrade: 426 upgrade_required with min_version,
//     update_url, campaign and, for a side-loaded install, sideloaded;
//   - a flexible upgrade passes with a Cordon-Upgrade response header;
//   - before the first policy and keys (on a bus, before every revocation
//     it held at the start is read too): 503 not_ready with Retry-After.
//
// A State holds the policy, the keys and the revoked sessions. A Follower
// keeps it current from the policy feed of a cordon server (or of NATS,
// where cordon serve --bus publishes it); code that carries the feed
// itself reads each event with ParseEvent and gives it to State.Apply. A
// Gate reads the State without locks. When the control plane is
// unreachable the State simply stops changing: the gate fails static,
// enforcing the last policy it saw.
//
// A token's signature is checked once, not on every request: verified
// tokens are kept in a bounded cache, found by a 64-bit hash of the token
// under a seed drawn at random per Gate (hash/maphash, so nobody can aim
// tokens at one slot) and matched on the whole token. An entry answers
// only while the token is valid and its key is still published. The
// revocation set and the policy are consulted on every request.
//
// Wiring, in outline:
//
//	st := gate.NewState("https://id.example.com", "api")
//	f, _ := gate.NewFollower(ctx, st, gate.FollowerConfig{Server: "https://id.example.com", Token: token})
//	go f.Run(ctx)
//	g := gate.New(st, gate.Options{Log: logger})
//	http.ListenAndServe(addr, g.Handler(api))
//
// and in a handler behind it:
//
//	id, _ := gate.FromContext(r.Context())
//	fmt.Fprintf(w, "hello %s", id.AccountID)
//
// Or, in front of a backend in any language, a reverse proxy that passes
// the identity in X-Cordon- headers (what `cordon gate` serves):
//
//	p, _ := gate.NewProxy(gate.ProxyConfig{Upstream: "http://127.0.0.1:9000", Gate: g})
//	http.ListenAndServe(addr, p)
//
// Toward the handler it wraps, the gate owns the Cordon- and X-Cordon-
// request headers: it removes those a client sent (Cordon-Client
// excepted), in every spelling a CGI or WSGI server would fold into the
// same variable (X_Cordon_Account, x.cordon.account), so a handler, or an
// upstream behind a reverse proxy, can trust any it finds.
//
// A Reporter (Options.Reporter, NewReporter) tells the control plane of
// every campaign denial and flexible upgrade prompt the gate decides, in
// batches every few seconds from a bounded buffer, so a campaign's
// progress counts what the gates enforce.
//
// A request is decided on its headers alone. A refused request is
// answered at once, without waiting for a body the client may never send,
// and its connection is closed. An upgraded connection (a WebSocket) the
// gate let through is closed when its session is revoked, when a new
// policy denies it, or when its access token expires.
package gate

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/token"
	"github.com/cordon-dev/cordon/internal/wire"
)

// DefaultCacheSize is the number of verified tokens a Gate keeps unless
// Options says otherwise: with 15-minute tokens, enough for the active
// sessions of a large backend instance. An entry takes about half a
// kilobyte, so a full cache of this size holds some 50 MB.
const DefaultCacheSize = 100_000

// sweepEvery is how often a Gate drops expired revocations.
const sweepEvery = time.Minute

// Options configure a Gate. The zero value is usable.
type Options struct {
	// Clock tells the time; time.Now when nil.
	Clock func() time.Time
	// CacheSize bounds the verified-token cache: 0 means
	// DefaultCacheSize, a negative size turns the cache off.
	CacheSize int
	// Log receives debug lines about refused requests; nothing when nil.
	Log *slog.Logger
	// OnDecision, if set, is called with every decision (allowed and
	// denied; not with errors such as a bad token), for metrics. It runs
	// on the request path and must be quick and safe for concurrent use.
	OnDecision func(Decision)
	// UserAgentFacts, if set, infers the client facts of a request that
	// sends no Cordon-Client header (apps shipped before it), e.g. from
	// its User-Agent; ok false means unknown. It runs on the request path
	// and must be quick and safe for concurrent use.
	UserAgentFacts func(h http.Header) (f ClientFacts, ok bool)
	// Reporter, if set, is told of every campaign denial and flexible
	// upgrade prompt, so the campaign's progress counts what this gate
	// enforced (NewReporter; run it with Reporter.Run).
	Reporter *Reporter
	// External, if set, verifies the tokens of trusted external OpenID
	// providers, whose users campaigns then reach too (external.go).
	External ExternalVerifier
}

// Gate decides requests against a State. It is safe for concurrent use.
type Gate struct {
	st         *State
	verifier   *token.Verifier
	cache      *tokenCache // nil when off
	clock      func() time.Time
	log        *slog.Logger
	onDecision func(Decision)
	uaFacts    func(http.Header) (ClientFacts, bool)
	reporter   *Reporter
	external   ExternalVerifier
	nextSweep  atomic.Int64 // Unix ns
	tunnels    tunnels
	health     health
}

// New returns a Gate that decides against st.
func New(st *State, opts Options) *Gate {
	g := &Gate{st: st, clock: opts.Clock, log: opts.Log, onDecision: opts.OnDecision, uaFacts: opts.UserAgentFacts, reporter: opts.Reporter, external: opts.External}
	if g.clock == nil {
		g.clock = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	size := opts.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	g.cache = newTokenCache(size)
	g.verifier = token.NewVerifier(token.KeysFunc(st.currentKeys), st.issuer, st.audience)
	return g
}

// currentKeys is the key source of a Gate's verifier: whatever the State
// holds at the moment of the lookup.
func (s *State) currentKeys() token.Keys {
	if k := s.keys.Load(); k != nil {
		return k
	}
	return nil
}

// Identity is who a request comes from, as its token and Cordon-Client
// header say. Handler puts it in the request's context.
type Identity struct {
	AccountID string
	SessionID string
	// Issuer is the trusted external issuer whose token this is (see
	// ExternalVerifier); empty for cordon's own tokens. AccountID is then
	// "ISSUER#SUB", and Platform and Source are empty: the token proves
	// none.
	Issuer string
	// Platform and Source are the session's; Version is the one the
	// request reports when it comes from the session's platform (an
	// in-place upgrade), else the session's.
	Platform string
	Version  string
	Source   string
	// Device is the device id the request reports; tokens carry none.
	Device   string
	AuthTime time.Time
	// Expiry is when the access token expires.
	Expiry time.Time
	// Decision is what the gate decided. An allowed request may still
	// carry upgrade advice (a flexible upgrade).
	Decision Decision
}

type identityKey struct{}

// FromContext returns the identity Handler put in a request's context.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}

// Handler returns middleware that lets through only requests the policy
// allows, with their Identity in the context, and answers the rest as
// cordon serve would.
func (g *Gate) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, d, err := g.decide(r)
		if err != nil {
			refuse(w, r)
			writeError(w, g.log, err)
			return
		}
		if d.Outcome == decision.Deny {
			refuse(w, r)
			if d.Campaign != "" {
				wire.SetNotice(w, g.st.notices.Load(), &d, r.Header.Get("Accept-Language"))
			}
			wire.WriteDenied(w, &d)
			return
		}
		if u := d.Upgrade; u != nil {
			w.Header().Set("Cordon-Upgrade", wire.UpgradeHeader(u))
		}
		r2 := r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
		if ownedHeaders(r.Header) {
			r2.Header = r.Header.Clone()
			for k := range r2.Header {
				if owned(k) {
					delete(r2.Header, k)
				}
			}
		}
		if len(r.Header["Upgrade"]) > 0 {
			uw, err := g.watchUpgrade(w, r, id)
			if err != nil {
				refuse(w, r)
				writeError(w, g.log, err)
				return
			}
			w = uw
		}
		next.ServeHTTP(w, r2)
	})
}

// refuse readies w for a refusal of r. A request with a body is refused
// without reading it: the connection is closed after the answer, and its
// read deadline is set in the past so the server does not first wait
// for (or drain) a body that a client may never send — which would hold
// the connection open for as long as the client likes.
func refuse(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	w.Header().Set("Connection", "close")
	// Not every ResponseWriter supports deadlines (a test recorder does
	// not); the answer is the same without.
	_ = http.NewResponseController(w).SetReadDeadline(time.Unix(1, 0))
}

// owned reports whether a request header is in the namespaces the gate
// owns toward what it protects: Cordon- and X-Cordon-, but Cordon-Client,
// which the app sends. Names are read as CGI and WSGI servers read them —
// case folded, every byte but a letter or a digit as '-' — because such
// a server folds X_Cordon_Account and X-Cordon-Account into one variable
// (HTTP_X_CORDON_ACCOUNT). Only the exact spelling Cordon-Client (in any
// case) is the app's: the gate decides on that spelling alone, so another
// (Cordon_Client) would show an upstream facts the gate never judged.
func owned(k string) bool {
	return (foldedPrefix(k, "cordon-") || foldedPrefix(k, "x-cordon-")) && !strings.EqualFold(k, clientfacts.Header)
}

// OwnedHeader reports whether a request header named name is one the gate
// removes before a request reaches what it protects (see owned). A
// reverse proxy in front of an upstream uses it to strip the same set.
func OwnedHeader(name string) bool { return owned(name) }

func ownedHeaders(h http.Header) bool {
	for k := range h {
		if owned(k) {
			return true
		}
	}
	return false
}

// foldedPrefix reports whether s begins with prefix, a lower-case name of
// letters, digits and '-', once s is read as a CGI server reads a header
// name: letters folded to lower case, any other byte as '-'.
func foldedPrefix(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		default:
			c = '-'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// FoldedName is a header name as a CGI or WSGI server reads it: letters in
// lower case, every other byte as '-'. Two names with the same folded name
// reach such a server as one variable.
func FoldedName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		default:
			b[i] = '-'
		}
	}
	return string(b)
}

// Decide is what Handler does short of answering: it authenticates the
// request and decides it. A request that reaches the decision engine
// gets its Identity and the Decision (which is &Identity.Decision, and
// may be a denial, session_revoked included) and a nil error; one that
// does not (no token, a bad token, a malformed Cordon-Client header, a
// State not yet ready) gets a *Error and nothing else.
func (g *Gate) Decide(r *http.Request) (*Identity, *Decision, error) {
	id, _, err := g.decide(r)
	if err != nil {
		return nil, nil, publicError(err)
	}
	return id, &id.Decision, nil
}

// decide is Decide with the engine's decision, which the wire answers are
// written from, and the domain's errors.
func (g *Gate) decide(r *http.Request) (*Identity, decision.Decision, error) {
	var none decision.Decision

	now := g.clock()
	ns := now.UnixNano()
	tok, err := bearer(r.Header)
	if err != nil {
		return nil, none, err
	}
	keys := g.st.keys.Load()
	var (
		h uint64
		e *entry
	)
	if g.cache != nil {
		h = g.cache.hash(tok)
		if e = g.cache.get(h, tok); e != nil && !e.valid(ns, keys) {
			e = nil
		}
	}

	client, memo, facts, err := g.facts(r.Header, e)
	if err != nil {
		return nil, none, err
	}
	pol := g.st.policy.Load()
	if pol == nil || keys == nil || g.st.behind.Load() {
		g.log.Debug("gate not ready", "policy", pol != nil, "keys", keys != nil, "catching_up", g.st.behind.Load())
		return nil, none, &cordon.Error{Code: CodeNotReady, Message: "the gate has not received its policy and keys yet; retry shortly", RetryAfter: 1}
	}
	if e == nil {
		if g.external != nil && (g.external.Trusts(tok) || g.foreign(tok)) {
			// An external token says nothing of cordon's keys: no health.
			if e, err = g.verifyExternal(r.Context(), tok, h, now); err != nil {
				g.log.Debug("external token refused", "err", err)
				return nil, none, err
			}
		} else if e, err = g.verify(tok, h, keys, now); err != nil {
			g.health.failed(tok, keys, err, ns)
			g.log.Debug("token refused", "err", err)
			return nil, none, err
		} else {
			g.health.verified()
		}
		if g.cache != nil {
			e.client, e.memo, e.facts = client, memo, facts
			g.cache.put(e, ns)
		}
	}

	sess := &e.session
	if e.ext != nil {
		// No facts at login: the request's claims stand in for upgrades
		// alone, on the policy's fail-closed form (decision.Unproven).
		s := *sess
		s.Facts = cordon.ClientFacts{Platform: facts.Platform, Version: facts.Version, Source: facts.Source}
		sess, pol = &s, pol.Unproven()
	}
	revoked := false
	if g.st.revoked.has(sess.ID, ns) {
		r := *sess
		r.RevokedAt = now
		sess, revoked = &r, true
	}
	id := &Identity{
		AccountID: sess.AccountID,
		SessionID: sess.ID,
		Platform:  sess.Facts.Platform,
		Version:   sess.Facts.Version,
		Source:    sess.Facts.Source,
		Device:    facts.Device,
		AuthTime:  sess.AuthTime,
		Expiry:    time.Unix(0, e.expiry),
	}
	d := decision.Decide(&decision.Input{Session: sess, Client: facts, Now: now, Policy: pol})
	id.Decision = publicDecision(&d)
	if facts.Version != "" && facts.Platform == id.Platform {
		id.Version = facts.Version
	}
	if e.ext != nil {
		id.Issuer, id.Platform, id.Source = e.ext.Issuer, "", ""
	}
	if g.onDecision != nil {
		g.onDecision(id.Decision)
	}
	if g.reporter != nil && d.Campaign != "" && !revoked && e.ext == nil {
		switch {
		case d.Outcome == decision.Deny:
			g.reporter.Record(d.Campaign, sess.ID, false)
		case d.Upgrade != nil:
			g.reporter.Record(d.Campaign, sess.ID, true)
		}
	}
	if d.Outcome == decision.Deny && g.log.Enabled(r.Context(), slog.LevelDebug) {
		g.log.Debug("request denied", "reason", d.Reason, "campaign", d.Campaign, "session", id.SessionID)
	}
	if next := g.nextSweep.Load(); ns > next && g.nextSweep.CompareAndSwap(next, ns+int64(sweepEvery)) {
		go g.st.Sweep(now)
	}
	return id, d, nil
}

// facts reads the request's Cordon-Client header, reusing what the cache
// entry parsed when the header is the same. A header of one line (or
// none) can be memoised: client is its value and memo is true.
func (g *Gate) facts(h http.Header, e *entry) (client string, memo bool, f cordon.ClientFacts, err error) {
	lines := h[clientfacts.Header]
	if g.uaFacts != nil && !sendsCordonClient(lines) {
		// Not memoised: the facts depend on headers the entry does not
		// keep, and an old app's user agent costs a few microseconds.
		uf, _ := g.uaFacts(h)
		return "", false, cordon.ClientFacts(uf), nil
	}
	if len(lines) > 1 {
		f, err = clientfacts.FromHeader(h)
		return "", false, f, err
	}
	if len(lines) == 1 {
		client = lines[0]
	}
	if e != nil && e.memo && e.client == client {
		return client, true, e.facts, nil
	}
	f, err = clientfacts.Parse(client)
	return client, true, f, err
}

// verify checks a token the cache could not answer and returns the
// entry that would cache it.
func (g *Gate) verify(tok string, h uint64, keys *token.PublicKeys, now time.Time) (*entry, error) {
	c, err := g.verifier.Verify(tok, now)
	if err != nil {
		return nil, err
	}
	e := &entry{session: session(c), expiry: c.Expiry.UnixNano()}
	if g.cache != nil {
		from := c.IssuedAt
		if c.NotBefore.After(from) {
			from = c.NotBefore
		}
		// A copy, so the cache does not pin the request's header memory.
		e.h, e.tok, e.keys = h, strings.Clone(tok), keys
		e.from = from.Add(-token.Leeway).UnixNano()
		e.until = c.Expiry.Add(token.Leeway).UnixNano()
		e.kid = headerKID(tok)
		e.pub, _ = keys.PublicKey(e.kid)
	}
	return e, nil
}

// maxBearer bounds the Authorization header before any parsing or
// hashing, as cordon serve does.
const maxBearer = token.MaxTokenSize

// bearer reads the access token of an Authorization: Bearer header, with
// cordon serve's rules and messages.
func bearer(h http.Header) (string, error) {
	var v string
	switch vs := h["Authorization"]; len(vs) { // h.Get, without canonicalising a constant
	case 0:
	case 1:
		v = vs[0]
	default:
		// Which one would the upstream read? The gate would vouch for
		// one credential and forward another.
		return "", errMultipleCredentials
	}
	if v == "" {
		return "", cordon.Errorf(cordon.ECodeUnauthorized, "an Authorization: Bearer access token is required")
	}
	if len(v) > maxBearer {
		return "", cordon.Errorf(cordon.ECodeInvalidToken, "the access token is too long")
	}
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", cordon.Errorf(cordon.ECodeInvalidToken, "the Authorization header must be: Bearer <access token>")
	}
	tok = strings.TrimSpace(tok)
	// A token has no comma or blank (RFC 6750's b64token): one here is a
	// second credential joined to the first ("Bearer a, Basic b"), which
	// an upstream that splits the list would read.
	if strings.ContainsAny(tok, ", \t") {
		return "", errMultipleCredentials
	}
	return tok, nil
}

var errMultipleCredentials = cordon.Errorf(cordon.ECodeInvalid, "send exactly one credential: one Authorization header holding one Bearer token")
