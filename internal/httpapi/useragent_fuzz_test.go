package httpapi

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// FuzzReadUserAgents feeds arbitrary bodies, as JSON and as text, to the
// classify endpoint's reader: it returns between 1 and 10,000 user agents
// or a *cordon.Error with a 4xx code and a message, and never panics.
func FuzzReadUserAgents(f *testing.F) {
	for _, s := range []string{`["MyApp/8.4.1 (iPhone; iOS 17.4)"]`, "okhttp/4.12.0\r\nDalvik/2.1.0\n", `[]`, `{"a":1}`, `[1]`, `null`, "", `["a"] x`, "\xff\xfe\n"} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		r := httptest.NewRequest("POST", "/admin/v1/ua/classify", bytes.NewReader(body))
		r.Header.Set("Content-Type", "text/plain")
		if asJSON {
			r.Header.Set("Content-Type", "application/json")
		}
		uas, err := readUserAgents(httptest.NewRecorder(), r)
		if err != nil {
			var ce *cordon.Error
			if !errors.As(err, &ce) || ce.Message == "" || statuses[ce.Code] < 400 || statuses[ce.Code] >= 500 {
				t.Fatalf("error %v is not a 4xx *cordon.Error with a message", err)
			}
			return
		}
		if len(uas) == 0 || len(uas) > maxClassifyAgents {
			t.Fatalf("%d user agents, want 1 to %d", len(uas), maxClassifyAgents)
		}
	})
}
