package audit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

// legacyLeaf and legacyParseLeaf are the encoding/json implementations the
// hand-written ones replaced; the fuzz tests below hold them to the same
// bytes and the same readings.
type legacyLeafShape struct {
	Time       string   `json:"time"`
	Principal  string   `json:"principal"`
	Action     string   `json:"action"`
	Subject    string   `json:"subject"`
	Account    *string  `json:"account,omitempty"`
	Categories []string `json:"categories"`
	Purpose    string   `json:"purpose"`
	Source     string   `json:"source"`
}

func legacyLeaf(e Event) []byte {
	cats := slices.Clone(e.Categories)
	if cats == nil {
		cats = []string{}
	}
	slices.Sort(cats)
	var account *string
	if e.Resolved {
		account = &e.Account
	}
	b, err := json.Marshal(legacyLeafShape{e.Time.UTC().Format(time.RFC3339Nano), e.Principal, e.Action, e.Subject, account, cats, e.Purpose, e.Source})
	if err != nil {
		panic(err)
	}
	return b
}

func legacyParseLeaf(b []byte) (Event, bool) {
	var l legacyLeafShape
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(&l) != nil {
		return Event{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, l.Time)
	if err != nil {
		return Event{}, false
	}
	e := Event{Time: t.UTC(), Principal: l.Principal, Action: l.Action, Subject: l.Subject, Categories: l.Categories, Purpose: l.Purpose, Source: l.Source}
	if l.Account != nil {
		e.Account, e.Resolved = *l.Account, true
	}
	if !bytes.Equal(legacyLeaf(e), b) {
		return Event{}, false
	}
	return e, true
}

func FuzzLeafMatchesEncodingJSON(f *testing.F) {
	f.Add(int64(1764410400123456789), "svc", "read", "alice", "email", "profile", "TICKET-1 <&>", "h\u2028\x00\xff")
	f.Add(int64(0), "", "", "", "", "", "", "")
	f.Add(int64(-62135596800), "\"\\\b\f\n\r\t", "\u2029", "zoë", "b", "a", "\x7f", "\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, nanos int64, principal, action, subject, cat1, cat2, purpose, source string) {
		e := Event{Time: time.Unix(0, nanos), Principal: principal, Action: action, Subject: subject, Categories: []string{cat1, cat2}, Purpose: purpose, Source: source}
		// Half the inputs resolved (the account derived from the purpose),
		// half as leaves were written before resolution.
		if len(purpose)%2 == 1 {
			e.Account, e.Resolved = purpose[:len(purpose)/2], true
		}
		got, want := Leaf(e), legacyLeaf(e)
		if !bytes.Equal(got, want) {
			t.Fatalf("Leaf differs from encoding/json:\n got %q\nwant %q", got, want)
		}
		if _, err := ParseLeaf(got); err == nil {
			if _, ok := legacyParseLeaf(got); !ok {
				t.Fatalf("ParseLeaf accepts %q, encoding/json's reading refuses it", got)
			}
		}
	})
}

func FuzzParseLeafMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-29T10:00:00Z","principal":"svc","action":"read","subject":"alice","categories":["email","profile"],"purpose":"","source":""}`))
	f.Add([]byte(`{"time":"2026-11-29T10:00:00Z","principal":"s\u00e9","action":"read","subject":"a\ufffd","categories":[],"purpose":"\u2028\"","source":"\u003c"}`))
	f.Add([]byte(`{"time":"2026-11-29T10:00:00Z","principal":"svc","action":"read","subject":"alice","account":"a-01","categories":["email"],"purpose":"","source":""}`))
	f.Add([]byte(`{"time":"2026-11-29T10:00:00Z","principal":"svc","action":"read","subject":"nobody","account":"","categories":["email"],"purpose":"","source":""}`))
	f.Add([]byte(`{"time":"2026-11-29T10:00:00Z","principal":"\ud83d\ude00","action":"x","subject":"\u0041","categories":["a"],"purpose":"","source":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseLeaf(b)
		want, ok := legacyParseLeaf(b)
		if (err == nil) != ok {
			t.Fatalf("ParseLeaf(%q): error %v; encoding/json's reading accepts: %v", b, err, ok)
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseLeaf(%q) = %+v; encoding/json reads %+v", b, got, want)
		}
	})
}

func BenchmarkParseLeaf(b *testing.B) {
	leaf := Leaf(Event{Time: time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC), Principal: "svc-support-7", Action: ActionRead,
		Subject: "user-1234567", Categories: []string{"email", "profile"}, Purpose: "TICKET-4411 req=7f3a9c", Source: "10.1.2.3"})
	b.Run("handwritten", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseLeaf(leaf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, ok := legacyParseLeaf(leaf); !ok {
				b.Fatal("refused")
			}
		}
	})
}
