package httpapi

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// FuzzDecodeEvents feeds arbitrary bodies to both ingest decoders: they
// either return events or a *cordon.Error a client can be shown, never
// panic, and an event they return re-encodes to a leaf that parses back.
func FuzzDecodeEvents(f *testing.F) {
	good := `{"time":"2026-11-29T10:00:00Z","principal":"svc","action":"read","subject":"alice","categories":["profile"],"purpose":"T-1","source":"h"}`
	for _, s := range []string{"[" + good + "]", good + "\n" + good, "[]", "", "[{}]", `[{"time":null}]`, "[" + good + ",", "{\"a\":1}\n", "\n\n", `[{"categories":[1]}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, decode := range map[string]func([]byte) ([]audit.Event, error){
			"array": func(b []byte) ([]audit.Event, error) { return decodeEventArray(bytes.NewReader(b)) },
			"lines": func(b []byte) ([]audit.Event, error) { return decodeEventLines(bytes.NewReader(b)) },
		} {
			events, err := decode(body)
			if err != nil {
				var ce *cordon.Error
				if !errors.As(err, &ce) || ce.Message == "" {
					t.Fatalf("%s: error %v is not a *cordon.Error with a message", name, err)
				}
				if strings.HasPrefix(ce.Field, "events[") != strings.HasPrefix(ce.Message, "event ") && ce.Code != cordon.ECodeTooLarge {
					t.Fatalf("%s: field %q and message %q disagree about naming the event", name, ce.Field, ce.Message)
				}
				continue
			}
			for _, e := range events {
				if e.Validate(e.Time.Add(audit.MaxFutureSkew), audit.DefaultCategories()) != nil {
					continue
				}
				if _, err := audit.ParseLeaf(audit.Leaf(e)); err != nil {
					t.Fatalf("%s: a valid event's leaf does not parse: %v", name, err)
				}
			}
		}
	})
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"root", 10, "root"},
		{"ro\x1b]0;x\aot", 20, "ro?]0;x?ot"},
		{"bad\xffutf8", 20, "bad?utf8"},
		{"zoë-zoë", 4, "zoë"},
		{"line\nbreak", 20, "line?break"},
		{"", 5, ""},
	} {
		if got := printable(tc.in, tc.max); got != tc.want {
			t.Errorf("printable(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
