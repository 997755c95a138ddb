package auditlog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/clock"
	"golang.org/x/mod/sumdb/note"
)

func mustKey(t *testing.T, name string) (skey, vkey string) {
	t.Helper()
	skey, vkey, err := audit.NewCheckpointKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

// TestKeyOutsideTheDatabase: with a key kept in a file, checkpoints verify
// with the file's key, the store holds no secret a database-level attacker
// could sign with, and a later start without that key is refused.
func TestKeyOutsideTheDatabase(t *testing.T) {
	db, _ := openSQLite(t)
	skey, vkey := mustKey(t, "test.example/audit")
	svc, err := auditlog.New(t.Context(), auditlog.Config{Store: db, Clock: clock.NewFake(t0), Origin: "test.example/audit", Every: 1000, Interval: time.Hour, Key: skey})
	if err != nil {
		t.Fatalf("New with a key: %v", err)
	}
	if svc.VerifierKey() != vkey {
		t.Fatalf("VerifierKey: got %q, want the file's %q", svc.VerifierKey(), vkey)
	}
	mustIngest(t, svc, events(0, 5))
	cp := mustCheckpoint(t, svc)
	v, _ := note.NewVerifier(vkey)
	if _, _, err := audit.OpenCheckpoint(cp.Note, note.VerifierList(v), "test.example/audit"); err != nil {
		t.Fatalf("the checkpoint does not verify with the file's key: %v", err)
	}
	stored, err := db.AuditKey(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored.Signer, "PRIVATE") || stored.Verifier != vkey {
		t.Fatalf("the store holds signer %q, verifier %q; want no secret and the file's verifier", stored.Signer, stored.Verifier)
	}

	tests := []struct {
		name string
		key  string
		want string
	}{
		{"no key", "", "kept outside the database"},
		{"another key", func() string { k, _ := mustKey(t, "test.example/audit"); return k }(), "holds another"},
		{"not a key", "PRIVATE+KEY+oops", "audit key file"},
		{"a verifier key", vkey, "audit key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auditlog.New(t.Context(), auditlog.Config{Store: db, Clock: clock.NewFake(t0), Origin: "test.example/audit", Every: 1000, Interval: time.Hour, Key: tt.key})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	again, err := auditlog.New(t.Context(), auditlog.Config{Store: db, Clock: clock.NewFake(t0), Origin: "test.example/audit", Every: 1000, Interval: time.Hour, Key: skey + "\n"})
	if err != nil {
		t.Fatalf("New again with the same key: %v", err)
	}
	if again.VerifierKey() != vkey {
		t.Fatalf("VerifierKey after restart: got %q, want %q", again.VerifierKey(), vkey)
	}
}

// TestKeyAdoptedByAnExistingLog: a log that signed with the database's key
// takes a file key of the same name; a key named for another log is refused.
func TestKeyAdoptedByAnExistingLog(t *testing.T) {
	db, _ := openSQLite(t)
	first := newService(t, db, clock.NewFake(t0), 1000)
	mustIngest(t, first, events(0, 3))
	mustCheckpoint(t, first)
	dbKey := first.VerifierKey()

	other, _ := mustKey(t, "other.example/audit")
	if _, err := auditlog.New(t.Context(), auditlog.Config{Store: db, Clock: clock.NewFake(t0), Origin: "test.example/audit", Every: 1000, Interval: time.Hour, Key: other}); err == nil ||
		!strings.Contains(err.Error(), `named "other.example/audit"`) {
		t.Fatalf("New with a key of another name: got %v, want a refusal naming both", err)
	}
	skey, vkey := mustKey(t, "test.example/audit")
	svc, err := auditlog.New(t.Context(), auditlog.Config{Store: db, Clock: clock.NewFake(t0), Origin: "test.example/audit", Every: 1000, Interval: time.Hour, Key: skey})
	if err != nil {
		t.Fatalf("New adopting a file key: %v", err)
	}
	mustIngest(t, svc, events(3, 3))
	cp := mustCheckpoint(t, svc)
	nv, _ := note.NewVerifier(vkey)
	ov, _ := note.NewVerifier(dbKey)
	if _, _, err := audit.OpenCheckpoint(cp.Note, note.VerifierList(nv), "test.example/audit"); err != nil {
		t.Fatalf("the new checkpoint does not verify with the file's key: %v", err)
	}
	if _, _, err := audit.OpenCheckpoint(cp.Note, note.VerifierList(ov), "test.example/audit"); err == nil {
		t.Fatal("the new checkpoint verifies with the database's key: it was signed with it")
	}
}
