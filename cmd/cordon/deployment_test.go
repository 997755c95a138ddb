package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/natstest"
)

// node is a cordon serve process of a test, on loopback.
type node struct {
	*proc
	base string
}

const testIssuer = "http://cordon.test"

func startNode(t *testing.T, data, bus string) node {
	t.Helper()
	addr := freeAddr(t)
	p := startProc(t, []string{"CORDON_ADMIN_TOKEN=" + testAdminToken}, "serve", "--addr", addr, "--data", data, "--bus", bus, "--issuer", testIssuer)
	waitHealthy(t, "http://"+addr)
	return node{p, "http://" + addr}
}

func startBusGate(t *testing.T, bus, upstream string) string {
	t.Helper()
	ga := freeAddr(t)
	startProc(t, nil, "gate", "--addr", ga, "--upstream", upstream, "--bus", bus, "--issuer", testIssuer)
	g := "http://" + ga
	waitFor(t, 30*time.Second, "gate ready", func() bool { return probe(g+"/readyz") == 200 })
	return g
}

// activateOn creates and activates a campaign on a server; it returns its id.
func activateOn(t *testing.T, base, doc string) string {
	t.Helper()
	code, _, c := call(t, "POST", base+"/admin/v1/campaigns", admin(), doc)
	if code != 201 {
		t.Fatalf("create campaign: %d %v", code, c)
	}
	id := c["id"].(string)
	if code, _, out := call(t, "POST", base+"/admin/v1/campaigns/"+id+"/activate", admin(), ""); code != 200 {
		t.Fatalf("activate: %d %v", code, out)
	}
	return id
}

// loginOn logs a user in on a server with the given client facts and
// returns the headers that carry the access token through a gate.
func loginOn(t *testing.T, base, user, client string) map[string]string {
	t.Helper()
	code, _, tok := call(t, "POST", base+"/v1/login", map[string]string{"Content-Type": "application/json", "Cordon-Client": client},
		`{"username":"`+user+`","password":"a long enough password"}`)
	if code != 200 {
		t.Fatalf("login %s: %d %v", user, code, tok)
	}
	return map[string]string{"Authorization": "Bearer " + tok["access_token"].(string), "Cordon-Client": client}
}

func addUserOn(t *testing.T, base, user string) {
	t.Helper()
	if code, _, out := call(t, "POST", base+"/admin/v1/accounts", admin(), `{"username":"`+user+`","password":"a long enough password"}`); code != 201 {
		t.Fatalf("create account %s: %d %v", user, code, out)
	}
}

func through(t *testing.T, gate string, h map[string]string) int {
	t.Helper()
	code, _, _ := call(t, "GET", gate+"/api/x", h, "")
	return code
}

// TestProcessesSecondDeploymentOnOneBus: a deployment runs on a NATS
// feed and is thrown away; a second one, with a fresh database, starts on
// the same NATS with the same bus URL. Its campaigns must reach its gates,
// though its policy versions start again from 1 (before deployments had
// ids, the bus kept the first deployment's higher version and dropped
// every publish of the second as stale, while its gates said ready).
func TestProcessesSecondDeploymentOnOneBus(t *testing.T) {
	bus := natstest.URL(t)
	up := echoUpstream(t)

	first := startNode(t, t.TempDir(), bus)
	addUserOn(t, first.base, "kate")
	id := activateOn(t, first.base, `{"kind":"reauth","name":"first run","cohort":{"platforms":["tv"]}}`)
	for _, verb := range []string{"pause", "resume", "pause", "resume"} {
		if code, _, out := call(t, "POST", first.base+"/admin/v1/campaigns/"+id+"/"+verb, admin(), ""); code != 200 {
			t.Fatalf("%s: %d %v", verb, code, out)
		}
	}
	first.kill()

	second := startNode(t, t.TempDir(), bus)
	gate := startBusGate(t, bus, up.URL)
	addUserOn(t, second.base, "lena")
	h := loginOn(t, second.base, "lena", `platform=desktop, version="8.4.1", source=official`)
	if code := through(t, gate, h); code != 200 {
		t.Fatalf("the second deployment's session through its gate: %d, want 200", code)
	}
	activateOn(t, second.base, `{"kind":"reauth","name":"second run","cohort":{"platforms":["desktop"]}}`)
	took := waitFor(t, 5*time.Second, "the second deployment's campaign at its gate", func() bool { return through(t, gate, h) == 401 })
	t.Logf("the second deployment's campaign reached its gate in %v", took)
}

