// Package clientfacts reads and writes the Cordon-Client request header, in
// which an app says what it is: platform, app version, install source and
// device id. The header is an RFC 8941 structured-field Dictionary, e.g.
//
//	Cordon-Client: platform=android, version="8.4.1", source=play, device="d-1"
//
// Campaign cohorts are selected by these facts, so Parse is strict about the
// members it knows: a platform or source it does not recognise is refused
// rather than read as "unknown", because a typo that silently moved a client
// out of a cohort would let it escape a forced upgrade or re-login. Members
// it does not know are ignored, as RFC 8941 intends, so clients can send
// facts a newer server will use.
package clientfacts

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Header is the name of the request header that carries client facts.
const Header = "Cordon-Client"

// MaxHeaderBytes bounds the header Parse accepts. A valid header is well
// under 400 bytes; the bound keeps a hostile one from costing parse time
// and memory on every request.
const MaxHeaderBytes = 1024

// Limits of the members' values.
const (
	maxVersionLen = 64
	maxDeviceLen  = 128
)

// Parse reads the value of a Cordon-Client header. An empty header means
// the client sent none and yields cordon.UnknownClient. Absent members take
// the values of cordon.UnknownClient (version and device stay empty);
// unknown members and all parameters are ignored; when a key repeats the
// last one wins (RFC 8941 §3.2). Every error is a *cordon.Error with code
// cordon.ECodeInvalidClient and a message, fit to show the client's
// developer, that names the member at fault.
func Parse(header string) (cordon.ClientFacts, error) {
	if len(header) > MaxHeaderBytes {
		return cordon.ClientFacts{}, invalid(nil, "header is %d bytes; the limit is %d", len(header), MaxHeaderBytes)
	}
	// HTTP strips optional whitespace around a field value; do the same for
	// values that reach us some other way (tests, the simulator).
	h := strings.Trim(header, " \t")
	if h == "" {
		return cordon.UnknownClient, nil
	}
	d, err := httpsfv.UnmarshalDictionary([]string{h})
	if err != nil {
		return cordon.ClientFacts{}, syntaxError(h, err)
	}

	f := cordon.UnknownClient
	if m, ok := d.Get("platform"); ok {
		if f.Platform, err = oneOf("platform", m, cordon.Platforms); err != nil {
			return cordon.ClientFacts{}, err
		}
	}
	if m, ok := d.Get("source"); ok {
		if f.Source, err = oneOf("source", m, cordon.Sources); err != nil {
			return cordon.ClientFacts{}, err
		}
	}
	if m, ok := d.Get("version"); ok {
		if f.Version, err = version(m); err != nil {
			return cordon.ClientFacts{}, err
		}
	}
	if m, ok := d.Get("device"); ok {
		if f.Device, err = device(m); err != nil {
			return cordon.ClientFacts{}, err
		}
	}
	return f, nil
}

// FromHeader parses the Cordon-Client header of a request. A client or
// proxy may split one field over several lines; RFC 8941 §4.2 has them
// joined with commas before parsing. Lines that are empty are skipped, as
// RFC 9110 §5.6.1 lets a recipient ignore empty list elements.
func FromHeader(h http.Header) (cordon.ClientFacts, error) {
	lines := h.Values(Header)
	if len(lines) == 1 {
		return Parse(lines[0])
	}
	kept := make([]string, 0, len(lines))
	for _, l := range lines {
		if strings.Trim(l, " \t") != "" {
			kept = append(kept, l)
		}
	}
	return Parse(strings.Join(kept, ", "))
}

