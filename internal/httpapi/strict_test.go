package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestCheckStrict(t *testing.T) {
	tests := []struct {
		name, body string
		field, msg string // "" field and msg: no problem
	}{
		{"clean", `{"username":"a","password":"b"}`, "", ""},
		{"malformed is left to the decoder", `{"username":`, "", ""},
		{"duplicate", `{"username":"a","username":"b"}`, "username", `field "username" appears more than once`},
		{"duplicate differing only in escapes", `{"username":"a","user\u006eame":"b"}`, "username", `field "username" appears more than once`},
		{"nested duplicate", `{"cohort":{"users":[],"users":["x"]}}`, "cohort.users", `field "users" appears more than once`},
		{"duplicate in an array element", `[{"a":1},{"p":"x","p":"y"}]`, "1.p", `field "p" appears more than once`},
		{"invalid UTF-8 value", "{\"a\":\"b\xff\"}", "a", `field "a" holds text that is not valid UTF-8`},
		{"lone surrogate escape", `{"a":"\ud800"}`, "a", `field "a" holds text that is not valid UTF-8`},
		{"invalid UTF-8 name", "{\"a\xff\":1}", "", `the body holds text that is not valid UTF-8`},
		{"same name in sibling objects", `[{"a":1},{"a":2}]`, "", ""},
		{"second value clean", `{"a":1} {"a":2}`, "", ""},
		{"duplicate in a second value", `{"a":1} {"b":1,"b":2}`, "b", `field "b" appears more than once`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := checkStrict([]byte(tt.body))
			if tt.msg == "" {
				if p != nil {
					t.Fatalf("checkStrict = %q at %q, want no problem", p.msg, p.field())
				}
				return
			}
			if p == nil || p.field() != tt.field || p.msg != tt.msg {
				t.Fatalf("checkStrict = %+v, want field %q, message %q", p, tt.field, tt.msg)
			}
		})
	}
}

// FuzzCheckStrict holds checkStrict to what it promises: a body it passes
// that encoding/json accepts is valid UTF-8 with no member name twice in
// an object, and a problem it reports has a message.
func FuzzCheckStrict(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a":"\udfff"}`, `[{"x":{"y":1,"y":2}}]`, `{"a":"\u00e9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := checkStrict(data)
		if p != nil {
			if p.msg == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
			return
		}
		if !json.Valid(data) {
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("checkStrict passed invalid UTF-8: %q", data)
		}
		if hasDuplicate(t, data) {
			t.Fatalf("checkStrict passed a duplicate member name: %q", data)
		}
	})
}

// hasDuplicate walks data with encoding/json's tokens, the reading the
// handlers decode with, looking for a name twice in one object.
func hasDuplicate(t *testing.T, data []byte) bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		seen   map[string]bool
		object bool
		key    bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if s, ok := tok.(string); ok {
				if top.seen[s] {
					return true
				}
				top.seen[s] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			if top != nil && top.object {
				top.key = true
			}
			stack = append(stack, &frame{seen: map[string]bool{}, object: true, key: true})
			continue
		case json.Delim('['):
			if top != nil && top.object {
				top.key = true
			}
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}
