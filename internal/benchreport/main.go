// Command benchreport turns the output of `go test -bench` into
// BENCHMARKS.md: the machine the run came from, the median of each
// benchmark's runs in a table per package, and the ratio of each benchmark
// to its declared baseline (the pairs table below). scripts/bench runs it;
// nothing else should write BENCHMARKS.md.
//
//	go run ./internal/benchreport -in bench.txt -out BENCHMARKS.md -cmd 'go test ...' -bench .
//
// Absolute figures from a noisy shared machine drift from run to run;
// a ratio of two benchmarks measured in the same run mostly does not, which
// is why the report leads the reader to the ratios.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// pair is a benchmark and the baseline it is judged against: the cost of
// the bare operation it wraps, or its own serial form.
type pair struct {
	Pkg      string // package path relative to the module, e.g. "internal/token"
	Bench    string // e.g. "BenchmarkVerify" or "BenchmarkCheckFail/parallel"
	Baseline string
	What     string // what the ratio tells, for a person
	// Times, when above 1, multiplies Bench's time: the ratio is then that
	// of Times runs of Bench, such as revoking a million sessions one by one.
	Times float64
	// Unit is the figure compared, ns/op (time/op) when empty; the HTTP
	// benchmarks also compare cpu-µs/op, the process's CPU time per
	// request, which the neighbours' load on a shared machine moves far
	// less than wall time.
	Unit string
}

