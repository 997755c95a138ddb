package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/httpapi"
)

// The entries export streams exactly the entries asked for, in order,
// whatever batches the server reads them in (a batch ahead of encoding).
func TestEntriesExportAcrossBatches(t *testing.T) {
	e := newEnv(t)
	const n = 2345 // past two of the export's batches of 1,000, and not a multiple
	var evs []audit.Event
	for i := range n {
		evs = append(evs, audit.Event{Time: t0.Add(-time.Hour), Principal: "svc", Action: "read",
			Subject: fmt.Sprintf("user%d", i), Categories: []string{"email"}})
	}
	if _, _, err := e.log.Ingest(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	// Each export is recorded in the log after its size is read, so the
	// next one sees one entry more.
	cases := []struct {
		name       string
		query      string
		first, end uint64
	}{
		{"whole log", "", 0, 2345},
		{"from an index", "?from=7", 7, 2346},
		{"a window across batches", "?from=999&to=2001", 999, 2001},
		{"a window within one batch", "?from=10&to=12", 10, 12},
		{"to past the end", "?from=2340&to=9999", 2340, 2349},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.get(t, "/audit/v1/entries"+c.query)
			lines := bytes.Split(bytes.TrimSuffix(res, []byte("\n")), []byte("\n"))
			if uint64(len(lines)) != c.end-c.first {
				t.Fatalf("got %d lines, want %d (entries %d..%d)", len(lines), c.end-c.first, c.first, c.end-1)
			}
			for k, line := range lines {
				v, err := httpapi.ParseEntryLine(line)
				if err != nil {
					t.Fatalf("line %d: %v", k, err)
				}
				want := c.first + uint64(k)
				if v.Index != want {
					t.Fatalf("line %d holds entry %d, want %d", k, v.Index, want)
				}
				if want < n && v.Indexed.Subject != fmt.Sprintf("user%d", want) {
					t.Fatalf("entry %d: subject %q, want user%d", want, v.Indexed.Subject, want)
				}
			}
		})
	}
}

// get is GET path as root; it fails the test unless the answer is 200.
func (e *env) get(t *testing.T, path string) []byte {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Authorization", "Bearer "+e.tokens["root"])
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("GET %s: status %d: %s", path, w.Code, w.Body)
	}
	return w.Body.Bytes()
}
