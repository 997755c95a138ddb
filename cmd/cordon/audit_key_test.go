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
	"github.com/cordon-dev/cordon/internal/cordon"
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
			// The 40 events and the record of the first verify's export.
			cp, err := forged.Audit.Checkpoint(t.Context())
			if err != nil || cp == nil || cp.Size != entries+1 {
				t.Fatalf("checkpoint over the forged log: %v, %v; want one of size %d", cp, err, entries+1)
			}
			// Trusting whatever key the database holds, the forgery passes.
			tamperIntact(t, tamperVerify(t, forged, avkey), entries+1)
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
	if r := witness(); r.code != 1 || !strings.Contains(r.err.Error(), "REFUSED: the log no longer has the checkpoint") {
		t.Fatalf("witness of a re-signed log: %v; want REFUSED", r)
	}
	r = tamperVerify(t, m, logKey, "--checkpoints", out, "--witness", wvkey)
	if r.code != 1 || !strings.Contains(r.err.Error(), "TAMPERED") {
		t.Fatalf("verify --witness of the re-signed log: %v; want TAMPERED", r)
	}
}

// TestAdminReadRecordedOnce: an admin's read of a user's data is one entry
// in the log on every store. PostgreSQL's append used to take the record
// twice: once as the batch and once as the pending record of its context.
func TestAdminReadRecordedOnce(t *testing.T) {
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	for _, b := range tamperBackends() {
		t.Run(b.name, func(t *testing.T) {
			m := tamperServer(t, b.store(t), t.TempDir(), 1000)
			if code, _, out := call(t, "POST", m.URL()+"/admin/v1/accounts", admin(), `{"username":"alice","password":"correct horse battery"}`); code != 201 {
				t.Fatalf("create account: %d %v", code, out)
			}
			before, _ := m.Audit.Size(t.Context())
			if code, _, out := call(t, "GET", m.URL()+"/admin/v1/accounts/alice", admin(), ""); code != 200 {
				t.Fatalf("get account: %d %v", code, out)
			}
			if after, _ := m.Audit.Size(t.Context()); after != before+1 {
				t.Fatalf("an account shown grew the log by %d entries, want 1", after-before)
			}
		})
	}
}

// TestAuditReadsAreRecorded: reports, saved reports, exports and proofs of
// the audit log are entries in it, under the admin who asked, so the
// investigation is evidence too; checkpoints, which disclose no one's
// data and which witnesses poll, are not.
func TestAuditReadsAreRecorded(t *testing.T) {
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	m := tamperServer(t, "", t.TempDir(), 1000)
	tamperFill(t, m, 4, 2)
	reads := []struct {
		method, path, body string
		action, purpose    string
	}{
		{"GET", "/admin/v1/audit/report?principal=support-tool", "", "read", "report: 20"},
		{"POST", "/admin/v1/audit/reports", `{"principals":["support-tool"]}`, "read", "report r-"},
		{"GET", "/audit/v1/entries?to=4", "", "export", "entries 0..4 exported"},
		{"GET", "/audit/v1/proof/inclusion?index=1&size=4", "", "read", "inclusion proof of entry 1 at size 4"},
		{"GET", "/audit/v1/proof/consistency?from=2&to=4", "", "read", "consistency proof from size 2 to 4"},
		{"GET", "/audit/v1/checkpoints", "", "", ""},
	}
	for _, rd := range reads {
		before, _ := m.Audit.Size(t.Context())
		var body []byte
		if rd.body != "" {
			body = []byte(rd.body)
		}
		r := send(t, rd.method, m.URL()+rd.path, admin(), body)
		if r.status/100 != 2 {
			t.Fatalf("%s %s: %v", rd.method, rd.path, r)
		}
		after, _ := m.Audit.Size(t.Context())
		if rd.action == "" {
			if after != before {
				t.Errorf("%s %s grew the log by %d", rd.method, rd.path, after-before)
			}
			continue
		}
		if after != before+1 {
			t.Fatalf("%s %s grew the log by %d entries, want 1", rd.method, rd.path, after-before)
		}
		var got *audit.Event
		if err := m.Audit.Entries(t.Context(), before, after, func(e *cordon.AuditEntry) error {
			ev, err := audit.ParseLeaf(e.Leaf)
			got = &ev
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got.Principal != "cordon:admin/root" || got.Action != rd.action || got.Subject != "cordon:audit-log" ||
			strings.Join(got.Categories, ",") != "audit_log" || !strings.HasPrefix(got.Purpose, rd.purpose) {
			t.Errorf("%s %s recorded %+v; want cordon:admin/root %s cordon:audit-log [audit_log] %q…", rd.method, rd.path, got, rd.action, rd.purpose)
		}
	}
}
