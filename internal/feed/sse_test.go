package feed

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// parseAll reads every event of r, and the comments seen.
func parseAll(r io.Reader) (events []sseEvent, comments []string, err error) {
	p := newSSEParser(r)
	p.onComment = func(b []byte) { comments = append(comments, string(b)) }
	for {
		e, err := p.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return events, comments, err
		}
		e.Data = bytes.Clone(e.Data)
		events = append(events, e)
	}
}

func TestParseSSE(t *testing.T) {
	ev := func(id, typ, data string) sseEvent { return sseEvent{ID: id, Type: typ, Data: []byte(data)} }
	cases := []struct {
		name     string
		in       string
		want     []sseEvent
		comments []string
	}{
		{"one event", "id: e:1\nevent: policy\ndata: {}\n\n", []sseEvent{ev("e:1", "policy", "{}")}, nil},
		{"CRLF", "id: e:1\r\nevent: policy\r\ndata: {}\r\n\r\n", []sseEvent{ev("e:1", "policy", "{}")}, nil},
		{"CR", "id: e:1\revent: policy\rdata: {}\r\r", []sseEvent{ev("e:1", "policy", "{}")}, nil},
		{"mixed endings", "data: a\r\ndata: b\rdata: c\n\r\n", []sseEvent{ev("", "message", "a\nb\nc")}, nil},
		{"multi-line data", "data: a\ndata:\ndata: b\n\n", []sseEvent{ev("", "message", "a\n\nb")}, nil},
		{"one space dropped", "data:x\ndata:  y\n\n", []sseEvent{ev("", "message", "x\n y")}, nil},
		{"field without colon", "data\n\n", []sseEvent{ev("", "message", "")}, nil},
		{"colon in value", "data: a:b: c\n\n", []sseEvent{ev("", "message", "a:b: c")}, nil},
		{"comments", ": ping\n:\n\ndata: x\n\n", []sseEvent{ev("", "message", "x")}, []string{" ping", ""}},
		{"no data, no event", "event: policy\n\n\n\n", nil, nil},
		{"id kept without data", "id: 7\n\ndata: x\n\n", []sseEvent{ev("7", "message", "x")}, nil},
		{"id persists", "id: 7\ndata: x\n\ndata: y\n\n", []sseEvent{ev("7", "message", "x"), ev("7", "message", "y")}, nil},
		{"empty id resets", "id: 7\ndata: x\n\nid\ndata: y\n\n", []sseEvent{ev("7", "message", "x"), ev("", "message", "y")}, nil},
		{"id with NUL ignored", "id: 7\ndata: x\n\nid: 8\x009\ndata: y\n\n", []sseEvent{ev("7", "message", "x"), ev("7", "message", "y")}, nil},
		{"type does not persist", "event: keys\ndata: x\n\ndata: y\n\n", []sseEvent{ev("", "keys", "x"), ev("", "message", "y")}, nil},
		{"unknown fields and retry ignored", "retry: 10\nfoo: bar\ndata: x\n\n", []sseEvent{ev("", "message", "x")}, nil},
		{"field names are exact", "Data: x\ndata : y\n\n", nil, nil},
		{"BOM dropped", "\uFEFFdata: x\n\n", []sseEvent{ev("", "message", "x")}, nil},
		{"only one BOM dropped", "\uFEFF\uFEFFdata: x\n\n", nil, nil},
		{"incomplete event dropped", "data: x\n\ndata: y\n", []sseEvent{ev("", "message", "x")}, nil},
		{"unterminated line dropped", "data: x\n\ndata: y", []sseEvent{ev("", "message", "x")}, nil},
		{"empty", "", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Byte by byte too: a CRLF split across reads is one line end.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got, comments, err := parseAll(r)
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !equalEvents(got, tc.want) {
					t.Errorf("got %q, want %q", got, tc.want)
				}
				if strings.Join(comments, "|") != strings.Join(tc.comments, "|") || len(comments) != len(tc.comments) {
					t.Errorf("comments %q, want %q", comments, tc.comments)
				}
			}
		})
	}
}

