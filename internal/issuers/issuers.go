// Package issuers verifies tokens of trusted external OpenID providers
// (the company's own identity provider: Keycloak, Auth0, Firebase,
// Cognito …), so a gate, POST /v1/decide and introspection can enforce
// campaigns on users cordon never logged in.
//
// Each issuer is configured by its issuer URL, an audience and an
// algorithm allow-list. The Set fetches the provider's OIDC discovery
// document (through github.com/coreos/go-oidc/v3, which checks that the
// document names exactly the configured issuer) and its JWKS, and keeps
// the keys current: a periodic refresh, and a refetch when a token names a
// kid it does not hold — at most one fetch per issuer in flight and at
// most one per MinRefetch, so a flood of forged kids costs the provider
// nothing. Keys, documents and key counts are bounded. When an issuer
// cannot be reached the Set keeps the keys it has (failing static like the
// gate) and says so in Status and in the log.
//
// Verification is go-jose's with the same hardening as cordon's own
// tokens: the alg must be on the issuer's allow-list and match the key's
// type (so none, HS256 with the public key as the secret, and RS/ES
// confusion are refused before any key is used); a token may not name or
// carry its own key (jwk, jku, x5u, x5c) or critical extensions; iss must
// equal a configured issuer exactly; aud must contain its audience; exp,
// nbf and iat hold with a minute of leeway. The subject is (issuer, sub)
// and the authentication time auth_time, else iat.
//
// A token from an external issuer proves who the user is and when the
// provider last authenticated them, nothing else: cordon bound no client
// facts (platform, version, install source) to it at login. See Policy
// in internal/decision (Unproven) for what a campaign does with that.
package issuers

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Bounds on what a provider may make cordon hold or read.
const (
	// MaxTokenSize bounds a token Verify will look at (ID tokens with
	// many claims run to a few KiB).
	MaxTokenSize = 16 << 10
	// MaxDocument bounds a discovery document or a JWKS.
	MaxDocument = 256 << 10
	// MaxKeys bounds the keys held per issuer; a JWKS with more is refused.
	MaxKeys = 64
	// MaxSubject bounds sub (OIDC Core §2: at most 255 ASCII characters).
	MaxSubject = 255
	// Leeway is the clock skew tolerated on exp, nbf, iat and auth_time,
	// as for cordon's own tokens.
	Leeway = time.Minute
)

// Defaults of Options.
const (
	DefaultMinRefetch = 30 * time.Second
	DefaultRefresh    = 10 * time.Minute
	DefaultTimeout    = 5 * time.Second
)

// Options tune a Set. The zero value is usable.
type Options struct {
	// Client fetches discovery documents and key sets; a client with
	// DefaultTimeout when nil. Responses are read up to MaxDocument.
	Client *http.Client
	// Clock tells the time; time.Now when nil.
	Clock func() time.Time
	// Log receives fetch failures and key changes.
	Log *slog.Logger
	// MinRefetch is the least time between two fetches of one issuer's
	// keys caused by unknown kids (DefaultMinRefetch when zero).
	MinRefetch time.Duration
	// Refresh is how often Run refetches every issuer's keys
	// (DefaultRefresh when zero).
	Refresh time.Duration
}

// Set is the trusted external issuers. It is safe for concurrent use.
type Set struct {
	byIssuer   map[string]*issuer
	list       []*issuer
	client     *http.Client
	clock      func() time.Time
	log        *slog.Logger
	minRefetch time.Duration
	refresh    time.Duration
	algs       []jose.SignatureAlgorithm // the union of the issuers' lists
	noRoots    *x509.CertPool
}

// issuer is one trusted issuer and its keys.
type issuer struct {
	cfg     Config
	algs    []jose.SignatureAlgorithm
	keys    atomic.Pointer[keySet] // nil until the first fetch
	fetches atomic.Int64           // JWKS fetches made (Status, tests)

	mu       sync.Mutex
	jwksURL  string
	last     time.Time     // when the last fetch started
	lastOK   time.Time     // when a fetch last succeeded
	lastErr  error         // the last fetch's error; nil after a success
	inflight chan struct{} // closed when the running fetch ends; nil when none
}

// keySet is an issuer's published keys as of one fetch: immutable.
type keySet struct {
	byKID map[string]*Key
	only  *Key // the single key of a set of one, for tokens without kid
}

