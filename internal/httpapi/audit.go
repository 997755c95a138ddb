package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/dunglas/httpsfv"
)

// MaxAuditBody bounds one ingest request: 10,000 events of about 400
// bytes fit well inside; a reporter with more sends several batches.
const MaxAuditBody = 8 << 20

// eventBody is an event on the wire. Unknown fields are refused, so a
// misspelt field is an error rather than a silently empty one.
type eventBody struct {
	Time       *time.Time `json:"time"`
	Principal  string     `json:"principal"`
	Action     string     `json:"action"`
	Subject    string     `json:"subject"`
	Categories []string   `json:"categories"`
	Purpose    string     `json:"purpose"`
	Source     string     `json:"source"`
}

func (b eventBody) event() audit.Event {
	e := audit.Event{Principal: b.Principal, Action: b.Action, Subject: b.Subject, Categories: b.Categories, Purpose: b.Purpose, Source: b.Source}
	if b.Time != nil {
		e.Time = *b.Time
	}
	return e
}

// handleIngest takes a batch of events as a JSON array
// (application/json) or one event per line (application/x-ndjson) and
// appends all of them in one transaction, or none. The answer is sent only
// after the commit: a 200 means every event of the batch is durable, at the
// indexes it names.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body := http.MaxBytesReader(w, r.Body, MaxAuditBody)
	var (
		events []audit.Event
		err    error
	)
	switch mt {
	case "application/json":
		events, err = decodeEventArray(body)
	case "application/x-ndjson":
		events, err = decodeEventLines(body)
	default:
		err = cordon.Errorf(cordon.ECodeMediaType, "Content-Type must be application/json (an array of events) or application/x-ndjson (one event per line)")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	key, ok, err := idempotencyKey(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !ok {
		entries, size, err := s.audit.Ingest(r.Context(), events)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"accepted":    len(entries),
			"first_index": entries[0].Index,
			"last_index":  entries[len(entries)-1].Index,
			"log_size":    size,
		})
		return
	}
	// The key is the reporter's: scoped by its admin token, so two
	// reporters choosing one key never see each other's batches.
	at, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken)
	got, err := s.audit.IngestOnce(r.Context(), at.ID+"/"+key, events)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if got.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"accepted":    got.Count,
		"first_index": got.First,
		"last_index":  got.First + uint64(got.Count) - 1,
		"log_size":    got.Size,
		"replayed":    got.Replayed,
	})
}

// idempotencyKey reads the Idempotency-Key header
// (draft-ietf-httpapi-idempotency-key-header): a structured-field string
// ("8e03978e-…") or, as most clients send it, the bare value. ok is false
// when the request has none.
func idempotencyKey(r *http.Request) (key string, ok bool, err error) {
	vs := r.Header.Values("Idempotency-Key")
	if len(vs) == 0 {
		return "", false, nil
	}
	bad := func(format string, a ...any) error {
		return cordon.FieldError(cordon.ECodeInvalid, "Idempotency-Key", format, a...)
	}
	if len(vs) > 1 {
		return "", false, bad("send one Idempotency-Key header, not %d", len(vs))
	}
	v := strings.TrimSpace(vs[0])
	if item, err := httpsfv.UnmarshalItem([]string{v}); err == nil {
		if str, isStr := item.Value.(string); isStr {
			v = str
		}
	}
	if v == "" || len(v) > auditlog.MaxIdempotencyKey {
		return "", false, bad("an Idempotency-Key is 1 to %d characters; send a fresh random value (a UUID) per batch and the same one when retrying it", auditlog.MaxIdempotencyKey)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\' {
			return "", false, bad("an Idempotency-Key holds printable ASCII only, without quotes or spaces; send a UUID")
		}
	}
	return v, true, nil
}

// eventError names the event a decoding error is in.
func eventError(i int, err error) error {
	var ce *cordon.Error
	if errors.As(jsonError(err), &ce) && ce.Code == cordon.ECodeTooLarge {
		return ce
	}
	msg := jsonError(err).Error()
	if errors.As(jsonError(err), &ce) {
		msg = ce.Message
	}
	return cordon.FieldError(cordon.ECodeInvalid, "events["+strconv.Itoa(i)+"]", "event %d: %s", i, msg)
}