// Format writes facts as a Cordon-Client header value: platform and source
// as Tokens, version and device as Strings, in the order of the wire
// contract's example. Members that Parse would fill in anyway (an empty or
// "unknown" platform or source, an empty version or device) are left out,
// so Format(cordon.UnknownClient) is "" and Parse(Format(f)) == f for any f
// that Parse can return.
//
// Facts Parse would refuse are still written as well as the syntax allows,
// so that a server refuses them too instead of reading something else: a
// value that is no Token is written as a String, and one that is no String
// either (non-ASCII, control characters) as a Byte Sequence, a type Parse
// never accepts.
func Format(f cordon.ClientFacts) string {
	d := httpsfv.NewDictionary()
	if f.Platform != "" && f.Platform != cordon.PlatformUnknown {
		d.Add("platform", item(f.Platform, true))
	}
	if f.Version != "" {
		d.Add("version", item(f.Version, false))
	}
	if f.Source != "" && f.Source != cordon.SourceUnknown {
		d.Add("source", item(f.Source, true))
	}
	if f.Device != "" {
		d.Add("device", item(f.Device, false))
	}
	s, err := httpsfv.Marshal(d)
	if err != nil {
		// item only returns values it has marshalled successfully, and the
		// keys are constants; reaching here is a bug in this package.
		panic("clientfacts: cannot serialize facts: " + err.Error())
	}
	return s
}

// item returns the first of Token (if asToken), String and Byte Sequence
// that can hold v. The library decides what each type may hold, so this
// package has no copy of the RFC 8941 grammar to get wrong.
func item(v string, asToken bool) httpsfv.Item {
	candidates := []any{v, []byte(v)}
	if asToken {
		candidates = slices.Insert(candidates, 0, any(httpsfv.Token(v)))
	}
	for _, c := range candidates {
		it := httpsfv.NewItem(c)
		if _, err := httpsfv.Marshal(it); err == nil {
			return it
		}
	}
	return httpsfv.NewItem([]byte(v)) // any bytes make a Byte Sequence
}

// oneOf reads a Token (or String) member that must be one of allowed.
func oneOf(key string, m httpsfv.Member, allowed []string) (string, error) {
	v, err := text(key, m)
	if err != nil {
		return "", err
	}
	if slices.Contains(allowed, v) {
		return v, nil
	}
	hint := ""
	if slices.Contains(allowed, strings.ToLower(v)) {
		hint = " (values are lower-case)"
	}
	return "", invalid(nil, "%s %q is not one of %s%s", key, v, strings.Join(allowed, ", "), hint)
}

// version reads an app version: what app stores accept as a version name,
// e.g. 8.4.1, 8.4 or 8.4.1-beta.2. It must start with a digit so that the
// semver-style constraints of campaigns can compare it.
func version(m httpsfv.Member) (string, error) {
	v, err := text("version", m)
	if err != nil {
		return "", err
	}
	switch {
	case v == "":
		return "", invalid(nil, "version is empty; leave it out or send e.g. %s", example("version"))
	case len(v) > maxVersionLen:
		return "", invalid(nil, "version is %d characters; the limit is %d", len(v), maxVersionLen)
	case v[0] < '0' || v[0] > '9':
		return "", invalid(nil, "version %q must start with a digit, e.g. %s", v, example("version"))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && c != '.' && c != '+' && c != '-' {
			return "", invalid(nil, "version %q may hold only letters, digits, \".\", \"+\" and \"-\"", v)
		}
	}
	return v, nil
}

// device reads an opaque device id. Spaces are refused because ids are
// compared and logged as single words.
func device(m httpsfv.Member) (string, error) {
	v, err := text("device", m)
	if err != nil {
		return "", err
	}
	switch {
	case v == "":
		return "", invalid(nil, "device is empty; leave it out when there is no device id")
	case len(v) > maxDeviceLen:
		return "", invalid(nil, "device is %d characters; the limit is %d", len(v), maxDeviceLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return "", invalid(nil, "device %q may hold only printable ASCII characters, no spaces", v)
		}
	}
	return v, nil
}

