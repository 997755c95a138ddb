package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

const (
	// DefaultPing is how often an idle stream carries a comment: often
	// enough that proxies with a 30–60 s idle timeout keep the connection
	// and a Client (45 s by default) can tell a quiet feed from a dead one.
	DefaultPing = 15 * time.Second

	// writeTimeout bounds one write to a gate. A gate that stops reading
	// would otherwise hold the handler (and its connection) until TCP gives
	// up, long after the hub dropped its subscription.
	writeTimeout = 30 * time.Second
)

// HandlerOption tunes Handler.
type HandlerOption func(*handler)

// WithPing sets the interval of the keep-alive comment (DefaultPing).
func WithPing(d time.Duration) HandlerOption {
	return func(h *handler) {
		if d > 0 {
			h.ping = d
		}
	}
}

type handler struct {
	hub  *Hub
	log  *slog.Logger
	ping time.Duration
}

// Handler serves the hub as server-sent events: a GET resumes after its
// Last-Event-ID header (or, for clients that cannot set headers, the
// last_event_id query parameter) and then streams until the client goes or
// the hub drops it for falling behind. Each event is "id: EPOCH:SEQ",
// "event: KIND" and one "data:" line of JSON; an idle stream carries a
// ": ping" comment. Authentication is the caller's: wrap the handler.
func Handler(h *Hub, log *slog.Logger, opts ...HandlerOption) http.Handler {
	hd := &handler{hub: h, log: log, ping: DefaultPing}
	for _, o := range opts {
		o(hd)
	}
	return hd
}

func (hd *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, cordon.ECodeMethod, "the feed is read with GET")
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	ctx := r.Context()
	sub, err := hd.hub.Subscribe(ctx, lastID)
	if err != nil {
		if ctx.Err() != nil {
			return // the gate left while its snapshot was built
		}
		hd.log.ErrorContext(ctx, "feed: subscribe", "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, cordon.ECodeOverloaded, "the policy feed is unavailable; retry")
		return
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	// The per-write deadlines below also lift the server's WriteTimeout,
	// which a stream would outlive; clear them for whatever request uses
	// the connection next.
	defer rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		hd.log.ErrorContext(ctx, "feed: response cannot stream", "err", err)
		return
	}

	ping := time.NewTicker(hd.ping)
	defer ping.Stop()
	var buf bytes.Buffer
	for {
		buf.Reset()
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Events():
			if !ok {
				hd.log.WarnContext(ctx, "feed: subscriber fell behind; dropped", "last_event_id", lastID)
				return
			}
			if err := appendEvent(&buf, e); err != nil {
				hd.log.ErrorContext(ctx, "feed: encode event", "id", e.ID(), "err", err)
				return
			}
			if buf.Len() > MaxLine {
				// A gate refuses it and keeps reconnecting: say so here,
				// where an operator can see which event is too big.
				hd.log.ErrorContext(ctx, "feed: event larger than a gate accepts", "id", e.ID(), "bytes", buf.Len(), "max", MaxLine)
			}
			lastID = e.ID()
		case <-ping.C:
			buf.WriteString(": ping\n\n")
		}
		if err := hd.write(rc, w, buf.Bytes(), len(sub.Events()) == 0); err != nil {
			hd.log.DebugContext(ctx, "feed: write", "err", err)
			return
		}
		ping.Reset(hd.ping) // any bytes prove the stream alive
	}
}

// write sends b and, when nothing else is waiting, flushes: a replay goes
// out in full buffers, a live event at once.
func (hd *handler) write(rc *http.ResponseController, w http.ResponseWriter, b []byte, flush bool) error {
	if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if !flush {
		return nil
	}
	return rc.Flush()
}

// appendEvent frames e. encoding/json escapes newlines in strings and
// compacts raw messages (JWKS), so the data is always one line.
func appendEvent(buf *bytes.Buffer, e Event) error {
	if strings.ContainsAny(e.Kind, "\r\n") {
		return fmt.Errorf("feed: event kind %q would break the framing", e.Kind)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	buf.WriteString("id: ")
	buf.WriteString(e.ID())
	buf.WriteString("\nevent: ")
	buf.WriteString(e.Kind)
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
	return nil
}

// writeError answers with the wire contract's JSON error body.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": message})
}
