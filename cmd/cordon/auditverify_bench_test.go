//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/benchutil"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"golang.org/x/mod/sumdb/note"
)

// BenchmarkAuditVerifyServer is cordon audit verify end to end: a
// cordon server on loopback whose SQLite store holds a signed audit log,
// and auditVerify, the command's own function, against it (checkpoints
// fetched, the entries streamed as NDJSON, each line decoded and checked
// on every core, the tree recomputed). Beside it, on the same store in
// the same run, its floor:
//
//   - path=server: auditVerify over HTTP, client and server in one
//     process sharing the cores;
//   - path=file: the same verification (audit.VerifyLog: each entry's
//     hash, canonical form and report columns, account included, checked
//     on every core, the tree against the same checkpoints) over the
//     entries read straight from the server's store (AuditEntries), with
//     no HTTP and no export codec.
//
// entries=100k is a log the server ingests and signs in a few seconds (a
// checkpoint every 1,000 entries, as the 10M log has). entries=10M runs
// on internal/sqlite's 10M-entry fixture (BenchmarkAuditVerify10M
// there), copied into a data directory of its own, since the server
// writes to its store: it runs only when that file exists in
// os.TempDir (built by `go test -bench AuditVerify10M ./internal/sqlite`,
// several minutes) or CORDON_BENCH_AUDIT_LOG names such a file, and skips
// otherwise. Its setup (a 5 GB copy, the server rebuilding its tree from
// the leaves at start) takes a few minutes more. Goal (issue 17): 10M
// through the server within 1.3× of path=file, and under 60 s.
func BenchmarkAuditVerifyServer(b *testing.B) {
	b.Run("entries=100k", func(b *testing.B) {
		m := verifyServer(b, "", func(m *Main) { ingestLog(b, m, 100_000) })
		verifyCases(b, m)
	})
	b.Run("entries=10M", func(b *testing.B) {
		src := bigAuditLog(b)
		dir := b.TempDir()
		start := time.Now()
		if err := copyFile(src, filepath.Join(dir, "cordon.db")); err != nil {
			b.Fatal(err)
		}
		b.Logf("copied %s in %v", src, time.Since(start).Round(time.Millisecond))
		start = time.Now()
		m := verifyServer(b, dir, nil)
		b.Logf("the server started on it in %v", time.Since(start).Round(time.Millisecond))
		verifyCases(b, m)
	})
}

