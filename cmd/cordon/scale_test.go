package main

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/natstest"
	"github.com/cordon-dev/cordon/internal/pgtest"
)

// TestScaleOutProcesses runs two cordon serve nodes on one PostgreSQL and
// three cordon gate processes on NATS: a session made on node B is valid
// on node A; a campaign made on node A is enforced by node B and all three
// gates within a second; a gate restarted mid-way catches up; killing a
// node loses nothing committed.
func TestScaleOutProcesses(t *testing.T) {
	store, bus := pgtest.URL(t), natstest.URL(t)
	up := echoUpstream(t)
	const issuer = "http://cordon.test"
	env := []string{"CORDON_ADMIN_TOKEN=" + testAdminToken}
	var nodes []string
	var procs []*proc
	for range 2 {
		addr := freeAddr(t)
		procs = append(procs, startProc(t, env, "serve", "--addr", addr, "--data", t.TempDir(), "--store", store, "--bus", bus, "--issuer", issuer))
		nodes = append(nodes, "http://"+addr)
		waitHealthy(t, nodes[len(nodes)-1])
	}
	a, b := nodes[0], nodes[1]
	startGateProc := func(addr string) {
		startProc(t, nil, "gate", "--addr", addr, "--upstream", up.URL, "--bus", bus, "--issuer", issuer)
	}
	var gates []string
	for range 3 {
		ga := freeAddr(t)
		startGateProc(ga)
		gates = append(gates, "http://"+ga)
	}
	for _, g := range gates {
		waitFor(t, 30*time.Second, "gate ready", func() bool { return probe(g+"/readyz") == 200 })
	}

	if code, _, out := call(t, "POST", a+"/admin/v1/accounts", admin(), `{"username":"olga","password":"a long enough password"}`); code != 201 {
		t.Fatalf("create account on A: %d %v", code, out)
	}
	client := `platform=ios, version="8.4.1", source=appstore`
	code, _, tok := call(t, "POST", b+"/v1/login", map[string]string{"Content-Type": "application/json", "Cordon-Client": client},
		`{"username":"olga","password":"a long enough password"}`)
	if code != 200 {
		t.Fatalf("login on B: %d %v", code, tok)
	}
	h := map[string]string{"Authorization": "Bearer " + tok["access_token"].(string), "Cordon-Client": client}
	if code, _, body := call(t, "GET", a+"/v1/session", h, ""); code != 200 {
		t.Fatalf("B's session on A: %d %v", code, body)
	}
	for _, g := range gates {
		if code, _, body := call(t, "GET", g+"/api/x", h, ""); code != 200 {
			t.Fatalf("B's session through %s: %d %v", g, code, body)
		}
	}

	// A campaign is made on node A.
	code, _, c := call(t, "POST", a+"/admin/v1/campaigns", admin(), `{"kind":"reauth","name":"scale","cohort":{"platforms":["ios"]}}`)
	if code != 201 {
		t.Fatalf("campaign on A: %d %v", code, c)
	}
	if code, _, out := call(t, "POST", a+"/admin/v1/campaigns/"+c["id"].(string)+"/activate", admin(), ""); code != 200 {
		t.Fatalf("activate on A: %d %v", code, out)
	}
	start := time.Now()
	waitFor(t, time.Second, "node B enforces A's campaign", func() bool { code, _, _ := call(t, "GET", b+"/v1/session", h, ""); return code == 401 })
	for _, g := range gates {
		waitFor(t, time.Second-time.Since(start)+10*time.Millisecond, "gate enforces A's campaign", func() bool {
			code, _, _ := call(t, "GET", g+"/api/x", h, "")
			return code == 401
		})
	}
	t.Logf("node B and three gates enforced node A's campaign within %v", time.Since(start))

	// A gate started now (a restart) catches up from the bus alone.
	late := freeAddr(t)
	startGateProc(late)
	waitFor(t, 30*time.Second, "restarted gate ready", func() bool { return probe("http://"+late+"/readyz") == 200 })
	if code, _, body := call(t, "GET", "http://"+late+"/api/x", h, ""); code != 401 {
		t.Errorf("a gate started after the campaign: %d %v, want 401", code, body)
	}

	// Kill node A (-9): what it committed is all there on B.
	procs[0].kill()
	if got := func() any {
		code, _, body := call(t, "GET", b+"/admin/v1/campaigns/"+c["id"].(string), admin(), "")
		if code != 200 {
			return code
		}
		return body["state"]
	}(); got != "active" {
		t.Errorf("the campaign on B after A was killed: %v", got)
	}
	if code, _, body := call(t, "POST", b+"/admin/v1/campaigns/"+c["id"].(string)+"/cancel", admin(), ""); code != 200 {
		t.Fatalf("cancel on B: %d %v", code, body)
	}
	for _, g := range append(gates, "http://"+late) {
		waitFor(t, time.Second, "gate sees B's cancel", func() bool { code, _, _ := call(t, "GET", g+"/api/x", h, ""); return code == 200 })
	}
}
