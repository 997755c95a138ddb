package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// maxGateReportBody bounds a gate's batch: MaxGateReports reports of two
// ids each fit in well under half of it.
const maxGateReportBody = 256 << 10

func (s *Server) handleProgress(w http.ResponseWriter, r *http.Request) {
	c, ok := s.campaign(w, r)
	if !ok {
		return
	}
	p, err := s.campaigns.Progress(r.Context(), c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// handleProgressSeries answers the campaign's samples, oldest first:
// ?from=RFC 3339 time (default: all) and ?points=N (2..1000, default 1000;
// a longer series is thinned evenly).
func (s *Server) handleProgressSeries(w http.ResponseWriter, r *http.Request) {
	c, ok := s.campaign(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var from time.Time
	if v := q.Get("from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "from", "from must be an RFC 3339 time such as 2026-05-01T00:00:00Z"))
			return
		}
		from = t
	}
	points := campaign.MaxSeriesPoints
	if v := q.Get("points"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > campaign.MaxSeriesPoints {
			writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "points", "points must be a whole number from 2 to %d", campaign.MaxSeriesPoints))
			return
		}
		points = n
	}
	series, err := s.campaigns.Series(r.Context(), c.ID, from, points)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaign": c.ID, "samples": series})
}

// gateReportBatch is what a gate posts.
type gateReportBatch struct {
	Reports []campaign.GateReport `json:"reports"`
	// Dropped is how many reports the gate could not keep since its last
	// accepted batch (its buffer was full).
	Dropped int64 `json:"dropped"`
}

// handleGateReports takes a gate's batch of denials and prompts. Each is
// a claim, checked by campaign.ReportFromGate.
func (s *Server) handleGateReports(w http.ResponseWriter, r *http.Request) {
	var b gateReportBatch
	if err := readJSON(w, r, &b, maxGateReportBody); err != nil {
		writeError(w, r, err)
		return
	}
	// Each report costs the server a session lookup: a gate token (a
	// stolen one included) gets a budget per second, and a gate over it
	// keeps its batch and sends it again after Retry-After.
	if !s.gateBudget.take(callerToken(r).ID, len(b.Reports), s.clock.Now()) {
		writeError(w, r, &cordon.Error{Code: cordon.ECodeThrottled, RetryAfter: 1,
			Message: fmt.Sprintf("a gate token may report at most %d denials and prompts a second; send the batch again in a second", MaxGateReportsPerSecond)})
		return
	}
	if b.Reports == nil {
		writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "reports", "reports is required (an array, possibly empty)"))
		return
	}
	if b.Dropped < 0 {
		writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "dropped", "dropped cannot be negative"))
		return
	}
	res, err := s.campaigns.ReportFromGate(r.Context(), b.Reports)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if b.Dropped > 0 || len(res.Refused) > 0 {
		s.log.Warn("gate reports", "gate", actor(r), "accepted", res.Accepted, "refused", len(res.Refused), "dropped_by_gate", b.Dropped)
	}
	writeJSON(w, http.StatusOK, res)
}

// MaxGateReportsPerSecond is the reports one gate token may send a second.
// A gate sends at most campaign.MaxGateReports every two seconds, and a
// few kept batches at once after an outage.
const MaxGateReportsPerSecond = 5 * campaign.MaxGateReports

// reportBudget counts the reports of each gate token in the current
// second (a fixed window: simple, and at most twice the rate across a
// window's edge).
type reportBudget struct {
	mu     sync.Mutex
	window int64 // Unix second
	used   map[string]int
}

// take spends n reports of token's budget at now, or reports it is spent.
func (b *reportBudget) take(token string, n int, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sec := now.Unix(); sec != b.window || b.used == nil {
		b.window, b.used = sec, map[string]int{}
	}
	if b.used[token]+n > MaxGateReportsPerSecond {
		return false
	}
	b.used[token] += n
	return true
}
