package campaign

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaigndoc"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver the loader and the count scan use
)

// TestMain removes the fleets the preview benchmarks built (gigabytes at
// 10M sessions) when the process ends: the SQLite files, and the
// PostgreSQL schemas.
func TestMain(m *testing.M) {
	code := m.Run()
	fleets.closeAll()
	pgFleets.closeAll()
	os.Exit(code)
}

// benchDoc is the SPEC's incident campaign reduced to what a bucket can
// judge: desktop, iOS and Windows Phone below 8.5.0.
const benchDoc = `{"kind": "reauth", "name": "bench: desktop, iOS, Windows Phone below 8.5.0",
	"cohort": {"platforms": ["desktop", "ios", "winphone"], "versions": "< 8.5.0"}}`

// countScanSQL is what a preview would run without the buckets: an exact
// count of the cohort's platforms over every session row (no index helps).
const countScanSQL = `SELECT count(*) FROM sessions WHERE revoked_at = 0 AND platform IN ('desktop','ios','winphone')`

// bigFleet is the size of the store BenchmarkPreview10M and
// BenchmarkPreviewCountScan10M share: 10M sessions, or 1M with
// CORDON_BENCH_SMALL=1. The size is in the sub-benchmark's name, so a
// small run never passes for a full one in a report.
func bigFleet() (n int, name string) {
	if os.Getenv("CORDON_BENCH_SMALL") == "1" {
		return 1_000_000, "sessions=1M"
	}
	return 10_000_000, "sessions=10M"
}

// BenchmarkPreview10M previews a reauth campaign for desktop, iOS and
// Windows Phone below 8.5.0 over 10M live sessions: above
// ExactPreviewLimit, Service.Preview sums buckets, so it should cost the
// number of buckets (tens of thousands), not of sessions. Goal: < 100 ms.
// The baseline is BenchmarkPreviewCountScan10M on the same store.
func BenchmarkPreview10M(b *testing.B) {
	n, name := bigFleet()
	b.Run(name, func(b *testing.B) {
		f := fleets.get(b, n)
		ctx := b.Context()
		var p *Preview
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if p, err = f.svc.Preview(ctx, f.campaignID); err != nil {
				b.Fatalf("Preview: %v", err)
			}
		}
		if p.Exact || p.LiveSessions != int64(n) || p.Sessions <= 0 || p.Sessions >= p.LiveSessions {
			b.Fatalf("Preview = exact %v, %d of %d live sessions; want a bucket preview of part of %d", p.Exact, p.Sessions, p.LiveSessions, n)
		}
	})
}

// BenchmarkPreviewCountScan10M is the exact count a preview would need
// without buckets, for the cohort's platforms alone (the version
// constraint cannot even be put in SQL): a full scan of the sessions
// table, on a reader connection of the store BenchmarkPreview10M uses.
func BenchmarkPreviewCountScan10M(b *testing.B) {
	n, name := bigFleet()
	b.Run(name, func(b *testing.B) {
		f := fleets.get(b, n)
		ctx := b.Context()
		var count int64
		b.ReportAllocs()
		for b.Loop() {
			if err := f.reader.QueryRowContext(ctx, countScanSQL).Scan(&count); err != nil {
				b.Fatalf("count scan: %v", err)
			}
		}
		if count <= 0 || count >= int64(n) {
			b.Fatalf("count scan = %d of %d sessions", count, n)
		}
	})
}

// BenchmarkPreviewExact100k is the exact path for reference: 100k live
// sessions, under ExactPreviewLimit, matched one by one.
func BenchmarkPreviewExact100k(b *testing.B) {
	const n = 100_000
	f := fleets.get(b, n)
	ctx := b.Context()
	var p *Preview
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if p, err = f.svc.Preview(ctx, f.campaignID); err != nil {
			b.Fatalf("Preview: %v", err)
		}
	}
	if !p.Exact || p.LiveSessions != n || p.Sessions <= 0 {
		b.Fatalf("Preview = exact %v, %d of %d live sessions; want an exact preview of part of %d", p.Exact, p.Sessions, p.LiveSessions, n)
	}
}

