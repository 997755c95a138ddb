package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// evAct is an event with an action, dated minute minutes past two hours
// before auditNow.
func evAct(minute int, principal, action, subject string, categories ...string) string {
	cs, _ := json.Marshal(categories)
	return fmt.Sprintf(`{"time":%q,"principal":%q,"action":%q,"subject":%q,"categories":%s}`,
		auditNow.Add(time.Duration(minute-120)*time.Minute).Format(time.RFC3339), principal, action, subject, cs)
}

// questionLog ingests a log where alice appears as "alice", "ALICE" and
// her account id, and two subjects name no account.
func questionLog(t *testing.T, m *Main) (aliceID string) {
	t.Helper()
	ids := importUsers(t, m, "alice", "bob")
	r := ingest(t, m, "application/x-ndjson", strings.Join([]string{
		evAct(0, "svc-support", "read", "alice", "profile"),
		evAct(1, "svc-support", "export", ids[0], "payment"),
		evAct(2, "svc-billing", "read", "ALICE", "payment", "email"),
		evAct(3, "svc-billing", "delete", "bob", "password_hash"),
		evAct(4, "ada@corp", "read", "no-such-user", "profile"),
		evAct(5, "svc-support", "write", "user-0042", "payment"),
		evAct(6, "svc_x", "read", "bob", "profile"),
	}, "\n"))
	if r.status != http.StatusOK {
		t.Fatalf("ingest: %v", r)
	}
	return ids[0]
}

func TestAuditReportCountsAccounts(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	questionLog(t, m)
	r := send(t, "GET", m.URL()+"/admin/v1/audit/report?principal=svc-*&principal=ada@corp&format=text", admin(), nil)
	if want := "2 users, 2 unresolved subjects; 6 events: 3 read, 1 write, 1 export, 1 delete; profile, email, password_hash, payment"; r.status != http.StatusOK || !strings.HasPrefix(string(r.raw), want) {
		t.Errorf("report: %v, want it to begin %q", r, want)
	}
	// "*" is every principal, not none: the 7 events and the record of
	// the report above (a cordon object, not a user).
	r = send(t, "GET", m.URL()+"/admin/v1/audit/report?principal=*", admin(), nil)
	if rep, _ := r.body["report"].(map[string]any); r.status != http.StatusOK || count(rep["events"]) != 8 || count(rep["users"]) != 2 || count(rep["cordon_objects"]) != 1 {
		t.Errorf("report of *: %v", r)
	}
}

