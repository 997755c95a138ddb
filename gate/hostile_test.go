package gate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
)

// TestOwnedHeaderSpellings: every spelling a CGI or WSGI server folds into
// one of the gate's variables is removed before the handler; names
// outside the namespaces, and Cordon-Client spelt exactly, stay.
func TestOwnedHeaderSpellings(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.token(claims(func(c *token.Claims) { c.AuthTime = base }))
	removed := []string{
		"X-Cordon-Account", "x-cordon-account", "X_Cordon_Account", "x_cordon_account", "X-Cordon_Account",
		"X_Cordon-Account", "X.Cordon.Account", "X~Cordon~Account", "X-CORDON-ACCOUNT", "Cordon-Foo", "Cordon_Foo",
		"CORDON_FOO", "cordon.foo", "Cordon_Client", "cordon_client", "Cordon.Client", "CORDON_CLIENT", "Cordon--Client",
		"Cordon-Client-Extra", "Cordon-", "X-Cordon-", "X_Cordon_",
	}
	kept := []string{"Cordon-Client", "X-Cordonnier", "Cordonnier", "XCordon-Account", "X-Cordo-Account", "Accept", "Cordon", "X-Cordon"}
	var extra []string
	for _, k := range append(append([]string{}, removed...), kept...) {
		extra = append(extra, k, "v")
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header["Authorization"] = []string{bearerOf(tok)}
	for i := 0; i < len(extra); i += 2 {
		r.Header[extra[i]] = []string{extra[i+1]} // literal names, not canonicalised
	}
	var seen http.Header
	w := httptest.NewRecorder()
	f.g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header })).ServeHTTP(w, r)
	if w.Code != http.StatusOK || seen == nil {
		t.Fatalf("request: %d %s", w.Code, w.Body)
	}
	for _, k := range removed {
		if _, ok := seen[k]; ok {
			t.Errorf("%s reached the handler", k)
		}
	}
	for _, k := range kept {
		if _, ok := seen[k]; !ok {
			t.Errorf("%s was removed", k)
		}
	}
}

// TestOneCredential: a second Authorization header, or a second
// credential joined to the first, is a 400 that names the rule, whatever
// the first one is.
func TestOneCredential(t *testing.T) {
	f := newFixture(t, Options{})
	good := f.token(claims(func(c *token.Claims) { c.AuthTime = base }))
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"two valid", []string{bearerOf(good), bearerOf(good)}},
		{"valid then junk", []string{bearerOf(good), "Basic dTpw"}},
		{"empty then valid", []string{"", bearerOf(good)}},
		{"comma", []string{bearerOf(good) + ", Bearer " + good}},
		{"comma, no blank", []string{bearerOf(good) + ",Basic dTpw"}},
		{"blank", []string{bearerOf(good) + " " + good}},
		{"tab", []string{bearerOf(good) + "\t" + good}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request("", "")
			r.Header["Authorization"] = tc.lines
			w := newRecorderFor(f.g, r)
			var body errorBody
			decodeJSON(t, w.Body.String(), &body)
			if w.Code != http.StatusBadRequest || body.Error != "invalid_request" || body.Message == "" {
				t.Errorf("got %d %+v, want 400 invalid_request", w.Code, body)
			}
		})
	}
	if w := newRecorder(f.g, "Bearer  "+good+"  ", ""); w.Code != http.StatusOK {
		t.Errorf("one credential with blanks around it: %d %s", w.Code, w.Body)
	}
}

// wsServer is a Go backend behind the middleware that echoes WebSocket
// messages.
func wsServer(t *testing.T, g *Gate) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if c.Write(context.Background(), typ, msg) != nil {
				return
			}
		}
	})))
	t.Cleanup(srv.Close)
	return srv
}

func wsDial(t *testing.T, srv *httptest.Server, tok, client string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Authorization": {bearerOf(tok)}}
	if client != "" {
		h.Set("Cordon-Client", client)
	}
	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	wsEcho(t, c)
	return c
}

func wsEcho(t *testing.T, c *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != "ping" {
		t.Fatalf("echo: %q %v", got, err)
	}
}

// wsEnded waits up to limit for the tunnel to end and says how long it
// took.
func wsEnded(t *testing.T, c *websocket.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if _, _, err := c.Read(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Fatalf("tunnel still open after %v (read: %v)", limit, err)
	}
	return time.Since(start)
}

// TestTunnelEndsWithItsToken: an upgraded connection lives no longer than
// the token that opened it (exp plus the verifier's leeway), on the real
// clock, with no event at all.
func TestTunnelEndsWithItsToken(t *testing.T) {
	now := time.Now()
	f := &fixture{t: t}
	f.now.Store(now.UnixNano())
	f.key, f.keys, f.signer = newSigner(t, now.Add(-time.Hour))
	f.st = NewState(issuer, audience)
	f.apply(snapshot(1, nil, nil, f.keys.JWKS()))
	g := New(f.st, Options{})
	srv := wsServer(t, g)
	// Issued so that exp + leeway, in whole seconds as a token carries
	// times, is 1 to 2 s away.
	end := now.Add(2 * time.Second).Truncate(time.Second)
	tok := sign(t, f.signer, claims(func(c *token.Claims) {
		c.AuthTime = end.Add(-ttl - token.Leeway)
		c.IssuedAt = end.Add(-ttl - token.Leeway)
	}), now)
	c := wsDial(t, srv, tok, androidPlay)
	if n := g.Tunnels(); n != 1 {
		t.Errorf("tunnels: %d, want 1", n)
	}
	wsEnded(t, c, 5*time.Second)
	if late := time.Since(end); late < 0 {
		t.Errorf("tunnel closed %v before its token's end", -late)
	} else {
		t.Logf("tunnel closed %v after its token's end", late.Round(time.Millisecond))
	}
	if n := g.Tunnels(); n != 0 {
		t.Errorf("tunnels after the close: %d", n)
	}
}

