package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden")

func fixedMeta() Meta {
	return Meta{Date: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC), NProc: 2, GoVersion: "go1.26.8",
		Command: "go test -run '^$' -bench . -benchmem -count 5 -timeout 60m ./...", Bench: "."}
}

func parseFile(t *testing.T, name string) (*Results, string) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var warn bytes.Buffer
	res, err := parse(f, name, &warn)
	if err != nil {
		t.Fatalf("parse(%s): %v", name, err)
	}
	res.trimModule("github.com/cordon-dev/cordon")
	return res, warn.String()
}

func TestReportGolden(t *testing.T) {
	res, warn := parseFile(t, "testdata/bench.txt")
	if !strings.Contains(warn, "bench.txt:24") {
		t.Errorf("the malformed line 24 was not reported; warnings:\n%s", warn)
	}
	var got bytes.Buffer
	if err := write(&got, res, fixedMeta(), pairs); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("report differs from %s (go test -update rewrites it):\n%s", golden, got.String())
	}
}

// TestReportFigures checks the figures the golden file holds, so an
// -update cannot bless a wrong median.
func TestReportFigures(t *testing.T) {
	res, _ := parseFile(t, "testdata/bench.txt")
	if res.GOOS != "linux" || res.GOARCH != "amd64" || res.CPU != "AMD EPYC 7B13" || res.Procs != 2 {
		t.Errorf("machine = %s/%s %q procs %d, want linux/amd64 \"AMD EPYC 7B13\" 2", res.GOOS, res.GOARCH, res.CPU, res.Procs)
	}
	tests := []struct {
		pkg, bench, unit string
		runs             int
		want             float64
	}{
		{"internal/decision", "BenchmarkDecide/campaigns=0", "ns/op", 3, 24},
		{"internal/decision", "BenchmarkDecide/campaigns=0", "decisions/s", 3, 41e6},
		{"internal/decision", "BenchmarkDecide/campaigns=1000", "ns/op", 2, 750},
		{"internal/decision", "BenchmarkMapLookup", "ns/op", 3, 5},
		{"internal/token", "BenchmarkVerify", "ns/op", 2, 63000},        // even count: the mean of the middle two
		{"internal/token", "BenchmarkVerify", "allocs/op", 2, 70.5},     // likewise
		{"internal/token", "BenchmarkVerify-4", "ns/op", 1, 40000},      // another GOMAXPROCS stays apart
		{"internal/token", "BenchmarkEd25519Verify", "ns/op", 2, 49000}, // the malformed run is skipped
		{"internal/throttle", "BenchmarkCheckFail/parallel", "ns/op", 1, 2400},
	}
	for _, tt := range tests {
		b := res.find(tt.pkg, tt.bench)
		if b == nil {
			t.Errorf("%s %s: not found", tt.pkg, tt.bench)
			continue
		}
		if got, ok := b.Median(tt.unit); !ok || got != tt.want || b.Runs != tt.runs {
			t.Errorf("%s %s: median %s = %v (%v) over %d runs, want %v over %d", tt.pkg, tt.bench, tt.unit, got, ok, b.Runs, tt.want, tt.runs)
		}
	}
	if s, _ := res.find("internal/decision", "BenchmarkDecide/campaigns=0").Spread("ns/op"); s != 0.25 {
		t.Errorf("Decide spread = %v, want 0.25 (30 is 6 from the median 24)", s)
	}
	ratios := []struct {
		p            pair
		want, spread string
	}{
		{pair{Pkg: "internal/decision", Bench: "BenchmarkDecide/campaigns=0", Baseline: "BenchmarkMapLookup"}, "4.80×", "25% noisy"},
		{pair{Pkg: "internal/decision", Bench: "BenchmarkDecide/campaigns=1000", Baseline: "BenchmarkMapLookup"}, "150×", "20%"},
		{pair{Pkg: "internal/decision", Bench: "BenchmarkDecide", Baseline: "BenchmarkMapLookup"}, "not measured in this run (no Decide)", "–"},
		{pair{Pkg: "internal/token", Bench: "BenchmarkVerify", Baseline: "BenchmarkEd25519Verify"}, "1.29×", "5%"},
		{pair{Pkg: "internal/throttle", Bench: "BenchmarkCheckFail/parallel", Baseline: "BenchmarkCheckFail/serial"}, "1.60×", "–"}, // one run each: no spread
		// Times multiplies the benchmark's time: 1,000 map lookups (5 ns) over one decision (24 ns).
		{pair{Pkg: "internal/decision", Bench: "BenchmarkMapLookup", Times: 1000, Baseline: "BenchmarkDecide/campaigns=0"}, "208×", "25% noisy"},
		{pair{Pkg: "internal/password", Bench: "BenchmarkHash", Baseline: "BenchmarkRawArgon2id"}, "not measured in this run (no Hash, no RawArgon2id)", "–"},
		{pair{Pkg: "internal/decision", Bench: "BenchmarkMapLookup", Baseline: "BenchmarkGone"}, "not measured in this run (no Gone)", "–"},
		// Same name, other package: never matched across packages.
		{pair{Pkg: "internal/password", Bench: "BenchmarkVerify", Baseline: "BenchmarkRawArgon2id"}, "not measured in this run (no Verify, no RawArgon2id)", "–"},
	}
	for _, tt := range ratios {
		if got, spread := ratio(res, tt.p); got != tt.want || spread != tt.spread {
			t.Errorf("ratio(%s %s / %s) = %q, %q, want %q, %q", tt.p.Pkg, tt.p.Bench, tt.p.Baseline, got, spread, tt.want, tt.spread)
		}
	}
}

