package sqlite

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
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
