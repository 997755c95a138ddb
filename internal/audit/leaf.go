package audit

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The canonical leaf encoding, written and read by hand: verifying a log
// parses every leaf back, and encoding/json's reflection made that ten
// times the cost of hashing it. The bytes are exactly those json.Marshal
// gives for the leaf struct in leaf_test.go; a fuzz test holds the two
// together.

const hexDigits = "0123456789abcdef"

// htmlSafe reports the ASCII bytes encoding/json writes as they are (with
// its default HTML escaping of <, > and &).
func htmlSafe(b byte) bool {
	return b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
}

// appendString appends s as a JSON string, escaped as encoding/json does.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe(b) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendLeaf(dst []byte, e Event) []byte {
	dst = append(dst, `{"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","principal":`...)
	dst = appendString(dst, e.Principal)
	dst = append(dst, `,"action":`...)
	dst = appendString(dst, e.Action)
	dst = append(dst, `,"subject":`...)
	dst = appendString(dst, e.Subject)
	if e.Resolved {
		dst = append(dst, `,"account":`...)
		dst = appendString(dst, e.Account)
	}
	dst = append(dst, `,"categories":[`...)
	cats := e.Categories
	if !slices.IsSorted(cats) {
		cats = slices.Sorted(slices.Values(cats))
	}
	for i, c := range cats {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, c)
	}
	dst = append(dst, `],"purpose":`...)
	dst = appendString(dst, e.Purpose)
	dst = append(dst, `,"source":`...)
	dst = appendString(dst, e.Source)
	return append(dst, '}')
}

var errNotLeaf = errors.New("not a leaf in cordon's canonical form")

// leafReader reads the fixed shape appendLeaf writes. It accepts only that
// shape; ParseLeaf then re-encodes what it read and compares, so anything
// it reads differently from a JSON library is refused, not misread.
type leafReader struct {
	b   []byte
	err error
}

func (r *leafReader) literal(s string) {
	if r.err != nil {
		return
	}
	if len(r.b) < len(s) || string(r.b[:len(s)]) != s {
		r.err = errNotLeaf
		return
	}
	r.b = r.b[len(s):]
}

// str reads one JSON string, unescaping it.
func (r *leafReader) str() string {
	if r.err != nil {
		return ""
	}
	if len(r.b) == 0 || r.b[0] != '"' {
		r.err = errNotLeaf
		return ""
	}
	b := r.b[1:]
	// The common case: no escapes.
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			r.b = b[i+1:]
			return string(b[:i])
		case '\\':
			return r.unescape(b)
		}
	}
	r.err = errNotLeaf
	return ""
}

func (r *leafReader) unescape(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			r.b = b[i+1:]
			return string(out)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			break
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			rr, ok := hex4(b[i+2:])
			if !ok {
				r.err = errNotLeaf
				return ""
			}
			i += 6
			if utf16.IsSurrogate(rr) {
				if lo, ok := hex4(b[min(i+2, len(b)):]); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if dec := utf16.DecodeRune(rr, lo); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				rr = utf8.RuneError
			}
			out = utf8.AppendRune(out, rr)
			continue
		default:
			r.err = errNotLeaf
			return ""
		}
		i += 2
	}
	r.err = errNotLeaf
	return ""
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(n), err == nil
}

func parseLeaf(b []byte) (Event, error) {
	r := &leafReader{b: b}
	var e Event
	r.literal(`{"time":`)
	ts := r.str()
	r.literal(`,"principal":`)
	e.Principal = r.str()
	r.literal(`,"action":`)
	e.Action = r.str()
	r.literal(`,"subject":`)
	e.Subject = r.str()
	if r.err == nil && bytes.HasPrefix(r.b, []byte(`,"account":`)) {
		r.literal(`,"account":`)
		e.Account, e.Resolved = r.str(), true
	}
	r.literal(`,"categories":[`)
	e.Categories = []string{}
	if r.err == nil && len(r.b) > 0 && r.b[0] != ']' {
		for {
			e.Categories = append(e.Categories, r.str())
			if r.err != nil || len(r.b) == 0 || r.b[0] != ',' {
				break
			}
			r.b = r.b[1:]
		}
	}
	r.literal(`],"purpose":`)
	e.Purpose = r.str()
	r.literal(`,"source":`)
	e.Source = r.str()
	r.literal(`}`)
	if r.err != nil {
		return Event{}, r.err
	}
	if len(r.b) != 0 {
		return Event{}, errNotLeaf
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Event{}, err
	}
	e.Time = t.UTC()
	return e, nil
}