func TestPartialRunSaysSo(t *testing.T) {
	res, _ := parseFile(t, "testdata/bench.txt")
	for _, tt := range []struct {
		bench   string
		partial bool
	}{{".", false}, {"", false}, {"Decide|MapLookup", true}} {
		m := fixedMeta()
		m.Bench = tt.bench
		var out bytes.Buffer
		if err := write(&out, res, m, pairs); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "Partial run"); got != tt.partial {
			t.Errorf("-bench %q: report says partial = %v, want %v", tt.bench, got, tt.partial)
		}
	}
}

func TestNoResults(t *testing.T) {
	_, err := parse(strings.NewReader("PASS\nok  \tgithub.com/x/y\t0.1s\n"), "empty.txt", new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "no benchmark results in empty.txt") {
		t.Errorf("parse of output with no benchmarks: %v, want an error naming the file", err)
	}
}

func TestSplitProcs(t *testing.T) {
	tests := []struct {
		in    string
		name  string
		procs int
	}{
		{"Decide-2", "Decide", 2},
		{"Decide", "Decide", 1},
		{"CheckFail/parallel-16", "CheckFail/parallel", 16},
		{"Size/n=-1", "Size/n=-1", 1},
		{"Name-", "Name-", 1},
		{"Sub/x-y-4", "Sub/x-y", 4},
		{"Odd--4", "Odd-", 4},
	}
	for _, tt := range tests {
		if name, procs := splitProcs(tt.in); name != tt.name || procs != tt.procs {
			t.Errorf("splitProcs(%q) = %q, %d, want %q, %d", tt.in, name, procs, tt.name, tt.procs)
		}
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name string
		f    func(float64) string
		in   float64
		want string
	}{
		{"ratio small", fmtRatio, 1.3249, "1.32×"},
		{"ratio tens", fmtRatio, 12.345, "12.3×"},
		{"ratio hundreds", fmtRatio, 1234.5, "1234×"},
		{"ratio below one", fmtRatio, 0.514, "0.51×"},
		{"ratio far below one", fmtRatio, 0.001423, "0.00142×"},
		{"time ns", fmtTime, 24, "24.0 ns"},
		{"time sub-ns", fmtTime, 0.3142, "0.314 ns"},
		{"time µs", fmtTime, 63000, "63.0 µs"},
		{"time ms", fmtTime, 21_540_000, "21.5 ms"},
		{"time s", fmtTime, 2.5e9, "2.50 s"},
		{"bytes", fmtBytes, 120, "120 B"},
		{"bytes half", fmtBytes, 5205, "5.08 KiB"},
		{"bytes MiB", fmtBytes, 19 << 20, "19.0 MiB"},
		{"count", fmtCount, 70.5, "70.5"},
		{"count whole", fmtCount, 3, "3"},
		{"SI", fmtSI, 41e6, "41.0 M"},
		{"SI small", fmtSI, 12.5, "12.5"},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s: %v → %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
	if got := code("a`b"); got != "``a`b``" {
		t.Errorf("code(a`b) = %q", got)
	}
	if got := cell("a|b"); got != `a\|b` {
		t.Errorf("cell(a|b) = %q", got)
	}
}

// TestPairsNameRealBenchmarks keeps the pairs table honest: each name must
// be a benchmark in its package, else a rename would leave a ratio "not
// measured" forever.
func TestPairsNameRealBenchmarks(t *testing.T) {
	root := filepath.Join("..", "..")
	seen := map[string]bool{}
	for _, p := range pairs {
		if p.What == "" {
			t.Errorf("pair %s/%s has no description", p.Bench, p.Baseline)
		}
		key := p.Pkg + " " + p.Bench + " " + p.Baseline + " " + p.Unit
		if seen[key] {
			t.Errorf("pair %s declared twice", key)
		}
		seen[key] = true
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(p.Pkg), "*_test.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("pair %s: no test files in %s", key, p.Pkg)
			continue
		}
		var src bytes.Buffer
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
		for _, name := range []string{p.Bench, p.Baseline} {
			top, sub, hasSub := strings.Cut(name, "/")
			if !regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(top) + `\(b \*testing\.B\)`).Match(src.Bytes()) {
				t.Errorf("pair %s: %s has no func %s in %s", key, name, top, p.Pkg)
			}
			// A sub-benchmark's name may be built by Sprintf ("campaigns=%d"):
			// look for its text up to the first "=", or all of it.
			lit := `"` + sub + `"`
			if k, _, ok := strings.Cut(sub, "="); ok {
				lit = `"` + k + "="
			}
			if hasSub && !strings.Contains(src.String(), lit) {
				t.Errorf("pair %s: %s has no sub-benchmark %q in %s", key, name, sub, p.Pkg)
			}
		}
	}
}

