package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// The WAL is checkpointed (its pages copied back into the database file)
// by a connection of its own, not by the writer. SQLite's default
// checkpoints inside the commit that takes the WAL past 1,000 pages, so
// the write that happens to cross it pays for every write before it: on
// an audit append to a grown log (about four random index pages an
// entry) the checkpoint's reads, writes and fsync were a third of the
// batch. Here the writer only appends to the WAL, and a PASSIVE
// checkpoint on the other connection copies pages back while the writer
// goes on (PASSIVE never blocks the writer or a reader). The writer keeps
// an automatic checkpoint at checkpointBackstop pages, far past what the
// checkpointer lets the WAL reach, so a checkpointer that stalls costs
// the old behaviour, not an unbounded WAL.
const (
	// checkpointEvery is how often the checkpointer looks while writes
	// come; it backs off, doubling, to checkpointIdle when the WAL holds
	// nothing new.
	checkpointEvery = 20 * time.Millisecond
	checkpointIdle  = time.Second
	// checkpointBackstop is the writer's own wal_autocheckpoint, in pages.
	checkpointBackstop = 16384
)

// checkpointer runs PASSIVE checkpoints on a connection of its own until
// stopped.
type checkpointer struct {
	c    *sql.DB
	fail func(error) // told of every failed round
	stop chan struct{}
	done chan struct{}
	once sync.Once

	last   [2]int64     // the WAL's frames and copied frames at the last round
	copies atomic.Int64 // rounds that found new frames, for tests
}

func startCheckpointer(dsn string, fail func(error)) (*checkpointer, error) {
	c, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	c.SetConnMaxLifetime(0)
	c.SetConnMaxIdleTime(0)
	k := &checkpointer{c: c, fail: fail, stop: make(chan struct{}), done: make(chan struct{})}
	go k.run()
	return k, nil
}

func (k *checkpointer) run() {
	defer close(k.done)
	wait := checkpointEvery
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		if k.round() {
			wait = checkpointEvery
		} else {
			wait = min(2*wait, checkpointIdle)
		}
		t.Reset(wait)
	}
}

// round runs one PASSIVE checkpoint and reports whether the WAL had
// changed since the last round. A failure (the disk full, an I/O error)
// goes to fail and is tried again next round; the WAL keeps every commit
// either way, and the writer's backstop checkpoints if this never does.
func (k *checkpointer) round() bool {
	frames, copied, err := k.checkpoint(context.Background())
	if err != nil {
		k.fail(err)
		return false
	}
	// frames and copied count the WAL since its last restart: the same
	// pair as last round means no commit came in between.
	now := [2]int64{frames, copied}
	if now == k.last {
		return false
	}
	k.last = now
	k.copies.Add(1)
	return true
}

// checkpoint runs one PASSIVE checkpoint: the WAL's frames, and how many
// of them are in the database file now.
func (k *checkpointer) checkpoint(ctx context.Context) (frames, copied int64, err error) {
	var busy int64
	err = k.c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return frames, copied, err
}

// close stops the checkpointer and closes its connection (before the
// writer's: the last connection to close checkpoints and removes the WAL).
func (k *checkpointer) close() error {
	if k == nil {
		return nil
	}
	k.once.Do(func() { close(k.stop) })
	<-k.done
	return k.c.Close()
}
