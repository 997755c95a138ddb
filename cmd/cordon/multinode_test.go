package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/pgtest"
)

// pgNode runs a cordon serve node on a PostgreSQL store.
func pgNode(t *testing.T, storeURL string) *Main {
	t.Helper()
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: t.TempDir(), Store: storeURL, AdminToken: testAdminToken, Issuer: "http://cordon.test",
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, Log: slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestTwoNodesOnePostgres: two cordon serve nodes on one PostgreSQL. A
// session made on node B is valid on node A; a campaign made on node A is
// enforced by node B within a second; a node that goes away loses nothing
// committed.
func TestTwoNodesOnePostgres(t *testing.T) {
	url := pgtest.URL(t)
	a := pgNode(t, url)
	b := pgNode(t, url)
	addUser(t, a, "nora", "a long enough password")
	code, tok := login(t, b, "nora", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)
	if code != 200 {
		t.Fatalf("login on B: %d %v", code, tok)
	}
	access := tok["access_token"].(string)
	if code, _, body := call(t, "GET", a.URL()+"/v1/session", bearerH(access), ""); code != 200 {
		t.Fatalf("B's session on A: %d %v", code, body)
	}
	c := campaignCall(t, a, "POST", "", `{"kind":"reauth","name":"two nodes","cohort":{"platforms":["ios"]}}`)
	campaignCall(t, a, "POST", "/"+c["id"].(string)+"/activate", "")
	took := waitFor(t, 2*time.Second, "campaign made on A enforced by B", func() bool {
		code, _, _ := call(t, "GET", b.URL()+"/v1/session", bearerH(access), "")
		return code == 401
	})
	t.Logf("node B enforced node A's campaign after %v", took)

	// Node A goes away: everything it committed is still there for B.
	campaignCall(t, a, "POST", "/"+c["id"].(string)+"/cancel", "")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "cancel on A seen by B", func() bool {
		code, _, _ := call(t, "GET", b.URL()+"/v1/session", bearerH(access), "")
		return code == 200
	})
	if got := campaignCall(t, b, "GET", "/"+c["id"].(string), ""); got["state"] != "cancelled" {
		t.Errorf("campaign state on B after A went away: %v", got["state"])
	}
	if code, body := refresh(t, b, tok["refresh_token"].(string)); code != 200 {
		t.Errorf("refresh on B after A went away: %d %v", code, body)
	}
}