// pairs are the ratios the report shows, in this order. Benchmarks with no
// fair baseline (token Sign, clientfacts Parse and Format) only appear in
// their package's table. TestPairsNameRealBenchmarks checks that each name
// here exists, so a renamed benchmark cannot silently drop out.
var pairs = []pair{
	{Pkg: "internal/password", Bench: "BenchmarkHash", Baseline: "BenchmarkRawArgon2id",
		What: "password hashing through the bounded Hasher vs raw argon2id (≈1× means the pool, salt, NFKC and PHC encoding cost nothing)"},
	{Pkg: "internal/password", Bench: "BenchmarkVerify", Baseline: "BenchmarkRawArgon2id",
		What: "password verification (PHC decode, NFKC, constant-time compare) vs raw argon2id"},
	{Pkg: "internal/password", Bench: "BenchmarkVerifyParallel", Baseline: "BenchmarkVerify",
		What: "verifications from GOMAXPROCS goroutines vs one at a time, per op (1/GOMAXPROCS would be perfect scaling)"},
	{Pkg: "internal/token", Bench: "BenchmarkVerify", Baseline: "BenchmarkEd25519Verify",
		What: "access-token verification vs bare Ed25519 verify, one at a time (goal ≤ 1.15×)"},
	{Pkg: "internal/token", Bench: "BenchmarkVerifyParallel", Baseline: "BenchmarkEd25519VerifyParallel",
		What: "the same pair on every core, as gate's cold path and its BareEd25519Verify run (goal ≤ 1.15×)"},
	{Pkg: "internal/token", Bench: "BenchmarkVerify", Baseline: "BenchmarkEd25519Verify", Unit: "cpu-ns/op",
		What: "the serial pair by CPU time per op"},
	{Pkg: "internal/token", Bench: "BenchmarkVerifyParallel", Baseline: "BenchmarkEd25519VerifyParallel", Unit: "cpu-ns/op",
		What: "the parallel pair by CPU time per op"},
	{Pkg: "internal/token", Bench: "BenchmarkVerifyCached", Baseline: "BenchmarkVerify",
		What: "a verification answered from the verifier's cache (time rules and key publication checked again) vs a full one"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkSessionHTTP/token=fresh", Baseline: "BenchmarkSessionHTTP/floor=verify",
		What: "GET /v1/session from 8 concurrent clients, every token verified in full (cache off), vs a bare net/http handler that verifies one Ed25519 signature, client and server in one process on loopback (goal ≥ 0.8× its req/s, i.e. ≤ 1.25× here)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkSessionHTTP/token=fresh", Baseline: "BenchmarkSessionHTTP/floor=verify", Unit: "cpu-µs/op",
		What: "the same pair by CPU time per request (client and server together)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkSessionHTTP/floor=verify-read", Baseline: "BenchmarkSessionHTTP/floor=verify",
		What: "the verify floor plus one SQLite read of the session's row by primary key, what refusing a logged-out session at once on every node costs at least, vs the verify floor: above 1.25×, the fresh-token goal is out of reach while the session is read on every request"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkSessionHTTP/token=fresh", Baseline: "BenchmarkSessionHTTP/floor=verify-read",
		What: "GET /v1/session, every token verified in full, vs that floor: what cordon adds to the verify and the read (claims, decision, answer, middleware)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkSessionHTTP/token=fresh", Baseline: "BenchmarkSessionHTTP/floor=verify-read", Unit: "cpu-µs/op",
		What: "the same pair by CPU time per request (client and server together)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkSessionHTTP/token=repeat", Baseline: "BenchmarkSessionHTTP/floor=bare",
		What: "GET /v1/session from 8 concurrent clients each repeating its token (verified-token cache; the session still read from the store every time) vs a bare net/http handler answering the same body (goal ≥ 0.5× its req/s, i.e. ≤ 2× here)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkSessionHTTP/token=repeat", Baseline: "BenchmarkSessionHTTP/floor=bare", Unit: "cpu-µs/op",
		What: "the same pair by CPU time per request (client and server together)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkRefreshHTTP/path=http", Baseline: "BenchmarkRefreshHTTP/floor=sqlite-tx",
		What: "a refresh over HTTP (POST /oauth2/token, 8 concurrent clients each rotating its own session) vs the rotation's writes as one SQLite write transaction from as many goroutines (goal ≤ 1.5×, and ≥ 3,000/s: see refreshes/s)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkRefreshHTTP/path=http", Baseline: "BenchmarkRefreshHTTP/floor=sqlite-tx", Unit: "cpu-µs/op",
		What: "the same pair by CPU time per refresh"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkRefreshHTTP/floor=http-tx-sign", Baseline: "BenchmarkRefreshHTTP/floor=sqlite-tx",
		What: "what no refresh server avoids (the loopback exchange of a form and a token answer of cordon's size, the write transaction, one Ed25519 signature) vs the transaction alone: above 1.5×, the refresh goal is out of reach by construction"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkRefreshHTTP/path=http", Baseline: "BenchmarkRefreshHTTP/floor=http-tx-sign",
		What: "a refresh over HTTP vs that floor: what cordon adds (parsing, the campaign decision, the session read, refresh-token hashing, claims, logging)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkRefreshHTTP/path=http", Baseline: "BenchmarkRefreshHTTP/floor=http-tx-sign", Unit: "cpu-µs/op",
		What: "the same pair by CPU time per refresh"},
	{Pkg: "internal/decision", Bench: "BenchmarkDecide/campaigns=0", Baseline: "BenchmarkMapLookup",
		What: "a decision with no campaigns vs a map lookup"},
	{Pkg: "internal/decision", Bench: "BenchmarkDecide/campaigns=100", Baseline: "BenchmarkMapLookup",
		What: "a decision against 100 active campaigns vs a map lookup (goal ≤ 20×, zero allocations)"},
	{Pkg: "internal/decision", Bench: "BenchmarkDecide/campaigns=1000", Baseline: "BenchmarkMapLookup",
		What: "a decision against 1,000 active campaigns vs a map lookup"},
	{Pkg: "internal/decision", Bench: "BenchmarkDecide/campaigns=1000", Baseline: "BenchmarkDecide/campaigns=0",
		What: "what 1,000 active campaigns add to a decision"},
	{Pkg: "internal/decision", Bench: "BenchmarkDecideAfter/dependencies=half", Baseline: "BenchmarkDecideAfter/dependencies=0",
		What: "100 campaigns, half of them waiting for an upgrade (after:, per install), vs the same 100 without"},
	{Pkg: "internal/decision", Bench: "BenchmarkDecideRamp/auto", Baseline: "BenchmarkDecideRamp/fixed",
		What: "a decision on an auto ramp whose pace has 2,048 points vs on a fixed ramp (≈1×: the schedule is a binary search)"},
	{Pkg: "internal/outbox", Bench: "BenchmarkDeliver/via=outbox", Baseline: "BenchmarkDeliver/via=direct",
		What: "an email through the durable outbox on SQLite (enqueue, claim under a lease, send, record) vs sent straight through package mail to the same in-process go-smtp relay, four at a time in both (see messages/s)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkRotateRefreshTokenParallel", Baseline: "BenchmarkRotateRefreshToken",
		What: "refresh rotations from GOMAXPROCS goroutines vs one at a time, per op (≈1×: the one writer connection queues them)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkRotateRefreshToken", Baseline: "BenchmarkCreateSession",
		What: "a refresh rotation vs a login's session insert (each one write transaction)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkActivateSessions1M", Baseline: "BenchmarkActivateSessions1k",
		What: "activation with 1M sessions vs 1k (≈1×: activation writes O(1) rows)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkRevokeEachSession", Times: 1_000_000, Baseline: "BenchmarkActivateSessions1M",
		What: "revoking 1M sessions one row at a time vs one activation over 1M sessions (what activation as a sweep would cost)"},
	{Pkg: "internal/throttle", Bench: "BenchmarkCheckFail/parallel", Baseline: "BenchmarkCheckFail/serial",
		What: "throttle check and fail from GOMAXPROCS goroutines vs one, per op (lock contention)"},
	{Pkg: "internal/authn", Bench: "BenchmarkLogin", Baseline: "BenchmarkLoginRawArgon2id",
		What: "password login (store + session + token) vs raw argon2id"},
	{Pkg: "internal/authn", Bench: "BenchmarkLoginPostgres", Baseline: "BenchmarkLogin",
		What: "a login on PostgreSQL vs on SQLite"},
	{Pkg: "internal/authn", Bench: "BenchmarkRefreshPostgres", Baseline: "BenchmarkRefresh",
		What: "a refresh on PostgreSQL vs on SQLite (each a rotation transaction; PostgreSQL flushes its WAL on every commit)"},
	{Pkg: "internal/authn", Bench: "BenchmarkLoginParallelPostgres", Baseline: "BenchmarkLoginParallel",
		What: "parallel logins on PostgreSQL vs on SQLite, per op"},
	{Pkg: "internal/campaign", Bench: "BenchmarkPreview10M/sessions=10M", Baseline: "BenchmarkPreviewCountScan10M/sessions=10M",
		What: "preview from buckets vs an exact COUNT(*) scan"},
	{Pkg: "internal/campaign", Bench: "BenchmarkPreview10MPostgres/sessions=10M", Baseline: "BenchmarkPreviewCountScan10MPostgres/sessions=10M",
		What: "preview from buckets vs an exact COUNT(*) scan, on PostgreSQL"},
	{Pkg: "internal/campaign", Bench: "BenchmarkProgressRead/sessions=1M", Baseline: "BenchmarkProgressRead/sessions=100k",
		What: "a campaign's progress read (counters, cohort, both by facts) over 1M live sessions vs over 100k: rows per combination of facts, not per session (≈ 1×)"},
	{Pkg: "gate", Bench: "BenchmarkGateDenialNotice/notice=true", Baseline: "BenchmarkGateDenialNotice/notice=false",
		What: "a gate denial that carries the Cordon-Notice of its campaign (100 notices, 3 languages, Accept-Language matched) vs the same denial without notices, incident mix, cache hit"},
	{Pkg: "gate", Bench: "BenchmarkGateReporting/report=true", Baseline: "BenchmarkGateReporting/report=false",
		What: "a gate decision that reports its denial to the control plane (Reporter.Record) vs one that does not, incident mix, cache hit"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngest/batch=1000", Baseline: "BenchmarkAppendAudit/batch=1000",
		What: "audit ingest on SQLite (validation, canonical encoding, leaf hashing, one transaction) vs the store's append of prepared entries, batches of 1,000 at random times, both on a grown log of 200,000 entries (goal ≥ 100k events/s: see events/s)"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngest/batch=1000", Baseline: "BenchmarkAppendAudit/batch=1000", Unit: "cpu-µs/op",
		What: "the same pair by CPU time per batch"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkAppendAuditWithout/drop=all", Baseline: "BenchmarkAppendAudit/batch=1000",
		What: "the store's append of 1,000 entries to the grown log with none of the four secondary indexes the queries need (rows, rollup and size only) vs with them: if even this is above 10 ms a batch (see time/op and events/s), 100k events/s is out of reach on this machine whatever the ingest path does"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkAppendAuditWithout/drop=all", Baseline: "BenchmarkAppendAudit/batch=1000", Unit: "cpu-µs/op",
		What: "the same pair by CPU time per batch"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkAppendAudit/batch=1000", Baseline: "BenchmarkSyncedWrite/kib=4096",
		What: "the store's append of 1,000 entries to the grown log (about 4 index pages an entry, written to the WAL and copied back: see written-KiB/op) vs writing and fdatasyncing 4 MiB: above 1×, the append waits on SQLite's CPU (see cpu-µs/op), not on the disk; 100k events/s needs the append itself at 10 ms a batch"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkAppendAuditOrdered/batch=1000", Baseline: "BenchmarkAppendAudit/batch=1000",
		What: "the store's append of 1,000 entries whose times rise, as a live log receives them, vs the same entries at random times over 30 days (a backfill: the time index's and each principal's run's random pages), both on the grown log"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngestOnce/batch=1000", Baseline: "BenchmarkIngest/batch=1000",
		What: "audit ingest with an idempotency key per batch (exactly once) vs without, batches of 1,000 on SQLite"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngestNoStore/batch=1000", Baseline: "BenchmarkAppendAudit/batch=1000",
		What: "the service's own work on a batch of 1,000 (validation, canonical encoding, leaf hashing; the appends discarded) vs the store's append of it"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngest/batch=10000", Baseline: "BenchmarkAppendAudit/batch=10000",
		What: "the same with batches of 10,000, the most one request may carry"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngest/batch=100", Times: 10, Baseline: "BenchmarkIngest/batch=1000",
		What: "1,000 events sent as ten batches of 100 vs as one batch of 1,000 (each batch is one transaction)"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngestCheckpointed/batch=1000", Baseline: "BenchmarkIngest/batch=1000",
		What: "ingest with the checkpointer signing every 1,000 entries alongside vs without, on the same 2 cores"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngestPostgres/batch=1000", Baseline: "BenchmarkAppendAuditPostgres/batch=1000",
		What: "audit ingest vs the store's append of prepared entries, batches of 1,000, on PostgreSQL"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngestPostgres/batch=1000", Baseline: "BenchmarkIngest/batch=1000",
		What: "audit ingest on PostgreSQL vs on SQLite, each on a copy of the same grown log of 200,000 entries"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkInclusion1M", Baseline: "BenchmarkInclusionInMemory1M",
		What: "an inclusion proof served from stored tree nodes of a 1M-entry SQLite log vs rebuilt from all 1M leaf hashes in memory"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditReport10M/principal=typical", Baseline: "BenchmarkAuditCountScan10M",
		What: "a 30-day blast-radius report for a principal with 9,000 of 10M audit entries vs COUNT(*) of all 10M (goal < 1 s: see time/op)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditReport10M/principal=heavy", Baseline: "BenchmarkAuditCountScan10M",
		What: "the same report for a principal with 1M of the 10M entries (630k users) vs COUNT(*) of all 10M"},
	{Pkg: "internal/auditlog", Bench: "BenchmarkIngestResolved/batch=1000", Baseline: "BenchmarkIngestUnresolved/batch=1000",
		What: "audit ingest resolving every subject to one of 1M accounts (one lookup per batch) vs the same ingest without resolution, batches of 1,000 on SQLite (goal ≤ 1.2×)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditBySubject10M", Baseline: "BenchmarkAuditCountScan10M",
		What: "who touched one user (account and name, by principal) over the 30 days of a 10M-entry log vs COUNT(*) of all 10M (goal < 1 s: see time/op)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditByCategory10M/window=1d", Baseline: "BenchmarkAuditCountScan10M",
		What: "every principal that touched payment in one day of a 10M-entry log (333k entries read) vs COUNT(*) of all 10M (goal < 1 s: see time/op)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditByCategory10M/window=30d", Baseline: "BenchmarkAuditCountScan10M",
		What: "every principal that touched payment in all 30 days of a 10M-entry log (whole days from the rollup) vs COUNT(*) of all 10M (goal < 1 s: see time/op)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditByCategory10M/window=30d", Baseline: "BenchmarkAuditByCategoryScan10M/window=30d",
		What: "by category over 30 whole days answered from the rollup (audit_rollup) vs the same answer from every entry of the window, as before the rollup"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditByCategory10M/window=29d-cut", Baseline: "BenchmarkAuditByCategoryScan10M/window=29d-cut",
		What: "by category over 29 days whose edges cut two days in half (28 days from the rollup, the two halves, 333k entries, from the entries) vs from every entry"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditByCategory10M/window=1d", Baseline: "BenchmarkAuditByCategoryScan10M/window=1d",
		What: "by category over one whole day from the rollup vs from its 333k entries"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditReport10M/principal=heavy", Baseline: "BenchmarkAuditCountPrincipal10M",
		What: "the blast-radius report of the principal with 1M of the 10M entries (630k users) vs COUNT(*) of that principal's rows through the same index (issue 17's floor; goal < 1 s: see time/op)"},
	{Pkg: "internal/httpapi", Bench: "BenchmarkEntryExport", Baseline: "BenchmarkEntryExportJSON",
		What: "writing 100k lines of the audit entries export (cordon audit verify's input) with the hand-written codec vs through json.Encoder, as before"},
	{Pkg: "internal/httpapi", Bench: "BenchmarkEntryParse", Baseline: "BenchmarkEntryParseJSON",
		What: "reading 100k export lines as cordon audit verify does, hand-written (json.Unmarshal for any other form) vs json.Unmarshal, as before"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAccountByIDEach", Times: 1_000_000, Baseline: "BenchmarkLiveAccountIDs1M",
		What: "a users_from_report cohort of 1M users resolved one lookup at a time (as before) vs in one set-based statement"},
	{Pkg: "internal/postgres", Bench: "BenchmarkSessions10M/live_ages", Baseline: "BenchmarkSessions10M/count_scan",
		What: "an auto ramp's cohort ages (campaign.Service.LiveAges: 10M live sessions streamed and matched, once per campaign and node start, not per pace step) vs COUNT(*) of the same rows in PostgreSQL"},
	{Pkg: "internal/postgres", Bench: "BenchmarkSessions10M/bucket_sum", Baseline: "BenchmarkSessions10M/count_scan",
		What: "the live-session count previews read (a sum of session_buckets) vs COUNT(*) of 10M live sessions"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditVerify10M", Baseline: "BenchmarkAuditEntriesScan10M",
		What: "verifying 10M audit entries read from the SQLite file against 10,000 checkpoints vs only reading them (goal < 60 s: see time/op)"},
	{Pkg: "internal/sqlite", Bench: "BenchmarkAuditVerifyLog10M", Baseline: "BenchmarkAuditEntriesScan10M",
		What: "verification as cordon audit verify runs it, minus HTTP (hash, canonical form and report columns of each entry checked, on every core) over the 10M-entry SQLite file vs only reading it (goal < 60 s: see time/op)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkAuditVerifyServer/entries=10M/path=server", Baseline: "BenchmarkAuditVerifyServer/entries=10M/path=file",
		What: "cordon audit verify of the 10M-entry log end to end (its auditVerify against a cordon server on loopback: the NDJSON export written, read, decoded and checked on every core, client and server in one process) vs the same checks on the same log read straight from the server's SQLite store (goal ≤ 1.3×, and < 60 s: see time/op)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkAuditVerifyServer/entries=10M/path=server", Baseline: "BenchmarkAuditVerifyServer/entries=10M/path=file", Unit: "cpu-µs/op",
		What: "the same pair by CPU time (client and server together)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkAuditVerifyServer/entries=100k/path=server", Baseline: "BenchmarkAuditVerifyServer/entries=100k/path=file",
		What: "the same pair on a 100k-entry log the benchmark builds in seconds, so a run without the 10M fixture still measures it"},
	{Pkg: "internal/audit", Bench: "BenchmarkParseLeaf/handwritten", Baseline: "BenchmarkParseLeaf/encoding-json",
		What: "reading a leaf back (ParseLeaf) with the hand-written canonical codec vs through encoding/json"},
	{Pkg: "internal/audit", Bench: "BenchmarkVerify10M", Baseline: "BenchmarkSHA256Leaves10M",
		What: "recomputing a 10M-entry audit tree in memory and checking 10,000 signed checkpoints vs plain SHA-256 of the same leaves"},
	{Pkg: "internal/audit", Bench: "BenchmarkVerifyLog10M", Baseline: "BenchmarkVerify10M",
		What: "verification as cordon audit verify runs it (each entry's stored hash, canonical form and columns checked, on every core) vs the bare tree recomputation, 10M entries in memory"},
	{Pkg: "gate", Bench: "BenchmarkGateColdPath/mix=allowed", Baseline: "BenchmarkGateCacheHit/mix=allowed",
		What: "a gate decision that verifies the token's signature vs one from the verified-token cache (how much the cache saves)"},
	{Pkg: "gate", Bench: "BenchmarkGateColdPath/mix=allowed", Baseline: "BenchmarkBareEd25519Verify",
		What: "the gate's cold path (parse, verify, decide) vs a bare Ed25519 verify, both on every core (goal ≤ 1.3×)"},
	{Pkg: "gate", Bench: "BenchmarkGateColdPath/mix=allowed", Baseline: "BenchmarkBareEd25519Verify", Unit: "cpu-ns/op",
		What: "the same pair by CPU time per op"},
	{Pkg: "internal/issuers", Bench: "BenchmarkExternalVerify/alg=RS256", Baseline: "BenchmarkBareVerify/alg=RS256",
		What: "an external issuer's RS256 token verified cold (dispatch peek, go-jose parse, header and key checks, signature, claims) vs the bare RSA-2048 PKCS#1 v1.5 check of the same tokens, on every core"},
	{Pkg: "internal/issuers", Bench: "BenchmarkExternalVerify/alg=ES256", Baseline: "BenchmarkBareVerify/alg=ES256",
		What: "the same for ES256 (P-256) vs the bare ECDSA check"},
	{Pkg: "internal/issuers", Bench: "BenchmarkExternalVerify/alg=EdDSA", Baseline: "BenchmarkBareVerify/alg=EdDSA",
		What: "the same for EdDSA (Ed25519) vs the bare Ed25519 check"},
	{Pkg: "internal/issuers", Bench: "BenchmarkGateCacheHitExternal/tokens=external", Baseline: "BenchmarkGateCacheHitExternal/tokens=cordon",
		What: "the gate's verified-token cache hit with an external issuer's tokens vs with cordon's own, same gate and 100 campaigns (an external token is judged on the fail-closed Unproven policy: every protecting campaign in every platform's list)"},
	{Pkg: "internal/feed", Bench: "BenchmarkPublishFanout100", Baseline: "BenchmarkPublishFanout50",
		What: "propagation to 100 SSE gates vs to 50 (see p50-µs/p99-µs)"},
	{Pkg: "internal/ssf", Bench: "BenchmarkSETSign", Baseline: "BenchmarkEd25519Sign",
		What: "building and signing a session-revoked SET (claims JSON, go-jose EdDSA, compact form) vs a bare Ed25519 signature"},
	{Pkg: "internal/ssf", Bench: "BenchmarkSETPush", Baseline: "BenchmarkEd25519Sign",
		What: "one SET end to end (signed, enqueued in the outbox, claimed, pushed over loopback HTTP to a receiver answering 202, settled) vs a bare Ed25519 signature"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkProxyGate", Baseline: "BenchmarkProxyDirect",
		What: "a request through cordon gate vs straight to the upstream, sequential keep-alive (see the p50-µs columns for the added latency)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkProxyGateParallel", Baseline: "BenchmarkProxyDirectParallel",
		What: "throughput cost of the gate with concurrent clients, per request (client, gate and upstream share the 2 cores)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkProxyGateParallel", Baseline: "BenchmarkProxyBareParallel",
		What: "the gate vs a bare httputil.ReverseProxy to the same upstream, concurrent clients (goal ≥ 0.9× its req/s, i.e. ≤ 1.11× here; B/op: client and upstream included, ProxyDirect is theirs alone)"},
	{Pkg: "cmd/cordon", Bench: "BenchmarkProxyGate", Baseline: "BenchmarkProxyBare",
		What: "the same, sequential keep-alive"},
	{Pkg: "internal/incident", Bench: "BenchmarkTimeline200k/timeline", Baseline: "BenchmarkTimeline200k/scan",
		What: "an incident's timeline (51 entries) from a 200k-entry SQLite log through the partial index of cordon's subjects vs scanning the log for them"},
	{Pkg: "internal/authn", Bench: "BenchmarkLoginDetection/hash=cheap/detect=on", Baseline: "BenchmarkLoginDetection/hash=cheap/detect=off",
		What: "a login with login-abuse detection (keyed hash of the password, queued to the detector's goroutine) vs without, argon2id at 1 pass over 64 KiB on the in-memory store so the login itself is cheap"},
	{Pkg: "internal/authn", Bench: "BenchmarkLoginDetection/hash=argon2id/detect=on", Baseline: "BenchmarkLoginDetection/hash=argon2id/detect=off",
		What: "the same with argon2id at the default parameters on SQLite: detection's share of a real login (≈ 1×)"},
	{Pkg: "internal/detect", Bench: "BenchmarkAccessRules10M", Baseline: "BenchmarkAccessEvents10M",
		What: "the default access rules evaluated over 10M audit events built in memory (the rule engine alone, no store reads) vs building the events; see events/s"},
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	flags.SetOutput(stderr)
	in := flags.String("in", "-", "go test -bench output to read (- for stdin)")
	out := flags.String("out", "-", "Markdown file to write (- for stdout); replaced whole, never half-written")
	cmd := flags.String("cmd", "", "the command that produced the input, for the header")
	bench := flags.String("bench", ".", "the -bench regexp of the run; anything but . marks the report partial (unless -keep)")
	keep := flags.String("keep", "", "results file kept across runs: read if it exists, the new results put in place of the same benchmarks' old ones, written back; the report then covers every benchmark kept, each with its run")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}

	r, name := stdin, "stdin"
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r, name = f, *in
	}
	fresh, err := readRecords(r, name, stderr)
	if err != nil {
		return err
	}
	meta := Meta{Date: time.Now().UTC(), NProc: runtime.NumCPU(), GoVersion: runtime.Version(), Command: *cmd, Bench: *bench}
	recs := fresh
	if *keep != "" {
		var kept []*benchfmt.Result
		if f, err := os.Open(*keep); err == nil {
			kept, err = readRecords(f, *keep, stderr)
			f.Close()
			if err != nil {
				return fmt.Errorf("the kept results: %w (move the file away to start afresh)", err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		recs = merge(kept, fresh, runLabel(meta))
		meta.Kept = true
	}
	res := group(recs)
	res.trimModule(modulePath())

	if *out == "-" {
		err = write(stdout, res, meta, pairs)
	} else {
		err = writeFileAtomic(*out, func(w io.Writer) error { return write(w, res, meta, pairs) })
	}
	if err == nil && *keep != "" {
		err = writeFileAtomic(*keep, func(w io.Writer) error { return writeRecords(w, recs) })
	}
	return err
}

// runLabel names a run in the kept results: when, and what was run.
func runLabel(m Meta) string {
	l := m.Date.Format("2006-01-02 15:04 MST")
	if m.Command != "" {
		l += " · " + m.Command
	}
	return strings.ReplaceAll(l, "\n", " ")
}

// Meta is what the header says about the run beyond what go test printed.
type Meta struct {
	Date      time.Time
	NProc     int
	GoVersion string
	Command   string
	Bench     string // the -bench regexp; "" or "." is the whole set
	// Kept says the results were merged with those kept from earlier runs.
	Kept bool
}

// Results are the parsed runs, grouped by package in the order go test
// printed them.
type Results struct {
	GOOS, GOARCH, CPU string
	// Procs is the GOMAXPROCS most runs had; names keep a -N suffix only
	// when theirs differs.
	Procs    int
	Packages []*Package
	// Runs are the runs the results came from, in order of first
	// appearance, when they were kept across runs (-keep); empty for a
	// single run read straight from go test.
	Runs []string
}

// Package holds one package's benchmarks in the order they ran.
type Package struct {
	Path    string
	Benches []*Bench
}

// Bench is every run of one benchmark.
type Bench struct {
	Name  string // without "Benchmark", e.g. "CheckFail/serial"
	Runs  int
	Units []string             // in the order go test printed them
	Vals  map[string][]float64 // by unit as go test printed it (ns/op, B/op, decisions/s)
	// Run is the run the figures come from (kept results only).
	Run string
}

// Median is the median of the runs' values in unit, and whether any run
// reported it.
func (b *Bench) Median(unit string) (float64, bool) {
	v := b.Vals[unit]
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

// Spread is the largest distance of a run from the median, relative to it.
func (b *Bench) Spread(unit string) (float64, bool) {
	m, ok := b.Median(unit)
	if !ok || m == 0 {
		return 0, false
	}
	d := 0.0
	for _, x := range b.Vals[unit] {
		d = max(d, math.Abs(x-m))
	}
	return d / m, true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// parse reads go test -bench output. Lines it cannot read are reported on
// warn and skipped: a benchmark that prints its own text must not cost the
// whole report.
func parse(r io.Reader, name string, warn io.Writer) (*Results, error) {
	recs, err := readRecords(r, name, warn)
	if err != nil {
		return nil, err
	}
	return group(recs), nil
}

// readRecords reads every benchmark result of go test -bench output (or of
// a kept results file, which is the same format), cloned.
func readRecords(r io.Reader, name string, warn io.Writer) ([]*benchfmt.Result, error) {
	var recs []*benchfmt.Result
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			fmt.Fprintln(warn, "benchreport: skipped:", rec)
		case *benchfmt.Result:
			recs = append(recs, rec.Clone())
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no benchmark results in %s", name)
	}
	return recs, nil
}

// runKey is the file configuration line that says which run a kept result
// came from: "run: 2026-12-06 20:40 UTC · go test ...".
const runKey = "run"

// merge stamps the fresh results with their run and puts them in place of
// the kept results of the same benchmarks (package and full name), so a
// run of one package refreshes that package and leaves the rest as they
// were measured, each still saying its run.
func merge(kept, fresh []*benchfmt.Result, run string) []*benchfmt.Result {
	key := func(r *benchfmt.Result) string { return r.GetConfig("pkg") + "\x00" + string(r.Name) }
	redone := map[string]bool{}
	for _, r := range fresh {
		if r.GetConfig(runKey) == "" {
			r.SetConfig(runKey, run)
			if i, ok := r.ConfigIndex(runKey); ok {
				r.Config[i].File = true // written out with the results
			}
		}
		redone[key(r)] = true
	}
	out := make([]*benchfmt.Result, 0, len(kept)+len(fresh))
	for _, r := range kept {
		if !redone[key(r)] {
			out = append(out, r)
		}
	}
	return append(out, fresh...)
}

// writeRecords writes results in go test's format, their run included.
func writeRecords(w io.Writer, recs []*benchfmt.Result) error {
	bw := benchfmt.NewWriter(w)
	for _, r := range recs {
		if err := bw.Write(r); err != nil {
			return err
		}
	}
	return nil
}

// group turns results into the report's packages and benchmarks.
func group(recs []*benchfmt.Result) *Results {
	type raw struct {
		pkg, name, run string
		procs          int
		vals           []benchfmt.Value
	}
	var runs []raw
	res := &Results{}
	for _, rec := range recs {
		if res.GOOS == "" {
			res.GOOS, res.GOARCH = rec.GetConfig("goos"), rec.GetConfig("goarch")
		}
		if res.CPU == "" {
			res.CPU = rec.GetConfig("cpu")
		}
		base, procs := splitProcs(string(rec.Name))
		run := rec.GetConfig(runKey)
		if run != "" && !slices.Contains(res.Runs, run) {
			res.Runs = append(res.Runs, run)
		}
		runs = append(runs, raw{pkg: rec.GetConfig("pkg"), name: base, run: run, procs: procs, vals: rec.Values})
	}

	count := map[int]int{}
	for _, x := range runs {
		count[x.procs]++
	}
	for p, n := range count {
		if n > count[res.Procs] || n == count[res.Procs] && p > res.Procs {
			res.Procs = p
		}
	}
	pkgs := map[string]*Package{}
	benches := map[[2]string]*Bench{}
	for _, x := range runs {
		p := pkgs[x.pkg]
		if p == nil {
			p = &Package{Path: x.pkg}
			pkgs[x.pkg] = p
			res.Packages = append(res.Packages, p)
		}
		n := x.name
		if x.procs != res.Procs {
			n += "-" + strconv.Itoa(x.procs)
		}
		b := benches[[2]string{x.pkg, n}]
		if b == nil {
			b = &Bench{Name: n, Vals: map[string][]float64{}, Run: x.run}
			benches[[2]string{x.pkg, n}] = b
			p.Benches = append(p.Benches, b)
		}
		b.Runs++
		for _, v := range x.vals {
			// benchfmt tidies ns/op into sec/op; the report keeps go test's units.
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			if _, seen := b.Vals[unit]; !seen {
				b.Units = append(b.Units, unit)
			}
			b.Vals[unit] = append(b.Vals[unit], val)
		}
	}
	return res
}

// splitProcs splits "Decide-2" into "Decide" and 2. go test adds no suffix
// when GOMAXPROCS is 1, so a "-1" ending belongs to the name ("n=-1").
func splitProcs(name string) (string, int) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, 1
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n < 2 || strings.HasPrefix(name[i+1:], "+") {
		return name, 1
	}
	return name[:i], n
}

// trimModule shortens package paths to their path inside module.
func (r *Results) trimModule(module string) {
	if module == "" {
		return
	}
	for _, p := range r.Packages {
		if rest, ok := strings.CutPrefix(p.Path, module+"/"); ok {
			p.Path = rest
		}
	}
}

// modulePath is the path of the module around the working folder, read
// from the nearest go.mod up the tree, or "" outside any module.
func modulePath() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for line := range strings.Lines(string(b)) {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return strings.Trim(strings.TrimSpace(rest), `"`)
				}
			}
			return ""
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

func (r *Results) find(pkg, bench string) *Bench {
	name := strings.TrimPrefix(bench, "Benchmark")
	for _, p := range r.Packages {
		if p.Path != pkg && !strings.HasSuffix(p.Path, "/"+pkg) {
			continue
		}
		for _, b := range p.Benches {
			if b.Name == name {
				return b
			}
		}
	}
	return nil
}

// Standard units get their own columns in this order; any other unit a
// benchmark reports (decisions/s, MB/s) gets a column after them.
var stdUnits = []string{"ns/op", "B/op", "allocs/op"}

func write(w io.Writer, r *Results, m Meta, pairs []pair) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p("# Benchmarks\n\n")
	p("Written by `bash scripts/bench`, which runs every benchmark and rewrites this file; do not edit it by hand.\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", m.Date.Format("2006-01-02 15:04 MST"))
	p("| goos/goarch | %s/%s |\n", cell(r.GOOS), cell(r.GOARCH))
	p("| cpu | %s |\n", cell(orDash(r.CPU)))
	p("| nproc | %d |\n", m.NProc)
	p("| GOMAXPROCS | %d (a benchmark run with another shows it as a -N suffix) |\n", r.Procs)
	p("| Go | %s |\n", cell(m.GoVersion))
	if len(r.Runs) > 1 {
		for i, run := range r.Runs {
			p("| run %d | %s |\n", i+1, code(run))
		}
		p("\n")
	} else {
		p("| command | %s |\n\n", code(orDash(m.Command)))
	}
	from := "one run"
	if len(r.Runs) > 1 {
		from = "the runs listed above"
	}
	p("These figures come from %s on a noisy %d-core machine shared with other work. "+
		"Absolute times drift between runs; compare only ratios of benchmarks measured in the same run "+
		"(the Ratios section), never figures from different runs or machines. "+
		"Each figure is the median of the runs shown; ± is the largest distance of a run from that median.\n\n", from, m.NProc)
	if len(r.Runs) > 1 {
		p("**Several runs:** `scripts/bench` keeps every result in `BENCHMARKS.raw` and a run of some packages "+
			"or benchmarks replaces only theirs, so this report joins %d runs (listed above); each row says its run. "+
			"A ratio of two benchmarks from different runs is marked so: do not trust it.\n\n", len(r.Runs))
	} else if m.Bench != "" && m.Bench != "." && !m.Kept {
		p("**Partial run:** only benchmarks matching %s ran, so this is not the full set. "+
			"Run `bash scripts/bench` with no BENCH for the complete report.\n\n", code(m.Bench))
	}

	for _, pkg := range r.Packages {
		var extra []string
		for _, b := range pkg.Benches {
			for _, u := range b.Units {
				if !slices.Contains(stdUnits, u) && !slices.Contains(extra, u) {
					extra = append(extra, u)
				}
			}
		}
		p("## %s\n\n", cell(pkg.Path))
		several := len(r.Runs) > 1
		p("| benchmark |")
		if several {
			p(" run |")
		}
		p(" runs | time/op | ± | B/op | allocs/op |")
		for _, u := range extra {
			p(" %s |", cell(u))
		}
		p("\n|---|")
		if several {
			p("--:|")
		}
		p("--:|--:|--:|--:|--:|%s\n", strings.Repeat("--:|", len(extra)))
		for _, b := range pkg.Benches {
			p("| %s |", cell(b.Name))
			if several {
				p(" %d |", slices.Index(r.Runs, b.Run)+1)
			}
			p(" %d | %s | %s | %s | %s |", b.Runs,
				fmtMedian(b, "ns/op", fmtTime), fmtSpread(b, "ns/op"), fmtMedian(b, "B/op", fmtBytes), fmtMedian(b, "allocs/op", fmtCount))
			for _, u := range extra {
				p(" %s |", fmtMedian(b, u, fmtSI))
			}
			p("\n")
		}
		p("\n")
	}

	p("## Ratios\n\n")
	p("Median time/op of a benchmark over the median time/op of its baseline (or of the unit named after the benchmark), both from this run. "+
		"± is the larger spread of the two; a ratio marked noisy (± above %.0f%%) says more about the machine "+
		"than about the code, so run the script again before drawing a conclusion from it. "+
		"The pairs are declared in `internal/benchreport/main.go`.\n\n", noisy*100)
	p("| package | benchmark | baseline | ratio | ± | what it shows |\n|---|---|---|--:|--:|---|\n")
	for _, pr := range pairs {
		x, spread := ratio(r, pr)
		bench := strings.TrimPrefix(pr.Bench, "Benchmark")
		if pr.Times > 1 {
			bench = fmtCount(pr.Times) + " × " + bench
		}
		if pr.Unit != "" {
			bench += " (" + pr.Unit + ")"
		}
		p("| %s | %s | %s | %s | %s | %s |\n", cell(pr.Pkg), cell(bench),
			cell(strings.TrimPrefix(pr.Baseline, "Benchmark")), x, spread, cell(pr.What))
	}
	return bw.Flush()
}

