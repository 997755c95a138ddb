package campaigndoc

import (
	"errors"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestEveryKindParses: a document of each kind cordon defines parses,
// with an upgrade block exactly when the kind's rules call for one.
func TestEveryKindParses(t *testing.T) {
	const block = `,"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://m.example.com/download"}}`
	for _, k := range cordon.Kinds {
		with := `{"kind":"` + string(k) + `","name":"n"` + block + `}`
		without := `{"kind":"` + string(k) + `","name":"n"}`
		good, bad := without, with
		if k.MustRules().Upgrade {
			good, bad = with, without
		}
		c, err := Parse([]byte(good), JSON)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if c.Kind != k || c.State != cordon.StateDraft {
			t.Errorf("%s parsed as %s in state %s", k, c.Kind, c.State)
		}
		if _, err := Parse([]byte(bad), JSON); err == nil {
			t.Errorf("%s: accepted %s", k, bad)
		}
	}
}

// TestUnknownKindNamesTheKinds: an unknown kind is refused with a message
// that names every kind there is.
func TestUnknownKindNamesTheKinds(t *testing.T) {
	for _, doc := range []string{`{"kind":"nuke","name":"n"}`, `{"name":"n"}`, `{"kind":"UPGRADE","name":"n"}`} {
		_, err := Parse([]byte(doc), JSON)
		var e *cordon.Error
		if !errors.As(err, &e) || e.Code != cordon.ECodeUnprocessable || e.Field != "kind" {
			t.Fatalf("%s: %v, want a refusal of kind", doc, err)
		}
		for _, k := range cordon.Kinds {
			if !strings.Contains(e.Message, string(k)) {
				t.Errorf("%s: message %q does not name %s", doc, e.Message, k)
			}
		}
	}
}
