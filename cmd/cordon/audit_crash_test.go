package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/pgtest"
)

// crashBatch is one batch an ingest loop sent.
type crashBatch struct {
	purposes []string // one per event, unique in the whole test
	status   int      // the answer's status; 0 when none came
	accepted int      // what a 200 answer said it stored
	first    int64    // the index a 200 answer gave the first event; -1 when unread
}

// crashLedger is every batch sent, for the check after the last restart.
type crashLedger struct {
	mu      sync.Mutex
	batches []*crashBatch
	acked   int
}

func (l *crashLedger) sent(b *crashBatch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, b)
}

func (l *crashLedger) answered(b *crashBatch, status, accepted int, first int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b.status, b.accepted, b.first = status, accepted, first
	if status == http.StatusOK {
		l.acked++
	}
}

func (l *crashLedger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked
}

// crashIngest posts batches of 1 to 200 events to base until ctx ends,
// recording each batch before it is sent and its answer if one comes.
func crashIngest(ctx context.Context, base string, g int, seed uint64, l *crashLedger) {
	rng := rand.New(rand.NewPCG(seed, uint64(g)))
	c := &http.Client{Timeout: 10 * time.Second}
	for n := 0; ctx.Err() == nil; n++ {
		b := &crashBatch{first: -1}
		at := time.Now().UTC()
		events := make([]map[string]any, 1+rng.IntN(200))
		for k := range events {
			p := fmt.Sprintf("crash g%d b%d e%d", g, n, k)
			b.purposes = append(b.purposes, p)
			events[k] = map[string]any{"time": at, "principal": "batch-job-" + strconv.Itoa(g), "action": "export",
				"subject": "user-" + strconv.Itoa(rng.IntN(1000)), "categories": []string{"email"}, "purpose": p}
		}
		body, _ := json.Marshal(events)
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/audit/v1/events", bytes.NewReader(body))
		if err != nil {
			panic(err) // a constant method and a parsed URL
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		l.sent(b)
		resp, err := c.Do(req)
		if err != nil {
			continue // unanswered: the server died, or the round ended
		}
		var out struct {
			Accepted   int   `json:"accepted"`
			FirstIndex int64 `json:"first_index"`
		}
		first := int64(-1)
		if json.NewDecoder(resp.Body).Decode(&out) == nil {
			first = out.FirstIndex
		}
		resp.Body.Close()
		// A 200 is sent only after the commit: the batch is acknowledged
		// even if the connection died before its body was read.
		l.answered(b, resp.StatusCode, out.Accepted, first)
	}
}

// crashServe starts cordon serve and waits until it answers; on failure
// the test log shows the process's output.
func crashServe(t *testing.T, base string, args []string) *proc {
	t.Helper()
	p := startProc(t, []string{"CORDON_ADMIN_TOKEN=" + testAdminToken}, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cordon serve output:\n%s", p.out)
		}
	})
	waitHealthy(t, base)
	return p
}

// crashCheckpoints reads the served checkpoint list.
func crashCheckpoints(t *testing.T, base string) (vkey string, logSize uint64, lastSigned uint64) {
	t.Helper()
	code, _, out := call(t, "GET", base+"/audit/v1/checkpoints", admin(), "")
	if code != http.StatusOK {
		t.Fatalf("checkpoints: %d %v", code, out)
	}
	cps, _ := out["checkpoints"].([]any)
	if len(cps) > 0 {
		lastSigned = uint64(cps[len(cps)-1].(map[string]any)["size"].(float64))
	}
	vkey, _ = out["verifier_key"].(string)
	return vkey, uint64(out["log_size"].(float64)), lastSigned
}

