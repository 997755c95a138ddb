package httpapi

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// A strictProblem is what encoding/json lets through but a strict body
// must not hold: an object with a member name twice (encoding/json keeps
// the last, so a body can say two things to two readers) or a string that
// is not valid UTF-8, raw or as a lone surrogate escape (encoding/json
// turns it into U+FFFD, rewriting evidence).
type strictProblem struct {
	path []string // the member's path from the body's root: names and array indexes
	msg  string   // for a person; names the member
}

// field is the path as a field name: "username", "cohort.users",
// "3.principal".
func (p *strictProblem) field() string { return strings.Join(p.path, ".") }

// checkStrict looks for a strictProblem in data, one or more JSON values.
// It answers nil for anything else, malformed JSON included, which the
// decoder then explains as before. Valid bodies cost one pass of
// jsontext's validating scanner (encoding/json/v2's, which refuses both
// by default).
func checkStrict(data []byte) *strictProblem {
	if jsontext.Value(data).IsValid() {
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	for {
		_, err := dec.ReadValue()
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		var se *jsontext.SyntacticError
		if !errors.As(err, &se) {
			return nil
		}
		var path []string
		for tok := range se.JSONPointer.Tokens() {
			path = append(path, tok)
		}
		name := "the body"
		if len(path) > 0 {
			name = "field " + strconv.Quote(path[len(path)-1])
		}
		switch {
		case errors.Is(se.Err, jsontext.ErrDuplicateName):
			return &strictProblem{path: path, msg: name + " appears more than once"}
		case strings.Contains(se.Err.Error(), "UTF-8"), strings.Contains(se.Err.Error(), "surrogate"):
			// A bad member name is reported at its object's path.
			return &strictProblem{path: path, msg: name + " holds text that is not valid UTF-8"}
		}
		return nil
	}
}
