package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// cordonBinary builds the cordon binary once per test run.
func cordonBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary (not under -short)")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cordon-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "cordon")
		binOut, binErr = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binOut)
	}
	return binPath
}

// proc is a cordon process of this test.
type proc struct {
	cmd    *exec.Cmd
	out    *procOutput
	done   chan error
	killed bool
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{out: &procOutput{token: make(chan string, 1)}, done: make(chan error, 1)}
	p.cmd = exec.Command(cordonBinary(t), args...)
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill ends the process at once, as kill -9 would.
func (p *proc) kill() {
	if !p.killed {
		p.killed = true
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// probe answers the status of a GET, or 0 when nothing answers.
func probe(url string) int {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestProcessesServeAndGates runs cordon serve and two cordon gate
// processes on loopback: a campaign reaches both gates within a second,
// spoofed identity headers never reach the upstream, and with the server
// killed (-9) the gates keep enforcing, then catch up after a restart.
func TestProcessesServeAndGates(t *testing.T) {
	up := echoUpstream(t)
	addr, data := freeAddr(t), t.TempDir()
	base := "http://" + addr
	env := []string{"CORDON_ADMIN_TOKEN=" + testAdminToken}
	serve := startProc(t, env, "serve", "--addr", addr, "--data", data)
	waitHealthy(t, base)
	var gates []string
	for range 2 {
		ga := freeAddr(t)
		startProc(t, []string{"CORDON_GATE_TOKEN=" + testAdminToken}, "gate", "--addr", ga, "--upstream", up.URL, "--control", base)
		gates = append(gates, "http://"+ga)
	}
	for _, g := range gates {
		waitFor(t, 30*time.Second, "gate ready", func() bool { return probe(g+"/readyz") == 200 })
	}
	if code, _, out := call(t, "POST", base+"/admin/v1/accounts", admin(), `{"username":"kate","password":"a long enough password"}`); code != 201 {
		t.Fatalf("create account: %d %v", code, out)
	}
	code, _, tok := call(t, "POST", base+"/v1/login", map[string]string{"Content-Type": "application/json", "Cordon-Client": `platform=desktop, version="8.4.1", source=official`},
		`{"username":"kate","password":"a long enough password"}`)
	if code != 200 {
		t.Fatalf("login: %d %v", code, tok)
	}
	h := map[string]string{"Authorization": "Bearer " + tok["access_token"].(string), "Cordon-Client": `platform=desktop, version="8.4.1", source=official`,
		"X-Cordon-Account": "u-spoofed", "Cordon-Anything": "spoofed"}
	for _, g := range gates {
		code, _, body := call(t, "GET", g+"/api/x", h, "")
		if code != 200 {
			t.Fatalf("through %s: %d %v", g, code, body)
		}
		hdr := body["headers"].(map[string]any)
		if acc := hdr["X-Cordon-Account"].([]any); len(acc) != 1 || acc[0] == "u-spoofed" || hdr["Cordon-Anything"] != nil {
			t.Errorf("spoofed headers reached the upstream through %s: %v", g, hdr)
		}
	}
	activate := func(doc string) {
		t.Helper()
		code, _, c := call(t, "POST", base+"/admin/v1/campaigns", admin(), doc)
		if code != 201 {
			t.Fatalf("create campaign: %d %v", code, c)
		}
		if code, _, out := call(t, "POST", base+"/admin/v1/campaigns/"+c["id"].(string)+"/activate", admin(), ""); code != 200 {
			t.Fatalf("activate: %d %v", code, out)
		}
	}
	blocked := func(g string) bool { code, _, _ := call(t, "GET", g+"/api/x", h, ""); return code == 401 }
	activate(`{"kind":"reauth","name":"desktop","cohort":{"platforms":["desktop"],"versions":"< 8.5.0"}}`)
	for _, g := range gates {
		took := waitFor(t, time.Second, "campaign at "+g, func() bool { return blocked(g) })
		t.Logf("campaign reached %s in %v", g, took)
	}

	// A logout reaches both gates within a second, though the token is
	// still valid: gates learn revocations from the feed.
	code, _, other := call(t, "POST", base+"/v1/login", map[string]string{"Content-Type": "application/json", "Cordon-Client": `platform=android, version="9.0.0", source=play`},
		`{"username":"kate","password":"a long enough password"}`)
	if code != 200 {
		t.Fatalf("second login: %d %v", code, other)
	}
	ho := map[string]string{"Authorization": "Bearer " + other["access_token"].(string), "Cordon-Client": `platform=android, version="9.0.0", source=play`}
	for _, g := range gates {
		if code, _, body := call(t, "GET", g+"/api/x", ho, ""); code != 200 {
			t.Fatalf("second session through %s: %d %v", g, code, body)
		}
	}
	if code, _, _ := call(t, "POST", base+"/v1/logout", map[string]string{"Authorization": ho["Authorization"]}, ""); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	for _, g := range gates {
		took := waitFor(t, time.Second, "logout at "+g, func() bool { code, _, _ := call(t, "GET", g+"/api/x", ho, ""); return code == 401 })
		t.Logf("logout reached %s in %v", g, took)
	}

	// kill -9 the control plane: the gates keep enforcing.
	serve.kill()
	for _, g := range gates {
		if !blocked(g) {
			t.Errorf("%s let a blocked session through with the control plane down", g)
		}
	}
	// Restart it; a change made now reaches the gates.
	startProc(t, env, "serve", "--addr", addr, "--data", data)
	waitHealthy(t, base)
	code, _, tok2 := call(t, "POST", base+"/v1/login", map[string]string{"Content-Type": "application/json", "Cordon-Client": `platform=tv, version="1.0.0", source=official`},
		`{"username":"kate","password":"a long enough password"}`)
	if code != 200 {
		t.Fatalf("login after restart: %d %v", code, tok2)
	}
	h2 := map[string]string{"Authorization": "Bearer " + tok2["access_token"].(string), "Cordon-Client": `platform=tv, version="1.0.0", source=official`}
	activate(`{"kind":"reauth","name":"tv","cohort":{"platforms":["tv"]}}`)
	for _, g := range gates {
		took := waitFor(t, 15*time.Second, "catch up at "+g, func() bool { code, _, _ := call(t, "GET", g+"/api/x", h2, ""); return code == 401 })
		t.Logf("%s caught up %v after the change", g, took)
	}
}