// TestAuditCrash kills cordon serve (-9) at random moments while four
// loops ingest audit batches, restarts it on the same store, several
// times. Afterwards every acknowledged event is in the log exactly once, at
// the index its answer gave; every other batch is there whole or not at
// all; and cordon audit verify passes once the last server has signed a
// checkpoint over the whole log.
func TestAuditCrash(t *testing.T) {
	cordonBinary(t) // skips under -short
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	tests := []struct {
		name   string
		store  func(t *testing.T) []string // serve's store flags
		rounds int
	}{
		{name: "sqlite", store: func(*testing.T) []string { return nil }, rounds: 8},
		{name: "postgres", store: func(t *testing.T) []string { return []string{"--store", pgtest.URL(t)} }, rounds: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 0))
			addr := freeAddr(t)
			base := "http://" + addr
			args := append([]string{"serve", "--addr", addr, "--data", t.TempDir(),
				"--audit-checkpoint-every", "50", "--audit-checkpoint-interval", "100ms"}, tt.store(t)...)
			var (
				ledger crashLedger
				vkey   string
			)
			for round := range tt.rounds {
				start := time.Now()
				p := crashServe(t, base, args)
				up := time.Since(start)
				key, _, _ := crashCheckpoints(t, base)
				if vkey == "" {
					vkey = key
				} else if key != vkey {
					t.Fatalf("round %d: the log's key changed across a restart: %s, was %s", round, key, vkey)
				}
				// Kill after a random number (0 to 29) of batches this round
				// has acknowledged: the other loops are then mid-request, and
				// the server may be mid-commit or mid-checkpoint.
				target := ledger.ackedCount() + rng.IntN(30)
				func() {
					ctx, cancel := context.WithCancel(t.Context())
					var wg sync.WaitGroup
					defer wg.Wait()
					defer cancel()
					for g := range 4 {
						wg.Go(func() { crashIngest(ctx, base, round*4+g, seed, &ledger) })
					}
					waitFor(t, 20*time.Second, "acknowledged batches", func() bool { return ledger.ackedCount() >= target })
					p.kill()
				}()
				t.Logf("round %d: up in %v, killed after %v, %d batches acknowledged so far", round, up.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), ledger.ackedCount())
			}

			start := time.Now()
			crashServe(t, base, args)
			up := time.Since(start)
			// The last server signs the unsigned tail on its 100 ms tick.
			var size uint64
			took := waitFor(t, 10*time.Second, "a checkpoint over the whole log", func() bool {
				_, n, signed := crashCheckpoints(t, base)
				size = n
				return signed == n
			})
			t.Logf("last start: up in %v, whole log signed %v later", up.Round(time.Millisecond), took.Round(time.Millisecond))
			// Verify first: it reads the log up to the size the checkpoints
			// announce, and its export is then recorded after them.
			r := cli(t, "", "audit", "verify", "--server", base, "--key", vkey)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "ok: ") ||
				!strings.Contains(r.stdout, fmt.Sprintf(" holds %d entries;", size)) ||
				!strings.Contains(r.stdout, fmt.Sprintf("entries 0..%d proven", int64(size)-1)) {
				t.Errorf("verify after the crashes: %v\nwant ok over %d entries, all proven", r, size)
			}
			crashCheckLog(t, base, size, &ledger)
		})
	}
}

// crashCheckLog reads the whole log and checks it against the ledger.
func crashCheckLog(t *testing.T, base string, size uint64, l *crashLedger) {
	t.Helper()
	// Up to size: the log records each export of itself (verify's too).
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/audit/v1/entries?to="+strconv.FormatUint(size, 10), nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("entries: %d", resp.StatusCode)
	}
	index := map[string]uint64{} // purpose → index
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	var n uint64
	for ; dec.More(); n++ {
		var e struct {
			Index uint64 `json:"index"`
			Leaf  []byte `json:"leaf"` // base64 in the export
		}
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("entry %d: %v", n, err)
		}
		if e.Index != n {
			t.Fatalf("the export's entry %d has index %d", n, e.Index)
		}
		ev, err := audit.ParseLeaf(e.Leaf)
		if err != nil {
			t.Fatalf("entry %d: %v", n, err)
		}
		if prev, dup := index[ev.Purpose]; dup {
			t.Errorf("event %q is in the log twice: entries %d and %d", ev.Purpose, prev, n)
		}
		index[ev.Purpose] = n
	}
	if n != size {
		t.Fatalf("the export holds %d entries, the log's size is %d", n, size)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	var acked, whole, none, events int
	for _, b := range l.batches {
		present := 0
		for _, p := range b.purposes {
			if _, ok := index[p]; ok {
				present++
			}
		}
		events += present
		switch {
		case b.status == http.StatusOK:
			acked++
			if present != len(b.purposes) || b.accepted != len(b.purposes) {
				t.Errorf("acknowledged batch of %d (answer: %d accepted): %d in the log; want all", len(b.purposes), b.accepted, present)
				continue
			}
			for k, p := range b.purposes {
				if b.first >= 0 && index[p] != uint64(b.first)+uint64(k) {
					t.Errorf("acknowledged event %q is at %d, the answer said %d", p, index[p], b.first+int64(k))
					break
				}
			}
		case b.status != 0:
			// Every batch is valid: only a server going away may refuse it.
			t.Errorf("a batch of %d was refused with %d", len(b.purposes), b.status)
		case present == len(b.purposes):
			whole++
		case present == 0:
			none++
		default:
			t.Errorf("unanswered batch of %d is half in the log: %d of its events (%q …)", len(b.purposes), present, b.purposes[0])
		}
	}
	if events != len(index) {
		t.Errorf("the log holds %d events the test never sent", len(index)-events)
	}
	if acked == 0 {
		t.Error("no batch was acknowledged: the test proved nothing")
	}
	t.Logf("%d batches acknowledged; of %d unanswered, %d stored whole and %d not at all; the log holds %d entries",
		acked, whole+none, whole, none, size)
}
