package auditlog_test

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/benchutil"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/jackc/pgx/v5"
)

// TestMain removes the 1M-entry log the proof benchmarks built, when the
// process ends.
func TestMain(m *testing.M) {
	code := m.Run()
	benchLog.close()
	if grown.dir != "" {
		os.RemoveAll(grown.dir)
	}
	grownPG.drop()
	os.Exit(code)
}

// benchBatches are the batch sizes the append benchmarks send: a chatty
// reporter, the usual one, and MaxBatch.
var benchBatches = []int{100, 1000, auditlog.MaxBatch}

// BenchmarkIngest sends batches of valid events to Service.Ingest on a
// SQLite file store opened as the server opens it: validation, canonical
// encoding and leaf hashing of every event, and one write transaction per
// batch. No checkpointer runs (see BenchmarkIngestCheckpointed). Goal:
// 100k events/s at a batch of 1,000. The baseline is BenchmarkAppendAudit.
func BenchmarkIngest(b *testing.B) {
	for _, n := range benchBatches {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) { benchIngest(b, grownSQLite(b), grownEntries(), n) })
	}
}

// BenchmarkAppendAudit is the store alone: the same batches, encoded and
// hashed before the timer starts, through sqlite.DB.AppendAudit.
func BenchmarkAppendAudit(b *testing.B) {
	for _, n := range benchBatches {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) { benchAppend(b, grownSQLite(b), grownEntries(), n) })
	}
}

// BenchmarkAppendAuditOrdered is BenchmarkAppendAudit at a batch of 1,000
// with the events' times rising, as a live log receives them, instead of
// spread at random over 30 days: the time index then grows at its end,
// and so does each principal's run of the principal index. Subjects stay
// random. This is the live log's cost; BenchmarkAppendAudit's random
// times are the worst case (a backfill of old events).
func BenchmarkAppendAuditOrdered(b *testing.B) {
	b.Run("batch=1000", func(b *testing.B) {
		store := grownSQLite(b)
		ctx := b.Context()
		pool := entryPool(1000)
		at := time.Now()
		var size uint64
		b.ReportAllocs()
		m := benchutil.Start()
		i := 0
		for b.Loop() {
			b.StopTimer()
			entries := pool[i%benchPool]
			for _, e := range entries {
				at = at.Add(time.Millisecond)
				e.Time = at
			}
			b.StartTimer()
			var err error
			if size, err = store.AppendAudit(ctx, entries); err != nil {
				b.Fatalf("AppendAudit: %v", err)
			}
			i++
		}
		if size != grownEntries()+uint64(1000*b.N) {
			b.Fatalf("log size %d after %d batches of 1000 on %d", size, b.N, grownEntries())
		}
		m.ReportCPU(b, "cpu-µs/op")
		m.ReportWritten(b)
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkIngestNoStore is BenchmarkIngest at a batch of 1,000 with a
// store that keeps nothing it is sent: the service's own work on a batch
// (validation, canonical encoding, leaf hashing), to set beside the
// store's in BenchmarkAppendAudit.
func BenchmarkIngestNoStore(b *testing.B) {
	b.Run("batch=1000", func(b *testing.B) { benchIngest(b, &discardStore{DB: benchSQLite(b)}, 0, 1000) })
}

// discardStore is a SQLite store whose AppendAudit only counts.
type discardStore struct {
	*sqlite.DB
	size uint64
}

func (s *discardStore) AppendAudit(_ context.Context, entries []*cordon.AuditEntry) (uint64, error) {
	for _, e := range entries {
		e.Index = s.size
		s.size++
	}
	return s.size, nil
}

// BenchmarkIngestCheckpointed is BenchmarkIngest at a batch of 1,000 with
// the checkpointer running as the server runs it (Every 1,000): each batch
// also gets read back, rehashed and signed, on the same two cores.
func BenchmarkIngestCheckpointed(b *testing.B) {
	b.Run("batch=1000", func(b *testing.B) {
		db := benchSQLite(b)
		svc := benchService(b, db)
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			svc.Run(ctx)
		}()
		b.Cleanup(func() {
			cancel()
			<-done
		})
		ingest(b, svc, 0, 1000)
		cps, err := svc.Checkpoints(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(cps))/b.Elapsed().Seconds(), "checkpoints/s")
	})
}

// BenchmarkIngestOnce is BenchmarkIngest with an idempotency key per
// batch, as auditclient sends: the key's lookup, its row and the expiry
// of old keys ride in the same transaction.
func BenchmarkIngestOnce(b *testing.B) {
	b.Run("batch=1000", func(b *testing.B) {
		svc := benchService(b, benchSQLite(b))
		ctx := b.Context()
		events := benchEvents(1000, 1000, time.Now())
		var (
			got *auditlog.Ingested
			i   int
		)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if got, err = svc.IngestOnce(ctx, "bench/"+strconv.Itoa(i), events); err != nil || got.Replayed {
				b.Fatalf("IngestOnce: %+v, %v", got, err)
			}
			i++
		}
		if got.Size != uint64(1000*b.N) {
			b.Fatalf("log size %d after %d batches of 1000", got.Size, b.N)
		}
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkIngestPostgres is BenchmarkIngest on PostgreSQL, on a copy of
// the same grown log as SQLite's (grownPostgres), in a database of its own
// on the test server.
func BenchmarkIngestPostgres(b *testing.B) {
	for _, n := range benchBatches {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) { benchIngest(b, grownPostgres(b), grownEntries(), n) })
	}
}

// BenchmarkAppendAuditPostgres is BenchmarkAppendAudit on PostgreSQL, on
// the grown log.
func BenchmarkAppendAuditPostgres(b *testing.B) {
	for _, n := range benchBatches {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) { benchAppend(b, grownPostgres(b), grownEntries(), n) })
	}
}

