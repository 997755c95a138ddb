package decision

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current engine")

var base = time.Date(2014, 5, 27, 8, 0, 0, 0, time.UTC)

func live() *cordon.Session {
	return &cordon.Session{ID: "s-1", AccountID: "u-1", AuthTime: base.Add(-time.Hour),
		Facts: cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore", Device: "d-1"}}
}

func revoked() *cordon.Session {
	s := live()
	s.RevokedAt, s.RevokeReason = base.Add(-time.Minute), cordon.RevokeLogout
	return s
}

// cases are the golden decision table: each name's decision is recorded in
// testdata/decisions.golden and compared on every run.
var cases = []struct {
	name string
	in   Input
}{
	{"live session", Input{Session: live(), Now: base, Policy: &Policy{Version: 1}}},
	{"live session, no client header", Input{Session: live(), Client: cordon.UnknownClient, Now: base, Policy: &Policy{}}},
	{"revoked session", Input{Session: revoked(), Now: base, Policy: &Policy{Version: 1}}},
	{"no session", Input{Now: base, Policy: &Policy{Version: 1}}},
	{"nil policy", Input{Session: live(), Now: base}},
}

func TestGolden(t *testing.T) {
	got := make(map[string]Decision, len(cases))
	var names []string
	for _, c := range cases {
		got[c.name] = Decide(&c.in)
		names = append(names, c.name)
	}
	var buf bytes.Buffer
	for _, n := range names {
		line, err := json.Marshal(struct {
			Case     string   `json:"case"`
			Decision Decision `json:"decision"`
		}{n, got[n]})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	path := filepath.Join("testdata", "decisions.golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update once): %v", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("decisions differ from %s (go test -update rewrites it after review)\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
	}
}

func TestDecideAllocs(t *testing.T) {
	in := Input{Session: live(), Now: base, Policy: &Policy{Version: 1}}
	if n := testing.AllocsPerRun(100, func() { _ = Decide(&in) }); n != 0 {
		t.Errorf("Decide allocated %v times per call, want 0", n)
	}
}

func BenchmarkDecide(b *testing.B) {
	in := Input{Session: live(), Now: base, Policy: &Policy{Version: 1}}
	b.ReportAllocs()
	for b.Loop() {
		_ = Decide(&in)
	}
}

// BenchmarkMapLookup is the baseline a decision is compared to.
func BenchmarkMapLookup(b *testing.B) {
	m := map[string]int{"s-1": 1, "s-2": 2}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n += m["s-1"]
	}
	_ = n
}