func decodeEvent(dec *json.Decoder, i int) (audit.Event, error) {
	var b eventBody
	if err := dec.Decode(&b); err != nil {
		return audit.Event{}, eventError(i, err)
	}
	return b.event(), nil
}

func decodeEventArray(body io.Reader) ([]audit.Event, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, jsonError(err)
	}
	if p := checkStrict(data); p != nil {
		if len(p.path) == 0 {
			return nil, cordon.FieldError(cordon.ECodeInvalid, "events", "%s", p.msg)
		}
		return nil, cordon.FieldError(cordon.ECodeInvalid, eventField(p.path[0], p.path[1:]), "event %s: %s", p.path[0], p.msg)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, cordon.Errorf(cordon.ECodeInvalid, "the body must be a JSON array of events")
	}
	var events []audit.Event
	for dec.More() {
		if len(events) == auditlog.MaxBatch {
			return nil, cordon.Errorf(cordon.ECodeTooLarge, "the batch holds more than %d events; send several", auditlog.MaxBatch)
		}
		e, err := decodeEvent(dec, len(events))
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, jsonError(err)
		}
		return nil, cordon.Errorf(cordon.ECodeInvalid, "the body must hold exactly one JSON array")
	}
	return events, nil
}

// eventField names a member of event i: "events[3].principal".
func eventField(i string, path []string) string {
	f := "events[" + i + "]"
	for _, p := range path {
		f += "." + p
	}
	return f
}

func decodeEventLines(body io.Reader) ([]audit.Event, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	var events []audit.Event
	for line := 0; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(events) == auditlog.MaxBatch {
			return nil, cordon.Errorf(cordon.ECodeTooLarge, "the batch holds more than %d events; send several", auditlog.MaxBatch)
		}
		if p := checkStrict(b); p != nil {
			n := strconv.Itoa(len(events))
			return nil, cordon.FieldError(cordon.ECodeInvalid, eventField(n, p.path), "event %s (line %d): %s", n, line+1, p.msg)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		e, err := decodeEvent(dec, len(events))
		if err != nil {
			return nil, err
		}
		if dec.More() {
			return nil, cordon.FieldError(cordon.ECodeInvalid, "events["+strconv.Itoa(len(events))+"]", "event %d (line %d) holds more than one JSON value", len(events), line+1)
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, jsonError(err)
		}
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, cordon.FieldError(cordon.ECodeTooLarge, "events["+strconv.Itoa(len(events))+"]", "event %d is longer than 64 KiB", len(events))
		}
		return nil, err
	}
	return events, nil
}

// queryUint reads an optional unsigned query parameter.
func queryUint(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, cordon.FieldError(cordon.ECodeInvalid, name, "%s must be a whole number, not %q", name, short(v))
	}
	return n, nil
}

// requiredUint is queryUint for a parameter that must be given.
func requiredUint(r *http.Request, name string) (uint64, error) {
	if r.URL.Query().Get(name) == "" {
		return 0, cordon.FieldError(cordon.ECodeInvalid, name, "%s is required", name)
	}
	return queryUint(r, name)
}

func b64(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = base64.StdEncoding.EncodeToString(b)
	}
	return out
}

func (s *Server) handleInclusion(w http.ResponseWriter, r *http.Request) {
	index, err := requiredUint(r, "index")
	var size uint64
	if err == nil {
		size, err = queryUint(r, "size")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.audit.Inclusion(r.Context(), index, size)
	if err == nil {
		err = s.recordLogRead(r, audit.ActionRead, fmt.Sprintf("inclusion proof of entry %d at size %d", p.Index, p.Size))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"index": p.Index, "size": p.Size, "leaf": base64.StdEncoding.EncodeToString(p.Leaf), "leaf_hash": base64.StdEncoding.EncodeToString(p.LeafHash),
		"hashes": b64(p.Hashes), "checkpoint": string(p.Checkpoint),
	})
}

