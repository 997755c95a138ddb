package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/httpapi"
)

// TestGateReportBudget: a gate token (a stolen one too) may make the
// server check at most MaxGateReportsPerSecond reports a second; over it,
// 429 too_many_attempts with Retry-After, and a second later the budget
// is back. Reports are claims checked one by one, so the budget counts
// reports, refused ones included.
func TestGateReportBudget(t *testing.T) {
	e := newEnv(t)
	reports := make([]campaign.GateReport, campaign.MaxGateReports)
	for i := range reports {
		reports[i] = campaign.GateReport{Campaign: "c-none", Session: "s-none", Outcome: "denied"}
	}
	body, err := json.Marshal(map[string]any{"reports": reports})
	if err != nil {
		t.Fatal(err)
	}
	send := func() *http.Response {
		res, _ := e.do(t, "POST", "/v1/gate/reports", "application/json", string(body), "root")
		return res
	}
	for i := range httpapi.MaxGateReportsPerSecond / campaign.MaxGateReports {
		if res := send(); res.StatusCode != http.StatusOK {
			t.Fatalf("batch %d within the budget: %d", i, res.StatusCode)
		}
	}
	res, out := e.do(t, "POST", "/v1/gate/reports", "application/json", string(body), "root")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" || out["error"] != "too_many_attempts" ||
		!strings.Contains(out["message"].(string), "send the batch again") {
		t.Fatalf("a batch over the budget: %d %v (Retry-After %q), want 429 too_many_attempts", res.StatusCode, out, res.Header.Get("Retry-After"))
	}
	e.clk.Advance(time.Second)
	if res := send(); res.StatusCode != http.StatusOK {
		t.Errorf("a second later: %d, want the budget back", res.StatusCode)
	}
}