func TestAuditQuestions(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	aliceID := questionLog(t, m)
	get := func(path string, v url.Values) apiResp {
		return send(t, "GET", m.URL()+"/admin/v1/audit/"+path+"?"+v.Encode(), admin(), nil)
	}
	// Who touched alice: any of her names finds every entry of her account.
	for _, name := range []string{"alice", "Alice", aliceID} {
		r := get("subject", url.Values{"subject": {name}})
		a, _ := r.body["answer"].(map[string]any)
		rows, _ := r.body["principals"].([]any)
		if r.status != http.StatusOK || a["account"] != aliceID || count(a["events"]) != 3 || len(rows) != 2 {
			t.Fatalf("subject %s: %v", name, r)
		}
	}
	r := get("subject", url.Values{"subject": {"alice"}, "format": {"text"}})
	if want := "alice (account " + aliceID + "): touched by 2 principals in 3 events: 2 read, 1 export; email, payment, profile\n"; r.status != http.StatusOK || !strings.HasPrefix(string(r.raw), want) ||
		!strings.Contains(string(r.raw), "  svc-support: 2 events: 1 read, 1 export; payment, profile;") {
		t.Errorf("subject text: %v, want it to begin %q", r, want)
	}
	r = get("subject", url.Values{"subject": {"user-0042"}, "format": {"text"}})
	if want := "user-0042 (names no account: unresolved): touched by 1 principal in 1 event: 1 write; payment"; !strings.HasPrefix(string(r.raw), want) {
		t.Errorf("unresolved subject: %v, want %q", r, want)
	}
	// Who touched payment, as CSV.
	r = get("category", url.Values{"category": {"payment"}, "format": {"csv"}})
	rows, err := csv.NewReader(bytes.NewReader(r.raw)).ReadAll()
	want := [][]string{
		{"principal", "events", "categories", "first", "last", "read", "write", "export", "delete"},
		{"svc-billing", "1", "email payment"},
		{"svc-support", "2", "payment"},
	}
	if err != nil || r.status != http.StatusOK || len(rows) != 3 || rows[0][8] != "delete" || rows[1][0] != want[1][0] || rows[1][2] != want[1][2] ||
		rows[2][0] != "svc-support" || rows[2][1] != "2" || rows[2][6] != "1" || rows[2][7] != "1" {
		t.Errorf("category payment CSV: %q (%v)", rows, err)
	}
	r = get("category", url.Values{"category": {"password_hash"}, "format": {"text"}})
	if want := "password_hash: touched by 1 principal in 1 event: 1 delete\n"; !strings.HasPrefix(string(r.raw), want) {
		t.Errorf("category text: %v, want %q", r, want)
	}
	// A window that misses everything.
	r = get("category", url.Values{"category": {"payment"}, "to": {auditNow.Add(-3 * time.Hour).Format(time.RFC3339)}})
	if a, _ := r.body["answer"].(map[string]any); r.status != http.StatusOK || count(a["principals_found"]) != 0 {
		t.Errorf("empty window: %v", r)
	}
	// The principals the log knows; patterns are literal but for '*'.
	// The window ends before the records of these questions.
	before := auditNow.Add(-time.Hour).Format(time.RFC3339)
	r = get("principals", url.Values{"format": {"text"}, "to": {before}})
	if want := "the log knows 4 principals in 7 events: 4 read, 1 write, 1 export, 1 delete;"; !strings.HasPrefix(string(r.raw), want) {
		t.Errorf("principals: %v, want %q", r, want)
	}
	for _, tc := range []struct {
		patterns []string
		found    int64
	}{
		{[]string{"svc-*"}, 2},
		{[]string{"svc_*"}, 1},
		{[]string{"svc%"}, 0},
		{[]string{"%"}, 0},
		{[]string{"_"}, 0},
		{[]string{`\`}, 0},
		{[]string{`svc\_x`}, 0},
		{[]string{"SVC-*"}, 0},
		{[]string{"*@corp", "svc-billing"}, 2},
	} {
		r := get("principals", url.Values{"principal": tc.patterns, "to": {before}})
		if a, _ := r.body["answer"].(map[string]any); r.status != http.StatusOK || count(a["principals_found"]) != tc.found {
			t.Errorf("principals %q: %v, want %d", tc.patterns, r, tc.found)
		}
	}
}

// The questions are reads of the log, recorded in it; a refused one is not.
func TestAuditQuestionsRecorded(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	questionLog(t, m)
	size := func() uint64 {
		n, err := m.Audit.Size(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := size()
	for _, path := range []string{"subject?subject=alice", "category?category=payment", "principals?principal=svc-*"} {
		if r := send(t, "GET", m.URL()+"/admin/v1/audit/"+path, admin(), nil); r.status != http.StatusOK {
			t.Fatalf("%s: %v", path, r)
		}
	}
	wantFieldError(t, send(t, "GET", m.URL()+"/admin/v1/audit/category?category=shoe_size", admin(), nil), 400, "invalid_request", "category")
	if got := size(); got != before+3 {
		t.Fatalf("log size %d after 3 questions and a refused one, want %d", got, before+3)
	}
	leaves := auditLeaves(t, m)
	for i, want := range []string{"subject question: subject alice", "category question: category payment", "principals question; principals svc-*"} {
		e := leaves[int(before)+i]
		if e.Subject != "cordon:audit-log" || e.Action != "read" || !strings.HasPrefix(e.Purpose, want) {
			t.Errorf("record %d: %+v, want a read of the log for %q", i, e, want)
		}
	}
}

func TestAuditQuestionsBadInput(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	writer := mintToken(t, m, "reporter", cordon.ScopeAuditWrite)
	for _, path := range []string{"subject?subject=alice", "category?category=payment", "principals"} {
		wantError(t, send(t, "GET", m.URL()+"/admin/v1/audit/"+path, hdr("Authorization", "Bearer "+writer), nil), http.StatusForbidden, "forbidden")
		wantError(t, send(t, "GET", m.URL()+"/admin/v1/audit/"+path, nil, nil), http.StatusUnauthorized, "unauthorized")
	}
	for _, tc := range []struct {
		name, path string
		v          url.Values
		field      string
	}{
		{"no subject", "subject", url.Values{}, "subject"},
		{"two subjects", "subject", url.Values{"subject": {"a", "b"}}, "subject"},
		{"empty subject", "subject", url.Values{"subject": {""}}, "subject"},
		{"oversized subject", "subject", url.Values{"subject": {strings.Repeat("a", 257)}}, "subject"},
		{"unprintable subject", "subject", url.Values{"subject": {"al\x1bice"}}, "subject"},
		{"no category", "category", url.Values{}, "category"},
		{"unknown category", "category", url.Values{"category": {"%"}}, "category"},
		{"too many stars", "principals", url.Values{"principal": {"*a*b*c*d*"}}, "principal"},
		{"oversized principal", "principals", url.Values{"principal": {strings.Repeat("*", 1) + strings.Repeat("a", 300)}}, "principal"},
		{"too many principals", "principals", url.Values{"principal": strings.Fields(strings.Repeat("p ", 101))}, "principal"},
		{"empty principal", "principals", url.Values{"principal": {""}}, "principal"},
		{"bad from", "principals", url.Values{"from": {"yesterday"}}, "from"},
		{"bad to", "category", url.Values{"category": {"payment"}, "to": {"2026-13-01"}}, "to"},
		{"empty window", "principals", url.Values{"from": {"2026-11-29T00:00:00Z"}, "to": {"2026-11-29T00:00:00Z"}}, "to"},
		{"bad format", "principals", url.Values{"format": {"xml"}}, "format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFieldError(t, send(t, "GET", m.URL()+"/admin/v1/audit/"+tc.path+"?"+tc.v.Encode(), admin(), nil), 400, "invalid_request", tc.field)
		})
	}
	// The report takes the same patterns, and refuses the same.
	wantFieldError(t, send(t, "GET", m.URL()+"/admin/v1/audit/report?principal=*a*b*c*d*e", admin(), nil), 400, "invalid_request", "principal")
}

// TestAuditQuestionsCLI drives the questions as an operator would.
func TestAuditQuestionsCLI(t *testing.T) {
	m := cliServer(t) // on the real clock: events are dated from it
	ids := importUsers(t, m, "alice")
	now := time.Now()
	lines := []string{
		evAt(now, 0, "svc-support", "alice", "profile"),
		evAt(now, 1, "svc-support", ids[0], "payment"),
		evAt(now, 2, "svc-billing", "ALICE", "payment"),
		evAt(now, 3, "ada@corp", "ghost", "email"),
	}
	if r := cli(t, strings.Join(lines, "\n"), "audit", "send"); r.err != nil {
		t.Fatalf("audit send: %v", r)
	}
	r := cli(t, "", "audit", "report", "--subject", "alice")
	if want := "alice (account u-alice): touched by 2 principals in 3 events: 3 read; payment, profile\n"; r.err != nil || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("report --subject: %v, want %q", r, want)
	}
	r = cli(t, "", "audit", "report", "--category", "payment", "--principal", "svc-b*", "--format", "csv")
	if want := "principal,events,categories,first,last,read,write,export,delete\nsvc-billing,1,payment,"; r.err != nil || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("report --category --format csv: %v, want %q", r, want)
	}
	r = cli(t, "", "audit", "report", "--principal", "*", "--to", now.Format(time.RFC3339))
	if want := "1 user, 1 unresolved subject; 4 events: 4 read;"; r.err != nil || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("report --principal '*': %v, want %q", r, want)
	}
	r = cli(t, "", "audit", "principals", "--to", now.Format(time.RFC3339), "--format", "json")
	var out struct {
		Answer struct {
			Found   int              `json:"principals_found"`
			Actions map[string]int64 `json:"actions"`
		} `json:"answer"`
		Principals []struct {
			Principal string `json:"principal"`
		} `json:"principals"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); r.err != nil || err != nil || out.Answer.Found != 3 || out.Answer.Actions["read"] != 4 || out.Principals[0].Principal != "ada@corp" {
		t.Errorf("principals --format json: %v (%v) %+v", r, err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "report", "--subject", "a", "--category", "payment"}, "not both"},
		{[]string{"audit", "report", "--subject", "a", "--save"}, "--save"},
		{[]string{"audit", "report"}, "--subject USER"},
		{[]string{"audit", "principals", "--format", "xml"}, "--format"},
	} {
		if r := cli(t, "", tc.args...); r.code != 2 || r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("%q: %v, want a usage error naming %s", tc.args, r, tc.want)
		}
	}
	// A refusal from the server reaches the operator.
	if r := cli(t, "", "audit", "report", "--category", "shoe_size"); r.code != 1 || r.err == nil || !strings.Contains(r.err.Error(), "unknown category") {
		t.Errorf("unknown category: %v", r)
	}
}

