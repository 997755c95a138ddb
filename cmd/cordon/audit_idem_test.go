package main

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// A batch sent again with its Idempotency-Key is answered from the first
// commit and stored once; the same key with other events is a conflict;
// two reporters' keys never meet.
func TestAuditIngestIdempotencyKey(t *testing.T) {
	clk := clock.NewFake(auditNow)
	m := fakeServer(t, clk)
	batch := "[" + evJSON(0, "svc-a", "alice", "profile") + "," + evJSON(1, "svc-a", "bob", "email") + "]"
	post := func(tok, key, body string) apiResp {
		h := hdr("Authorization", "Bearer "+tok, "Content-Type", "application/json", "Idempotency-Key", key)
		return send(t, "POST", m.URL()+"/audit/v1/events", h, []byte(body))
	}
	first := post(testAdminToken, "8e03978e-40d5-43e8-bc93-6894a57f9324", batch)
	if first.status != http.StatusOK || count(first.body["first_index"]) != 0 || first.body["replayed"] != false || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first send: %v", first)
	}
	ingest(t, m, "application/json", "["+evJSON(2, "svc-b", "carol", "payment")+"]") // moves the log on

	// The same key, quoted as a structured-field string (the draft's
	// form), a minute later: the first answer again, nothing stored.
	clk.Advance(time.Minute)
	again := post(testAdminToken, `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, batch)
	if again.status != http.StatusOK || count(again.body["first_index"]) != 0 || count(again.body["last_index"]) != 1 ||
		count(again.body["log_size"]) != 2 || again.body["replayed"] != true || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry with the same key: %v", again)
	}

	// The same key for other events: refused, nothing stored.
	other := post(testAdminToken, "8e03978e-40d5-43e8-bc93-6894a57f9324", "["+evJSON(3, "svc-a", "dave", "email")+"]")
	wantFieldError(t, other, http.StatusConflict, "conflict", "idempotency_key")

	// Another reporter's token with the same key: its own batch.
	reporter := mintToken(t, m, "reporter", cordon.ScopeAuditWrite)
	theirs := post(reporter, "8e03978e-40d5-43e8-bc93-6894a57f9324", batch)
	if theirs.status != http.StatusOK || theirs.body["replayed"] != false || count(theirs.body["first_index"]) < 3 {
		t.Fatalf("another token, same key: %v", theirs)
	}

	// A day later the key is forgotten: the batch appends again.
	clk.Advance(25 * time.Hour)
	late := post(testAdminToken, "8e03978e-40d5-43e8-bc93-6894a57f9324", "["+evAt(clk.Now(), 0, "svc-a", "alice", "profile")+"]")
	if late.status != http.StatusOK || late.body["replayed"] != false {
		t.Fatalf("the key after its window: %v", late)
	}

	leaves := auditLeaves(t, m)
	var subjects []string
	for _, e := range leaves {
		if e.Principal == "svc-a" || e.Principal == "svc-b" {
			subjects = append(subjects, e.Subject)
		}
	}
	if got := strings.Join(subjects, ","); got != "alice,bob,carol,alice,bob,alice" {
		t.Errorf("ingested subjects in the log: %s, want alice,bob,carol,alice,bob,alice", got)
	}
}

func TestAuditIngestIdempotencyKeyBadInput(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	batch := []byte("[" + evJSON(0, "svc-a", "alice", "profile") + "]")
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"empty", []string{""}},
		{"empty string item", []string{`""`}},
		{"256 characters", []string{strings.Repeat("k", 256)}},
		{"a space inside", []string{"two words"}},
		{"non-ASCII", []string{"clé"}},
		{"a stray quote", []string{`ab"c`}},
		{"a backslash", []string{`ab\c`}},
		{"two headers", []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", m.URL()+"/audit/v1/events", bytes.NewReader(batch))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			req.Header.Set("Content-Type", "application/json")
			for _, k := range tc.keys {
				req.Header.Add("Idempotency-Key", k)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("Idempotency-Key %q: got %d, want 400", tc.keys, resp.StatusCode)
			}
		})
	}
	if got := auditLeaves(t, m); len(got) != 0 {
		t.Errorf("the log holds %d entries after refused requests, want 0", len(got))
	}
}

// Many retries of one batch at once, as a client behind a flapping
// network might send: one commit, one answer for all.
func TestAuditIngestIdempotencyKeyConcurrent(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	batch := []byte("[" + evJSON(0, "svc-a", "alice", "profile") + "," + evJSON(1, "svc-a", "bob", "email") + "]")
	const n = 12
	answers := make([]apiResp, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hdr("Authorization", "Bearer "+testAdminToken, "Content-Type", "application/json", "Idempotency-Key", "batch-7")
			r, err := do("POST", m.URL()+"/audit/v1/events", h, batch)
			if err != nil {
				t.Error(err)
			}
			answers[i] = r
		}()
	}
	wg.Wait()
	replayed := 0
	for i, r := range answers {
		if r.status != http.StatusOK || count(r.body["first_index"]) != 0 || count(r.body["log_size"]) != 2 {
			t.Errorf("answer %d: %v", i, r)
		}
		if r.body["replayed"] == true {
			replayed++
		}
	}
	if replayed != n-1 {
		t.Errorf("%d of %d answers replayed, want %d", replayed, n, n-1)
	}
	if got := auditLeaves(t, m); len(got) != 2 {
		t.Errorf("the log holds %d entries, want the batch once (2)", len(got))
	}
}
