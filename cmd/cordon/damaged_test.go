package main

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/pgtest"
)

// damagedStore makes a data folder whose cordon.db has a damaged table
// page (the accounts table's root, overwritten with garbage), and returns
// it with a healthy copy made just before.
func damagedStore(t *testing.T) (damaged, healthy string) {
	t.Helper()
	data := t.TempDir()
	m, err := startNodeIn(t, Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"ana", "ben", "cid"} {
		addUser(t, m, u, "a long enough password")
	}
	if err := m.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	healthy = t.TempDir()
	copyStore(t, data, healthy)

	path := filepath.Join(data, "cordon.db")
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	if err := db.QueryRow(`SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'accounts'`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The page's b-tree header and cell pointers: a page type no b-tree
	// has, and cells pointing past the page.
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xEE}, 64), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return data, healthy
}

// TestDamagedStoreRefusesToStart: cordon serve on a file with a damaged
// page refuses to start (before, it started, said ready and answered 500
// later), naming the file and what to do; cordon doctor finds the damage
// (exit 1) and passes the healthy copy (exit 0).
func TestDamagedStoreRefusesToStart(t *testing.T) {
	damaged, healthy := damagedStore(t)
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", damaged}, nil, &stderr, &stderr)
	if err == nil {
		t.Fatal("serve on a damaged file started")
	}
	msg := err.Error()
	for _, want := range []string{"the database " + filepath.Join(damaged, "cordon.db") + " is damaged", "cordon doctor --data " + damaged, "restore the last good backup"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, msg)
		}
	}

	// Started anyway (--skip-check), a request that reads the damaged
	// page answers 503 storage_unavailable, not 500 internal.
	m, err := startNodeIn(t, Config{Data: damaged, SkipCheck: true})
	if err != nil {
		t.Fatalf("serve --skip-check on the damaged file: %v", err)
	}
	code, _, body := call(t, "POST", m.URL()+"/v1/login", jsonCT, `{"username":"ben","password":"a long enough password"}`)
	if code != 503 || body["error"] != "storage_unavailable" {
		t.Errorf("login reading a damaged page: %d %v, want 503 storage_unavailable", code, body)
	}
	m.Close()

	var out bytes.Buffer
	err = run(context.Background(), []string{"doctor", "--data", damaged}, nil, &out, &stderr)
	if exitCode(err) != 1 {
		t.Errorf("doctor on the damaged file: exit %d (%v), want 1\n%s", exitCode(err), err, out.String())
	}
	if !strings.Contains(out.String(), "FAIL integrity") {
		t.Errorf("doctor on the damaged file does not fail integrity:\n%s", out.String())
	}

	out.Reset()
	if err := run(context.Background(), []string{"doctor", "--data", healthy}, nil, &out, &stderr); err != nil {
		t.Errorf("doctor on the healthy copy: %v\n%s", err, out.String())
	}
	for _, want := range []string{"ok   integrity", "ok   schema", "ok   identity", "ok   signing keys  1 current", "ok   audit log"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor on the healthy copy does not say %q:\n%s", want, out.String())
		}
	}
}

// TestDoctorFindsAuditRowsDeleted: rows deleted from the audit log under
// cordon's back make doctor fail the audit check.
func TestDoctorFindsAuditRowsDeleted(t *testing.T) {
	data := t.TempDir()
	m, err := startNodeIn(t, Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, m, "dora", "a long enough password") // an admin action: one audit entry
	m.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "cordon.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM audit_entries`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var out, stderr bytes.Buffer
	err = run(context.Background(), []string{"doctor", "--data", data}, nil, &out, &stderr)
	if exitCode(err) != 1 || !strings.Contains(out.String(), "FAIL audit log") || !strings.Contains(out.String(), "0 entries, indexes up to 0, but the recorded size is 1") {
		t.Errorf("doctor after audit rows were deleted: exit %d, want 1 with the audit check failed:\n%s", exitCode(err), out.String())
	}
}

// TestDoctorHelp: doctor --help describes the checks and the flags.
func TestDoctorHelp(t *testing.T) {
	var out, stderr bytes.Buffer
	if err := run(context.Background(), []string{"doctor", "--help"}, nil, &out, &stderr); err != nil {
		t.Errorf("doctor --help: %v, want exit 0", err)
	}
	for _, want := range []string{"integrity_check", "--store", "--data", "read-only"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor --help does not mention %q on stdout:\n%s", want, out.String())
		}
	}
}

// TestAuditVerifyReportsAServerError: a server that answers an error
// (here 500 internal, as a damaged store once made the audit export
// answer) is reported as the server's answer, not as "cannot reach".
func TestAuditVerifyReportsAServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		w.Write([]byte(`{"error":"internal","message":"something went wrong (request r-1)"}`))
	}))
	defer srv.Close()
	var out, stderr bytes.Buffer
	err := run(context.Background(), []string{"audit", "verify", "--server", srv.URL}, nil, &out, &stderr)
	if err == nil {
		t.Fatal("verify against a failing server = nil error")
	}
	if got, want := err.Error(), "the server answered 500 internal: something went wrong (request r-1)"; !strings.Contains(got, want) || strings.Contains(got, "cannot reach") {
		t.Errorf("verify's error = %q, want it to contain %q", got, want)
	}
}

// TestDoctorOnPostgres: doctor on a PostgreSQL store a node made passes
// its checks and names the deployment.
func TestDoctorOnPostgres(t *testing.T) {
	store := pgtest.URL(t)
	m := pgNode(t, store)
	var out, stderr bytes.Buffer
	if err := run(context.Background(), []string{"doctor", "--store", store}, nil, &out, &stderr); err != nil {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
	for _, want := range []string{"ok   schema", "ok   identity      deployment " + m.deployment + ", issuer http://cordon.test", "ok   signing keys  1 current", "ok   audit log"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor does not say %q:\n%s", want, out.String())
		}
	}
}
