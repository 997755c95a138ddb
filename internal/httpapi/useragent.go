package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/uafacts"
)

// clientFacts reads a request's client facts: the Cordon-Client header
// when the app sends one (a malformed one is an error, never a reason to
// look elsewhere), else what the user-agent rules infer, else unknown.
func (s *Server) clientFacts(h http.Header) (cordon.ClientFacts, error) {
	if s.userAgents == nil || sendsCordonClient(h) {
		return clientfacts.FromHeader(h)
	}
	f, _ := s.userAgents.FromHeader(h)
	return f, nil
}

// sendsCordonClient reports whether h has a Cordon-Client line that is
// not blank: an app that speaks cordon, whose word is taken over its
// user agent's.
func sendsCordonClient(h http.Header) bool {
	for _, l := range h[clientfacts.Header] {
		if strings.Trim(l, " \t") != "" {
			return true
		}
	}
	return false
}

// Bounds of a classify request.
const (
	maxClassifyBody   = 1 << 20
	maxClassifyAgents = 10_000
)

// handleClassifyUA is the preview of the user-agent rules: it runs them
// over a list of user agents (a JSON array of strings, or text with one
// per line) and answers, per family, how many resolve to a platform and
// to which, and how many stay unknown, with examples. The rules are the
// server's own (cordon serve --ua-rules / --ua-app); with none, every
// user agent stays unknown and "rules" is false.
func (s *Server) handleClassifyUA(w http.ResponseWriter, r *http.Request) {
	uas, err := readUserAgents(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Rules bool `json:"rules"`
		uafacts.Report
	}{s.userAgents != nil, s.userAgents.Classify(uas)})
}

func readUserAgents(w http.ResponseWriter, r *http.Request) ([]string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "text/plain") {
		return nil, cordon.Errorf(cordon.ECodeMediaType, "Content-Type must be application/json (an array of strings) or text/plain (one user agent per line)")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxClassifyBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, cordon.Errorf(cordon.ECodeTooLarge, "the body is larger than %d bytes", maxClassifyBody)
		}
		return nil, cordon.Errorf(cordon.ECodeInvalid, "the body could not be read")
	}
	var uas []string
	if mt == "application/json" {
		if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '[' {
			return nil, cordon.Errorf(cordon.ECodeInvalid, "the body must be a JSON array of user-agent strings")
		}
		if err := json.Unmarshal(body, &uas); err != nil {
			return nil, cordon.Errorf(cordon.ECodeInvalid, "the body must be a JSON array of user-agent strings")
		}
	} else {
		for l := range strings.Lines(string(body)) {
			if l = strings.TrimRight(l, "\r\n"); l != "" {
				uas = append(uas, l)
			}
		}
	}
	if len(uas) == 0 {
		return nil, cordon.Errorf(cordon.ECodeInvalid, "no user agents to classify")
	}
	if len(uas) > maxClassifyAgents {
		return nil, cordon.Errorf(cordon.ECodeTooLarge, "at most %d user agents per request, got %d", maxClassifyAgents, len(uas))
	}
	return uas, nil
}