// TestTunnelsDecidedAgain: each change the feed brings decides every
// tunnel again: a revocation, a policy that denies, keys without the
// token's key. Only the tunnels the change concerns close.
func TestTunnelsDecidedAgain(t *testing.T) {
	f := newFixture(t, Options{})
	srv := wsServer(t, f.g)
	fresh := func(sid string) string {
		return f.token(claims(func(c *token.Claims) { c.SessionID, c.AuthTime = sid, base }))
	}
	ios := `platform=ios, version="8.4.1", source=appstore`
	revoked := wsDial(t, srv, fresh("s-revoked"), androidPlay)
	denied := wsDial(t, srv, f.token(claims(func(c *token.Claims) {
		c.SessionID, c.AuthTime, c.Platform, c.Source = "s-ios", base, cordon.PlatformIOS, cordon.SourceAppStore
	})), ios)
	bystander := wsDial(t, srv, fresh("s-bystander"), androidPlay)

	f.apply(feed.Event{Kind: feed.KindRevoke, Revoked: []feed.Revocation{{SessionID: "s-revoked", Until: f.clock().Add(ttl)}}})
	wsEnded(t, revoked, 2*time.Second)
	wsEcho(t, bystander)
	wsEcho(t, denied)

	f.advance(time.Minute)
	f.apply(policyEvent(2, campaign("c-ios", cordon.KindReauth, cordon.Cohort{Platforms: []string{cordon.PlatformIOS}},
		func(c *cordon.Campaign) { c.Activated = f.clock() })))
	wsEnded(t, denied, 2*time.Second)
	wsEcho(t, bystander)

	_, other, _ := newSigner(t, base)
	f.apply(feed.Event{Kind: feed.KindKeys, JWKS: other.JWKS()})
	wsEnded(t, bystander, 2*time.Second)
	if n := f.g.Tunnels(); n != 0 {
		t.Errorf("tunnels left: %d", n)
	}
}

// TestReadyFromVerification: Ready says not ready with no keys, after a
// run of tokens signed by the server's keys for another issuer, and after
// a long run of tokens under keys the gate does not hold with none
// verifying between — but a gate serving real tokens stays ready however
// many forged key ids an attacker sends, and the signal fades.
func TestReadyFromVerification(t *testing.T) {
	reason := func(g *Gate) string {
		err := g.Ready()
		if err == nil {
			return ""
		}
		var nr *NotReady
		if !errors.As(err, &nr) || nr.Message == "" {
			t.Fatalf("Ready: %v", err)
		}
		return nr.Reason
	}

	t.Run("no keys", func(t *testing.T) {
		st := NewState(issuer, audience)
		g := New(st, Options{})
		if got := reason(g); got != "no_policy" {
			t.Errorf("empty state: %q, want no_policy", got)
		}
		// A policy from the bus before any key set (an empty JWKS does
		// not parse, so no event can leave an empty set).
		if err := st.apply(policyEvent(1)); err != nil {
			t.Fatal(err)
		}
		if got := reason(g); got != "no_keys" {
			t.Errorf("a policy and no keys: %q, want no_keys", got)
		}
	})

	t.Run("other issuer", func(t *testing.T) {
		f := newFixture(t, Options{})
		foreign := token.NewSigner(f.keys, "http://[::]:8080", []string{audience}, "app", ttl)
		for i := range 3 {
			if got := reason(f.g); got != "" {
				t.Fatalf("after %d foreign tokens: %q, want ready", i, got)
			}
			if w := newRecorder(f.g, bearerOf(sign(t, foreign, claims(), f.clock())), ""); w.Code != 401 {
				t.Fatalf("foreign token: %d", w.Code)
			}
			f.advance(time.Second) // a new token each time: no cache
		}
		if got := reason(f.g); got != "issuer_mismatch" {
			t.Errorf("after 3 foreign tokens: %q, want issuer_mismatch", got)
		}
		f.advance(3 * time.Minute)
		if got := reason(f.g); got != "" {
			t.Errorf("3 minutes later: %q, want ready", got)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		f := newFixture(t, Options{})
		_, _, other := newSigner(t, base)
		send := func(s *token.Signer) int {
			f.advance(time.Second)
			return newRecorder(f.g, bearerOf(sign(t, s, claims(), f.clock())), "").Code
		}
		for range 19 {
			send(other)
		}
		if got := reason(f.g); got != "" {
			t.Errorf("after 19 tokens under another key: %q, want ready", got)
		}
		send(other)
		if got := reason(f.g); got != "unknown_signing_key" {
			t.Errorf("after 20: %q, want unknown_signing_key", got)
		}
		if code := send(f.signer); code != 200 {
			t.Fatalf("a real token: %d", code)
		}
		if got := reason(f.g); got != "" {
			t.Errorf("after a token verified: %q, want ready", got)
		}
	})

	t.Run("forged key ids beside real traffic", func(t *testing.T) {
		f := newFixture(t, Options{})
		_, _, forger := newSigner(t, base)
		for i := range 1000 {
			f.advance(time.Millisecond)
			s := forger
			if i%10 == 0 {
				s = f.signer
			}
			newRecorder(f.g, bearerOf(sign(t, s, claims(), f.clock())), "")
			if got := reason(f.g); got != "" {
				t.Fatalf("after %d requests, 9 in 10 forged: %q, want ready", i+1, got)
			}
		}
	})
}