func benchIngest(b *testing.B, store cordon.AuditStore, base uint64, n int) {
	ingest(b, benchService(b, store), base, n)
}

// benchPool is how many distinct batches a benchmark cycles through, so
// each op appends new keys to the indexes rather than repeating one
// batch's (a repeated key lands beside its twin, on a page the last
// batch already dirtied).
const benchPool = 8

// ingest times Ingest of batches of n events, again and again, on a log
// of base entries, and reports events/s.
func ingest(b *testing.B, svc *auditlog.Service, base uint64, n int) {
	b.Helper()
	ctx := b.Context()
	pool := eventPool(n)
	var size uint64
	b.ReportAllocs()
	m := benchutil.Start()
	i := 0
	for b.Loop() {
		var err error
		if _, size, err = svc.Ingest(ctx, pool[i%benchPool]); err != nil {
			b.Fatalf("Ingest: %v", err)
		}
		i++
	}
	if size != base+uint64(n*b.N) {
		b.Fatalf("log size %d after %d batches of %d on %d", size, b.N, n, base)
	}
	m.ReportCPU(b, "cpu-µs/op")
	m.ReportWritten(b)
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// eventPool is benchPool distinct batches of n events.
func eventPool(n int) [][]audit.Event {
	var pool [][]audit.Event
	for i := range benchPool {
		pool = append(pool, benchEvents(n, uint64(n*(i+1)), time.Now()))
	}
	return pool
}

// entryPool is eventPool's batches, encoded and hashed.
func entryPool(n int) [][]*cordon.AuditEntry {
	var pool [][]*cordon.AuditEntry
	for _, events := range eventPool(n) {
		pool = append(pool, entriesOf(events))
	}
	return pool
}

// entriesOf encodes and hashes events as the service does.
func entriesOf(events []audit.Event) []*cordon.AuditEntry {
	entries := make([]*cordon.AuditEntry, len(events))
	for i, e := range events {
		entries[i] = audit.Entry(e)
	}
	return entries
}

func benchAppend(b *testing.B, store cordon.AuditStore, base uint64, n int) {
	ctx := b.Context()
	pool := entryPool(n)
	var size uint64
	b.ReportAllocs()
	m := benchutil.Start()
	i := 0
	for b.Loop() {
		var err error
		if size, err = store.AppendAudit(ctx, pool[i%benchPool]); err != nil {
			b.Fatalf("AppendAudit: %v", err)
		}
		i++
	}
	if size != base+uint64(n*b.N) {
		b.Fatalf("log size %d after %d batches of %d on %d", size, b.N, n, base)
	}
	m.ReportCPU(b, "cpu-µs/op")
	m.ReportWritten(b)
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// grownSize is the log the SQLite append benchmarks start from. An
// append's cost grows with the log: each new entry lands on a page of
// its own in the indexes keyed by user and principal, once they hold
// more pages than a batch touches, and every such page is written to
// the WAL, checkpointed and (before a many-row INSERT) copied. On an
// empty file the first batches share a few pages and look 2-3 times
// cheaper than a live log's. 200,000 random entries put the user index
// past 2,000 pages; an op then touches ~2,900 pages, within a few % of
// the cost at 10x the size.
// Under -short (CI runs every benchmark once) it is 2,000, built in a
// moment: the figures are then an empty file's.
const grownSize = 200_000

// grownEntries is the grown log's size in this run.
func grownEntries() uint64 {
	if testing.Short() {
		return 2_000
	}
	return grownSize
}

var grown = &grownLog{}

// grownLog is a template file of grownSize entries, built once per
// process and copied for each benchmark.
type grownLog struct {
	once sync.Once
	err  error
	dir  string
}

// grownSQLite opens a copy of the grown log as the server opens it.
func grownSQLite(b *testing.B) *sqlite.DB {
	b.Helper()
	db, err := sqlite.Open(context.Background(), grownCopy(b))
	if err != nil {
		b.Fatalf("sqlite.Open: %v", err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// grownCopy copies the grown log into b.TempDir and returns its path.
func grownCopy(b *testing.B) string {
	b.Helper()
	grown.once.Do(func() {
		start := time.Now()
		if grown.err = grown.build(); grown.err == nil {
			b.Logf("built a log of %d entries in %v", grownEntries(), time.Since(start).Round(time.Millisecond))
		}
	})
	if grown.err != nil {
		b.Fatalf("build a log of %d entries: %v", grownEntries(), grown.err)
	}
	path := filepath.Join(b.TempDir(), "cordon.db")
	src, err := os.ReadFile(filepath.Join(grown.dir, "cordon.db"))
	if err == nil {
		err = os.WriteFile(path, src, 0o600)
	}
	if err != nil {
		b.Fatal(err)
	}
	return path
}

func (g *grownLog) build() error {
	dir, err := os.MkdirTemp("", "cordon-auditlog-grown-")
	if err != nil {
		return err
	}
	g.dir = dir
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "cordon.db"))
	if err != nil {
		return err
	}
	if err := grow(ctx, db); err != nil {
		db.Close()
		return err
	}
	// The last connection to close checkpoints the WAL into the file
	// and removes it, so the file alone is the whole log.
	if err := db.Close(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "cordon.db-wal")); err == nil {
		return fmt.Errorf("the WAL outlived the store's close; the copy would miss entries")
	}
	return nil
}

// benchEvents returns n valid events, drawn from seed, over the 30 days
// before now: 1,000
// principals, 1M subjects, one to three categories, and the purpose and
// source a service fills in, so leaves have their real length.
func benchEvents(n int, seed uint64, now time.Time) []audit.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	cats := audit.DefaultCategories()
	const window = 30 * 24 * time.Hour
	events := make([]audit.Event, n)
	for i := range events {
		c := rng.IntN(len(cats))
		categories := []string{cats[c]}
		for k := rng.IntN(3); k > 0; k-- {
			categories = append(categories, cats[(c+k*3)%len(cats)])
		}
		events[i] = audit.Event{
			Time:       now.Add(-window + time.Duration(rng.Int64N(int64(window)))),
			Principal:  "svc:service-" + strconv.Itoa(rng.IntN(1000)),
			Action:     [...]string{audit.ActionRead, audit.ActionRead, audit.ActionWrite, audit.ActionExport}[rng.IntN(4)],
			Subject:    "user" + strconv.Itoa(rng.IntN(1_000_000)) + "@example.com",
			Categories: categories,
			Purpose:    "TICKET-" + strconv.Itoa(rng.IntN(100_000)),
			Source:     "host-" + strconv.Itoa(rng.IntN(64)) + ".eu-west-1",
		}
	}
	return events
}

// benchSQLite opens a store on a new file in b.TempDir, as the server
// opens it (sqlite.Open's pragmas: WAL, synchronous NORMAL).
func benchSQLite(b *testing.B) *sqlite.DB {
	b.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "cordon.db"))
	if err != nil {
		b.Fatalf("sqlite.Open: %v", err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchPostgres opens a store in a new schema on the test server; without
// one the benchmark is skipped (failed under CI=true).
// grownPG is the grown log on PostgreSQL: a template database holding the
// same entries as the SQLite template (grownLog), built once per process;
// each benchmark gets a database copied from it (CREATE DATABASE …
// TEMPLATE, a file copy), so SQLite and PostgreSQL append to logs alike.
var grownPG = &grownPGLog{}

type grownPGLog struct {
	once sync.Once
	err  error
	name string // the template database
	dbs  []string
}

// grownPostgres opens a database copied from the grown PostgreSQL log.
func grownPostgres(b *testing.B) *postgres.DB {
	b.Helper()
	if testing.Short() {
		b.Skip("needs PostgreSQL; skipped under -short")
	}
	conn := pgtest.Connect(b)
	defer conn.Close(context.Background())
	ctx := context.Background()
	grownPG.once.Do(func() {
		start := time.Now()
		if grownPG.err = grownPG.build(b, conn); grownPG.err == nil {
			b.Logf("built a PostgreSQL log of %d entries in %v", grownEntries(), time.Since(start).Round(time.Millisecond))
		}
	})
	if grownPG.err != nil {
		b.Fatalf("build a PostgreSQL log of %d entries: %v", grownEntries(), grownPG.err)
	}
	name := pgDatabaseName()
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+grownPG.name); err != nil {
		b.Fatalf("copy the grown log: %v", err)
	}
	grownPG.dbs = append(grownPG.dbs, name)
	db, err := postgres.Open(ctx, pgDatabaseURL(b, name))
	if err != nil {
		b.Fatalf("postgres.Open: %v", err)
	}
	b.Cleanup(func() {
		db.Close()
		if conn, err := pgx.Connect(context.Background(), pgtest.ServerURL()); err == nil {
			if _, err := conn.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name); err == nil {
				grownPG.dbs = slices.DeleteFunc(grownPG.dbs, func(s string) bool { return s == name })
			}
			conn.Close(context.Background())
		}
	})
	return db
}

