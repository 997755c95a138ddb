package campaigndoc

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// FuzzParse checks that Parse never panics, that every refusal is a
// *cordon.Error with one of the document's codes, and that every accepted
// document comes back equal through Format.
func FuzzParse(f *testing.F) {
	seeds := []struct {
		doc  string
		yaml bool
	}{
		{specDoc, false},
		{specUpgrade, false},
		{specReauth, false},
		{specYAML, true},
		{`{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1d12h"}}`, false},
		{`{"kind":"offline_rekey","name":"o","cohort":{"users":["a","b","a"],"authenticated_before":"2014-05-27T00:00:00+02:00"}}`, false},
		{`{"kind":"upgrade","name":"u","cohort":{"versions":">= 8, < 8.5"},"upgrade":{"min_version":"8.5","mode":"flexible","urls":{"official":"http://localhost/"}}}`, false},
		{"kind: reauth\nname: r\nramp: {start: 2014-05-27T08:00:00Z, duration: 3600}\nmessage: |\n  hi\n", true},
		{`{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"auto","max_duration":"3d","target_utilisation":0.75}}`, false},
		{"kind: reauth\nname: r\nramp: {start: 2014-05-27T08:00:00Z, mode: auto, max_duration: 259200}\n", true},
		{`{"kind":"password_reset","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":{"users":["a"],"users_from_report":"r-1","unusual_addresses":true}}}`, false},
		{billionLaughs(), true},
		{`{"kind":"reauth","name":"r"} {}`, false},
		{`{"kind":"offline_rekey","name":"o","after":{"campaign":"c-1","satisfied":false}}`, false},
		{"kind: offline_rekey\nname: o\nafter: {campaign: c-up85, per: user}\n", true},
	}
	for _, s := range seeds {
		f.Add([]byte(s.doc), s.yaml)
	}
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		format := JSON
		if yaml {
			format = YAML
		}
		c, err := Parse(data, format)
		if err != nil {
			var e *cordon.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, want *cordon.Error", err, err)
			}
			switch e.Code {
			case cordon.ECodeInvalid, cordon.ECodeUnprocessable, cordon.ECodeTooLarge:
			default:
				t.Fatalf("error code %q (%v)", e.Code, err)
			}
			if e.Message == "" {
				t.Fatalf("error without a message: %#v", e)
			}
			return
		}
		out, err := Format(c)
		if err != nil {
			t.Fatalf("Format of an accepted document: %v", err)
		}
		again, err := Parse(out, JSON)
		if err != nil {
			t.Fatalf("Parse(Format(c)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v\n%s", again, c, out)
		}
	})
}