// BenchmarkPreview10MPostgres is BenchmarkPreview10M on PostgreSQL: the
// same campaign over the same fleet (10M live sessions, or 1M with
// CORDON_BENCH_SMALL=1), in a schema of its own on the test server.
// Goal: < 100 ms. The baseline is BenchmarkPreviewCountScan10MPostgres on
// the same store.
func BenchmarkPreview10MPostgres(b *testing.B) {
	n, name := bigFleet()
	b.Run(name, func(b *testing.B) {
		f := pgFleets.get(b, n)
		ctx := b.Context()
		var p *Preview
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if p, err = f.svc.Preview(ctx, f.campaignID); err != nil {
				b.Fatalf("Preview: %v", err)
			}
		}
		if p.Exact || p.LiveSessions != int64(n) || p.Sessions <= 0 || p.Sessions >= p.LiveSessions {
			b.Fatalf("Preview = exact %v, %d of %d live sessions; want a bucket preview of part of %d", p.Exact, p.Sessions, p.LiveSessions, n)
		}
	})
}

// BenchmarkPreviewCountScan10MPostgres is BenchmarkPreviewCountScan10M on
// PostgreSQL: the exact count of the cohort's platforms over every session
// row, on a connection of its own to the store BenchmarkPreview10MPostgres
// uses. PostgreSQL may scan in parallel workers.
func BenchmarkPreviewCountScan10MPostgres(b *testing.B) {
	n, name := bigFleet()
	b.Run(name, func(b *testing.B) {
		f := pgFleets.get(b, n)
		ctx := b.Context()
		var count int64
		b.ReportAllocs()
		for b.Loop() {
			if err := f.reader.QueryRow(ctx, countScanSQL).Scan(&count); err != nil {
				b.Fatalf("count scan: %v", err)
			}
		}
		if count <= 0 || count >= int64(n) {
			b.Fatalf("count scan = %d of %d sessions", count, n)
		}
	})
}

// fleets holds the stores the benchmarks share, one per size, each built
// once per process: a 10M-session store takes minutes to build.
var fleets = &fleetCache{m: map[int]*fleet{}}

type fleetCache struct {
	mu sync.Mutex
	m  map[int]*fleet
}

// fleet is a store of n live sessions, a campaign service on it, a draft
// campaign to preview, and a reader for the count scan.
type fleet struct {
	once sync.Once
	err  error

	dir        string
	store      *sqlite.DB
	reader     *sql.DB
	svc        *Service
	campaignID string
}

// get returns the fleet of n sessions, building it the first time; the
// benchmark that builds it logs how long that took and the disk it takes.
func (c *fleetCache) get(b *testing.B, n int) *fleet {
	b.Helper()
	if testing.Short() {
		b.Skipf("builds a store of %d sessions; skipped under -short", n)
	}
	c.mu.Lock()
	f := c.m[n]
	if f == nil {
		f = &fleet{}
		c.m[n] = f
	}
	c.mu.Unlock()
	f.once.Do(func() {
		start := time.Now()
		st, err := f.build(context.Background(), n)
		if err != nil {
			f.err = err
			return
		}
		b.Logf("built a store of %d live sessions, %d accounts and %d buckets in %v (rows %v, buckets %v, indexes %v, checkpoint %v): %s on disk, %s at the peak of the load",
			n, st.accounts, st.buckets, time.Since(start).Round(time.Millisecond), st.load.Round(time.Millisecond), st.bucket.Round(time.Millisecond),
			st.index.Round(time.Millisecond), st.checkpoint.Round(time.Millisecond), gib(st.disk), gib(st.peak))
	})
	if f.err != nil {
		b.Fatalf("build a store of %d sessions: %v", n, f.err)
	}
	return f
}

func gib(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30)) }

func (c *fleetCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.m {
		f.close()
	}
}

