package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"
)

// tamperDB is a store's database reached behind cordon's back, as an
// attacker who holds it would. Queries use $N placeholders, which both
// drivers take.
type tamperDB interface {
	exec(ctx context.Context, query string, args ...any) (rows int64, err error)
	leaf(ctx context.Context, idx int) ([]byte, error)
}

type tamperSQLite struct{ db *sql.DB }

func (s tamperSQLite) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s tamperSQLite) leaf(ctx context.Context, idx int) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT leaf FROM audit_entries WHERE idx = $1`, idx).Scan(&b)
	return b, err
}

type tamperPostgres struct{ conn *pgx.Conn }

func (p tamperPostgres) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.conn.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (p tamperPostgres) leaf(ctx context.Context, idx int) ([]byte, error) {
	var b []byte
	err := p.conn.QueryRow(ctx, `SELECT leaf FROM audit_entries WHERE idx = $1`, idx).Scan(&b)
	return b, err
}

// tamperBackend makes an empty store for serve and opens its database
// directly.
type tamperBackend struct {
	name  string
	store func(t *testing.T) string // Config.Store of a new, empty store
	open  func(t *testing.T, store, data string) tamperDB
}

func tamperBackends() []tamperBackend {
	return []tamperBackend{
		{
			name:  "sqlite",
			store: func(*testing.T) string { return "" },
			open: func(t *testing.T, _, data string) tamperDB {
				t.Helper()
				db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "cordon.db")+"?_pragma=busy_timeout(10000)")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return tamperSQLite{db}
			},
		},
		{
			name:  "postgres",
			store: func(t *testing.T) string { return pgtest.URL(t) },
			open: func(t *testing.T, store, _ string) tamperDB {
				t.Helper()
				conn, err := pgx.Connect(t.Context(), store)
				if err != nil {
					t.Fatal(err)
				}
				// Closed before pgtest drops the schema (cleanups run last first).
				t.Cleanup(func() { conn.Close(context.Background()) })
				return tamperPostgres{conn}
			},
		},
	}
}

// tamperServer runs cordon in-process on store (empty: SQLite in data),
// signing a checkpoint once every entries are unsigned. The interval is an
// hour so that checkpoints fall only where the test puts them: after each
// of its batches, by its own Checkpoint call or by the every-N kick, which
// sign the same size.
func tamperServer(t *testing.T, store, data string, every uint64) *Main {
	t.Helper()
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: data, Store: store, AdminToken: testAdminToken, Issuer: "http://cordon.test",
		AuditEvery: every, AuditInterval: time.Hour,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32},
		Log:  slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// tamperFill appends n events through the API in batches of every, and
// has a checkpoint signed after each batch.
func tamperFill(t *testing.T, m *Main, n, every int) {
	t.Helper()
	at := time.Now().UTC().Format(time.RFC3339Nano)
	for from := 0; from < n; from += every {
		var events []map[string]any
		for i := from; i < min(from+every, n); i++ {
			events = append(events, map[string]any{"time": at, "principal": "support-tool", "action": "read",
				"subject": "user-" + strconv.Itoa(i), "categories": []string{"email", "profile"}, "purpose": "ticket " + strconv.Itoa(i)})
		}
		body, _ := json.Marshal(events)
		code, _, out := call(t, "POST", m.URL()+"/audit/v1/events", admin(), string(body))
		if code != http.StatusOK || out["first_index"] != float64(from) {
			t.Fatalf("ingest of events %d..: %d %v", from, code, out)
		}
		if _, err := m.Audit.Checkpoint(t.Context()); err != nil {
			t.Fatalf("checkpoint at %d: %v", from+len(events), err)
		}
	}
}

// tamperExec runs a tampering statement and wants it to touch rows rows.
func tamperExec(t *testing.T, db tamperDB, rows int64, query string, args ...any) {
	t.Helper()
	n, err := db.exec(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n != rows {
		t.Fatalf("%s: %d rows changed, want %d", query, n, rows)
	}
}

// tamperForge returns entry idx rewritten to name another user, as a
// canonical leaf (so only the tree can tell) and its hash.
func tamperForge(t *testing.T, db tamperDB, idx int) (leaf, hash []byte) {
	t.Helper()
	old, err := db.leaf(t.Context(), idx)
	if err != nil {
		t.Fatalf("read entry %d: %v", idx, err)
	}
	e, err := audit.ParseLeaf(old)
	if err != nil {
		t.Fatalf("entry %d: %v", idx, err)
	}
	e.Subject = "someone-else"
	leaf = audit.Leaf(e)
	return leaf, audit.LeafHash(leaf)
}

func tamperVerify(t *testing.T, m *Main, vkey string, extra ...string) cliResult {
	t.Helper()
	return cli(t, "", append([]string{"audit", "verify", "--server", m.URL(), "--key", vkey}, extra...)...)
}

// tamperIntact wants verify to pass over n entries, showing its progress.
func tamperIntact(t *testing.T, r cliResult, n int) {
	t.Helper()
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ok: ") || !strings.Contains(r.stdout, fmt.Sprintf(" holds %d entries;", n)) {
		t.Fatalf("verify: %v\nwant exit 0 and ok: … holds %d entries", r, n)
	}
	if progress := fmt.Sprintf("verified %d of %d entries", n, n); !strings.Contains(r.stderr, progress) {
		t.Errorf("verify shows no progress line %q:\n%s", progress, r.stderr)
	}
}

var tamperVerdict = regexp.MustCompile(`^TAMPERED: first bad entry(?: found)?: (?:entry (\d+):|entries (\d+)\.\.(\d+) )`)

// tamperIntactClaim is how a verdict says which entries are proven intact.
var tamperIntactClaim = regexp.MustCompile(`the (\d+) entries before it are intact|entries 0\.\.(\d+) are proven intact, entries (\d+)\.\.(\d+) cannot be proven`)

// tamperNamed returns the entries [first, last] a failed verify names.
func tamperNamed(t *testing.T, r cliResult) (first, last uint64) {
	t.Helper()
	if r.code != 1 || r.err == nil {
		t.Fatalf("verify of a tampered log: %v\nwant exit 1", r)
	}
	m := tamperVerdict.FindStringSubmatch(r.err.Error())
	if m == nil {
		t.Fatalf("verify names no entry: %q", r.err)
	}
	if m[1] != "" {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		return n, n
	}
	first, _ = strconv.ParseUint(m[2], 10, 64)
	last, _ = strconv.ParseUint(m[3], 10, 64)
	return first, last
}

// TestAuditTamper tampers with the audit tables of each store directly in
// SQL, as someone holding the database could, and wants cordon audit
// verify to fail and name the first entry that changed: exactly when the
// damage shows in the entry or checkpoints were signed after every entry,
// otherwise the span between two checkpoints that holds it.
func TestAuditTamper(t *testing.T) {
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	const entries = 40
	tests := []struct {
		name   string
		every  int // checkpoint grain, in entries
		tamper func(t *testing.T, db tamperDB)
		// resign: the attacker also drops every checkpoint and restarts
		// cordon, which signs fresh ones over the forged log.
		resign bool
		at     uint64 // the entry the verdict is about
		within bool   // a span that holds at, no wider than every, will do
		from   bool   // the named span starts at at
		reason string
	}{
		{
			name: "leaf edited, hash left", every: 10, at: 17, reason: "stored leaf hash does not match",
			tamper: func(t *testing.T, db tamperDB) {
				leaf, _ := tamperForge(t, db, 17)
				tamperExec(t, db, 1, `UPDATE audit_entries SET leaf = $1, subject = 'someone-else' WHERE idx = $2`, leaf, 17)
			},
		},
		{
			name: "leaf and hash edited, checkpoint per entry", every: 1, at: 17, reason: "root mismatch",
			tamper: func(t *testing.T, db tamperDB) {
				leaf, hash := tamperForge(t, db, 17)
				tamperExec(t, db, 1, `UPDATE audit_entries SET leaf = $1, leaf_hash = $2, subject = 'someone-else' WHERE idx = $3`, leaf, hash, 17)
			},
		},
		{
			name: "leaf and hash edited, checkpoint every 10", every: 10, at: 17, within: true, reason: "root mismatch",
			tamper: func(t *testing.T, db tamperDB) {
				leaf, hash := tamperForge(t, db, 17)
				tamperExec(t, db, 1, `UPDATE audit_entries SET leaf = $1, leaf_hash = $2, subject = 'someone-else' WHERE idx = $3`, leaf, hash, 17)
			},
		},
		{
			// Reports read the columns beside the leaf; hiding a user from
			// a report by editing them alone must not pass either.
			name: "report column edited, leaf left", every: 10, at: 17, reason: "columns reports are built from do not match",
			tamper: func(t *testing.T, db tamperDB) {
				tamperExec(t, db, 1, `UPDATE audit_entries SET subject = 'someone-else' WHERE idx = $1`, 17)
			},
		},
		{
			name: "middle row deleted", every: 10, at: 17, reason: "entry missing",
			tamper: func(t *testing.T, db tamperDB) {
				tamperExec(t, db, 1, `DELETE FROM audit_entries WHERE idx = $1`, 17)
			},
		},
		{
			name: "two rows swapped, checkpoint per entry", every: 1, at: 17, reason: "root mismatch",
			tamper: func(t *testing.T, db tamperDB) {
				// Through a free index: idx is the primary key.
				tamperExec(t, db, 1, `UPDATE audit_entries SET idx = $1 WHERE idx = $2`, -1, 17)
				tamperExec(t, db, 1, `UPDATE audit_entries SET idx = $1 WHERE idx = $2`, 17, 23)
				tamperExec(t, db, 1, `UPDATE audit_entries SET idx = $1 WHERE idx = $2`, 23, -1)
			},
		},
		{
			// Both stores keep the size in a counter row, which still says
			// 41 (the 40 events and the record of the first verify's
			// export): the export announces 41 entries and ends at 35.
			name: "last 6 rows deleted", every: 10, at: 35, from: true, reason: "truncated",
			tamper: func(t *testing.T, db tamperDB) {
				tamperExec(t, db, 6, `DELETE FROM audit_entries WHERE idx >= $1`, 35)
			},
		},
		{
			// The attacker has the database, and the checkpoint signing key
			// is in it (audit_key): rewrite an entry and its hash, drop the
			// checkpoints and tree nodes, and let a restarted cordon sign
			// fresh checkpoints over the forged log. The log then agrees
			// with itself and a plain verify passes; only checkpoints a
			// second party kept from before (cordon audit checkpoints -o)
			// catch it. That is why checkpoints must be handed out.
			name: "log rewritten and checkpoints re-signed", every: 10, at: 17, within: true, resign: true, reason: "root mismatch",
			tamper: func(t *testing.T, db tamperDB) {
				leaf, hash := tamperForge(t, db, 17)
				tamperExec(t, db, 1, `UPDATE audit_entries SET leaf = $1, leaf_hash = $2, subject = 'someone-else' WHERE idx = $3`, leaf, hash, 17)
				tamperExec(t, db, entries/10, `DELETE FROM audit_checkpoints`)
				if _, err := db.exec(t.Context(), `DELETE FROM audit_nodes`); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, b := range tamperBackends() {
		t.Run(b.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					store, data := b.store(t), t.TempDir()
					m := tamperServer(t, store, data, uint64(tt.every))
					vkey := m.Audit.VerifierKey() // from cordon itself, not from what the server serves
					db := b.open(t, store, data)
					tamperFill(t, m, entries, tt.every)
					tamperIntact(t, tamperVerify(t, m, vkey), entries)
					held := filepath.Join(t.TempDir(), "checkpoints.json")
					// The verify's export is itself recorded; with a checkpoint
					// per entry, the checkpointer may sign it before this.
					if r := cli(t, "", "audit", "checkpoints", "--server", m.URL(), "-o", held); r.err != nil ||
						!strings.HasPrefix(r.stdout, fmt.Sprintf("wrote %d checkpoints", entries/tt.every)) &&
							(tt.every != 1 || !strings.HasPrefix(r.stdout, fmt.Sprintf("wrote %d checkpoints", entries+1))) {
						t.Fatalf("checkpoints export: %v", r)
					}

					tt.tamper(t, db)
					var r cliResult
					if tt.resign {
						if err := m.Close(); err != nil {
							t.Fatal(err)
						}
						m = tamperServer(t, store, data, uint64(tt.every))
						// The 40 events and the record of the first verify's export.
						if cp, err := m.Audit.Checkpoint(t.Context()); err != nil || cp == nil || cp.Size != entries+1 {
							t.Fatalf("checkpoint over the forged log: %v, %v; want one of size %d", cp, err, entries+1)
						}
						// Honestly: the re-signed log verifies against itself.
						plain := tamperVerify(t, m, vkey)
						tamperIntact(t, plain, entries+1)
						t.Logf("plain verify of the re-signed forgery passes, as it must: %s", strings.SplitN(plain.stdout, "\n", 2)[0])
						r = tamperVerify(t, m, vkey, "--checkpoints", held)
					} else {
						r = tamperVerify(t, m, vkey)
					}

					first, last := tamperNamed(t, r)
					switch {
					case tt.within:
						if first > tt.at || last < tt.at || last-first >= uint64(tt.every) {
							t.Errorf("verify names entries %d..%d, want a span of at most %d holding %d: %v", first, last, tt.every, tt.at, r.err)
						}
					case tt.from:
						if first != tt.at {
							t.Errorf("verify names entries %d..%d, want the first missing entry %d: %v", first, last, tt.at, r.err)
						}
					default:
						if first != tt.at || last != tt.at {
							t.Errorf("verify names entries %d..%d, want exactly entry %d: %v", first, last, tt.at, r.err)
						}
					}
					if !strings.Contains(r.err.Error(), tt.reason) {
						t.Errorf("verdict %q does not say %q", r.err, tt.reason)
					}
					if tt.resign && !strings.Contains(r.err.Error(), "the checkpoint that caught it is from "+held) {
						t.Errorf("the verdict %q does not credit the checkpoints held in %s", r.err, held)
					}
					// Never more than what precedes the named entry may be
					// called intact; less is honest when a checkpoint is far.
					if c := tamperIntactClaim.FindStringSubmatch(r.err.Error()); c == nil {
						t.Errorf("verdict %q says nothing of which entries are intact", r.err)
					} else if c[1] != "" && c[1] != strconv.FormatUint(first, 10) {
						t.Errorf("verdict %q calls %s entries intact before entry %d", r.err, c[1], first)
					} else if c[2] != "" && (c[4] != strconv.FormatUint(first-1, 10)) {
						t.Errorf("verdict %q: the unproven span does not end before entry %d", r.err, first)
					}
					t.Logf("verdict: %v", r.err)
				})
			}
		})
	}
}