// Key is a public key of an issuer. A verified token keeps a pointer to
// the one that checked it; Published says whether the issuer still
// publishes it.
type Key struct {
	iss *issuer
	kid string
	alg string // the JWK's alg; "" when the JWK names none
	pub crypto.PublicKey
}

// Published reports whether k is still in its issuer's key set. A
// refetch keeps the same *Key for an unchanged key, so this is a pointer
// load and a map read.
func (k *Key) Published() bool {
	ks := k.iss.keys.Load()
	return ks != nil && ks.byKID[k.kid] == k
}

// New returns a Set of the given issuers. It does no I/O: call Start (or
// Run) to fetch their keys. It fails on an invalid or repeated issuer.
func New(cfgs []Config, opts Options) (*Set, error) {
	if len(cfgs) > MaxIssuers {
		return nil, fmt.Errorf("at most %d trusted issuers", MaxIssuers)
	}
	s := &Set{byIssuer: map[string]*issuer{}, client: opts.Client, clock: opts.Clock, log: opts.Log,
		minRefetch: opts.MinRefetch, refresh: opts.Refresh, noRoots: x509.NewCertPool()}
	if s.client == nil {
		s.client = &http.Client{Timeout: DefaultTimeout}
	}
	// A bounded reader under the library's io.ReadAll; redirects are not
	// followed: the issuer's own URL is what is trusted.
	c := *s.client
	c.Transport = boundedTransport{next: c.Transport}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.client = &c
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.minRefetch <= 0 {
		s.minRefetch = DefaultMinRefetch
	}
	if s.refresh <= 0 {
		s.refresh = DefaultRefresh
	}
	for _, c := range cfgs {
		if err := c.check(); err != nil {
			return nil, err
		}
		if _, dup := s.byIssuer[c.Issuer]; dup {
			return nil, fmt.Errorf("trusted issuer %q given twice", c.Issuer)
		}
		is := &issuer{cfg: c}
		for _, a := range c.Algorithms {
			alg := jose.SignatureAlgorithm(a)
			is.algs = append(is.algs, alg)
			if !slices.Contains(s.algs, alg) {
				s.algs = append(s.algs, alg)
			}
		}
		s.byIssuer[c.Issuer] = is
		s.list = append(s.list, is)
	}
	return s, nil
}

// Len is the number of trusted issuers.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.list)
}

// Start fetches every issuer's discovery document and keys once, and
// returns an error naming each issuer it could not reach. The Set is
// usable either way: an issuer without keys refuses its tokens until a
// later fetch (Run, or an unknown kid) succeeds.
func (s *Set) Start(ctx context.Context) error {
	var errs []error
	for _, is := range s.list {
		if err := s.fetch(ctx, is); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run refreshes every issuer's keys each Refresh (sooner, at MinRefetch,
// for an issuer whose last fetch failed) until ctx ends.
func (s *Set) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second) // looks only; fetches when due
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := s.clock()
		for _, is := range s.list {
			is.mu.Lock()
			due := now.Sub(is.last) >= s.refresh || (is.lastErr != nil && now.Sub(is.last) >= s.minRefetch)
			is.mu.Unlock()
			if due {
				_ = s.fetch(ctx, is) // logged
			}
		}
	}
}