// TestParseSSELoneCRNotHeldBack checks that an event ending in CR is
// dispatched without waiting for the byte after it, which may not come
// until the next ping.
func TestParseSSELoneCRNotHeldBack(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	got := make(chan sseEvent, 1)
	go func() {
		p := newSSEParser(pr)
		if e, err := p.next(); err == nil {
			got <- e
		}
	}()
	if _, err := pw.Write([]byte("data: x\r\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if string(e.Data) != "x" {
			t.Errorf("data %q, want x", e.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event ending in CR held back")
	}
}

func TestParseSSELimits(t *testing.T) {
	big := strings.Repeat("a", MaxLine-len("data: "))
	cases := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"longest line", "data: " + big + "\n\n", false},
		{"longest line, CRLF", "data: " + big + "\r\n\r\n", false},
		{"longest line, CR", "data: " + big + "\r\r", false},
		{"line too long", "data: " + big + "a\n\n", true},
		{"data too large", "data: " + big[:MaxLine/2] + "\ndata: " + big[:MaxLine/2] + "\n\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := parseAll(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && (len(got) != 1 || len(got[0].Data) != len(big)) {
				t.Errorf("got %d events, want one of %d bytes", len(got), len(big))
			}
		})
	}
}

// TestFrameRoundTrip checks that what Handler writes is what Client reads,
// whatever the strings hold.
func TestFrameRoundTrip(t *testing.T) {
	in := []Event{
		{Epoch: "e", Seq: 1, Kind: KindKeys, JWKS: []byte("{\n  \"keys\": [ ]\n}\r\n")},
		{Epoch: "e", Seq: 2, Kind: KindRevoke, Revoked: []Revocation{{SessionID: "s\n\r:1\u2028"}}},
	}
	var buf bytes.Buffer
	for _, e := range in {
		if err := appendEvent(&buf, e); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := parseAll(&buf)
	if err != nil || len(got) != len(in) {
		t.Fatalf("got %d events, %v; want %d", len(got), err, len(in))
	}
	for i, e := range got {
		if e.ID != in[i].ID() || e.Type != in[i].Kind || bytes.ContainsAny(e.Data, "\r\n") {
			t.Errorf("event %d: id %q type %q data %q", i, e.ID, e.Type, e.Data)
		}
	}
	if err := appendEvent(&buf, Event{Kind: "a\nb"}); err == nil {
		t.Error("a kind with a newline was framed")
	}
}

func equalEvents(a, b []sseEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Type != b[i].Type || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

// FuzzParseSSE checks the parser against a plain reading of the standard,
// on the whole input at once and byte by byte: no panic, the same events.
func FuzzParseSSE(f *testing.F) {
	for _, s := range []string{
		"id: e:1\nevent: policy\ndata: {}\n\n",
		"data: a\r\ndata: b\rdata: c\n\r\n",
		": ping\n\n",
		"\uFEFFid: 7\x00\ndata\n\n",
		"data: x\r",
		"event: keys\rdata:y\r\r\n\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want := referenceParse(string(in))
		for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
			got, _, err := parseAll(r)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !equalEvents(got, want) {
				t.Fatalf("parse %q:\n got  %q\n want %q", in, got, want)
			}
		}
	})
}

// referenceParse is the standard's algorithm written for clarity, not
// speed: the whole input in memory, lines cut first.
func referenceParse(s string) []sseEvent {
	s = strings.TrimPrefix(s, "\uFEFF")
	var lines []string
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			break // unterminated: dropped
		}
		lines = append(lines, s[:i])
		if strings.HasPrefix(s[i:], "\r\n") {
			s = s[i+2:]
		} else {
			s = s[i+1:]
		}
	}
	var (
		out            []sseEvent
		id, idBuf, typ string
		data           strings.Builder
	)
	for _, line := range lines {
		switch {
		case line == "":
			id = idBuf
			if data.Len() == 0 {
				typ = ""
				continue
			}
			d := strings.TrimSuffix(data.String(), "\n")
			e := sseEvent{ID: id, Type: typ, Data: []byte(d)}
			if e.Type == "" {
				e.Type = "message"
			}
			out = append(out, e)
			data.Reset()
			typ = ""
		case line[0] == ':':
		default:
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "event":
				typ = value
			case "data":
				data.WriteString(value)
				data.WriteByte('\n')
			case "id":
				if !strings.Contains(value, "\x00") {
					idBuf = value
				}
			}
		}
	}
	return out
}
