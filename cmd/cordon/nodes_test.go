package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/natstest"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/cordon-dev/cordon/internal/postgres"
)

// startNodeIn runs one in-process node with cfg's store, bus, issuer and
// address (port 0 when empty) and cheap hashing.
func startNodeIn(t *testing.T, cfg Config) (*Main, error) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	cfg.AdminToken = testAdminToken
	cfg.Hash = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
	cfg.Log, cfg.Out = slog.New(slog.DiscardHandler), io.Discard
	m := &Main{Config: cfg}
	if err := m.Run(context.Background()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { m.Close() })
	return m, nil
}

// claims decodes an access token's payload (the signature is the
// server's business; the test reads what it says).
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNodesStartedTogetherAgreeOnOneKey: eight nodes started at the same
// moment on one empty PostgreSQL schema, with no --issuer, each on its
// own port. They must make one signing key, one issuer and one
// deployment between them (before, each made its own first key, and
// gates on the bus kept whichever came last and refused the others'
// tokens), so a token from any node verifies on every other and at a
// gate following NATS.
func TestNodesStartedTogetherAgreeOnOneKey(t *testing.T) {
	store, bus := pgtest.URL(t), natstest.URL(t)
	// Migrate the schema first, as an earlier binary's start would:
	// the migrations' own lock would otherwise stagger the nodes' starts.
	db, err := postgres.Open(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	const n = 8
	nodes := make([]*Main, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			nodes[i], errs[i] = startNodeIn(t, Config{Store: store, Bus: bus})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	var kids []string
	for i, m := range nodes {
		var jwks struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(m.Authn.JWKS(), &jwks); err != nil {
			t.Fatal(err)
		}
		if len(jwks.Keys) != 1 {
			t.Fatalf("node %d publishes %d keys, want 1", i, len(jwks.Keys))
		}
		kids = append(kids, jwks.Keys[0].Kid)
	}
	for i := range kids {
		if kids[i] != kids[0] {
			t.Fatalf("the nodes' keys differ: %v", kids)
		}
	}
	for i, m := range nodes {
		if m.deployment != nodes[0].deployment || m.Config.Issuer != nodes[0].Config.Issuer {
			t.Errorf("node %d: deployment %s issuer %s; node 0: %s %s", i, m.deployment, m.Config.Issuer, nodes[0].deployment, nodes[0].Config.Issuer)
		}
	}

	up := echoUpstream(t)
	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: up.URL, Bus: bus, Issuer: nodes[0].Config.Issuer, Log: slog.New(slog.DiscardHandler)}}
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	gate := "http://" + g.ln.Addr().String()
	waitFor(t, 10*time.Second, "gate ready", func() bool { return probe(gate+"/readyz") == 200 })

	addUser(t, nodes[0], "nora", "a long enough password")
	for i, m := range nodes {
		code, tok := login(t, m, "nora", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)
		if code != 200 {
			t.Fatalf("login on node %d: %d %v", i, code, tok)
		}
		access := tok["access_token"].(string)
		for j, other := range nodes {
			if code, _, body := call(t, "GET", other.URL()+"/v1/session", bearerH(access), ""); code != 200 {
				t.Errorf("node %d's token on node %d: %d %v", i, j, code, body)
			}
		}
		h := bearerH(access)
		h["Cordon-Client"] = `platform=ios, version="8.4.1", source=appstore`
		if code := through(t, gate, h); code != 200 {
			t.Errorf("node %d's token at the gate on NATS: %d, want 200", i, code)
		}
	}
}