func (g *grownPGLog) build(b *testing.B, conn *pgx.Conn) error {
	ctx := context.Background()
	g.name = pgDatabaseName()
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+g.name); err != nil {
		g.name = ""
		return err
	}
	db, err := postgres.Open(ctx, pgDatabaseURL(b, g.name))
	if err != nil {
		return err
	}
	if err := grow(ctx, db); err != nil {
		db.Close()
		return err
	}
	// A template must have no connections when it is copied.
	db.Close()
	tc, err := pgx.Connect(ctx, pgDatabaseURL(b, g.name))
	if err != nil {
		return err
	}
	defer tc.Close(ctx)
	_, err = tc.Exec(ctx, `VACUUM ANALYZE`)
	return err
}

// grow appends the grown log's entries to store in batches of 1,000: the
// same entries for every backend.
func grow(ctx context.Context, store cordon.AuditStore) error {
	now := time.Now()
	for i := range grownEntries() / 1000 {
		if _, err := store.AppendAudit(ctx, entriesOf(benchEvents(1000, 1<<20+uint64(i), now))); err != nil {
			return err
		}
	}
	return nil
}

// drop removes the template and any copy a failed benchmark left.
func (g *grownPGLog) drop() {
	if g.name == "" && len(g.dbs) == 0 {
		return
	}
	conn, err := pgx.Connect(context.Background(), pgtest.ServerURL())
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	for _, name := range append(g.dbs, g.name) {
		if name != "" {
			conn.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		}
	}
}