// TestProcessesRestoredStoreHealsItsVersion: a store restored from a
// backup has an older policy version than the bus and its gates hold.
// The node must notice at start, raise its version past the bus's and
// publish its policy: the gate then enforces the restored campaigns (the
// one made after the backup is gone), and a change made after the
// restore reaches it.
func TestProcessesRestoredStoreHealsItsVersion(t *testing.T) {
	bus := natstest.URL(t)
	up := echoUpstream(t)
	data, backup := t.TempDir(), t.TempDir()

	n := startNode(t, data, bus)
	addUserOn(t, n.base, "kate")
	n.kill()
	// A crash-consistent backup: the database and its WAL, copied while
	// no process has them open.
	copyStore(t, data, backup)

	n = startNode(t, data, bus)
	gate := startBusGate(t, bus, up.URL)
	tv := loginOn(t, n.base, "kate", `platform=tv, version="1.0.0", source=official`)
	android := loginOn(t, n.base, "kate", `platform=android, version="9.0.0", source=play`)
	id := activateOn(t, n.base, `{"kind":"reauth","name":"after the backup","cohort":{"platforms":["tv"]}}`)
	for _, verb := range []string{"pause", "resume"} {
		if code, _, out := call(t, "POST", n.base+"/admin/v1/campaigns/"+id+"/"+verb, admin(), ""); code != 200 {
			t.Fatalf("%s: %d %v", verb, code, out)
		}
	}
	waitFor(t, 5*time.Second, "the campaign at the gate", func() bool { return through(t, gate, tv) == 401 })
	n.kill()

	// Restore the backup: the store's policy version is back to 0, the
	// bus and the gate hold 3.
	for _, f := range []string{"cordon.db", "cordon.db-wal", "cordon.db-shm"} {
		os.Remove(filepath.Join(data, f))
	}
	copyStore(t, backup, data)
	n = startNode(t, data, bus)
	took := waitFor(t, 5*time.Second, "the restored policy at the gate", func() bool { return through(t, gate, tv) == 200 })
	t.Logf("the gate enforced the restored policy %v after the node was healthy", took)
	activateOn(t, n.base, `{"kind":"reauth","name":"after the restore","cohort":{"platforms":["android"]}}`)
	took = waitFor(t, 5*time.Second, "a campaign made after the restore at the gate", func() bool { return through(t, gate, android) == 401 })
	t.Logf("a campaign made after the restore reached the gate in %v", took)

	resp, err := http.Get(n.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^cordon_policy_version_healed_total 1$`).Match(body) {
		t.Errorf("metrics: want cordon_policy_version_healed_total 1, got:\n%s", grepLines(string(body), "healed"))
	}
	if out := n.out.String(); !strings.Contains(out, "the store's policy version went backwards") {
		t.Errorf("the node's log does not say the version went backwards:\n%s", out)
	}
}

// TestProcessesSecondServeOnOneDataFolder: a second cordon serve on a
// data folder in use refuses to start, naming the holder's pid; once the
// first is gone, it starts.
func TestProcessesSecondServeOnOneDataFolder(t *testing.T) {
	data := t.TempDir()
	env := []string{"CORDON_ADMIN_TOKEN=" + testAdminToken}
	a := freeAddr(t)
	first := startProc(t, env, "serve", "--addr", a, "--data", data)
	waitHealthy(t, "http://"+a)

	b := freeAddr(t)
	began := time.Now()
	second := startProc(t, env, "serve", "--addr", b, "--data", data)
	select {
	case err := <-second.done:
		second.killed = true
		t.Logf("the second serve refused to start in %v", time.Since(began))
		if err == nil {
			t.Fatal("the second serve on one data folder exited 0")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the second serve on one data folder still runs after 10 s (answers %d)", probe("http://"+b+"/healthz"))
	}
	want := "is in use by another cordon serve (pid " + itoa(first.cmd.Process.Pid) + ")"
	if out := second.out.String(); !strings.Contains(out, want) {
		t.Errorf("the refusal does not say %q:\n%s", want, out)
	}

	first.kill() // -9: the kernel drops the lock with the process
	startProc(t, env, "serve", "--addr", b, "--data", data)
	waitHealthy(t, "http://"+b)
}

func copyStore(t *testing.T, from, to string) {
	t.Helper()
	for _, f := range []string{"cordon.db", "cordon.db-wal", "cordon.db-shm"} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