func TestAuditCheckpointPages(t *testing.T) {
	m := cliServer(t)
	now := time.Now()
	for i := range 5 {
		if r := ingest(t, m, "application/json", "["+evAt(now, i, "svc", "alice", "profile")+"]"); r.status != http.StatusOK {
			t.Fatalf("ingest: %v", r)
		}
		if _, err := m.Audit.Checkpoint(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	var sizes []float64
	after := "0"
	for pages := 0; ; pages++ {
		r := send(t, "GET", m.URL()+"/audit/v1/checkpoints?after="+after+"&limit=2", admin(), nil)
		cps, _ := r.body["checkpoints"].([]any)
		if r.status != http.StatusOK || len(cps) > 2 || pages > 3 {
			t.Fatalf("page after %s: %v", after, r)
		}
		for _, c := range cps {
			sizes = append(sizes, c.(map[string]any)["size"].(float64))
		}
		next, ok := r.body["next_after"].(float64)
		if !ok {
			break
		}
		after = strconv.FormatFloat(next, 'f', -1, 64)
	}
	if fmt.Sprint(sizes) != "[1 2 3 4 5]" {
		t.Errorf("paged sizes %v, want 1..5", sizes)
	}
	// Without after and limit: every checkpoint, as verify reads them.
	if r := send(t, "GET", m.URL()+"/audit/v1/checkpoints", admin(), nil); len(r.body["checkpoints"].([]any)) != 5 || r.body["next_after"] != nil {
		t.Errorf("all checkpoints: %v", r)
	}
	for _, q := range []string{"limit=0", "limit=10001", "limit=x", "after=-1", "after=1&limit=99999999999999999999"} {
		wantError(t, send(t, "GET", m.URL()+"/audit/v1/checkpoints?"+q, admin(), nil), http.StatusBadRequest, "invalid_request")
	}
	r := cli(t, "", "audit", "checkpoints", "--limit", "2", "--after", "2")
	if r.err != nil || !strings.Contains(r.stdout, `"size": 3`) || !strings.Contains(r.stdout, `"size": 4`) || !strings.Contains(r.stdout, `"next_after": 4`) {
		t.Errorf("audit checkpoints --limit 2 --after 2: %v", r)
	}
	if r := cli(t, "", "audit", "checkpoints", "--limit", "0", "--after", "2"); r.code != 2 {
		t.Errorf("--limit 0: %v, want a usage error", r)
	}
}