// pgDatabaseName is a new database name of this process's.
func pgDatabaseName() string {
	var r [6]byte
	crand.Read(r[:])
	return "cordon_bench_" + hex.EncodeToString(r[:])
}

// pgDatabaseURL is the test server's URL naming database name.
func pgDatabaseURL(b *testing.B, name string) string {
	u, err := url.Parse(pgtest.ServerURL())
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		b.Fatalf("the PostgreSQL benchmarks need a postgres:// URL, not %q", pgtest.ServerURL())
	}
	u.Path = "/" + name
	return u.String()
}

func benchService(b *testing.B, store cordon.AuditStore) *auditlog.Service {
	b.Helper()
	svc, err := auditlog.New(context.Background(), auditlog.Config{Store: store, Clock: clock.Real{}, Origin: "cordon.example/audit"})
	if err != nil {
		b.Fatalf("auditlog.New: %v", err)
	}
	return svc
}

// proofLogSize is the size of the log the proof benchmarks share.
const proofLogSize = 1_000_000

// BenchmarkInclusion1M serves inclusion proofs of random entries of a
// 1M-entry SQLite log against its latest checkpoint, as the server does:
// Service.Inclusion reads the checkpoints, the entry, the stored tree
// nodes (level 8 and up) and rehashes the leaves under the lower ones. The
// log was checkpointed every 1,000 entries, as the server's default Every
// does, so 1,000 checkpoints are stored. The baseline is
// BenchmarkInclusionInMemory1M.
func BenchmarkInclusion1M(b *testing.B) {
	l := benchLog.get(b)
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	var p *auditlog.InclusionProof
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if p, err = l.svc.Inclusion(ctx, rng.Uint64N(proofLogSize), 0); err != nil {
			b.Fatalf("Inclusion: %v", err)
		}
	}
	if err := audit.VerifyInclusion(p.LeafHash, p.Index, p.Size, p.Hashes, l.root); err != nil || p.Size != proofLogSize {
		b.Fatalf("proof of entry %d in %d entries: %v", p.Index, p.Size, err)
	}
}