// noisy is the spread above which a ratio is marked as not to be trusted.
const noisy = 0.20

// ratio is the pair's ratio of median times (Bench's multiplied by Times)
// and the larger spread of the two, or says what was not measured.
func ratio(r *Results, pr pair) (x, spread string) {
	unit := pr.Unit
	if unit == "" {
		unit = "ns/op"
	}
	var missing []string
	times := [2]float64{}
	worst, known := 0.0, true
	runs := [2]string{}
	for i, name := range []string{pr.Bench, pr.Baseline} {
		b := r.find(pr.Pkg, name)
		if b != nil {
			runs[i] = b.Run
		}
		t, ok := 0.0, false
		if b != nil {
			t, ok = b.Median(unit)
		}
		if !ok || t <= 0 {
			missing = append(missing, strings.TrimPrefix(name, "Benchmark"))
			continue
		}
		times[i] = t
		if s, ok := b.Spread(unit); ok && b.Runs > 1 {
			worst = max(worst, s)
		} else {
			known = false
		}
	}
	if len(missing) > 0 {
		return "not measured in this run (no " + cell(strings.Join(missing, ", no ")) + ")", "–"
	}
	spread = "–"
	if known {
		spread = strconv.FormatFloat(worst*100, 'f', 0, 64) + "%"
		if worst > noisy {
			spread += " noisy"
		}
	}
	if runs[0] != runs[1] {
		spread = fmt.Sprintf("different runs (%d, %d): not comparable", slices.Index(r.Runs, runs[0])+1, slices.Index(r.Runs, runs[1])+1)
	}
	if pr.Times > 1 {
		times[0] *= pr.Times
	}
	return fmtRatio(times[0] / times[1]), spread
}

