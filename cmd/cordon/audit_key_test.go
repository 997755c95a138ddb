package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/password"
)

var verifierLine = regexp.MustCompile(`(?m)^verifier key: (\S+)$`)

// keygen makes a key file through the CLI and returns its path and
// verifier key.
func keygen(t *testing.T, name string) (file, vkey string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "key")
	r := cli(t, "", "audit", "keygen", "--origin", name, "-o", file)
	m := verifierLine.FindStringSubmatch(r.stdout)
	if r.err != nil || m == nil {
		t.Fatalf("audit keygen: %v", r)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	if again := cli(t, "", "audit", "keygen", "--origin", name, "-o", file); again.code != 2 {
		t.Fatalf("keygen over an existing key: %v; want exit 2, the key kept", again)
	}
	return file, m[1]
}

// keyedServer is tamperServer with the checkpoint key read from a file
// the way serve --audit-key reads it.
func keyedServer(t *testing.T, store, data, keyFile string) (*Main, error) {
	t.Helper()
	c := Config{Addr: "127.0.0.1:0", Data: data, Store: store, AdminToken: testAdminToken, Issuer: "http://cordon.test",
		AuditEvery: 10, AuditInterval: time.Hour,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32},
		Log:  slog.New(slog.DiscardHandler), Out: io.Discard}
	if keyFile != "" {
		key, err := readAuditKey(keyFile)
		if err != nil {
			t.Fatalf("readAuditKey: %v", err)
		}
		c.AuditKey = key
	}
	m := &Main{Config: c}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		return nil, err
	}
	t.Cleanup(func() { m.Close() })
	return m, nil
}

// TestAuditKeyOutsideTheDatabase: with serve --audit-key, someone holding
// the database can rewrite the log and have it re-signed only with a key
// of their own, which verify with the operator's key refuses; the same
// rewrite passes a verify that trusts the database's key.
func TestAuditKeyOutsideTheDatabase(t *testing.T) {
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	const entries = 40
	for _, b := range tamperBackends() {
		t.Run(b.name, func(t *testing.T) {
			keyFile, vkey := keygen(t, "cordon.test/audit")
			store, data := b.store(t), t.TempDir()
			m, err := keyedServer(t, store, data, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if m.Audit.VerifierKey() != vkey {
				t.Fatalf("the log's key is %q, want the file's %q", m.Audit.VerifierKey(), vkey)
			}
			db := b.open(t, store, data)
			tamperFill(t, m, entries, 10)
			tamperIntact(t, tamperVerify(t, m, vkey), entries)
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}

			// Without the file, cordon will not sign with a key of its own.
			if _, err := keyedServer(t, store, data, ""); err == nil || !strings.Contains(err.Error(), "start with --audit-key FILE") {
				t.Fatalf("serve without the key: %v; want a refusal that names --audit-key", err)
			}

			// The attacker rewrites entry 17, drops checkpoints and tree
			// nodes, puts a key of their own where a database key would
			// be, and lets cordon re-sign the forged log.
			leaf, hash := tamperForge(t, db, 17)
			tamperExec(t, db, 1, `UPDATE audit_entries SET leaf = $1, leaf_hash = $2, subject = 'someone-else' WHERE idx = $3`, leaf, hash, 17)
			tamperExec(t, db, entries/10, `DELETE FROM audit_checkpoints`)
			if _, err := db.exec(t.Context(), `DELETE FROM audit_nodes`); err != nil {
				t.Fatal(err)
			}
			askey, avkey, err := audit.NewCheckpointKey("cordon.test/audit")
			if err != nil {
				t.Fatal(err)
			}
			tamperExec(t, db, 1, `UPDATE audit_key SET signer = $1, verifier = $2`, askey, avkey)
			forged, err := keyedServer(t, store, data, "")
			if err != nil {
				t.Fatalf("serve on the attacker's key: %v", err)
			}
			if cp, err := forged.Audit.Checkpoint(t.Context()); err != nil || cp == nil || cp.Size != entries {
				t.Fatalf("checkpoint over the forged log: %v, %v", cp, err)
			}
			// Trusting whatever key the database holds, the forgery passes.
			tamperIntact(t, tamperVerify(t, forged, avkey), entries)
			// With the operator's key it does not.
			r := tamperVerify(t, forged, vkey)
			if r.code != 1 || !strings.Contains(r.err.Error(), "carries no signature by the key you trust") {
				t.Fatalf("verify with the operator's key of a log re-signed without it: %v; want exit 1", r)
			}
			t.Logf("verdict: %v", r.err)
		})
	}
}

