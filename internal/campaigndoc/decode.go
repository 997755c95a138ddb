package campaigndoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cordon-dev/cordon/internal/cordon"
	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// document is the campaign document as decoded, before validation.
// Pointers and nil slices tell an absent field from an empty one, since an
// empty list or string is refused rather than read as "any".
type document struct {
	Kind    string      `json:"kind"`
	Name    string      `json:"name"`
	Cohort  *docCohort  `json:"cohort"`
	Ramp    *docRamp    `json:"ramp"`
	Upgrade *docUpgrade `json:"upgrade"`
	Message string      `json:"message"`
	After   *docAfter   `json:"after"`
	Verify  *string     `json:"verify"`
}

type docAfter struct {
	Campaign  *string `json:"campaign"`
	Satisfied *bool   `json:"satisfied"`
	Per       *string `json:"per"`
}

type docCohort struct {
	Platforms           []string     `json:"platforms"`
	Versions            *string      `json:"versions"`
	Sources             []string     `json:"sources"`
	AuthenticatedBefore *string      `json:"authenticated_before"`
	Users               []string     `json:"users"`
	UsersFromReport     *string      `json:"users_from_report"`
	Subjects            []docSubject `json:"subjects"`
}

type docSubject struct {
	Issuer *string `json:"issuer"`
	Sub    *string `json:"sub"`
}

type docRamp struct {
	Start *string `json:"start"`
	// Duration is a string or a number, read by parseDuration.
	Duration json.RawMessage `json:"duration"`
	// Mode is "fixed" (the default) or "auto"; an auto ramp has a
	// MaxDuration (read like Duration) instead of a Duration and may
	// name a TargetUtilisation.
	Mode              *string         `json:"mode"`
	MaxDuration       json.RawMessage `json:"max_duration"`
	TargetUtilisation *float64        `json:"target_utilisation"`
	// Priority names who goes first, in a ramp of either mode.
	Priority *docPriority `json:"priority"`
}

type docPriority struct {
	Users            []string `json:"users"`
	UsersFromReport  *string  `json:"users_from_report"`
	UnusualAddresses *bool    `json:"unusual_addresses"`
}

type docUpgrade struct {
	MinVersion *string           `json:"min_version"`
	Mode       *string           `json:"mode"`
	URLs       map[string]string `json:"urls"`
}

// schema lists the keys each object of the document may hold, by dotted
// path. Objects at other paths (upgrade.urls, or an object where a string
// belongs) are left to the typed decode and to validation.
var schema = map[string][]string{
	"":       {"kind", "name", "cohort", "ramp", "upgrade", "message", "after", "verify"},
	"after":  {"campaign", "satisfied", "per"},
	"cohort": {"platforms", "versions", "sources", "authenticated_before", "users", "users_from_report", "subjects"},
	// The one list of objects: each item is checked like an object.
	"cohort.subjects[]": {"issuer", "sub"},
	"ramp":              {"start", "duration", "mode", "max_duration", "target_utilisation", "priority"},
	"ramp.priority":     {"users", "users_from_report", "unusual_addresses"},
	"upgrade":           {"min_version", "mode", "urls"},
}

func invalid(field, format string, args ...any) *cordon.Error {
	return cordon.FieldError(cordon.ECodeInvalid, field, format, args...)
}

// decode reads one JSON object into a document. It first walks the tokens
// itself, because encoding/json matches keys case-insensitively, keeps the
// last of duplicated keys and names an unknown field without its path: any
// of these would let a document mean something other than it says.
func decode(data []byte, fromYAML bool) (*document, error) {
	if !utf8.Valid(data) {
		return nil, invalid("", "the campaign document is not valid UTF-8")
	}
	if err := checkStructure(data, schema); err != nil {
		return nil, err
	}
	var doc document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, decodeError(data, err, fromYAML)
	}
	return &doc, nil
}

// maxDepth bounds the nesting of a document. The deepest a valid one goes
// is 3 (upgrade.urls.play); without a bound, a megabyte of "[" would cost
// a frame and a path per level.
const maxDepth = 8

// checkStructure verifies that data is exactly one JSON object, that no
// object repeats a key, and that the objects of the schema hold only its
// keys, spelt exactly.
func checkStructure(data []byte, schema map[string][]string) error {
	type frame struct {
		object bool
		path   string
		keyDue bool   // in an object, a key (or its end) comes next
		key    string // the key whose value comes next
		seen   map[string]bool
		known  []string // nil: keys are not checked here
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	// valuePath is the path of the value the next token begins.
	valuePath := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if !f.object {
			return f.path + "[]"
		}
		return join(f.path, f.key)
	}
	// consumed notes that the value the top frame waited for has ended.
	consumed := func() {
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].keyDue = true
		}
	}
	for first := true; first || len(stack) > 0; first = false {
		tok, err := dec.Token()
		if err != nil {
			return decodeError(data, err, false)
		}
		if d, ok := tok.(json.Delim); first && (!ok || d != '{') {
			return invalid("", "a campaign document is one JSON object, {...}")
		}
		if len(stack) > 0 && stack[len(stack)-1].keyDue {
			f := stack[len(stack)-1]
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				consumed()
				continue
			}
			k := tok.(string) // the decoder refuses anything else here
			path := join(f.path, k)
			if f.seen[k] {
				return invalid(path, "%q is given twice", path)
			}
			f.seen[k] = true
			if f.known != nil && !slices.Contains(f.known, k) {
				return unknownField(path, k, f.known)
			}
			f.key, f.keyDue = k, false
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') && len(stack) == maxDepth {
			return invalid("", "the campaign document is nested too deeply")
		}
		switch tok {
		case json.Delim('{'):
			p := valuePath()
			var known []string
			if len(stack) == 0 || stack[len(stack)-1].object || schema[p] != nil {
				known = schema[p] // objects inside lists are, if named "path[]"
			}
			stack = append(stack, &frame{object: true, path: p, keyDue: true, seen: map[string]bool{}, known: known})
		case json.Delim('['):
			stack = append(stack, &frame{path: valuePath()})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			consumed()
		default:
			consumed()
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("", "a campaign document is one JSON object; something follows it")
	}
	return nil
}