func fmtRatio(x float64) string {
	switch {
	case x > 0 && x < 0.1:
		return sig(x) + "×" // three significant digits, not 0.00×
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64) + "×"
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}

func fmtMedian(b *Bench, unit string, f func(float64) string) string {
	m, ok := b.Median(unit)
	if !ok {
		return "–"
	}
	return f(m)
}

func fmtSpread(b *Bench, unit string) string {
	s, ok := b.Spread(unit)
	if !ok || b.Runs < 2 {
		return "–"
	}
	return strconv.FormatFloat(s*100, 'f', 0, 64) + "%"
}

// sig formats x with three significant digits.
func sig(x float64) string {
	if x == 0 {
		return "0"
	}
	d := 2 - int(math.Floor(math.Log10(math.Abs(x))))
	if d < 0 {
		d = 0
	}
	return strconv.FormatFloat(x, 'f', d, 64)
}

func fmtTime(ns float64) string {
	switch {
	case ns >= 1e9:
		return sig(ns/1e9) + " s"
	case ns >= 1e6:
		return sig(ns/1e6) + " ms"
	case ns >= 1e3:
		return sig(ns/1e3) + " µs"
	}
	return sig(ns) + " ns"
}

func fmtBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return sig(b/(1<<30)) + " GiB"
	case b >= 1<<20:
		return sig(b/(1<<20)) + " MiB"
	case b >= 1<<10:
		return sig(b/(1<<10)) + " KiB"
	}
	return fmtCount(b) + " B"
}

func fmtCount(n float64) string {
	if n == math.Trunc(n) {
		return strconv.FormatFloat(n, 'f', 0, 64)
	}
	return strconv.FormatFloat(n, 'f', 1, 64)
}

func fmtSI(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 1e9:
		return sig(x/1e9) + " G"
	case a >= 1e6:
		return sig(x/1e6) + " M"
	case a >= 1e3:
		return sig(x/1e3) + " k"
	}
	return sig(x)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// code shows s as inline code in a table cell, with a fence longer than
// any run of backticks inside it.
func code(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + cell(s) + pad + fence
}

// writeFileAtomic writes path through a temporary file in the same folder,
// so a failed run leaves the previous report whole.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	err = fill(f)
	err = errors.Join(err, f.Chmod(0o644), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