// verifyCases runs path=server and path=file on m's log.
func verifyCases(b *testing.B, m *Main) {
	ctx := b.Context()
	key := m.Audit.VerifierKey()
	c := adminclient.New(m.URL(), testAdminToken)
	b.Run("path=server", func(b *testing.B) {
		var out bytes.Buffer
		b.ReportAllocs()
		cpu := benchutil.Start()
		for b.Loop() {
			out.Reset()
			if err := auditVerify(ctx, c, []string{key}, "", nil, &out, io.Discard); err != nil {
				b.Fatalf("auditVerify: %v", err)
			}
		}
		cpu.ReportCPU(b, "cpu-µs/op")
		var origin string
		var n uint64
		if _, err := fmt.Sscanf(out.String(), "ok: %s holds %d entries", &origin, &n); err != nil {
			b.Fatalf("auditVerify said %q", out.String())
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("path=file", func(b *testing.B) {
		v, err := note.NewVerifier(key)
		if err != nil {
			b.Fatal(err)
		}
		var rep audit.Report
		b.ReportAllocs()
		cpu := benchutil.Start()
		for b.Loop() {
			if rep, err = verifyStore(ctx, m.store, v); err != nil {
				b.Fatalf("verify from the store: %v", err)
			}
		}
		cpu.ReportCPU(b, "cpu-µs/op")
		if rep.Proven == 0 || rep.Entries < rep.Proven {
			b.Fatalf("report = %d entries, %d proven", rep.Entries, rep.Proven)
		}
		b.ReportMetric(float64(rep.Entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// verifyStore verifies the whole log in st as auditVerify does, minus
// HTTP: the stored checkpoints, and every entry from AuditEntries (the
// columns the export carries) through audit.VerifyLog.
func verifyStore(ctx context.Context, st cordon.AuditStore, v note.Verifier) (audit.Report, error) {
	n, err := st.AuditSize(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	saved, err := st.AuditCheckpoints(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	cps := make([]audit.Checkpoint, len(saved))
	for i, c := range saved {
		cps[i] = audit.Checkpoint{Origin: v.Name(), Note: c.Note}
	}
	// The reader hands batches over, so the floor pays no channel
	// operation per entry.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []*cordon.AuditEntry, 8)
	errc := make(chan error, 1)
	go func() {
		defer close(batches)
		batch := make([]*cordon.AuditEntry, 0, 1024)
		send := func() error {
			select {
			case batches <- batch:
				batch = make([]*cordon.AuditEntry, 0, 1024)
				return nil
			case <-rctx.Done():
				return rctx.Err()
			}
		}
		err := st.AuditEntries(rctx, 0, n, func(e *cordon.AuditEntry) error {
			if batch = append(batch, e); len(batch) == cap(batch) {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		errc <- err
	}()
	var cur []*cordon.AuditEntry
	next := func() (audit.StoredEntry, error) {
		for len(cur) == 0 {
			b, ok := <-batches
			if !ok {
				if err := <-errc; err != nil {
					return audit.StoredEntry{}, err
				}
				return audit.StoredEntry{}, io.EOF
			}
			cur = b
		}
		e := cur[0]
		cur = cur[1:]
		return audit.StoredEntry{Index: e.Index, Leaf: e.Leaf, LeafHash: e.LeafHash,
			Indexed: &audit.Event{Time: e.Time, Principal: e.Principal, Action: e.Action, Subject: e.Subject,
				Categories: e.Categories, Account: e.Account, Resolved: e.Resolved}}, nil
	}
	rep, err := audit.VerifyLog(next, n, cps, note.VerifierList(v), nil)
	cancel()
	for range batches {
	}
	return rep, err
}

// verifyServer starts a server on data (a new directory when ""), calls
// fill, and returns it once every entry is signed.
func verifyServer(b *testing.B, data string, fill func(*Main)) *Main {
	b.Helper()
	if data == "" {
		data = b.TempDir()
	}
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: data, AdminToken: testAdminToken, SkipCheck: true,
		AuditEvery: 1000, AuditInterval: time.Hour, Log: slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	if fill != nil {
		fill(m)
	}
	if _, err := m.Audit.Checkpoint(b.Context()); err != nil {
		b.Fatal(err)
	}
	return m
}

// ingestLog appends n events to m's log, 1,000 at a time, each batch
// signed as the checkpointer signs it.
func ingestLog(b *testing.B, m *Main, n int) {
	b.Helper()
	ctx := b.Context()
	start := time.Now()
	cats := audit.DefaultCategories()
	t0 := time.Now().Add(-30 * 24 * time.Hour)
	events := make([]audit.Event, 0, 1000)
	for i := range n {
		x := uint64(i)*0x9E3779B97F4A7C15 + 1
		x ^= x >> 29
		events = append(events, audit.Event{
			Time:       t0.Add(time.Duration(i) * 259 * time.Millisecond),
			Principal:  "svc:service-" + strconv.FormatUint(x%999, 10),
			Action:     [...]string{audit.ActionRead, audit.ActionRead, audit.ActionWrite, audit.ActionExport}[x>>11%4],
			Subject:    "user" + strconv.FormatUint(x>>20%1_000_000, 10) + "@example.com",
			Categories: []string{cats[x>>13%uint64(len(cats))]},
			Purpose:    "TICKET-" + strconv.FormatUint(x>>40%100_000, 10),
			Source:     "host-" + strconv.FormatUint(x>>57, 10) + ".eu-west-1",
		})
		if len(events) == cap(events) || i == n-1 {
			if _, _, err := m.Audit.Ingest(ctx, events); err != nil {
				b.Fatalf("ingest: %v", err)
			}
			if _, err := m.Audit.Checkpoint(ctx); err != nil {
				b.Fatalf("checkpoint: %v", err)
			}
			events = events[:0]
		}
	}
	b.Logf("ingested and signed %d entries in %v", n, time.Since(start).Round(time.Millisecond))
}

// bigAuditLog is the path of internal/sqlite's 10M-entry fixture, or a
// skip when it is not there.
func bigAuditLog(b *testing.B) string {
	b.Helper()
	if testing.Short() {
		b.Skip("uses the 10M-entry audit log; skipped under -short")
	}
	path := os.Getenv("CORDON_BENCH_AUDIT_LOG")
	if path == "" {
		key, err := fixtureSchemaKey(b)
		if err != nil {
			b.Fatal(err)
		}
		path = filepath.Join(os.TempDir(), "cordon-bench-audit-10M-"+key+".db")
	}
	if _, err := os.Stat(path); err != nil {
		b.Skipf("no 10M-entry audit log at %s: build it with `go test -run '^$' -bench AuditVerify10M ./internal/sqlite` (several minutes), or name one in CORDON_BENCH_AUDIT_LOG", path)
	}
	return path
}

// fixtureSchemaKey is internal/sqlite's schemaKey (audit_bench_test.go):
// the name its 10M-entry file gets from today's schema and its
// generator's version (auditLogVersion there), so a file built from
// another schema is not taken for this one.
func fixtureSchemaKey(b *testing.B) (string, error) {
	const generatorVersion = 3 // internal/sqlite's auditLogVersion
	schema, err := sqlite.Schema(context.Background(), b.TempDir())
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(strconv.Itoa(generatorVersion) + "\n" + schema))
	return hex.EncodeToString(sum[:6]), nil
}

// copyFile copies src to the new file dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