// TestIssuerIsKeptInTheStore: the issuer is fixed at the first start.
// Nodes on other ports (no --issuer) sign and accept the same iss; a
// later --issuer that differs is refused with a message naming both,
// unless --change-issuer says so.
func TestIssuerIsKeptInTheStore(t *testing.T) {
	store := pgtest.URL(t)
	a, err := startNodeIn(t, Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	b, err := startNodeIn(t, Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, a, "olga", "a long enough password")
	code, tok := login(t, b, "olga", "a long enough password", "")
	if code != 200 {
		t.Fatalf("login on B: %d %v", code, tok)
	}
	access := tok["access_token"].(string)
	if got, want := claims(t, access)["iss"], "http://"+a.Addr(); got != want {
		t.Errorf("B's token has iss %v, want the first node's %v", got, want)
	}
	if code, _, body := call(t, "GET", a.URL()+"/v1/session", bearerH(access), ""); code != 200 {
		t.Errorf("B's token on A: %d %v", code, body)
	}

	_, err = startNodeIn(t, Config{Store: store, Issuer: "https://id.example.com"})
	if err == nil || !strings.Contains(err.Error(), "--issuer https://id.example.com differs from this deployment's issuer http://"+a.Addr()) ||
		!strings.Contains(err.Error(), "--change-issuer") {
		t.Fatalf("a node with another --issuer: err = %v, want a refusal naming both issuers and --change-issuer", err)
	}
	c, err := startNodeIn(t, Config{Store: store, Issuer: "https://id.example.com", ChangeIssuer: true})
	if err != nil {
		t.Fatalf("--change-issuer: %v", err)
	}
	code, tok = login(t, c, "olga", "a long enough password", "")
	if code != 200 {
		t.Fatalf("login on C: %d %v", code, tok)
	}
	if got := claims(t, tok["access_token"].(string))["iss"]; got != "https://id.example.com" {
		t.Errorf("after --change-issuer, iss = %v, want https://id.example.com", got)
	}
}

// TestIssuerOfAnUnspecifiedAddress: listening on 0.0.0.0 without
// --issuer gives an issuer that names the machine (its host name), not
// http://[::]:PORT or http://0.0.0.0:PORT; an --issuer naming no
// machine is refused.
func TestIssuerOfAnUnspecifiedAddress(t *testing.T) {
	m, err := startNodeIn(t, Config{Addr: "0.0.0.0:0"})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(m.Addr())
	addUser(t, m, "pia", "a long enough password")
	code, _, tok := call(t, "POST", "http://127.0.0.1:"+port+"/v1/login", jsonCT, `{"username":"pia","password":"a long enough password"}`)
	if code != 200 {
		t.Fatalf("login: %d %v", code, tok)
	}
	if got, want := claims(t, tok["access_token"].(string))["iss"], "http://"+host+":"+port; got != want {
		t.Errorf("iss = %v, want %v", got, want)
	}
	for _, bad := range []string{"http://0.0.0.0:8080", "http://[::]:8080", "ftp://id.example.com", "id.example.com", "https://u:p@id.example.com"} {
		if _, err := startNodeIn(t, Config{Issuer: bad}); err == nil || !strings.Contains(err.Error(), "--issuer") {
			t.Errorf("--issuer %s: err = %v, want a refusal", bad, err)
		}
	}
}

// TestKeysFoundByPollingReachTheGates: a key rotation made on node A
// reaches a gate that follows node B (SSE, no bus): B finds the new key
// set by polling the store and publishes it like one it made. Before, B
// reloaded the key silently and its gates refused every token of the new
// key until they reconnected.
func TestKeysFoundByPollingReachTheGates(t *testing.T) {
	store := pgtest.URL(t)
	a, b := pgNode(t, store), pgNode(t, store)
	up := echoUpstream(t)
	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: up.URL, Control: b.URL(), Token: testAdminToken,
		Issuer: "http://cordon.test", Log: slog.New(slog.DiscardHandler)}}
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	gate := "http://" + g.ln.Addr().String()
	waitFor(t, 10*time.Second, "gate ready", func() bool { return probe(gate+"/readyz") == 200 })

	if code, _, out := call(t, "POST", a.URL()+"/admin/v1/keys/rotate", admin(), ""); code != 200 && code != 201 {
		t.Fatalf("rotate on A: %d %v", code, out)
	}
	addUser(t, a, "rita", "a long enough password")
	code, tok := login(t, a, "rita", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)
	if code != 200 {
		t.Fatalf("login on A: %d %v", code, tok)
	}
	h := bearerH(tok["access_token"].(string))
	h["Cordon-Client"] = `platform=ios, version="8.4.1", source=appstore`
	took := waitFor(t, 15*time.Second, "A's new key at the gate following B", func() bool { return through(t, gate, h) == 200 })
	t.Logf("the gate following B accepted A's new key %v after the rotation (B polls every 10 s)", took)
}