func (f *fleet) close() {
	if f.reader != nil {
		f.reader.Close()
	}
	if f.store != nil {
		f.store.Close()
	}
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// buildStats says what a fleet build took.
type buildStats struct {
	accounts, buckets               int64
	load, bucket, index, checkpoint time.Duration
	disk, peak                      int64 // bytes: the finished files, and the file and WAL before the checkpoint
}

// build creates the schema with sqlite.Open, writes the fleet straight into
// the file, and opens the store, a reader and the campaign service on it.
func (f *fleet) build(ctx context.Context, n int) (*buildStats, error) {
	dir, err := os.MkdirTemp("", "cordon-fleet-")
	if err != nil {
		return nil, err
	}
	f.dir = dir
	path := filepath.Join(dir, "cordon.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	st, err := loadFleet(ctx, path, n, time.Now())
	if err != nil {
		return nil, err
	}
	if st.disk, err = dirSize(dir); err != nil {
		return nil, err
	}

	if f.store, err = sqlite.Open(ctx, path); err != nil {
		return nil, err
	}
	// The pragmas of the store's own readers.
	q := url.Values{"_pragma": {"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)", "query_only(1)"}}
	if f.reader, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode()); err != nil {
		return nil, err
	}
	if f.svc, err = New(ctx, f.store, clock.Real{}, nil); err != nil {
		return nil, err
	}
	c, err := f.svc.Create(ctx, []byte(benchDoc), campaigndoc.JSON, "t-bench")
	if err != nil {
		return nil, err
	}
	f.campaignID = c.ID
	return st, nil
}

// fleetBucketSQL fills the bucket tables from the sessions: the backfill of
// migration 0002_campaigns.sql, word for word.
const fleetBucketSQL = `
INSERT INTO account_buckets (account_id, platform, version, source, auth_day, sessions)
SELECT account_id, platform, version, source,
       auth_time - ((auth_time % 86400000000) + 86400000000) % 86400000000, count(*)
FROM sessions WHERE revoked_at = 0
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO session_buckets (platform, version, source, auth_day, sessions, users)
SELECT platform, version, source, auth_day, sum(sessions), count(*)
FROM account_buckets
GROUP BY 1, 2, 3, 4;`

// loadFleet writes n live sessions, their accounts and the buckets into
// the file at path, whose schema is current, in one transaction on a
// connection of its own with syncing off: a few hundred rows per prepared
// INSERT, then the migration's backfill for the buckets.
//
// The mix: six platforms, each with its usual install sources (seven in
// all); forty app versions, newer ones more common (web reports none);
// auth times over the last 89 days, recent ones more common, and expiries
// at least a day away, so none is swept during a run; one to four
// sessions per account, 1.6 on average. Ids and device ids have the length
// of real ones, so rows have their real size; they ascend, so the key
// indexes are written in order.
func loadFleet(ctx context.Context, path string, n int, now time.Time) (*buildStats, error) {
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-524288)&_pragma=temp_store(MEMORY)")
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	// The sessions' secondary indexes are dropped for the load and built
	// again after the buckets: a sorted build beats ten million inserts in
	// random order (sessions_expiry), and the backfill then scans the table
	// as the migration did, not through a partial index that covers every
	// live session (the planner prefers one, and walks the table in index
	// order). Read from the schema, so indexes added later are kept too.
	indexes, err := dropIndexes(ctx, tx, "sessions")
	if err != nil {
		return nil, err
	}

	st := &buildStats{}
	start := time.Now()
	accounts, err := newBatchInsert(ctx, tx, `INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at) VALUES `, 6, 500)
	if err != nil {
		return nil, err
	}
	defer accounts.close()
	sessions, err := newBatchInsert(ctx, tx, `INSERT INTO sessions (id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, expires_at) VALUES `, 10, 500)
	if err != nil {
		return nil, err
	}
	defer sessions.close()

	rng := rand.New(rand.NewPCG(1, 2))
	mix := newFleetMix()
	nowMicros := now.UnixMicro()
	const day = int64(24 * time.Hour / time.Microsecond)
	var device [16]byte
	for i := 0; i < n; st.accounts++ {
		acct, name := fleetAccount(st.accounts)
		created := nowMicros - 400*day
		if err := accounts.add(acct, name, name, benchHash, created, created); err != nil {
			return nil, fmt.Errorf("insert accounts: %w", err)
		}
		for k := mix.sessionsPerAccount(rng); k > 0 && i < n; k-- {
			s := mix.session(rng, nowMicros, &device)
			if err := sessions.add(fleetSessionID(i), acct, s.platform, s.version, s.source, s.device, s.auth, s.auth, s.seen, s.expires); err != nil {
				return nil, fmt.Errorf("insert sessions: %w", err)
			}
			i++
		}
	}
	if err := accounts.flush(); err != nil {
		return nil, fmt.Errorf("insert accounts: %w", err)
	}
	if err := sessions.flush(); err != nil {
		return nil, fmt.Errorf("insert sessions: %w", err)
	}
	st.load = time.Since(start)

	start = time.Now()
	if _, err := tx.ExecContext(ctx, fleetBucketSQL); err != nil {
		return nil, fmt.Errorf("fill buckets: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM session_buckets`).Scan(&st.buckets); err != nil {
		return nil, err
	}
	st.bucket = time.Since(start)

	start = time.Now()
	for _, ix := range indexes {
		if _, err := tx.ExecContext(ctx, ix); err != nil {
			return nil, fmt.Errorf("rebuild index: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	st.index = time.Since(start)
	if st.peak, err = dirSize(filepath.Dir(path)); err != nil {
		return nil, err
	}

	// Move the load out of the WAL now, or the first benchmark pays for
	// checkpointing it.
	start = time.Now()
	if _, err := raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	st.checkpoint = time.Since(start)
	return st, nil
}

// dropIndexes drops the indexes of table that the schema created (not the
// ones behind its keys) and returns the statements that create them again.
func dropIndexes(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
	if err != nil {
		return nil, err
	}
	var names, create []string
	for rows.Next() {
		var name, ddl string
		if err := rows.Scan(&name, &ddl); err != nil {
			rows.Close()
			return nil, err
		}
		names, create = append(names, name), append(create, ddl)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+name+`"`); err != nil {
			return nil, err
		}
	}
	return create, nil
}

// benchHash has the length of a real argon2id hash at the default
// parameters; no benchmark logs in with it.
const benchHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoYmVu"

// fleetMix draws the client facts of the synthetic fleet.
type fleetMix struct {
	platforms []mixPlatform
	weights   []float64 // of platforms, cumulative
	versions  []string  // newest first
	vweights  []float64 // cumulative
}

type mixPlatform struct {
	name      string
	versioned bool
	sources   []string
	weights   []float64 // of sources, cumulative
}

func (p *mixPlatform) source(rng *rand.Rand) string { return p.sources[pick(rng, p.weights)] }

func newFleetMix() *fleetMix {
	m := &fleetMix{}
	for _, p := range []struct {
		name    string
		share   float64
		sources map[string]float64
	}{
		{cordon.PlatformAndroid, 0.45, map[string]float64{cordon.SourcePlay: 0.85, cordon.SourceAmazon: 0.08, cordon.SourceUnknown: 0.07}},
		{cordon.PlatformIOS, 0.30, map[string]float64{cordon.SourceAppStore: 1}},
		{cordon.PlatformDesktop, 0.12, map[string]float64{cordon.SourceOfficial: 0.6, cordon.SourceMicrosoft: 0.3, cordon.SourceUnknown: 0.1}},
		{cordon.PlatformWeb, 0.08, map[string]float64{cordon.SourceWeb: 1}},
		{cordon.PlatformTV, 0.03, map[string]float64{cordon.SourcePlay: 0.6, cordon.SourceAmazon: 0.4}},
		{cordon.PlatformWinPhone, 0.02, map[string]float64{cordon.SourceMicrosoft: 1}},
	} {
		mp := mixPlatform{name: p.name, versioned: p.name != cordon.PlatformWeb}
		// Sources in a fixed order, so a seed always draws the same fleet.
		for _, s := range cordon.Sources {
			if w, ok := p.sources[s]; ok {
				mp.sources = append(mp.sources, s)
				mp.weights = append(mp.weights, w)
			}
		}
		m.platforms = append(m.platforms, mp)
		m.weights = append(m.weights, p.share)
	}
	// 8.9.1, 8.9.0, 8.8.1, … 7.0.0: each 15% rarer than the next newer,
	// so about a fifth of the fleet is below 8.5.0.
	w := 1.0
	for minor := 19; minor >= 0; minor-- {
		for patch := 1; patch >= 0; patch-- {
			m.versions = append(m.versions, fmt.Sprintf("%d.%d.%d", 7+minor/10, minor%10, patch))
			m.vweights = append(m.vweights, w)
			w *= 0.85
		}
	}
	cumulate(m.weights)
	cumulate(m.vweights)
	for i := range m.platforms {
		cumulate(m.platforms[i].weights)
	}
	return m
}

func (m *fleetMix) platform(rng *rand.Rand) *mixPlatform { return &m.platforms[pick(rng, m.weights)] }

func (m *fleetMix) version(rng *rand.Rand, p *mixPlatform) string {
	if !p.versioned {
		return ""
	}
	return m.versions[pick(rng, m.vweights)]
}

// fleetAccount is the id and username of the i-th account of the
// synthetic fleet.
func fleetAccount(i int64) (id, name string) {
	return fmt.Sprintf("u-%026d", i), fmt.Sprintf("user%d@example.com", i)
}

// fleetSessionID is the id of the i-th session of the synthetic fleet.
func fleetSessionID(i int) string { return fmt.Sprintf("s-%026d", i) }

// fleetSession is what the synthetic fleet draws for one session.
type fleetSession struct {
	platform, version, source, device string
	auth, seen, expires               int64 // microseconds
}

// session draws one live session at nowMicros; device is scratch space
// for its device id. The SQLite and the PostgreSQL fleets both draw their
// sessions here, in the same order, so one seed gives them the same rows.
func (m *fleetMix) session(rng *rand.Rand, nowMicros int64, device *[16]byte) fleetSession {
	const day = int64(24 * time.Hour / time.Microsecond)
	p := m.platform(rng)
	// A refresh family lives 90 days and idles out after 30, so a live
	// session was authenticated within 90 days and refreshed within 30. A
	// day of margin keeps every one live while the benchmarks run: Preview
	// sweeps expired sessions first.
	u := rng.Float64()
	auth := nowMicros - int64(89*u*u*float64(day))
	seen := max(auth, nowMicros-29*day)
	seen += rng.Int64N(nowMicros - seen + 1)
	expires := min(seen+30*day, auth+90*day)
	for j := range device {
		device[j] = byte(rng.Uint32())
	}
	s := fleetSession{platform: p.name, device: hex.EncodeToString(device[:]), auth: auth, seen: seen, expires: expires}
	s.version = m.version(rng, p)
	s.source = p.source(rng)
	return s
}

// sessionsPerAccount is 1 (60%), 2 (25%), 3 (10%) or 4 (5%).
func (m *fleetMix) sessionsPerAccount(rng *rand.Rand) int {
	switch u := rng.Float64(); {
	case u < 0.60:
		return 1
	case u < 0.85:
		return 2
	case u < 0.95:
		return 3
	}
	return 4
}

// cumulate turns weights into running sums.
func cumulate(w []float64) {
	for i := 1; i < len(w); i++ {
		w[i] += w[i-1]
	}
}

// pick draws an index with the weights whose running sums are cum.
func pick(rng *rand.Rand, cum []float64) int {
	x := rng.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

// batchInsert writes rows through a prepared INSERT of many rows at once;
// binding a row's values costs far less than a statement per row.
type batchInsert struct {
	ctx  context.Context
	tx   *sql.Tx
	head string // "INSERT INTO t (a, b) VALUES "
	cols int
	rows int
	stmt *sql.Stmt
	args []any
}

func newBatchInsert(ctx context.Context, tx *sql.Tx, head string, cols, rows int) (*batchInsert, error) {
	bi := &batchInsert{ctx: ctx, tx: tx, head: head, cols: cols, rows: rows, args: make([]any, 0, cols*rows)}
	var err error
	bi.stmt, err = tx.PrepareContext(ctx, bi.query(rows))
	return bi, err
}

// query is the INSERT of r rows.
func (bi *batchInsert) query(r int) string {
	row := "(" + strings.Repeat("?, ", bi.cols-1) + "?)"
	return bi.head + strings.Repeat(row+", ", r-1) + row
}

func (bi *batchInsert) add(vals ...any) error {
	if len(vals) != bi.cols {
		return errors.New("batchInsert: wrong number of values")
	}
	bi.args = append(bi.args, vals...)
	if len(bi.args) < cap(bi.args) {
		return nil
	}
	_, err := bi.stmt.ExecContext(bi.ctx, bi.args...)
	bi.args = bi.args[:0]
	return err
}

// flush writes the rows of the last, partial batch.
func (bi *batchInsert) flush() error {
	if len(bi.args) == 0 {
		return nil
	}
	_, err := bi.tx.ExecContext(bi.ctx, bi.query(len(bi.args)/bi.cols), bi.args...)
	bi.args = bi.args[:0]
	return err
}

func (bi *batchInsert) close() { bi.stmt.Close() }

// dirSize is the bytes of the files in dir.
func dirSize(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return 0, err
		}
		n += info.Size()
	}
	return n, nil
}

// pgFleets holds the PostgreSQL stores the benchmarks share, one per size,
// each built once per process, in a schema that lives until TestMain drops
// it: pgtest.URL would drop it when the first benchmark ends.
var pgFleets = &pgFleetCache{m: map[int]*pgFleet{}}

type pgFleetCache struct {
	mu sync.Mutex
	m  map[int]*pgFleet
}

// pgFleet is a fleet in a PostgreSQL schema of its own: the store, a
// campaign service on it, a draft campaign to preview, and a connection of
// its own for the count scan.
type pgFleet struct {
	err error

	schema     string
	store      *postgres.DB
	reader     *pgx.Conn
	svc        *Service
	campaignID string
}

// get returns the PostgreSQL fleet of n sessions, building it the first
// time; the benchmark that builds it logs how long that took and the room
// it takes. Without a server the benchmark is skipped (failed under
// CI=true), as pgtest does, and the next one tries again.
func (c *pgFleetCache) get(b *testing.B, n int) *pgFleet {
	b.Helper()
	if testing.Short() {
		b.Skipf("builds a PostgreSQL store of %d sessions; skipped under -short", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock() // also when pgtest skips the benchmark
	f := c.m[n]
	if f == nil {
		conn := pgtest.Connect(b) // skips, or fails in CI, without a server
		f = &pgFleet{}
		c.m[n] = f
		start := time.Now()
		st, err := f.build(context.Background(), b, conn, n)
		conn.Close(context.Background())
		if err != nil {
			f.err = err
		} else {
			b.Logf("built a PostgreSQL store of %d live sessions, %d accounts and %d buckets in %v (rows %v, buckets %v, indexes %v, vacuum %v): %s in schema %s",
				n, st.accounts, st.buckets, time.Since(start).Round(time.Millisecond), st.load.Round(time.Millisecond), st.bucket.Round(time.Millisecond),
				st.index.Round(time.Millisecond), st.checkpoint.Round(time.Millisecond), gib(st.disk), f.schema)
		}
	}
	if f.err != nil {
		b.Fatalf("build a PostgreSQL store of %d sessions: %v", n, f.err)
	}
	return f
}

func (c *pgFleetCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.m {
		if err := f.close(); err != nil {
			fmt.Fprintf(os.Stderr, "drop the PostgreSQL fleet: %v\n", err)
		}
	}
}

// close closes the store and the reader and drops the schema.
func (f *pgFleet) close() error {
	ctx := context.Background()
	if f.reader != nil {
		f.reader.Close(ctx)
	}
	if f.store != nil {
		f.store.Close()
	}
	if f.schema == "" {
		return nil
	}
	conn, err := pgx.Connect(ctx, pgtest.ServerURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP SCHEMA `+f.schema+` CASCADE`)
	return err
}

// build creates a schema on conn (named as pgtest names its own), migrates
// it with postgres.Open, loads the fleet into it, and opens a reader and
// the campaign service on the store. buildStats.checkpoint holds the
// VACUUM, and disk the size of the schema's tables and indexes.
func (f *pgFleet) build(ctx context.Context, b *testing.B, conn *pgx.Conn, n int) (*buildStats, error) {
	var r [8]byte
	for i := range r {
		r[i] = byte(rand.Uint32())
	}
	schema := "cordon_test_" + hex.EncodeToString(r[:])
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		return nil, err
	}
	f.schema = schema
	url := pgtest.SchemaURL(b, schema)
	var err error
	if f.store, err = postgres.Open(ctx, url); err != nil {
		return nil, err
	}
	load, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer load.Close(ctx)
	st, err := loadPGFleet(ctx, load, n, time.Now())
	if err != nil {
		return nil, err
	}
	if f.reader, err = pgx.Connect(ctx, url); err != nil {
		return nil, err
	}
	if f.svc, err = New(ctx, f.store, clock.Real{}, nil); err != nil {
		return nil, err
	}
	c, err := f.svc.Create(ctx, []byte(benchDoc), campaigndoc.JSON, "t-bench")
	if err != nil {
		return nil, err
	}
	f.campaignID = c.ID
	return st, nil
}

// pgBucketSQL fills the bucket tables from the sessions as the store's
// session writes keep them (internal/postgres/fleet.go): a live session
// counts in the account_buckets row of its account, facts and UTC day of
// auth_time (authDay: floored to midnight, in microseconds), and
// session_buckets.users counts the account_buckets rows of its key.
const pgBucketSQL = `
INSERT INTO account_buckets (account_id, platform, version, source, auth_day, sessions)
SELECT account_id, platform, version, source,
       auth_time - ((auth_time % 86400000000) + 86400000000) % 86400000000, count(*)
FROM sessions WHERE revoked_at = 0
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO session_buckets (platform, version, source, auth_day, sessions, users)
SELECT platform, version, source, auth_day, sum(sessions), count(*)
FROM account_buckets
GROUP BY 1, 2, 3, 4;`

// pgLoadTables are the tables loadPGFleet writes.
var pgLoadTables = []string{"accounts", "sessions", "account_buckets", "session_buckets"}

// loadPGFleet writes the fleet loadFleet writes into SQLite (the same
// draws: n live sessions and their accounts) into the migrated, empty
// schema conn is on, in one transaction: the sessions and then the
// accounts with COPY, the buckets with one INSERT … SELECT each, then the
// indexes and constraints dropped for the load are built again, and a
// VACUUM ANALYZE sets the hint bits and statistics, so no benchmark pays
// for them.
func loadPGFleet(ctx context.Context, conn *pgx.Conn, n int, now time.Time) (*buildStats, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	// Room for sorting the index builds and grouping the buckets.
	if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '1GB'; SET LOCAL work_mem = '256MB'`); err != nil {
		return nil, err
	}
	rebuild, err := pgDropIndexes(ctx, tx, pgLoadTables)
	if err != nil {
		return nil, err
	}

	st := &buildStats{}
	start := time.Now()
	// The foreign key to accounts is dropped, so the sessions go first and
	// the accounts, whose number the sessions' draws decide, after.
	rng := rand.New(rand.NewPCG(1, 2))
	mix := newFleetMix()
	nowMicros := now.UnixMicro()
	var device [16]byte
	i, left := 0, 0
	var acct string
	row := make([]any, 10) // pgx encodes a row before it asks for the next
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"sessions"},
		[]string{"id", "account_id", "platform", "version", "source", "device", "auth_time", "created_at", "last_seen_at", "expires_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			if left == 0 { // the next account, as loadFleet draws it
				acct, _ = fleetAccount(st.accounts)
				st.accounts++
				left = mix.sessionsPerAccount(rng)
			}
			s := mix.session(rng, nowMicros, &device)
			row[0], row[1], row[2], row[3], row[4], row[5] = fleetSessionID(i), acct, s.platform, s.version, s.source, s.device
			row[6], row[7], row[8], row[9] = s.auth, s.auth, s.seen, s.expires
			i++
			left--
			return row, nil
		})); err != nil {
		return nil, fmt.Errorf("copy sessions: %w", err)
	}
	const day = int64(24 * time.Hour / time.Microsecond)
	created := nowMicros - 400*day
	var a int64
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"accounts"},
		[]string{"id", "username", "username_key", "password_hash", "password_changed_at", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if a == st.accounts {
				return nil, nil
			}
			id, name := fleetAccount(a)
			a++
			return []any{id, name, name, benchHash, created, created}, nil
		})); err != nil {
		return nil, fmt.Errorf("copy accounts: %w", err)
	}
	st.load = time.Since(start)

	start = time.Now()
	if _, err := tx.Exec(ctx, pgBucketSQL); err != nil {
		return nil, fmt.Errorf("fill buckets: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM session_buckets`).Scan(&st.buckets); err != nil {
		return nil, err
	}
	st.bucket = time.Since(start)

	start = time.Now()
	for _, ddl := range rebuild {
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return nil, fmt.Errorf("%s: %w", ddl, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	st.index = time.Since(start)

	start = time.Now()
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) `+strings.Join(pgLoadTables, ", ")); err != nil {
		return nil, fmt.Errorf("vacuum: %w", err)
	}
	st.checkpoint = time.Since(start)
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(oid)), 0)::BIGINT FROM pg_class
		WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'`).Scan(&st.disk)
	return st, err
}