func (s *Server) handleConsistency(w http.ResponseWriter, r *http.Request) {
	from, err := requiredUint(r, "from")
	var to uint64
	if err == nil {
		to, err = queryUint(r, "to")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.audit.Consistency(r.Context(), from, to)
	if err == nil {
		err = s.recordLogRead(r, audit.ActionRead, fmt.Sprintf("consistency proof from size %d to %d", p.From, p.To))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"from": p.From, "to": p.To, "hashes": b64(p.Hashes),
		"from_checkpoint": string(p.FromCheckpoint), "checkpoint": string(p.Checkpoint),
	})
}

// CheckpointsView is GET /audit/v1/checkpoints: every signed checkpoint
// and what a second party needs to check them. cordon audit checkpoints
// writes it to a file as it is, and verify --checkpoints reads it back.
type CheckpointsView struct {
	Origin      string           `json:"origin"`
	VerifierKey string           `json:"verifier_key"`
	LogSize     uint64           `json:"log_size"`
	Checkpoints []CheckpointView `json:"checkpoints"`
	// NextAfter, on a page (?after=&limit=) that is full, is the after of
	// the next page.
	NextAfter *uint64 `json:"next_after,omitempty"`
}

// CheckpointView is a checkpoint as served and exported.
type CheckpointView struct {
	Size uint64 `json:"size"`
	Note string `json:"note"`
}

// handleCheckpoints lists the signed checkpoints: all of them, or with
// after and limit a page (limit defaults to 1,000), whose next_after
// names the next.
func (s *Server) handleCheckpoints(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	paged := q.Has("after") || q.Has("limit")
	var (
		cps   []*cordon.AuditCheckpoint
		limit = 1000
		err   error
	)
	if paged {
		var after, n uint64
		if after, err = queryUint(r, "after"); err == nil && q.Get("limit") != "" {
			if n, err = queryUint(r, "limit"); err == nil {
				limit = int(min(n, auditlog.MaxCheckpointPage+1))
			}
		}
		if err == nil {
			cps, err = s.audit.CheckpointsAfter(r.Context(), after, limit)
		}
	} else {
		cps, err = s.audit.Checkpoints(r.Context())
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]CheckpointView, len(cps))
	for i, c := range cps {
		out[i] = CheckpointView{Size: c.Size, Note: string(c.Note)}
	}
	size, err := s.audit.Size(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	v := CheckpointsView{Origin: s.audit.Origin(), VerifierKey: s.audit.VerifierKey(), LogSize: size, Checkpoints: out}
	if paged && len(cps) == limit {
		next := cps[len(cps)-1].Size
		v.NextAfter = &next
	}
	writeJSON(w, http.StatusOK, v)
}

// EntryView is one line of the entries export: the stored leaf bytes and
// hash (base64 in JSON), so a verifier hashes exactly what the store holds,
// and the columns reports are built from, so it can check they say what
// the signed leaf says. cordon audit verify decodes the same type.
type EntryView struct {
	Index    uint64      `json:"index"`
	Leaf     []byte      `json:"leaf"`
	LeafHash []byte      `json:"leaf_hash"`
	Indexed  IndexedView `json:"indexed"`
}

// IndexedView is an entry's report columns.
type IndexedView struct {
	Time       time.Time `json:"time"`
	Principal  string    `json:"principal"`
	Action     string    `json:"action"`
	Subject    string    `json:"subject"`
	Categories []string  `json:"categories"`
	// Account is the account the subject resolved to at ingest, "" when
	// it named none; absent for entries logged before subjects were
	// resolved.
	Account *string `json:"account,omitempty"`
}

