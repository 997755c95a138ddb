package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/mod/sumdb/note"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// live serves a fragment as a server-sent event stream: the fragment
// rendered now, then again every LiveEvery when it changed. The page's
// script (static/live.js) swaps it into the element that named the
// stream; without the script the page shows the fragment as served.
func (c *Console) live(render func(*http.Request) (template.HTML, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(c.cfg.Closing, cancel)()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(c.cfg.LiveEvery)
		defer tick.Stop()
		var last template.HTML
		ck, _ := r.Cookie(CookieName)
		for {
			// A stream lives as long as its session: signed out or expired,
			// it ends at the next tick.
			if _, _, err := c.cfg.Store.ConsoleSession(ctx, hashSecret(ck.Value), c.cfg.Clock.Now()); err != nil {
				return
			}
			html, err := render(r.WithContext(ctx))
			if err != nil {
				if ctx.Err() == nil {
					c.cfg.Log.Warn("console: live fragment", "path", r.URL.Path, "err", err)
				}
				return
			}
			if html != last {
				last = html
				// SSE data lines may not hold a newline: each line of the
				// fragment is a data line, and the client joins them.
				var b strings.Builder
				b.WriteString("event: fragment\n")
				for _, line := range strings.Split(string(html), "\n") {
					fmt.Fprintf(&b, "data: %s\n", strings.TrimSuffix(line, "\r"))
				}
				b.WriteString("\n")
				if _, err := io.WriteString(w, b.String()); err != nil {
					return
				}
			} else if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
}

// semverBelow is the constraint "< v".
func semverBelow(v string) (*semver.Constraints, error) {
	if _, err := semver.NewVersion(v); err != nil {
		return nil, err
	}
	return semver.NewConstraint("< " + v)
}

// verifyJob is the node's audit verification: one at a time, run in the
// background so a log of millions of entries shows its progress (the
// audit page streams it) instead of holding a request open.
type verifyJob struct {
	Running      bool
	By           string
	Done, Total  uint64
	Started, End time.Time
	Report       *audit.Report
	Err          string
}

// handleVerify starts a verification unless one runs: it recomputes the
// log's tree from every stored entry and checks it against every signed
// checkpoint, with the server's own key. It finds damage to the store (an
// edited or deleted row); an auditor who does not trust the server runs
// cordon audit verify with the key they hold.
func (c *Console) handleVerify(w http.ResponseWriter, r *http.Request) {
	a := admin(r)
	size, err := c.cfg.Audit.Size(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, a, audit.ActionRead, "cordon:audit-log", "audit log verified", "audit_log"); err != nil {
		c.fail(w, r, err)
		return
	}
	c.mu.Lock()
	if !c.job.Running {
		c.job = verifyJob{Running: true, By: a.Name, Total: size, Started: c.cfg.Clock.Now()}
		go c.runVerify(size)
	}
	c.mu.Unlock()
	http.Redirect(w, r, Prefix+"/audit", http.StatusSeeOther)
}

func (c *Console) runVerify(n uint64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(c.cfg.Closing, cancel)()
	rep, err := c.verify(ctx, n, func(done uint64) {
		c.mu.Lock()
		c.job.Done = done
		c.mu.Unlock()
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.job.Running, c.job.End = false, c.cfg.Clock.Now()
	switch {
	case errors.Is(err, audit.ErrNoCheckpoint):
		c.job.Err = "no signed checkpoint yet: there is nothing to verify the entries against. The server signs one soon after entries arrive; try again in a minute."
	case err != nil:
		var te *audit.TamperError
		var ce *cordon.Error
		if !errors.As(err, &te) && !errors.As(err, &ce) {
			c.cfg.Log.Error("console: audit verification", "err", err)
		}
		c.job.Err = err.Error()
	default:
		c.job.Report, c.job.Done = &rep, rep.Entries
	}
}

func (c *Console) verifyState() verifyJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.job
	return j
}

func (c *Console) auditLive(*http.Request) (template.HTML, error) {
	return c.fragment("audit-verify", c.verifyState())
}

func (c *Console) verify(ctx context.Context, n uint64, progress func(done uint64)) (audit.Report, error) {
	v, err := note.NewVerifier(c.cfg.Audit.VerifierKey())
	if err != nil {
		return audit.Report{}, err
	}
	cps, err := c.cfg.Audit.Checkpoints(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	var checkpoints []audit.Checkpoint
	for _, cp := range cps {
		if cp.Size <= n {
			checkpoints = append(checkpoints, audit.Checkpoint{Origin: c.cfg.Audit.Origin(), Note: cp.Note})
		}
	}
	// Entries come by callback; VerifyLog pulls: a goroutine hands them
	// over one at a time.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan audit.StoredEntry)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		errc <- c.cfg.Audit.Entries(ctx, 0, n, func(e *cordon.AuditEntry) error {
			// Copied: a store may reuse the buffers once fn returns.
			se := audit.StoredEntry{Index: e.Index, Leaf: bytes.Clone(e.Leaf), LeafHash: bytes.Clone(e.LeafHash)}
			select {
			case ch <- se:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	next := func() (audit.StoredEntry, error) {
		e, ok := <-ch
		if !ok {
			if err := <-errc; err != nil {
				return audit.StoredEntry{}, err
			}
			return audit.StoredEntry{}, io.EOF
		}
		return e, nil
	}
	return audit.VerifyLog(next, n, checkpoints, note.VerifierList(v), progress)
}