// TestAuditWitness: a witness cosigns checkpoints only while the log grows
// consistently; verify --witness wants its cosignature, and a log rewritten
// and re-signed behind the witness is refused by the witness and caught by
// verify from the cosigned checkpoint.
func TestAuditWitness(t *testing.T) {
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	b := tamperBackends()[0]
	store, data := b.store(t), t.TempDir()
	m := tamperServer(t, store, data, 10)
	logKey := m.Audit.VerifierKey()
	db := b.open(t, store, data)
	wkeyFile, wvkey := keygen(t, "witness.example")
	dir := t.TempDir()
	state, out := filepath.Join(dir, "state.json"), filepath.Join(dir, "cosigned.json")
	witness := func() cliResult {
		return cli(t, "", "audit", "witness", "--server", m.URL(), "--log-key", logKey, "--key", wkeyFile, "--state", state, "-o", out)
	}

	if r := witness(); r.code != 1 || !strings.Contains(r.err.Error(), "no checkpoint yet") {
		t.Fatalf("witness of an empty log: %v; want exit 1, nothing to cosign", r)
	}
	tamperFill(t, m, 20, 10)
	if r := witness(); r.err != nil || !strings.Contains(r.stdout, "cosigned cordon.test/audit at 20 entries as witness.example") {
		t.Fatalf("first witness round: %v", r)
	}
	// The log grows; the witness checks it extends what it cosigned.
	code, _, body := call(t, "POST", m.URL()+"/audit/v1/events", admin(), `[{"time":"`+time.Now().UTC().Format(time.RFC3339)+`","principal":"support-tool","action":"read","subject":"user-x","categories":["email"]}]`)
	if code != 200 {
		t.Fatalf("ingest: %d %v", code, body)
	}
	if _, err := m.Audit.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := witness(); r.err != nil || !strings.Contains(r.stdout, "at 21 entries") {
		t.Fatalf("second witness round: %v", r)
	}

	r := tamperVerify(t, m, logKey, "--checkpoints", out, "--witness", wvkey)
	if r.err != nil || !strings.Contains(r.stdout, "witnessed by witness.example at 21 entries") {
		t.Fatalf("verify --witness: %v", r)
	}
	_, otherWitness := keygen(t, "other-witness.example")
	if r := tamperVerify(t, m, logKey, "--checkpoints", out, "--witness", otherWitness); r.code != 1 || !strings.Contains(r.err.Error(), "is cosigned by the witness other-witness.example") {
		t.Fatalf("verify --witness of a witness that never cosigned: %v; want exit 1", r)
	}
	if r := cli(t, "", "audit", "verify", "--server", m.URL(), "--witness", wvkey); r.code != 2 {
		t.Fatalf("verify --witness without --checkpoints: %v; want exit 2", r)
	}
	for _, bad := range [][]string{
		{"--log-key", "nonsense", "--key", wkeyFile, "--state", state},
		{"--log-key", logKey, "--key", filepath.Join(dir, "missing"), "--state", state},
		{"--log-key", logKey, "--key", state, "--state", state},
		{"--log-key", logKey, "--state", state},
	} {
		if r := cli(t, "", append([]string{"audit", "witness", "--server", m.URL()}, bad...)...); r.code != 2 {
			t.Errorf("witness %q: %v; want exit 2", bad, r)
		}
	}

	// Rewrite entry 5 and have cordon re-sign from scratch with the
	// database's key: the log agrees with itself, not with the witness.
	leaf, hash := tamperForge(t, db, 5)
	tamperExec(t, db, 1, `UPDATE audit_entries SET leaf = $1, leaf_hash = $2, subject = 'someone-else' WHERE idx = $3`, leaf, hash, 5)
	tamperExec(t, db, 3, `DELETE FROM audit_checkpoints`)
	if _, err := db.exec(t.Context(), `DELETE FROM audit_nodes`); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = tamperServer(t, store, data, 10)
	if _, err := m.Audit.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := witness(); r.code != 1 || !strings.Contains(r.err.Error(), "REFUSED: the log forked") {
		t.Fatalf("witness of a re-signed log: %v; want REFUSED", r)
	}
	r = tamperVerify(t, m, logKey, "--checkpoints", out, "--witness", wvkey)
	if r.code != 1 || !strings.Contains(r.err.Error(), "TAMPERED") {
		t.Fatalf("verify --witness of the re-signed log: %v; want TAMPERED", r)
	}
}
