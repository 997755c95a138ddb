package sqlite

import (
	"context"
	"database/sql"
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
// goes on (PASSIVE never blocks the writer or a reader).
//
// What restarts the WAL (the writer going back to its first frame) is a
// write that begins while every frame is copied back. Between writes that
// happens whenever the checkpointer catches up; under sustained writes it
// rarely does, and the writer's own automatic checkpoint, kept at
// checkpointBackstop pages, is what restarts it: the WAL then grows to
// about 64 MiB. The backstop is soft: when the checkpointer holds the
// checkpoint lock, the writer's attempt is busy and the WAL grows by the
// commits of that round. journal_size_limit trims the file back to
// 16 MiB after a restart, so the disk does not keep the high-water mark.
const (
	// checkpointEvery is how often the checkpointer looks while writes
	// come; it backs off, doubling, to checkpointIdle when the WAL holds
	// nothing new. 100 ms, not 20: each round that copies ends with an
	// fsync of the file, and small writes (refreshes) slowed ~14 % beside
	// rounds every 20 ms; audit appends did as well or better at 100.
	checkpointEvery = 100 * time.Millisecond
	checkpointIdle  = time.Second
	// checkpointBackstop is the writer's own wal_autocheckpoint, in pages.
	checkpointBackstop = 16384
	// walSizeLimit is the journal_size_limit, in bytes.
	walSizeLimit = 16 << 20
)

// checkpointer runs PASSIVE checkpoints on a connection of its own until
// stopped.
type checkpointer struct {
	c      *sql.DB
	fail   func(error) // told of every failed round
	ctx    context.Context
	cancel context.CancelFunc // interrupts a round at close (harmless: the WAL keeps every frame)
	done   chan struct{}

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
	ctx, cancel := context.WithCancel(context.Background())
	k := &checkpointer{c: c, fail: fail, ctx: ctx, cancel: cancel, done: make(chan struct{})}
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
		case <-k.ctx.Done():
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
	busy, frames, copied, err := k.checkpoint(k.ctx)
	if err != nil {
		if k.ctx.Err() == nil {
			k.fail(err)
		}
		return false
	}
	if busy != 0 {
		// The writer's own checkpoint holds the lock: nothing learnt.
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

// checkpoint runs one PASSIVE checkpoint: whether another checkpoint held
// the lock, the WAL's frames, and how many of them are in the database
// file now.
func (k *checkpointer) checkpoint(ctx context.Context) (busy, frames, copied int64, err error) {
	err = k.c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return busy, frames, copied, err
}

// close stops the checkpointer, interrupting a round in progress, and
// closes its connection (before the writer's: the last connection to
// close checkpoints and removes the WAL).
func (k *checkpointer) close() error {
	if k == nil {
		return nil
	}
	k.cancel()
	<-k.done
	return k.c.Close()
}
