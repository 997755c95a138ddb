package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/stored"
)

// TestCheckpointer writes through the writer as an audit append does and
// holds the checkpointer and the backstop to their promises: the pages go
// back into the database file while the writer is idle (the writer's own
// checkpoint, at 64 MiB, never ran for these 32 MiB); with the
// checkpointer stopped, the writer's backstop alone restarts the WAL near
// 64 MiB however long the writes go on (with the checkpointer running the
// backstop is soft: its attempt finds the lock busy during a round, so
// the bound is tested on its own); the file is trimmed after a restart.
// Close leaves the file whole, with no WAL beside it.
func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var backstop int
	if err := db.w.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&backstop); err != nil || backstop != checkpointBackstop {
		t.Fatalf("the writer's wal_autocheckpoint is %d (%v), want the backstop %d", backstop, err, checkpointBackstop)
	}
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE blobs (b BLOB NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 16<<10)
	var walMost int64
	write := func(commits int) {
		t.Helper()
		for range commits {
			tx, err := db.w.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 32 { // 512 KiB a commit
				rand.Read(blob)
				if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (b) VALUES (?)`, blob); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(path + "-wal"); err == nil {
				walMost = max(walMost, fi.Size())
			}
		}
	}
	write(64) // 32 MiB
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= 30<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("32 MiB committed, the database file holds %d MiB after 10 s: nothing checkpointed them", fi.Size()>>20)
		}
	}
	if db.ckpt.copies.Load() == 0 {
		t.Error("the checkpointer never found new frames")
	}
	if err := db.ckpt.close(); err != nil {
		t.Fatal(err)
	}
	walMost = 0
	write(160) // 80 MiB more, the backstop alone
	if limit := int64(checkpointBackstop)*4096 + 2<<20; walMost > limit {
		t.Errorf("the WAL reached %d MiB; the backstop should restart it near %d MiB", walMost>>20, limit>>20)
	}
	// Copy everything back, then one write: it restarts the WAL, and its
	// commit trims the file.
	if _, err := db.w.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		t.Fatal(err)
	}
	write(1)
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() > walSizeLimit {
		t.Errorf("after a restart the WAL file is %d MiB (%v); journal_size_limit should trim it to %d MiB", fi.Size()>>20, err, walSizeLimit>>20)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("a WAL outlived Close: %v", err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM blobs`).Scan(&n); err != nil || n != 225*32 {
		t.Fatalf("after reopening: %d rows (%v), want %d", n, err, 225*32)
	}
}

// TestReadyChecksTheCheckpointOnAFullDisk: on a full disk a small write
// can still land in the WAL's old space while the file cannot grow to take
// the WAL back. The checkpointer's refused round puts the store down, and
// readiness's probe, whose own write fits, must still answer
// storage_unavailable because its checkpoint is refused; once space is
// freed it answers ready. Needs a real full file system: a tmpfs (root).
func TestReadyChecksTheCheckpointOnAFullDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8388608", "tmpfs", dir).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("mounting a tmpfs is not permitted here (%v: %s): a full disk cannot be made for real", err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	ctx := context.Background()
	path := filepath.Join(dir, "c.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE blobs (b BLOB NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 16<<10)
	insert := func() error {
		rand.Read(blob)
		_, err := db.w.ExecContext(ctx, `INSERT INTO blobs (b) VALUES (?)`, blob)
		return err
	}
	// 1 MiB through the WAL, copied back: the WAL file keeps that space.
	for range 64 {
		if err := insert(); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the WAL copied back", func() bool { fi, err := os.Stat(path); return err == nil && fi.Size() >= 1<<20 })
	// Fill the disk.
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 4096); ; {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	// A new page fits in the WAL's old space; the file cannot grow for it.
	if err := insert(); err != nil {
		t.Fatalf("a write into the WAL's old space on a full disk: %v", err)
	}
	waitUntil(t, "the refused checkpoint to put the store down", func() bool { return db.health.Down() != nil })
	if err := db.Ready(ctx); !stored.IsUnavailable(err) {
		t.Fatalf("Ready on a full disk whose WAL cannot go back: %v, want storage_unavailable", err)
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready once space is freed: %v", err)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// TestCheckpointFailuresAreLogged: every failed checkpoint is counted;
// the first is logged at once, the next ones at most once a minute with
// how many there were, so a checkpointer failing every 100 ms for a
// reason that is not the disk's is heard without flooding the log.
func TestCheckpointFailuresAreLogged(t *testing.T) {
	var c checkpointLog
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	busy := errors.New("database is locked")
	c.note(busy, at) // no logger yet: counted only
	var buf bytes.Buffer
	c.log.Store(slog.New(slog.NewJSONHandler(&buf, nil)))
	lines := func() []map[string]any {
		var out []map[string]any
		for l := range strings.Lines(buf.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			out = append(out, m)
		}
		return out
	}
	c.note(busy, at)
	for i := range 599 { // every 100 ms for a minute, less one
		c.note(busy, at.Add(time.Duration(i+1)*100*time.Millisecond))
	}
	if got := lines(); len(got) != 1 || got[0]["level"] != "WARN" || got[0]["err"] != busy.Error() || got[0]["failures"] != 1.0 {
		t.Fatalf("after a minute of failures less 100 ms the log holds %v; want the first failure alone", got)
	}
	c.note(busy, at.Add(time.Minute))
	got := lines()
	if len(got) != 2 || got[1]["failures"] != 600.0 {
		t.Fatalf("a minute after the first line the log holds %v; want a second line counting 600 failures", got)
	}
	if n := c.failures.Load(); n != 602 {
		t.Errorf("failures = %d, want 602 (the one before the logger too)", n)
	}
}