// BenchmarkInclusionInMemory1M builds the same proofs with
// audit.InclusionProof from all 1M leaf hashes held in memory, without
// stored nodes: every node is rehashed from the leaves under it.
func BenchmarkInclusionInMemory1M(b *testing.B) {
	l := benchLog.get(b)
	rng := rand.New(rand.NewPCG(1, 2))
	hashes := func(i uint64) []byte { return l.hashes[i] }
	var (
		hs    [][]byte
		index uint64
	)
	b.ReportAllocs()
	for b.Loop() {
		index = rng.Uint64N(proofLogSize)
		var err error
		if hs, err = audit.InclusionProof(hashes, index, proofLogSize); err != nil {
			b.Fatalf("InclusionProof: %v", err)
		}
	}
	if err := audit.VerifyInclusion(l.hashes[index], index, proofLogSize, hs, l.root); err != nil {
		b.Fatalf("proof of entry %d: %v", index, err)
	}
}

// benchLog is the 1M-entry log the proof benchmarks share, built once per
// process.
var benchLog = &proofLog{}

type proofLog struct {
	once   sync.Once
	err    error
	dir    string
	db     *sqlite.DB
	svc    *auditlog.Service
	hashes [][]byte // every entry's leaf hash
	root   []byte   // of the latest checkpoint, proofLogSize entries
}

// get returns the log, building it the first time: 1,000 batches of 1,000
// entries, each appended and then checkpointed as the checkpointer would.
func (l *proofLog) get(b *testing.B) *proofLog {
	b.Helper()
	if testing.Short() {
		b.Skipf("builds a log of %d entries; skipped under -short", proofLogSize)
	}
	l.once.Do(func() {
		start := time.Now()
		if l.err = l.build(context.Background()); l.err == nil {
			b.Logf("built a log of %d entries with %d checkpoints in %v", proofLogSize, proofLogSize/auditlog.DefaultEvery, time.Since(start).Round(time.Millisecond))
		}
	})
	if l.err != nil {
		b.Fatalf("build a log of %d entries: %v", proofLogSize, l.err)
	}
	return l
}

func (l *proofLog) build(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "cordon-auditlog-bench-")
	if err != nil {
		return err
	}
	l.dir = dir
	if l.db, err = sqlite.Open(ctx, filepath.Join(dir, "cordon.db")); err != nil {
		return err
	}
	l.svc, err = auditlog.New(ctx, auditlog.Config{Store: l.db, Clock: clock.Real{}, Origin: "cordon.example/audit"})
	if err != nil {
		return err
	}
	const batch = auditlog.DefaultEvery
	now := time.Now()
	for from := 0; from < proofLogSize; from += batch {
		entries := make([]*cordon.AuditEntry, batch)
		for i, e := range benchEvents(batch, uint64(from), now) {
			entries[i] = audit.Entry(e)
			l.hashes = append(l.hashes, entries[i].LeafHash)
		}
		if _, err := l.db.AppendAudit(ctx, entries); err != nil {
			return err
		}
		c, err := l.svc.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("no checkpoint signed at %d entries", from+batch)
		}
		l.root = c.Root
	}
	return nil
}

func (l *proofLog) close() {
	if l.db != nil {
		l.db.Close()
	}
	if l.dir != "" {
		os.RemoveAll(l.dir)
	}
}

// BenchmarkSyncedWrite is the disk's floor under a durable append: one
// write of size KiB at the end of a file, then fdatasync, as a
// synchronous=FULL commit of that many WAL bytes does. Set
// AppendAudit's written-KiB/op beside it: a batch cannot commit faster
// than its bytes reach the disk.
func BenchmarkSyncedWrite(b *testing.B) {
	for _, kib := range []int{1024, 4096} {
		b.Run("kib="+strconv.Itoa(kib), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "synced"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, kib*1024)
			for i := range buf {
				buf[i] = byte(i)
			}
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