func TestRunWritesFileWhole(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	if err := os.WriteFile(out, []byte("previous report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, []byte("PASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if err := run([]string{"-in", empty, "-out", out}, nil, nil, &stderr); err == nil {
		t.Error("run on output with no benchmarks succeeded")
	}
	if b, _ := os.ReadFile(out); string(b) != "previous report\n" {
		t.Errorf("a failed run changed the report to %q", b)
	}
	if err := run([]string{"-in", "testdata/bench.txt", "-out", out, "-cmd", "go test -bench ."}, nil, nil, &stderr); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	for _, want := range []string{"# Benchmarks", "| command | `go test -bench .` |", "## internal/decision", "## Ratios", "4.80×"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".BENCHMARKS.md.*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestKeepRefreshesOnlyWhatRan runs the report twice with -keep: the
// second run measures one benchmark of one package again, and the report
// must keep every other figure of the first run, replace that one (not add
// to its runs), say which run each row comes from, and mark the ratio
// that now joins two runs.
func TestKeepRefreshesOnlyWhatRan(t *testing.T) {
	dir := t.TempDir()
	out, keep := filepath.Join(dir, "BENCHMARKS.md"), filepath.Join(dir, "BENCHMARKS.raw")
	second := filepath.Join(dir, "second.txt")
	if err := os.WriteFile(second, []byte("goos: linux\ngoarch: amd64\npkg: github.com/cordon-dev/cordon/internal/token\ncpu: AMD EPYC 7B13\n"+
		"BenchmarkVerify-2 \t 20000\t 55000 ns/op\t 5000 B/op\t 60 allocs/op\n"+
		"BenchmarkVerify-2 \t 20000\t 57000 ns/op\t 5000 B/op\t 60 allocs/op\nPASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	for _, args := range [][]string{
		{"-in", "testdata/bench.txt", "-out", out, "-keep", keep, "-cmd", "go test -bench . ./..."},
		{"-in", second, "-out", out, "-keep", keep, "-cmd", "go test -bench Verify ./internal/token", "-bench", "Verify"},
	} {
		if err := run(args, nil, nil, &stderr); err != nil {
			t.Fatalf("run %q: %v", args, err)
		}
	}
	f, err := os.Open(keep)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parse(f, keep, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	res.trimModule("github.com/cordon-dev/cordon")
	if len(res.Runs) != 2 || !strings.Contains(res.Runs[0], "go test -bench . ./...") || !strings.Contains(res.Runs[1], "./internal/token") {
		t.Fatalf("kept runs = %q, want the two commands in order", res.Runs)
	}
	for _, tt := range []struct {
		bench string
		runs  int
		want  float64
		run   int
	}{
		{"BenchmarkVerify", 2, 56000, 1},        // replaced by the second run, not added to
		{"BenchmarkEd25519Verify", 2, 49000, 0}, // kept from the first
		{"BenchmarkVerify-4", 1, 40000, 0},      // another GOMAXPROCS is another benchmark: kept
	} {
		b := res.find("internal/token", tt.bench)
		if b == nil {
			t.Errorf("%s: gone from the kept results", tt.bench)
			continue
		}
		if got, _ := b.Median("ns/op"); got != tt.want || b.Runs != tt.runs || b.Run != res.Runs[tt.run] {
			t.Errorf("%s: median %v over %d runs from %q, want %v over %d from run %d", tt.bench, got, b.Runs, b.Run, tt.want, tt.runs, tt.run+1)
		}
	}
	if b := res.find("internal/decision", "BenchmarkDecide/campaigns=0"); b == nil || b.Runs != 3 {
		t.Errorf("another package's figures were not kept whole: %+v", b)
	}
	if x, spread := ratio(res, pair{Pkg: "internal/token", Bench: "BenchmarkVerify", Baseline: "BenchmarkEd25519Verify"}); !strings.Contains(spread, "different runs (2, 1)") {
		t.Errorf("ratio across runs = %s, %q, want it marked as joining runs 2 and 1", x, spread)
	}
	if _, spread := ratio(res, pair{Pkg: "internal/decision", Bench: "BenchmarkDecide/campaigns=0", Baseline: "BenchmarkMapLookup"}); spread != "25% noisy" {
		t.Errorf("ratio within one run = %q, want its spread only", spread)
	}
	report, _ := os.ReadFile(out)
	for _, want := range []string{"**Several runs:**", "| run 1 | `", "| run 2 | `", "| benchmark | run | runs |", "## internal/decision", "not comparable"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(string(report), "Partial run") {
		t.Error("a kept report calls itself partial, though it holds every benchmark kept")
	}

	// A damaged kept file stops the run and changes neither file.
	if err := os.WriteFile(keep, []byte("not benchmark output\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = run([]string{"-in", second, "-out", out, "-keep", keep}, nil, nil, &stderr)
	if err == nil || !strings.Contains(err.Error(), "kept results") {
		t.Errorf("run over a damaged kept file: %v, want an error naming it", err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, report) {
		t.Error("a failed run changed the report")
	}
}