// text reads a member that must be a String or a Token. Either is
// accepted for every known member because clients written against other
// structured-field libraries cannot always choose.
func text(key string, m httpsfv.Member) (string, error) {
	it, ok := m.(httpsfv.Item)
	if !ok {
		return "", invalid(nil, "%s must be a single value such as %s, not an inner list", key, example(key))
	}
	switch v := it.Value.(type) {
	case string:
		return v, nil
	case httpsfv.Token:
		return string(v), nil
	}
	return "", invalid(nil, "%s must be %s such as %s, not %s", key, kindWanted(key), example(key), kindOf(it.Value))
}

func kindWanted(key string) string {
	if key == "platform" || key == "source" {
		return "a token"
	}
	return "a quoted string"
}

// example shows a well-formed member, for messages.
func example(key string) string {
	switch key {
	case "platform":
		return "platform=android"
	case "version":
		return `version="8.4.1"`
	case "source":
		return "source=play"
	case "device":
		return `device="d-1"`
	}
	return ""
}

func kindOf(v any) string {
	switch v.(type) {
	case int64:
		return "an integer"
	case float64:
		return "a decimal"
	case bool:
		return "a boolean (a key with no value is the boolean true)"
	case []byte:
		return "a byte sequence"
	case httpsfv.DisplayString:
		return "a display string"
	case time.Time:
		return "a date"
	}
	return fmt.Sprintf("a %T", v)
}

// syntaxError explains a header the structured-field parser refused. The
// library reports only an offset, so the member at fault is found by
// parsing ever longer prefixes that end at a member boundary: the first
// that fails holds the fault. That costs a few parses, paid only for bad
// headers, which are at most MaxHeaderBytes long.
func syntaxError(h string, cause error) error {
	inString, escaped := false, false
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) {
			c := h[i]
			switch {
			case escaped:
				escaped = false
				continue
			case inString && c == '\\':
				escaped = true
				continue
			case c == '"':
				inString = !inString
				continue
			case inString || c != ',':
				continue
			}
		}
		if _, err := httpsfv.UnmarshalDictionary([]string{h[:i]}); err != nil {
			return faultIn(h[start:i], start > 0, cause)
		}
		start = i
	}
	// Not reached: the last prefix is the whole header, which failed.
	return invalid(cause, "not a valid structured-field dictionary (RFC 8941)")
}

// faultIn describes the malformed member seg; afterComma says seg begins
// with the comma that ended the previous member.
func faultIn(seg string, afterComma bool, cause error) error {
	if afterComma {
		seg = seg[1:]
	}
	seg = strings.TrimLeft(seg, " \t")
	if seg == "" {
		return invalid(cause, "empty member (a trailing comma, or two commas in a row)")
	}
	n := 0
	for n < len(seg) && isKeyChar(seg[n], n == 0) {
		n++
	}
	if n == 0 || (n < len(seg) && seg[n] != '=' && seg[n] != ';' && seg[n] != ' ' && seg[n] != '\t') {
		const show = 40
		if len(seg) > show {
			seg = seg[:show] + "…"
		}
		return invalid(cause, "malformed member %q; keys are lower-case, e.g. %s", seg, example("platform"))
	}
	key := seg[:n]
	if ex := example(key); ex != "" {
		return invalid(cause, "%s is malformed; expected e.g. %s (RFC 8941 syntax)", key, ex)
	}
	return invalid(cause, "member %q is malformed (RFC 8941 syntax)", key)
}

// isKeyChar reports whether c may appear in an RFC 8941 key, at its start
// if first.
func isKeyChar(c byte, first bool) bool {
	if c >= 'a' && c <= 'z' || c == '*' {
		return true
	}
	return !first && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.')
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// invalid returns the one error of this package; cause, if any, is kept for
// logs but not shown.
func invalid(cause error, format string, args ...any) error {
	return &cordon.Error{
		Code:    cordon.ECodeInvalidClient,
		Field:   Header,
		Message: Header + ": " + fmt.Sprintf(format, args...),
		Err:     cause,
	}
}