// handleEntries streams entries [from, to) as NDJSON; to defaults to the
// log's size, which the Cordon-Audit-Log-Size header gives. A long export
// extends the server's write deadline as it goes; a store error mid-stream
// aborts the connection, so a client never takes a cut stream for the
// whole log.
func (s *Server) handleEntries(w http.ResponseWriter, r *http.Request) {
	from, err := queryUint(r, "from")
	var to uint64
	if err == nil {
		to, err = queryUint(r, "to")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	size, err := s.audit.Size(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if to == 0 || to > size {
		to = size
	}
	if err := s.recordLogRead(r, audit.ActionExport, fmt.Sprintf("entries %d..%d exported", from, to)); err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cordon-Audit-Log-Size", strconv.FormatUint(size, 10))
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	rc := http.NewResponseController(w)
	err = s.exportEntries(r.Context(), from, to, func(batch []*cordon.AuditEntry) error {
		// Each batch gets its own minute: the server's WriteTimeout would
		// otherwise cut a 10M-entry export short.
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		for _, e := range batch {
			// The bytes json.Encoder would write for an EntryView, without
			// its reflection (AppendEntryLine).
			var err error
			if line, err = AppendEntryLine(line[:0], e); err != nil {
				return err
			}
			if _, err = bw.Write(line); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		s.logger(r).Warn("audit entries export ended early", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// exportBatch is how many entries exportEntries hands over at a time.
const exportBatch = 1000

// exportEntries calls fn with entries [from, to) in index order, in
// batches of exportBatch, while a goroutine of its own reads the next
// ones from the store: the export's one stream then has the store's reads
// overlap its encoding and sending rather than wait for them.
func (s *Server) exportEntries(ctx context.Context, from, to uint64, fn func([]*cordon.AuditEntry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []*cordon.AuditEntry, 4)
	read := make(chan error, 1)
	go func() {
		defer close(batches)
		batch := make([]*cordon.AuditEntry, 0, exportBatch)
		send := func() error {
			select {
			case batches <- batch:
				batch = make([]*cordon.AuditEntry, 0, exportBatch)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := s.audit.Entries(ctx, from, to, func(e *cordon.AuditEntry) error {
			if batch = append(batch, e); len(batch) == exportBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		read <- err
	}()
	for batch := range batches {
		if err := fn(batch); err != nil {
			cancel()
			for range batches {
			}
			return err
		}
	}
	return <-read
}

// reportQuery reads from/to (RFC 3339; to defaults to now plus the
// allowed clock skew, from to 30 days before to) and the principals.
func (s *Server) reportQuery(r *http.Request) (principals []string, from, to time.Time, err error) {
	q := r.URL.Query()
	principals = q["principal"]
	// By default the window reaches as far ahead as an event may be dated,
	// so what was just reported is in it.
	to = s.clock.Now().Add(audit.MaxFutureSkew)
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return nil, from, to, cordon.FieldError(cordon.ECodeInvalid, "to", "to must be an RFC 3339 time such as 2026-11-29T00:00:00Z, not %q", short(v))
		}
	}
	from = to.AddDate(0, 0, -30)
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return nil, from, to, cordon.FieldError(cordon.ECodeInvalid, "from", "from must be an RFC 3339 time such as 2026-11-01T00:00:00Z, not %q", short(v))
		}
	}
	return principals, from, to, nil
}

func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	principals, from, to, err := s.reportQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rep, err := s.audit.Report(r.Context(), principals, from, to)
	if err == nil {
		err = s.recordLogRead(r, audit.ActionRead, reportPurpose("report", principals, from, to))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeReport(w, r, rep, s.allRows(rep))
}

// allRows streams every row of rep's query again, for a CSV of a report
// too long to hold.
func (s *Server) allRows(rep *auditlog.Report) func(context.Context, func(*cordon.AuditAccess) error) error {
	return func(ctx context.Context, fn func(*cordon.AuditAccess) error) error {
		return s.audit.ReportRows(ctx, rep.Principals, rep.From, rep.To, fn)
	}
}

type saveReportBody struct {
	Principals []string   `json:"principals"`
	From       *time.Time `json:"from"`
	To         *time.Time `json:"to"`
}

func (s *Server) handleSaveReport(w http.ResponseWriter, r *http.Request) {
	if _, err := reportFormat(r); err != nil {
		// Refused before saving, so a retry with a good format does not
		// leave a saved twin behind.
		writeError(w, r, err)
		return
	}
	var body saveReportBody
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	// The same defaults as GET: up to now plus the allowed skew, 30 days.
	to := s.clock.Now().Add(audit.MaxFutureSkew)
	if body.To != nil {
		to = *body.To
	}
	from := to.AddDate(0, 0, -30)
	if body.From != nil {
		from = *body.From
	}
	rep, err := s.audit.SaveReport(r.Context(), body.Principals, from, to, actor(r))
	if err == nil {
		err = s.recordLogRead(r, audit.ActionRead, reportPurpose("report "+rep.ID+" saved", body.Principals, from, to))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/admin/v1/audit/reports/"+rep.ID)
	writeReportStatus(w, r, rep, http.StatusCreated, s.allRows(rep))
}

func (s *Server) handleSavedReport(w http.ResponseWriter, r *http.Request) {
	rep, err := s.audit.SavedReport(r.Context(), r.PathValue("id"))
	if errors.Is(err, cordon.ErrNotFound) {
		err = cordon.Errorf(cordon.ECodeNotFound, "no saved report %q", short(r.PathValue("id")))
	}
	if err == nil {
		err = s.recordLogRead(r, audit.ActionRead, "saved report "+rep.ID+" read")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeReport(w, r, rep, s.allRows(rep))
}

func writeReport(w http.ResponseWriter, r *http.Request, rep *auditlog.Report, rows func(context.Context, func(*cordon.AuditAccess) error) error) {
	writeReportStatus(w, r, rep, http.StatusOK, rows)
}

// accessView is one user's row of a report. User is the account id when
// the subject resolved to one (aliases then lists the names it was logged
// under), else the subject as logged, with unresolved set when it named
// no account.
type accessView struct {
	User       string           `json:"user"`
	Events     int64            `json:"events"`
	Categories []string         `json:"categories"`
	First      time.Time        `json:"first"`
	Last       time.Time        `json:"last"`
	Account    string           `json:"account,omitempty"`
	Unresolved bool             `json:"unresolved,omitempty"`
	Aliases    []string         `json:"aliases,omitempty"`
	Actions    map[string]int64 `json:"actions"`
}

// actionCounts is a row's count per action, every action named.
func actionCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, 4)
	for _, a := range auditlog.Actions() {
		out[a] = m[a]
	}
	return out
}

// accessCSVHeader is a report's CSV header: the first five columns as
// before subjects were resolved, then the account, the flag, the aliases
// and a count per action.
var accessCSVHeader = append([]string{"user", "events", "categories", "first", "last", "account", "unresolved", "aliases"}, auditlog.Actions()...)

func accessCSV(a *cordon.AuditAccess) []string {
	row := []string{csvSafe(a.Subject), strconv.FormatInt(a.Count, 10), strings.Join(a.Categories, " "),
		a.First.UTC().Format(time.RFC3339Nano), a.Last.UTC().Format(time.RFC3339Nano),
		csvSafe(a.Account), strconv.FormatBool(a.Unresolved), csvSafe(strings.Join(a.Aliases, " "))}
	for _, act := range auditlog.Actions() {
		row = append(row, strconv.FormatInt(a.Actions[act], 10))
	}
	return row
}

// accessLine is a row in the human form: "u-1 (alice, ALICE): 3 events:
// 2 read, 1 export; email, profile; FIRST to LAST".
func accessLine(a *cordon.AuditAccess) string {
	name := a.Subject
	switch {
	case a.Unresolved:
		name += " (unresolved: names no account)"
	case a.Account != "" && !slices.Equal(a.Aliases, []string{a.Account}):
		var others []string
		for _, al := range a.Aliases {
			if al != a.Account {
				others = append(others, al)
			}
		}
		name += " (" + strings.Join(others, ", ") + ")"
	}
	return fmt.Sprintf("%s: %s; %s; %s to %s", name, auditlog.ActionSummary(a.Count, a.Actions), strings.Join(a.Categories, ", "),
		a.First.Format(time.RFC3339), a.Last.Format(time.RFC3339))
}

// writeReportStatus answers in the format the format parameter or the
// Accept header asks for: json (default), csv or text.
func writeReportStatus(w http.ResponseWriter, r *http.Request, rep *auditlog.Report, status int, rows func(context.Context, func(*cordon.AuditAccess) error) error) {
	format, err := reportFormat(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	switch format {
	case "json":
		users := make([]accessView, len(rep.Accesses))
		for i, a := range rep.Accesses {
			users[i] = accessView{User: a.Subject, Events: a.Count, Categories: a.Categories, First: a.First, Last: a.Last,
				Account: a.Account, Unresolved: a.Unresolved, Aliases: a.Aliases, Actions: actionCounts(a.Actions)}
		}
		v := map[string]any{"report": rep, "accesses": users}
		if rep.ID != "" {
			saved := rep.SavedUsers
			if saved == nil {
				saved = []string{}
			}
			v["saved_users"] = saved
		}
		writeJSON(w, status, v)
	case "csv":
		// Every row, even past what the report holds: a CSV is the full
		// list, streamed from the store.
		writeCSV(w, r, status, accessCSVHeader, rep.Accesses, rep.Truncated, rows, accessCSV)
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, ReportText(rep))
	}
}

// reportFormat is the format the format parameter or the Accept header
// asks for: json (default), csv or text.
func reportFormat(r *http.Request) (string, error) {
	format := r.URL.Query().Get("format")
	if format == "" {
		switch accept := r.Header.Get("Accept"); {
		case strings.Contains(accept, "text/csv"):
			format = "csv"
		case strings.Contains(accept, "text/plain"):
			format = "text"
		default:
			format = "json"
		}
	}
	switch format {
	case "json", "csv", "text":
		return format, nil
	}
	return "", cordon.FieldError(cordon.ECodeInvalid, "format", "format must be json, csv or text, not %q", short(format))
}

// csvSafe defuses a cell a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ReportText is the human form of a report.
func ReportText(rep *auditlog.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", rep.Summary)
	fmt.Fprintf(&b, "principals: %s\nwindow: %s to %s\n", strings.Join(rep.Principals, ", "),
		rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	if rep.ID != "" {
		fmt.Fprintf(&b, "saved as %s (%d users)\n", rep.ID, len(rep.SavedUsers))
	}
	fmt.Fprintf(&b, "events: %d (%s)\n", rep.Events, auditlog.ActionBreakdown(rep.Actions))
	if rep.First != nil {
		fmt.Fprintf(&b, "first access: %s\nlast access: %s\n", rep.First.Format(time.RFC3339), rep.Last.Format(time.RFC3339))
	}
	const shown = 50
	for i, a := range rep.Accesses {
		if i == shown {
			fmt.Fprintf(&b, "  … and %d more (--format csv lists them all)\n", rep.Users+rep.Unresolved+rep.Objects-shown)
			break
		}
		fmt.Fprintf(&b, "  %s\n", accessLine(&a))
	}
	return b.String()
}

// change makes an admin's change through write and commits its audit
// record in the change's own transaction, one typed call
// (cordon.Audited): both are kept or neither, and a write that returned
// without having carried the record is an internal error rather than a
// silent loss. The principal is the admin token, "cordon:admin/NAME" (a
// prefix reporters may not use), the purpose names the token's id, and
// the source is the client's address. Every field is made printable and
// short enough rather than refused: an admin's odd token name must not
// stop the change it records.
func change[T any](s *Server, r *http.Request, write func(context.Context) (T, error), action, subject, purpose string, categories ...string) (T, error) {
	var e *cordon.AuditEntry
	if s.audit != nil {
		var err error
		if e, err = s.adminEntry(r, action, subject, purpose, categories...); err != nil {
			var zero T
			return zero, err
		}
	}
	return cordon.Audited(r.Context(), e, write)
}

// changed is change for a write that returns only an error.
func (s *Server) changed(r *http.Request, write func(context.Context) error, action, subject, purpose string, categories ...string) error {
	_, err := change(s, r, func(ctx context.Context) (struct{}, error) { return struct{}{}, write(ctx) }, action, subject, purpose, categories...)
	return err
}

// adminEntry is the audit record of an admin's action (see change).
func (s *Server) adminEntry(r *http.Request, action, subject, purpose string, categories ...string) (*cordon.AuditEntry, error) {
	principal := auditlog.ObjectPrefix + "admin"
	if at, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken); at != nil {
		principal += "/" + at.Name
		// The purpose is cut to fit before the token is named, so a
		// long one (a query padded with principals that match nothing)
		// cannot push the token off the record.
		suffix := " (admin token " + at.ID + ")"
		purpose = printable(purpose, audit.MaxPurpose-len(suffix)) + suffix
	}
	source, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		source = r.RemoteAddr
	}
	if subject == "" {
		subject = auditlog.ObjectPrefix + "unknown"
	}
	now := s.clock.Now()
	e, err := s.audit.Entry(audit.Event{Time: now, Principal: printable(principal, audit.MaxPrincipal), Action: action,
		Subject: printable(subject, audit.MaxSubject), Categories: categories,
		Purpose: printable(purpose, audit.MaxPurpose), Source: printable(source, audit.MaxSource)}, now, -1)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// recordRead appends an admin's read of a user's data to the audit log
// before the data is sent: if the record cannot be kept, the answer is an
// error and nothing is disclosed.
func (s *Server) recordRead(r *http.Request, subject, purpose string, categories ...string) error {
	return s.recordAction(r, audit.ActionRead, subject, purpose, categories...)
}

// recordLogRead records a read of the audit log itself (a report, an
// export, a proof) in the log, before the answer is sent: the
// investigation is evidence too. Checkpoints are not recorded: they
// disclose no one's data, and witnesses poll them.
func (s *Server) recordLogRead(r *http.Request, action, purpose string) error {
	return s.recordAction(r, action, auditlog.ObjectPrefix+"audit-log", purpose, "audit_log")
}

// recordAction appends an admin's action to the audit log on its own.
func (s *Server) recordAction(r *http.Request, action, subject, purpose string, categories ...string) error {
	if s.audit == nil {
		return nil
	}
	e, err := s.adminEntry(r, action, subject, purpose, categories...)
	if err != nil {
		return err
	}
	// Appended on its own, with the request's context: a context carrying
	// the record as pending would have PostgreSQL's append transaction
	// append it a second time (it did: every admin read was logged twice).
	return s.audit.Record(r.Context(), []*cordon.AuditEntry{e})
}

// reportPurpose says which report was run, for the record of it: the
// window and the number of principals first, the names last, so a list
// padded with names that match nothing loses only its own tail when the
// record is cut to audit.MaxPurpose.
func reportPurpose(what string, principals []string, from, to time.Time) string {
	return fmt.Sprintf("%s: %s to %s; %d principal(s): %s", what, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339),
		len(principals), strings.Join(principals, ", "))
}

func printable(s string, max int) string { return cordon.Printable(s, max) }

// accountOf is an entry's account column as an export shows it: nil when
// the subject was not resolved.
func accountOf(e *cordon.AuditEntry) *string {
	if !e.Resolved {
		return nil
	}
	a := e.Account
	return &a
}

// writeCSV answers a CSV of header and a record per row: the rows listed,
// or, when the list was truncated, every row streamed from the store.
func writeCSV[T any](w http.ResponseWriter, r *http.Request, status int, header []string, listed []T, truncated bool,
	rows func(context.Context, func(*T) error) error, record func(*T) []string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.WriteHeader(status)
	cw := csv.NewWriter(w)
	cw.Write(header)
	row := func(x *T) error { return cw.Write(record(x)) }
	var err error
	if truncated {
		err = rows(r.Context(), row)
	} else {
		for i := range listed {
			if err = row(&listed[i]); err != nil {
				break
			}
		}
	}
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		// Headers are gone: cut the connection so the CSV is not taken
		// for whole.
		panic(http.ErrAbortHandler)
	}
}
