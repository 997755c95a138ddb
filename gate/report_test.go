package gate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// reportServer records the batches a Reporter posts; fail makes it
// answer 503 while set.
type reportServer struct {
	*httptest.Server
	mu      sync.Mutex
	batches []reportBatch
	auth    []string
	fail    bool
	status  int // when not 0, the answer to every batch
}

type reportBatch struct {
	Reports []map[string]string `json:"reports"`
	Dropped int64               `json:"dropped"`
}

func newReportServer(t *testing.T) *reportServer {
	rs := &reportServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/gate/reports" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong request", http.StatusBadRequest)
			return
		}
		if rs.fail {
			http.Error(w, `{"error":"storage_unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		if rs.status != 0 {
			http.Error(w, `{"error":"forbidden"}`, rs.status)
			return
		}
		var b reportBatch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rs.batches = append(rs.batches, b)
		rs.auth = append(rs.auth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"accepted":%d,"refused":[]}`, len(b.Reports))
	}))
	t.Cleanup(rs.Close)
	return rs
}

func newTestReporter(t *testing.T, url string, capacity int) *Reporter {
	t.Helper()
	r, err := NewReporter(ReporterConfig{Server: url, Token: "gate-secret", Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The buffer never holds more than its capacity; the rest is counted as
// dropped and the count travels with the next batch; a repeated pair is
// reported once.
func TestReporterBoundedAndBatched(t *testing.T) {
	rs := newReportServer(t)
	r := newTestReporter(t, rs.URL, 3)
	for i := range 5 {
		r.Record("c-1", fmt.Sprintf("s-%d", i), false)
	}
	r.Record("c-1", "s-0", false) // already held
	if st := r.Stats(); st.Pending != 3 || st.Dropped != 2 {
		t.Fatalf("after 5 distinct reports into 3 slots: %+v, want 3 pending, 2 dropped", st)
	}
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rs.batches) != 1 || len(rs.batches[0].Reports) != 3 || rs.batches[0].Dropped != 2 || rs.auth[0] != "Bearer gate-secret" {
		t.Fatalf("batches %+v, auth %q; want one of 3 reports with dropped 2, bearer gate-secret", rs.batches, rs.auth)
	}
	want := map[string]string{"campaign": "c-1", "session": "s-0", "outcome": "denied"}
	if got := rs.batches[0].Reports[0]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("first report: got %v, want %v", got, want)
	}
	r.Record("c-1", "s-0", false) // reported lately: not again
	r.Record("c-1", "s-0", true)  // a prompt is another report
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rs.batches) != 2 || len(rs.batches[1].Reports) != 1 || rs.batches[1].Reports[0]["outcome"] != "prompted" || rs.batches[1].Dropped != 0 {
		t.Errorf("second batch: %+v; want the prompt alone, nothing dropped", rs.batches[1:])
	}
}

// A batch the server does not take is kept for the next send, and a
// batch is never larger than the server takes.
func TestReporterKeepsWhatItCouldNotSend(t *testing.T) {
	rs := newReportServer(t)
	r := newTestReporter(t, rs.URL, 2500)
	rs.fail = true
	for i := range 2500 {
		r.Record("c-1", fmt.Sprintf("s-%d", i), false)
	}
	if err := r.Flush(t.Context()); err == nil {
		t.Fatal("Flush to a failing server: no error")
	}
	if st := r.Stats(); st.Pending != 2500 || st.Dropped != 0 {
		t.Fatalf("after a failed send: %+v, want all 2500 kept", st)
	}
	rs.fail = false
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	sizes := []int{}
	for _, b := range rs.batches {
		sizes = append(sizes, len(b.Reports))
	}
	if fmt.Sprint(sizes) != "[1000 1000 500]" {
		t.Errorf("batch sizes: %v, want [1000 1000 500]", sizes)
	}
	if st := r.Stats(); st.Sent != 2500 || st.Pending != 0 {
		t.Errorf("stats: %+v, want 2500 sent", st)
	}
}

// Every campaign denial and flexible prompt a Gate decides reaches its
// Reporter; allowed requests and refusals of other kinds do not.
func TestGateReportsWhatItEnforces(t *testing.T) {
	rs := newReportServer(t)
	rep := newTestReporter(t, rs.URL, 100)
	flex := campaign("c-flex", cordon.KindUpgrade, cordon.Cohort{Platforms: []string{cordon.PlatformIOS}}, upgrade("9.0.0", cordon.UpgradeFlexible))
	f := newFixture(t, Options{Reporter: rep}, reauthAndroid(), flex)
	android := f.token(claims())
	ios := f.token(claims(func(c *token.Claims) {
		c.SessionID, c.Platform, c.Version, c.Source = "s-ios", cordon.PlatformIOS, "8.4.0", cordon.SourceAppStore
	}))
	fresh := f.token(claims(func(c *token.Claims) { c.SessionID, c.AuthTime = "s-fresh", base }))
	for _, tok := range []string{android, android, ios, fresh, "not-a-token"} {
		newRecorder(f.g, bearerOf(tok), "")
	}
	if err := rep.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range rs.batches {
		for _, r := range b.Reports {
			got = append(got, r["campaign"]+" "+r["session"]+" "+r["outcome"])
		}
	}
	if want := "[c-reauth s-1 denied c-flex s-ios prompted]"; fmt.Sprint(got) != want {
		t.Errorf("reported %v, want %s", got, want)
	}
}

// BenchmarkReporterRecord is Record of a pair reported lately (a client
// retrying a denied request): a hash and two atomic loads.
func BenchmarkReporterRecord(b *testing.B) {
	r, err := NewReporter(ReporterConfig{Server: "http://127.0.0.1:9"})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("s_%026d", i)
		r.Record("c_01JAZ0000000000000000000000", ids[i], false)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Record("c_01JAZ0000000000000000000000", ids[i%len(ids)], false)
		i++
	}
	if st := r.Stats(); st.Pending != len(ids) || st.Dropped != 0 {
		b.Fatalf("stats %+v: want %d pending, none dropped (repeats are not queued)", st, len(ids))
	}
}

// A batch the server refuses for good (a token without scope gate) is
// dropped and counted, not kept to fill the buffer.
func TestReporterDropsWhatTheServerRefuses(t *testing.T) {
	rs := newReportServer(t)
	r := newTestReporter(t, rs.URL, 10)
	rs.status = http.StatusForbidden
	r.Record("c-1", "s-1", false)
	r.Record("c-1", "s-2", false)
	if err := r.Flush(t.Context()); err == nil {
		t.Fatal("Flush refused with 403: no error")
	}
	if st := r.Stats(); st.Pending != 0 || st.Dropped != 2 {
		t.Errorf("after a 403: %+v, want nothing pending, 2 dropped", st)
	}
	rs.status = 0
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rs.batches) != 1 || rs.batches[0].Dropped != 2 || len(rs.batches[0].Reports) != 0 {
		t.Errorf("next batch: %+v, want no reports and dropped 2", rs.batches)
	}
}
