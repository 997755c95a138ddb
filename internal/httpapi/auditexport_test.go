package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// exportEntries are entries whose lines test the codec: plain ones and
// every string a hostile reporter could log (quotes, escapes, HTML,
// control bytes, invalid UTF-8, U+2028), nil and empty bytes and
// categories, resolved and not, zoned and far times.
func exportEntries() []*cordon.AuditEntry {
	at := time.Date(2026, 11, 29, 10, 0, 0, 123456000, time.UTC)
	hostile := []string{"plain", `q"uote`, `back\slash`, "<script>&amp;", "tab\tnew\nline", "bad\xffutf8", "line\u2028sep", "é ü 日本", "", "\x7f"}
	var es []*cordon.AuditEntry
	for i, s := range hostile {
		e := audit.Entry(audit.Event{Time: at.Add(time.Duration(i) * time.Second), Principal: "svc-" + s, Action: "read", Subject: s,
			Categories: []string{"email", s}, Account: s, Resolved: i%2 == 0})
		e.Index = uint64(i * 1000)
		es = append(es, e)
	}
	es = append(es,
		&cordon.AuditEntry{Index: 7, Time: at.In(time.FixedZone("x", 5*3600+30*60))},
		&cordon.AuditEntry{Index: 8, Leaf: []byte{}, LeafHash: []byte{0, 1, 2}, Categories: []string{}, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	)
	return es
}

func jsonLine(t testing.TB, e *cordon.AuditEntry) []byte {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(EntryView{Index: e.Index, Leaf: e.Leaf, LeafHash: e.LeafHash,
		Indexed: IndexedView{Time: e.Time, Principal: e.Principal, Action: e.Action, Subject: e.Subject, Categories: e.Categories, Account: accountOf(e)}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// AppendEntryLine writes the bytes encoding/json writes, and
// ParseEntryLine reads every line as json.Unmarshal does.
func TestEntryLineCodec(t *testing.T) {
	for _, e := range exportEntries() {
		want := jsonLine(t, e)
		got, err := AppendEntryLine(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("entry %d:\n got %s\nwant %s", e.Index, got, want)
		}
		checkParse(t, bytes.TrimSuffix(want, []byte("\n")))
	}
}

// checkParse holds ParseEntryLine to json.Unmarshal on one line.
func checkParse(t *testing.T, line []byte) {
	t.Helper()
	var want EntryView
	wantErr := json.Unmarshal(line, &want)
	got, err := ParseEntryLine(line)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("ParseEntryLine(%q): error %v, json.Unmarshal's %v", line, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("ParseEntryLine(%q):\n got %+v\nwant %+v", line, got, want)
	}
}

// Lines a tampered or hostile server might send: the fast path takes
// none of them differently from json.Unmarshal.
func TestParseEntryLineOddLines(t *testing.T) {
	good := `{"index":5,"leaf":"eyJ4IjoxfQ==","leaf_hash":"AAE=","indexed":{"time":"2026-11-29T10:00:00Z","principal":"svc","action":"read","subject":"alice","categories":["email"],"account":"u-1"}}`
	lines := []string{
		good,
		strings.Replace(good, `"index":5`, `"index":05`, 1),
		strings.Replace(good, `"index":5`, `"index":-5`, 1),
		strings.Replace(good, `"index":5`, `"index":18446744073709551616`, 1),
		strings.Replace(good, `"index":5`, `"index":5.0`, 1),
		strings.Replace(good, `"index":5,`, `"index":5 ,`, 1),
		strings.Replace(good, `eyJ4IjoxfQ==`, `eyJ4IjoxfQ`, 1),
		strings.Replace(good, `eyJ4IjoxfQ==`, `eyJ4Ijox\nfQ==`, 1),
		// Raw CR and LF, which base64 skips and JSON refuses in a string.
		strings.Replace(good, `eyJ4IjoxfQ==`, "eyJ4Ijox\nfQ==", 1),
		strings.Replace(good, `"AAE="`, "\"AA\rE=\"", 1),
		strings.Replace(good, `eyJ4IjoxfQ==`, "eyJ4Ijox\xfffQ==", 1),
		strings.Replace(good, `"AAE="`, `null`, 1),
		strings.Replace(good, `2026-11-29T10:00:00Z`, `2026-11-29 10:00:00Z`, 1),
		strings.Replace(good, `2026-11-29T10:00:00Z`, `2026-11-29T10:00:00+24:00`, 1),
		strings.Replace(good, `2026-11-29T10:00:00Z`, `2026-11-29T10:00:00.Z`, 1),
		strings.Replace(good, `"alice"`, `"al\u0069ce"`, 1),
		strings.Replace(good, `"alice"`, "\"al\xffice\"", 1),
		strings.Replace(good, `"alice"`, "\"al\tice\"", 1),
		strings.Replace(good, `["email"]`, `["email",]`, 1),
		strings.Replace(good, `["email"]`, `[]`, 1),
		strings.Replace(good, `["email"]`, `null`, 1),
		strings.Replace(good, `,"account":"u-1"`, ``, 1),
		strings.Replace(good, `,"account":"u-1"`, `,"account":null`, 1),
		strings.Replace(good, `,"account":"u-1"`, `,"account":"u-1","account":"u-2"`, 1),
		strings.Replace(good, `"principal":"svc"`, `"principal":"svc","principal":"root"`, 1),
		good + " ",
		good + "}",
		good[:len(good)-1],
		`{"leaf":"eyJ4IjoxfQ==","index":5}`,
		``,
		`null`,
	}
	for _, l := range lines {
		checkParse(t, []byte(l))
	}
}

func FuzzParseEntryLine(f *testing.F) {
	for _, e := range exportEntries() {
		f.Add(bytes.TrimSuffix(jsonLine(f, e), []byte("\n")))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkParse(t, line) })
}

// BenchmarkEntryExport writes 100,000 export lines with AppendEntryLine,
// as handleEntries does; the baseline, BenchmarkEntryExportJSON, writes
// the same through json.Encoder, as it did.
func BenchmarkEntryExport(b *testing.B) {
	es := benchExportEntries()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range es {
			buf = buf[:0]
			var err error
			if buf, err = AppendEntryLine(buf, e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(es))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkEntryExportJSON(b *testing.B) {
	es := benchExportEntries()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range es {
			buf.Reset()
			if err := enc.Encode(EntryView{Index: e.Index, Leaf: e.Leaf, LeafHash: e.LeafHash,
				Indexed: IndexedView{Time: e.Time, Principal: e.Principal, Action: e.Action, Subject: e.Subject, Categories: e.Categories, Account: accountOf(e)}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(es))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkEntryParse reads 100,000 export lines with ParseEntryLine, as
// cordon audit verify does; the baseline, BenchmarkEntryParseJSON, with
// json.Unmarshal, as it did.
func BenchmarkEntryParse(b *testing.B) {
	lines := benchExportLines(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			if _, err := ParseEntryLine(l); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkEntryParseJSON(b *testing.B) {
	lines := benchExportLines(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			var v EntryView
			if err := json.Unmarshal(l, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// benchExportEntries are 100,000 entries shaped as a service logs them
// (purpose and source filled in, so leaves have their real length).
func benchExportEntries() []*cordon.AuditEntry {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	es := make([]*cordon.AuditEntry, 100_000)
	for i := range es {
		e := audit.Entry(audit.Event{Time: at.Add(time.Duration(i) * 259 * time.Millisecond), Principal: fmt.Sprintf("svc:service-%d", i%999),
			Action: "read", Subject: fmt.Sprintf("user%d@example.com", i*7919%1_000_000), Categories: []string{"email", "payment"},
			Purpose: fmt.Sprintf("TICKET-%d", i%100_000), Source: fmt.Sprintf("host-%d.eu-west-1", i%64), Account: fmt.Sprintf("u-%d", i), Resolved: true})
		e.Index = uint64(i)
		es[i] = e
	}
	return es
}

func benchExportLines(b *testing.B) [][]byte {
	es := benchExportEntries()
	lines := make([][]byte, len(es))
	for i, e := range es {
		l, err := AppendEntryLine(nil, e)
		if err != nil {
			b.Fatal(err)
		}
		lines[i] = bytes.TrimSuffix(l, []byte("\n"))
	}
	return lines
}
