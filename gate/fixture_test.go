package gate

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
)

const (
	issuer   = "https://id.example.com"
	audience = "api"
	ttl      = 15 * time.Minute

	androidPlay = `platform=android, version="8.4.1", source=play, device="d-1"`
)

var base = time.Date(2014, 5, 27, 8, 0, 0, 0, time.UTC)

// fixture is a State fed a snapshot, a Gate over it with a clock the test
// moves, and a signer whose keys the snapshot published.
type fixture struct {
	t      testing.TB
	now    atomic.Int64
	st     *State
	g      *Gate
	key    *cordon.SigningKey
	keys   *token.KeySet
	signer *token.Signer
	seq    uint64
}

func newFixture(t testing.TB, opts Options, cs ...*cordon.Campaign) *fixture {
	t.Helper()
	f := &fixture{t: t}
	f.now.Store(base.UnixNano())
	f.key, f.keys, f.signer = newSigner(t, base.Add(-24*time.Hour))
	f.st = NewState(issuer, audience)
	f.apply(snapshot(1, cs, nil, f.keys.JWKS()))
	opts.Clock = f.clock
	f.g = New(f.st, opts)
	return f
}

func newSigner(t testing.TB, created time.Time) (*cordon.SigningKey, *token.KeySet, *token.Signer) {
	t.Helper()
	k, err := token.NewSigningKey(created)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := token.NewKeySet([]*cordon.SigningKey{k}, ttl, base)
	if err != nil {
		t.Fatal(err)
	}
	return k, ks, token.NewSigner(ks, issuer, []string{audience}, "app", ttl)
}

func (f *fixture) clock() time.Time { return time.Unix(0, f.now.Load()).UTC() }

func (f *fixture) advance(d time.Duration) { f.now.Add(int64(d)) }

func (f *fixture) apply(e feed.Event) {
	f.t.Helper()
	f.seq++
	e.Epoch, e.Seq = "e1", f.seq
	if err := f.st.apply(e); err != nil {
		f.t.Fatalf("apply %s: %v", e.Kind, err)
	}
}

func snapshot(version uint64, cs []*cordon.Campaign, revoked []feed.Revocation, jwks []byte) feed.Event {
	return feed.Event{Kind: feed.KindSnapshot, Policy: feed.WirePolicy(version, cs), Revoked: revoked, JWKS: jwks}
}

func policyEvent(version uint64, cs ...*cordon.Campaign) feed.Event {
	return feed.Event{Kind: feed.KindPolicy, Policy: feed.WirePolicy(version, cs)}
}

// claims are an android session from Play that logged in two days before
// base; options change them.
func claims(opts ...func(*token.Claims)) token.Claims {
	c := token.Claims{Subject: "u-1", SessionID: "s-1", AuthTime: base.Add(-48 * time.Hour),
		Platform: cordon.PlatformAndroid, Version: "8.4.1", Source: cordon.SourcePlay}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// token signs c with the fixture's signer, issued now unless c says.
func (f *fixture) token(c token.Claims) string {
	f.t.Helper()
	return sign(f.t, f.signer, c, f.clock())
}

func sign(t testing.TB, s *token.Signer, c token.Claims, now time.Time) string {
	t.Helper()
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// result is what the app and the protected handler saw of one request.
type result struct {
	code   int
	header http.Header
	body   string
	err    errorBody // the JSON error, when not 200
	id     *Identity // what the protected handler found; nil if not reached
	seen   http.Header
}

// do sends a request with an Authorization header of auth (none when "")
// and a Cordon-Client of client (none when "") through the Handler.
func (f *fixture) do(auth, client string, extra ...string) result {
	f.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/v1/playlists", nil)
	if auth != "" {
		r.Header["Authorization"] = []string{auth}
	}
	if client != "" {
		r.Header["Cordon-Client"] = []string{client}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r.Header.Add(extra[i], extra[i+1])
	}
	var res result
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res.id, _ = FromContext(r.Context())
		res.seen = r.Header
		w.WriteHeader(http.StatusOK)
	})
	w := httptest.NewRecorder()
	f.g.Handler(next).ServeHTTP(w, r)
	res.code, res.header, res.body = w.Code, w.Header(), w.Body.String()
	if res.code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &res.err); err != nil {
			f.t.Fatalf("status %d with a body that is not JSON: %q", res.code, res.body)
		}
	}
	return res
}

func bearerOf(tok string) string { return "Bearer " + tok }

// campaign is an active campaign activated an hour before base.
func campaign(id string, kind cordon.Kind, cohort cordon.Cohort, opts ...func(*cordon.Campaign)) *cordon.Campaign {
	c := &cordon.Campaign{ID: id, Kind: kind, Name: id, Cohort: cohort, State: cordon.StateActive, Activated: base.Add(-time.Hour)}
	for _, o := range opts {
		o(c)
	}
	return c
}

func upgrade(minV, mode string) func(*cordon.Campaign) {
	return func(c *cordon.Campaign) {
		c.Upgrade = &cordon.UpgradeSpec{MinVersion: minV, Mode: mode, URLs: map[string]string{
			cordon.SourcePlay: "https://play.example/app", cordon.SourceOfficial: "https://example.com/download"}}
	}
}

func reauthAndroid() *cordon.Campaign {
	return campaign("c-reauth", cordon.KindReauth, cordon.Cohort{Platforms: []string{cordon.PlatformAndroid}})
}

func request(auth, client string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/playlists", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if client != "" {
		r.Header.Set("Cordon-Client", client)
	}
	return r
}

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
}

func newRecorder(g *Gate, auth, client string) *httptest.ResponseRecorder {
	return newRecorderFor(g, request(auth, client))
}

func newRecorderFor(g *Gate, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	g.Handler(ok()).ServeHTTP(w, r)
	return w
}

func decodeJSON(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
}

func newRecorderWith(h http.Handler, auth, client string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request(auth, client))
	return w
}