func unknownField(path, key string, known []string) *cordon.Error {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return invalid(path, "unknown field %q; field names are lower-case: %q", path, k)
		}
	}
	return invalid(path, "unknown field %q; the fields here are %s", path, strings.Join(known, ", "))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decodeError turns an encoding/json error into a 400 that says where the
// document is wrong, without Go type names.
func decodeError(data []byte, err error, fromYAML bool) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return &cordon.Error{Code: cordon.ECodeInvalid, Err: err,
			Message: fmt.Sprintf("the campaign document is not valid JSON (line %d, column %d)", line, col)}
	case len(bytes.TrimSpace(data)) == 0:
		return &cordon.Error{Code: cordon.ECodeInvalid, Err: err, Message: "the campaign document is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &cordon.Error{Code: cordon.ECodeInvalid, Err: err,
			Message: "the campaign document ends too early"}
	case errors.As(err, &typ):
		field := typ.Field
		msg := fmt.Sprintf("%s must be %s, not %s", orDocument(field), jsonKind(typ.Type), article(typ.Value))
		if fromYAML && typ.Value != "object" && typ.Value != "array" {
			msg += " (in YAML, quote values such as 123, yes or null that are meant as text)"
		}
		return &cordon.Error{Code: cordon.ECodeInvalid, Field: field, Message: msg, Err: err}
	}
	if s, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		// checkStructure refuses unknown fields first; this is a backstop.
		name, _ := strconv.Unquote(s)
		return &cordon.Error{Code: cordon.ECodeInvalid, Field: name, Err: err,
			Message: fmt.Sprintf("unknown field %q", name)}
	}
	return &cordon.Error{Code: cordon.ECodeInvalid, Err: err, Message: "the campaign document could not be read"}
}

func orDocument(field string) string {
	if field == "" {
		return "the document"
	}
	return field
}

// jsonKind names the JSON form of a Go type of document.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		if t == reflect.TypeFor[json.RawMessage]() {
			return "a string or a number"
		}
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a " + t.Kind().String()
}

func article(jsonValue string) string {
	switch jsonValue {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "":
		return "this"
	}
	if strings.HasPrefix(jsonValue, "number") {
		return "a number"
	}
	return "a " + jsonValue
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// maxYAMLNodes is the most nodes a YAML document may have: room for every
// field and the longest list of users.
const maxYAMLNodes = maxUsers + 1000

// yamlToJSON converts a YAML document to JSON for the strict JSON path.
//
// sigs.k8s.io/yaml expands aliases while converting, and go-yaml's guard
// against excessive aliasing lets a few kilobytes of anchors and aliases
// of one long scalar expand to gigabytes. A campaign document has no use
// for them, so the document is first parsed with go-yaml v3, whose node
// tree keeps aliases unexpanded, and refused if it has any.
func yamlToJSON(data []byte) ([]byte, error) {
	if !utf8.Valid(data) {
		return nil, invalid("", "the campaign document is not valid UTF-8")
	}
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var root yamlv3.Node
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			return nil, invalid("", "the campaign document is empty")
		}
		return nil, yamlError(err)
	}
	var next yamlv3.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, invalid("", "a campaign document is one YAML document; remove everything after the second ---")
	}
	// The walk also counts nodes: converting is the costly half, and no
	// valid document holds many more values than its list of users.
	nodes := 0
	for stack := []*yamlv3.Node{&root}; len(stack) > 0; {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if nodes++; nodes > maxYAMLNodes {
			return nil, invalid("", "the campaign document holds more than %d values; a campaign lists at most %d users", maxYAMLNodes, maxUsers)
		}
		if n.Kind == yamlv3.AliasNode || n.Anchor != "" {
			return nil, invalid("", "YAML anchors and aliases (&name, *name, <<) are not allowed in a campaign document (line %d)", n.Line)
		}
		stack = append(stack, n.Content...)
	}
	out, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, yamlError(err)
	}
	return out, nil
}

func yamlError(err error) error {
	// go-yaml reports several problems on several lines; one line reads
	// better in a JSON error body.
	msg := strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: ")), " ")
	return &cordon.Error{Code: cordon.ECodeInvalid, Err: err,
		Message: "the campaign document is not valid YAML: " + msg}
}