// Status is what a health endpoint says of one issuer.
type Status struct {
	Issuer  string    `json:"issuer"`
	Keys    int       `json:"keys"`
	Fetches int64     `json:"fetches"`
	LastOK  time.Time `json:"last_ok,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// Status reports each issuer's keys and its last fetch's error.
func (s *Set) Status() []Status {
	out := make([]Status, 0, len(s.list))
	for _, is := range s.list {
		st := Status{Issuer: is.cfg.Issuer, Fetches: is.fetches.Load()}
		if ks := is.keys.Load(); ks != nil {
			st.Keys = len(ks.byKID)
		}
		is.mu.Lock()
		st.LastOK = is.lastOK
		if is.lastErr != nil {
			st.Error = is.lastErr.Error()
		}
		is.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// Fetches is how many key-set fetches the issuer has caused (tests,
// metrics); 0 for an issuer not in the Set.
func (s *Set) Fetches(iss string) int64 {
	if is := s.byIssuer[iss]; is != nil {
		return is.fetches.Load()
	}
	return 0
}

// fetch runs one fetch of is, or waits for the one in flight.
func (s *Set) fetch(ctx context.Context, is *issuer) error {
	is.mu.Lock()
	if ch := is.inflight; ch != nil {
		is.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		is.mu.Lock()
		defer is.mu.Unlock()
		return is.lastErr
	}
	ch := make(chan struct{})
	is.inflight, is.last = ch, s.clock()
	jwksURL := is.jwksURL
	is.mu.Unlock()

	ks, url, err := s.load(ctx, is, jwksURL)
	is.fetches.Add(1)

	is.mu.Lock()
	is.inflight = nil
	is.jwksURL = url
	if err != nil {
		err = fmt.Errorf("trusted issuer %s unreachable: %w", is.cfg.Issuer, err)
		s.log.Error("trusted issuer unreachable; its tokens are checked against the keys held", "issuer", is.cfg.Issuer, "err", err)
	} else {
		is.lastOK = s.clock()
		is.keys.Store(ks)
	}
	is.lastErr = err
	is.mu.Unlock()
	close(ch)
	return err
}

// load reads the discovery document (when the JWKS URL is not known
// yet) and the JWKS, and returns the new key set, reusing the *Key of
// every unchanged key so cached verifications stay valid.
func (s *Set) load(ctx context.Context, is *issuer, jwksURL string) (*keySet, string, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	if jwksURL == "" {
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.client), is.cfg.Issuer)
		if err != nil {
			return nil, "", fmt.Errorf("discovery: %w", err)
		}
		var meta struct {
			JWKS string `json:"jwks_uri"`
		}
		if err := p.Claims(&meta); err != nil || meta.JWKS == "" {
			return nil, "", errors.New("discovery: the document has no jwks_uri")
		}
		jwksURL = meta.JWKS
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("jwks_uri %q: %w", jwksURL, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, jwksURL, fmt.Errorf("keys: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, jwksURL, fmt.Errorf("keys: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, jwksURL, fmt.Errorf("keys: %s answered %s", jwksURL, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, jwksURL, fmt.Errorf("keys: not a JWK Set: %w", err)
	}
	if len(set.Keys) > MaxKeys {
		return nil, jwksURL, fmt.Errorf("keys: %d keys, more than %d", len(set.Keys), MaxKeys)
	}
	old := is.keys.Load()
	ks := &keySet{byKID: map[string]*Key{}}
	for _, k := range set.Keys {
		if (k.Use != "" && k.Use != "sig") || !k.IsPublic() || (k.KeyID == "" && len(set.Keys) > 1) {
			continue // encryption keys, private material, ambiguous keys
		}
		if _, dup := ks.byKID[k.KeyID]; dup {
			return nil, jwksURL, fmt.Errorf("keys: kid %q published twice", k.KeyID)
		}
		key := &Key{iss: is, kid: k.KeyID, alg: k.Algorithm, pub: k.Key}
		if old != nil {
			if o := old.byKID[k.KeyID]; o != nil && o.alg == key.alg && sameKey(o.pub, key.pub) {
				key = o
			}
		}
		ks.byKID[k.KeyID] = key
	}
	if len(ks.byKID) == 1 {
		for _, k := range ks.byKID {
			ks.only = k
		}
	}
	if old == nil || len(old.byKID) != len(ks.byKID) || changed(old, ks) {
		s.log.Info("trusted issuer keys loaded", "issuer", is.cfg.Issuer, "keys", len(ks.byKID))
	}
	return ks, jwksURL, nil
}

func changed(a, b *keySet) bool {
	for kid, k := range b.byKID {
		if a.byKID[kid] != k {
			return true
		}
	}
	return false
}

func sameKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// boundedTransport reads at most MaxDocument bytes of any answer.
type boundedTransport struct{ next http.RoundTripper }

func (t boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, MaxDocument+1), c: resp.Body}
	return resp, nil
}

type limitedBody struct {
	r io.Reader
	c io.Closer
	n int
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += n
	if b.n > MaxDocument {
		return n, fmt.Errorf("answer larger than %d KiB", MaxDocument>>10)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

// Token is a verified external token.
type Token struct {
	Issuer   string
	Subject  string // sub as the provider wrote it
	Audience []string
	// AuthTime is auth_time, else iat: when the provider last
	// authenticated the user. A refresh keeps auth_time.
	AuthTime  time.Time
	IssuedAt  time.Time // zero when absent
	NotBefore time.Time // zero when absent
	Expiry    time.Time
	ID        string // jti
	SID       string // sid, when the provider gives one
	ClientID  string // client_id (access tokens) or azp (ID tokens)
	// Key is the key that verified the token.
	Key *Key
}

// SubjectID is the (issuer, sub) subject as one string: cordon's account
// id for external users — campaigns' ramps, cohorts (Cohort.Subjects) and
// the audit log name them by it. An issuer has no '#' (it may have no
// fragment), so the first '#' splits it back.
func SubjectID(iss, sub string) string { return cordon.Subject{Issuer: iss, Sub: sub}.AccountID() }

// SplitSubjectID is SubjectID's inverse; ok is false for an id that is
// not an external subject.
func SplitSubjectID(id string) (iss, sub string, ok bool) {
	s, ok := cordon.ParseSubjectID(id)
	return s.Issuer, s.Sub, ok
}

// peek is the part of the payload read before verification, to pick the
// issuer: nothing in it is believed until the signature holds.
type peek struct {
	Issuer string `json:"iss"`
}

// Trusts reports whether tok claims to come from one of the Set's
// issuers: the dispatch between cordon's own verifier and Verify. It
// reads the payload unverified, so it decides only which verifier
// refuses a forged token.
func (s *Set) Trusts(tok string) bool {
	if s == nil || len(s.list) == 0 || len(tok) > MaxTokenSize {
		return false
	}
	_, iss := issuerOf(tok)
	return s.byIssuer[iss] != nil
}

// issuerOf returns the decoded payload segment and its iss.
func issuerOf(tok string) ([]byte, string) {
	_, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, ""
	}
	seg, _, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, ""
	}
	var p peek
	if json.Unmarshal(raw, &p) != nil {
		return raw, ""
	}
	return raw, p.Issuer
}

// wireClaims are the claims Verify reads.
type wireClaims struct {
	jwt.Claims
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	SID      string           `json:"sid,omitempty"`
	ClientID string           `json:"client_id,omitempty"`
	AZP      string           `json:"azp,omitempty"`
}

// Verify checks tok, a token of one of the Set's issuers, at now. Every
// failure is a *cordon.Error of code invalid_token whose message says
// what is wrong. It may fetch the issuer's keys (a kid it does not
// hold, at most once per MinRefetch), so it takes ctx.
func (s *Set) Verify(ctx context.Context, tok string, now time.Time) (*Token, error) {
	if s == nil || len(s.list) == 0 {
		return nil, invalid("no external issuer is trusted", nil)
	}
	if len(tok) > MaxTokenSize {
		return nil, invalid("token is too long", nil)
	}
	if !compactShape(tok) {
		return nil, invalid("malformed token", nil)
	}
	_, iss := issuerOf(tok)
	is := s.byIssuer[iss]
	if is == nil {
		return nil, invalid("token was issued by someone else", nil)
	}
	parsed, err := jwt.ParseSigned(tok, s.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, invalid("token signed with an algorithm this issuer is not trusted for", err)
		}
		return nil, invalid("malformed token", err)
	}
	if len(parsed.Headers) != 1 {
		return nil, invalid("malformed token", nil)
	}
	h := parsed.Headers[0]
	alg := jose.SignatureAlgorithm(h.Algorithm)
	if !slices.Contains(is.algs, alg) {
		return nil, invalid("token signed with an algorithm this issuer is not trusted for", nil)
	}
	if s.namesItsOwnKey(&h) {
		return nil, invalid("token header names its own key or critical extensions", nil)
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !acceptedType(typ) {
		return nil, invalid("token type must be JWT or at+jwt", nil)
	}
	key, err := s.key(ctx, is, h.KeyID, now)
	if err != nil {
		return nil, err
	}
	if !keyFits(key, alg) {
		return nil, invalid("token algorithm does not match its key", nil)
	}
	var wc wireClaims
	if err := parsed.Claims(key.pub, &wc); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, invalid("token signature is invalid", err)
		}
		return nil, invalid("malformed token claims", err)
	}
	return check(is, key, &wc, now)
}

// key finds the issuer's key named kid, fetching the key set again when
// it is unknown and the last fetch is at least MinRefetch old.
func (s *Set) key(ctx context.Context, is *issuer, kid string, now time.Time) (*Key, error) {
	for attempt := 0; ; attempt++ {
		if ks := is.keys.Load(); ks != nil {
			if k := ks.byKID[kid]; k != nil {
				return k, nil
			}
			if kid == "" && ks.only != nil {
				return ks.only, nil
			}
		}
		if attempt > 0 {
			break
		}
		is.mu.Lock()
		due := is.inflight != nil || is.last.IsZero() || now.Sub(is.last) >= s.minRefetch
		is.mu.Unlock()
		if !due {
			break
		}
		if err := s.fetch(ctx, is); err != nil && is.keys.Load() == nil {
			return nil, &cordon.Error{Code: cordon.ECodeInvalidToken, Message: "the token's issuer cannot be reached to fetch its keys; retry shortly", Err: err}
		}
	}
	if is.keys.Load() == nil {
		return nil, invalid("the token's issuer cannot be reached to fetch its keys; retry shortly", nil)
	}
	if kid == "" {
		return nil, invalid("token has no key id", nil)
	}
	return nil, invalid("token signed with an unknown key", nil)
}

// acceptedType: an ID token (JWT, or no typ) or an RFC 9068 access token.
// Another type (a logout token, a SET) from the same provider is a JWT
// meant for something else.
func acceptedType(typ string) bool {
	switch strings.ToLower(typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
		return true
	}
	return false
}

// keyFits reports whether alg may be checked with k: the key's type and
// curve match the algorithm, RSA keys have at least 2048 bits, and a JWK
// that names its alg names this one.
func keyFits(k *Key, alg jose.SignatureAlgorithm) bool {
	if k.alg != "" && k.alg != string(alg) {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		return alg == jose.RS256 && pub.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		return alg == jose.ES256 && pub.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// namesItsOwnKey: see internal/token. A token has no say in which key
// checks it.
func (s *Set) namesItsOwnKey(h *jose.Header) bool { return token.NamesItsOwnKey(h, s.noRoots) }

// check applies the claim rules to a token whose signature holds.
func check(is *issuer, key *Key, wc *wireClaims, now time.Time) (*Token, error) {
	switch {
	case wc.Issuer != is.cfg.Issuer:
		return nil, invalid("token was issued by someone else", nil)
	case wc.Subject == "":
		return nil, invalid("token lacks a subject", nil)
	case len(wc.Subject) > MaxSubject:
		return nil, invalid("token subject is longer than 255 bytes", nil)
	case !visibleASCII(wc.Subject):
		// It travels in X-Cordon-Account and the audit log: no spaces,
		// controls or bytes a header could not carry.
		return nil, invalid("token subject must be visible ASCII", nil)
	case wc.Expiry == nil:
		return nil, invalid("token lacks an expiry time", nil)
	case !wc.Audience.Contains(is.cfg.Audience):
		return nil, invalid("token is not meant for this service", nil)
	case wc.AuthTime == nil && wc.IssuedAt == nil:
		return nil, invalid("token says neither when the user authenticated (auth_time) nor when it was issued (iat)", nil)
	}
	if err := wc.Claims.ValidateWithLeeway(jwt.Expected{Time: now}, Leeway); err != nil {
		return nil, invalid(token.TimeProblem(err), err)
	}
	t := &Token{
		Issuer:    wc.Issuer,
		Subject:   wc.Subject,
		Audience:  wc.Audience,
		IssuedAt:  date(wc.IssuedAt),
		NotBefore: date(wc.NotBefore),
		Expiry:    date(wc.Expiry),
		ID:        wc.ID,
		SID:       wc.SID,
		ClientID:  wc.ClientID,
		Key:       key,
	}
	if t.ClientID == "" {
		t.ClientID = wc.AZP
	}
	t.AuthTime = date(wc.AuthTime)
	if wc.AuthTime == nil {
		t.AuthTime = t.IssuedAt
	}
	if t.AuthTime.After(now.Add(Leeway)) {
		return nil, invalid("token says the user authenticated in the future", nil)
	}
	return t, nil
}

func date(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time().UTC()
}

// compactShape: three dot-separated runs of base64url characters.
func compactShape(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2
}

func invalid(msg string, err error) error {
	return &cordon.Error{Code: cordon.ECodeInvalidToken, Message: msg, Err: err}
}

func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