// pgDropIndexes drops what slows a bulk load of tables down and returns
// the statements that put it back, in order: their foreign keys, their
// primary and unique keys that no foreign key of another table relies on,
// and their other indexes. Keys that other tables' foreign keys rely on
// (accounts.id, sessions.id) stay; ids ascend, so those indexes are
// written in order. Read from the catalog, so what later migrations add is
// dropped and rebuilt too.
func pgDropIndexes(ctx context.Context, tx pgx.Tx, tables []string) ([]string, error) {
	var drop, create, fkeys []string
	rows, err := tx.Query(ctx, `
		SELECT c.conrelid::regclass::text, quote_ident(c.conname), c.contype = 'f', pg_get_constraintdef(c.oid)
		FROM pg_constraint c
		WHERE c.conrelid = ANY($1::text[]::regclass[])
		  AND (c.contype = 'f' OR c.contype IN ('p', 'u') AND NOT EXISTS (
		        SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid
		          AND NOT (r.conrelid = ANY($1::text[]::regclass[]))))
		ORDER BY c.contype = 'f' DESC, c.conname`, tables)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var table, name, def string
		var fkey bool
		if err := rows.Scan(&table, &name, &fkey, &def); err != nil {
			rows.Close()
			return nil, err
		}
		drop = append(drop, `ALTER TABLE `+table+` DROP CONSTRAINT `+name)
		add := `ALTER TABLE ` + table + ` ADD CONSTRAINT ` + name + ` ` + def
		if fkey {
			fkeys = append(fkeys, add)
		} else {
			create = append(create, add)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid = ANY($1::text[]::regclass[])
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
		ORDER BY 1`, tables)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, err
		}
		drop = append(drop, `DROP INDEX `+name)
		create = append(create, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, ddl := range drop {
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return nil, fmt.Errorf("%s: %w", ddl, err)
		}
	}
	return append(create, fkeys...), nil
}
