package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// The entries export's line codec. A 10M-entry export through
// encoding/json spent more CPU in reflection, base64 and time formatting
// on both ends than verification itself did. AppendEntryLine writes
// exactly the bytes json.Encoder writes for an EntryView (the test holds
// it to that, hostile strings included); ParseEntryLine reads the lines
// AppendEntryLine writes without reflection and hands any other line
// (escapes, another field order, spacing) to json.Unmarshal, so it
// accepts and means exactly what json.Unmarshal does.

// AppendEntryLine appends e's export line, newline included, to b.
func AppendEntryLine(b []byte, e *cordon.AuditEntry) ([]byte, error) {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = append(b, `,"leaf":`...)
	b = appendBase64(b, e.Leaf)
	b = append(b, `,"leaf_hash":`...)
	b = appendBase64(b, e.LeafHash)
	b = append(b, `,"indexed":{"time":`...)
	// As Time.MarshalJSON writes it, without its allocation.
	b = append(b, '"')
	b, err := e.Time.AppendText(b)
	if err != nil {
		return nil, err
	}
	b = append(b, '"')
	b = append(b, `,"principal":`...)
	b = appendJSONString(b, e.Principal)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, e.Action)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, e.Subject)
	b = append(b, `,"categories":`...)
	if e.Categories == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range e.Categories {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, c)
		}
		b = append(b, ']')
	}
	if e.Resolved {
		b = append(b, `,"account":`...)
		b = appendJSONString(b, e.Account)
	}
	return append(b, "}}\n"...), nil
}

// appendBase64 appends bs as encoding/json writes a []byte: null for
// nil, else a string of standard base64.
func appendBase64(b, bs []byte) []byte {
	if bs == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, bs)
	return append(b, '"')
}

// appendJSONString appends s as encoding/json (escaping HTML) writes it:
// plain printable ASCII as it is, anything else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// ParseEntryLine decodes one export line (without its newline).
func ParseEntryLine(line []byte) (EntryView, error) {
	if v, ok := parseEntryFast(line); ok {
		return v, nil
	}
	var v EntryView
	err := json.Unmarshal(line, &v)
	return v, err
}

// parseEntryFast reads a line in exactly AppendEntryLine's form with
// strings free of escapes; ok is false for anything else. A line costs a
// few allocations, not one per field: the leaf and its hash share one
// buffer, and the strings are slices of one copy of the line's tail.
func parseEntryFast(line []byte) (v EntryView, ok bool) {
	p := entryParser{b: line}
	if !p.lit(`{"index":`) {
		return v, false
	}
	if v.Index, ok = p.uint(); !ok || !p.lit(`,"leaf":`) {
		return v, false
	}
	leaf, ok := p.quoted()
	if !ok || !p.lit(`,"leaf_hash":`) {
		return v, false
	}
	hash, ok := p.quoted()
	if !ok || !p.lit(`,"indexed":{"time":`) {
		return v, false
	}
	if v.Leaf, v.LeafHash, ok = decodeBase64Pair(leaf, hash); !ok {
		return v, false
	}
	quoted := p.b
	ts, ok := p.raw()
	if !ok {
		return v, false
	}
	x := &v.Indexed
	// Read by time.Time's own UnmarshalJSON, as json.Unmarshal reads it.
	if err := x.Time.UnmarshalJSON(quoted[:len(ts)+2]); err != nil || !p.lit(`,"principal":`) {
		return v, false
	}
	// The strings below are slices of one string, the rest of the line.
	p.s = string(p.b)
	if x.Principal, ok = p.str(); !ok || !p.lit(`,"action":`) {
		return v, false
	}
	if x.Action, ok = p.str(); !ok || !p.lit(`,"subject":`) {
		return v, false
	}
	if x.Subject, ok = p.str(); !ok || !p.lit(`,"categories":`) {
		return v, false
	}
	if !p.lit("null") {
		if !p.lit("[") {
			return v, false
		}
		x.Categories = make([]string, 0, 4)
		for !p.lit("]") {
			if len(x.Categories) > 0 && !p.lit(",") {
				return v, false
			}
			c, ok := p.str()
			if !ok {
				return v, false
			}
			x.Categories = append(x.Categories, c)
		}
	}
	if p.lit(`,"account":`) {
		a, ok := p.str()
		if !ok {
			return v, false
		}
		x.Account = &a
	}
	return v, p.lit("}}") && len(p.b) == 0
}

// entryParser reads a line from its start; once s holds a copy of what
// was left of it, str slices s rather than allocating.
type entryParser struct {
	b []byte
	s string
}

func (p *entryParser) lit(s string) bool {
	if !bytes.HasPrefix(p.b, []byte(s)) {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

// uint reads a decimal without leading zeros, as encoding/json writes it.
func (p *entryParser) uint() (uint64, bool) {
	i := 0
	for i < len(p.b) && p.b[i] >= '0' && p.b[i] <= '9' {
		i++
	}
	if i == 0 || (i > 1 && p.b[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.b[:i]), 10, 64)
	if err != nil {
		return 0, false
	}
	p.b = p.b[i:]
	return n, true
}

// raw reads a quoted string holding no escape, control byte or invalid
// UTF-8 (json.Unmarshal would change those), returning its bytes.
func (p *entryParser) raw() ([]byte, bool) {
	if len(p.b) == 0 || p.b[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(p.b[1:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.b[1 : 1+end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, false
		}
	}
	if !utf8.Valid(s) {
		return nil, false
	}
	p.b = p.b[end+2:]
	return s, true
}

// quoted reads a quoted string up to its first quote, unchecked: for
// base64, whose decoding refuses every byte raw refuses but the two it
// skips (decodeBase64Pair).
func (p *entryParser) quoted() ([]byte, bool) {
	if len(p.b) == 0 || p.b[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(p.b[1:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.b[1 : 1+end]
	p.b = p.b[end+2:]
	return s, true
}

// str reads a string as raw does.
func (p *entryParser) str() (string, bool) {
	rest := len(p.b)
	s, ok := p.raw()
	if !ok {
		return "", false
	}
	if p.s == "" {
		return string(s), true
	}
	// s starts 1 byte (its quote) into what was left.
	at := len(p.s) - rest + 1
	return p.s[at : at+len(s)], true
}

// decodeBase64Pair decodes two strings of standard base64, as []byte
// decodes them (null and other forms go to json.Unmarshal), into one
// buffer. The decoder refuses any byte outside its alphabet, escapes,
// control bytes and non-ASCII included, except CR and LF, which it skips
// and JSON refuses raw: those are refused here.
func decodeBase64Pair(a, b []byte) (da, db []byte, ok bool) {
	if bytes.ContainsAny(a, "\r\n") || bytes.ContainsAny(b, "\r\n") {
		return nil, nil, false
	}
	enc := base64.StdEncoding
	buf := make([]byte, 0, enc.DecodedLen(len(a))+enc.DecodedLen(len(b)))
	buf, err := enc.AppendDecode(buf, a)
	if err != nil {
		return nil, nil, false
	}
	n := len(buf)
	if buf, err = enc.AppendDecode(buf, b); err != nil {
		return nil, nil, false
	}
	return buf[:n:n], buf[n:len(buf):len(buf)], true
}
