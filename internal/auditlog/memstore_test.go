package auditlog_test

import (
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/memstore"
	"golang.org/x/mod/sumdb/note"
)

// The log's rules on the in-memory store: no database. The SQLite tests
// beside these keep what only a real database can show (tampering with its
// rows, a second process).

// A batch is appended whole or not at all: one refused event leaves the
// log as it was, whatever its position.
func TestIngestAllOrNothingOnMemstore(t *testing.T) {
	now := t0.Add(time.Hour)
	tests := []struct {
		name     string
		batch    func() []audit.Event
		wantCode string
		field    string
		wantSize uint64 // after the batch, from 4
	}{
		{"valid", func() []audit.Event { return events(4, 6) }, "", "", 10},
		{"one event", func() []audit.Event { return events(4, 1) }, "", "", 5},
		{"first event bad", func() []audit.Event { es := events(4, 6); es[0].Action = "peek"; return es }, cordon.ECodeUnprocessable, "events[0].action", 4},
		{"last event bad", func() []audit.Event { es := events(4, 6); es[5].Subject = ""; return es }, cordon.ECodeUnprocessable, "events[5].subject", 4},
		{"a reserved principal", func() []audit.Event { es := events(4, 3); es[1].Principal = "cordon:admin"; return es }, cordon.ECodeUnprocessable, "events[1].principal", 4},
		{"a reserved subject", func() []audit.Event { es := events(4, 3); es[2].Subject = "cordon:campaign/c-1"; return es }, cordon.ECodeUnprocessable, "events[2].subject", 4},
		{"a reserved category", func() []audit.Event {
			es := events(4, 3)
			es[1].Categories = []string{"profile", "campaigns"}
			return es
		}, cordon.ECodeUnprocessable, "events[1].categories[1]", 4},
		{"from the future", func() []audit.Event { es := events(4, 3); es[2].Time = now.Add(time.Hour); return es }, cordon.ECodeUnprocessable, "events[2].time", 4},
		{"empty", func() []audit.Event { return nil }, cordon.ECodeInvalid, "", 4},
		{"too many", func() []audit.Event { return events(4, auditlog.MaxBatch+1) }, cordon.ECodeTooLarge, "", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := memstore.New()
			svc := newService(t, db, clock.NewFake(now), 1000)
			mustIngest(t, svc, events(0, 4))
			got, size, err := svc.Ingest(t.Context(), tt.batch())
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Ingest: %v", err)
				}
				if size != tt.wantSize || got[0].Index != 4 || got[len(got)-1].Index != tt.wantSize-1 {
					t.Errorf("Ingest = indexes %d..%d, size %d; want 4..%d, size %d", got[0].Index, got[len(got)-1].Index, size, tt.wantSize-1, tt.wantSize)
				}
			} else {
				var ce *cordon.Error
				if !errors.As(err, &ce) || ce.Code != tt.wantCode || ce.Field != tt.field {
					t.Fatalf("Ingest = %v, want %s on %q", err, tt.wantCode, tt.field)
				}
			}
			if n, _ := db.AuditSize(t.Context()); n != tt.wantSize {
				t.Errorf("log size %d, want %d", n, tt.wantSize)
			}
		})
	}
}

// A checkpoint signs the log's size and root with the log's key, once
// per size; a restarted service keeps the key and goes on from the last
// signed size, and the whole log verifies.
func TestCheckpointSigningOnMemstore(t *testing.T) {
	db := memstore.New()
	clk := clock.NewFake(t0.Add(time.Hour))
	svc := newService(t, db, clk, 1000)
	if c := mustCheckpoint(t, svc); c != nil {
		t.Fatalf("checkpoint of an empty log at size %d, want none", c.Size)
	}
	mustIngest(t, svc, events(0, 300))
	clk.Advance(time.Second)
	c := mustCheckpoint(t, svc)
	if c == nil || c.Size != 300 || !c.Created.Equal(clk.Now()) {
		t.Fatalf("checkpoint = %+v, want size 300 created %v", c, clk.Now())
	}
	n, err := note.Open(c.Note, verifiers(t, svc))
	if err != nil {
		t.Fatalf("the checkpoint does not verify with the log's key: %v", err)
	}
	if lines := strings.Split(n.Text, "\n"); len(lines) < 3 || lines[0] != "test.example/audit" || lines[1] != "300" {
		t.Errorf("checkpoint text %q, want origin test.example/audit and size 300", n.Text)
	}
	if c := mustCheckpoint(t, svc); c != nil {
		t.Errorf("a second checkpoint at an unchanged size: %d", c.Size)
	}
	// Another key must not verify it.
	_, vkey, err := note.GenerateKey(rand.Reader, "test.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	other, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(c.Note, note.VerifierList(other)); err == nil {
		t.Errorf("the checkpoint verifies with a stranger's key")
	}

	// A restart resumes from the store: same key, next size.
	again := newService(t, db, clk, 1000)
	if again.VerifierKey() != svc.VerifierKey() {
		t.Errorf("verifier key changed across a restart: %s, then %s", svc.VerifierKey(), again.VerifierKey())
	}
	mustIngest(t, again, events(300, 5))
	if c := mustCheckpoint(t, again); c == nil || c.Size != 305 {
		t.Fatalf("checkpoint after restart = %+v, want size 305", c)
	}
	cps, _ := db.AuditCheckpoints(t.Context())
	if len(cps) != 2 || cps[0].Size != 300 || cps[1].Size != 305 {
		t.Errorf("stored checkpoints %d, want sizes 300 and 305", len(cps))
	}
	if rep, err := verifyStore(t, again, db); err != nil || rep.Entries != 305 || rep.Proven != 305 || rep.Checkpoints != 2 {
		t.Errorf("Verify = %+v, %v; want the whole log of 305 intact", rep, err)
	}
	p, err := again.Inclusion(t.Context(), 299, 305)
	if err != nil || p.Size != 305 || len(p.Hashes) == 0 {
		t.Errorf("Inclusion(299, 305) = %+v, %v", p, err)
	}
	if _, err := again.Inclusion(t.Context(), 0, 301); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("Inclusion at an unsigned size = %v, want not found", err)
	}
}

// The checkpointer refuses to sign over a stored entry whose leaf hash no
// longer matches its leaf.
func TestCheckpointRefusesABadLeafOnMemstore(t *testing.T) {
	db := memstore.New()
	svc := newService(t, db, clock.NewFake(t0.Add(time.Hour)), 1000)
	mustIngest(t, svc, events(0, 3))
	bad := audit.Entry(event(3))
	bad.LeafHash = audit.LeafHash(audit.Leaf(event(4)))
	if err := svc.Record(t.Context(), []*cordon.AuditEntry{bad}); err != nil {
		t.Fatal(err)
	}
	if c, err := svc.Checkpoint(t.Context()); err == nil || !strings.Contains(err.Error(), "entry 3") {
		t.Errorf("Checkpoint = %+v, %v; want a refusal naming entry 3", c, err)
	}
	if cps, _ := db.AuditCheckpoints(t.Context()); len(cps) != 0 {
		t.Errorf("%d checkpoints signed over a bad leaf", len(cps))
	}
}

func TestReportOnMemstore(t *testing.T) {
	db := memstore.New()
	svc := newService(t, db, clock.NewFake(t0.Add(24*time.Hour)), 1000)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	addAccounts(t, db, "alice", "bob", "carol")
	mustIngest(t, svc, []audit.Event{
		{Time: at(0), Principal: "ada@corp", Action: audit.ActionRead, Subject: "alice", Categories: []string{"profile"}},
		{Time: at(5), Principal: "ada@corp", Action: audit.ActionRead, Subject: "alice", Categories: []string{"email"}},
		{Time: at(7), Principal: "ada@corp", Action: audit.ActionRead, Subject: "bob", Categories: []string{"tickets"}},
		{Time: at(9), Principal: "svc-export", Action: audit.ActionExport, Subject: "bob", Categories: []string{"payment"}},
		{Time: at(60), Principal: "ada@corp", Action: audit.ActionRead, Subject: "carol", Categories: []string{"password_hash"}},
	})
	// One of cordon's own records: a subject that is no user.
	own, err := svc.Entry(audit.Event{Time: at(8), Principal: "ada@corp", Action: audit.ActionWrite, Subject: "cordon:campaign/c-1", Categories: []string{"campaigns"}}, at(8), -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Record(t.Context(), []*cordon.AuditEntry{own}); err != nil {
		t.Fatal(err)
	}
	// Touched follows the configured order of categories: the defaults,
	// cordon's own, then the configured ones ("tickets").
	tests := []struct {
		name       string
		principals []string
		from, to   time.Time
		users      int
		objects    int
		events     int64
		touched    []string
		subjects   []string
	}{
		{"one principal, one hour (to is excluded)", []string{"ada@corp"}, at(0), at(60), 2, 1, 4, []string{"profile", "email", "campaigns", "tickets"}, []string{"alice", "bob", "cordon:campaign/c-1"}},
		{"a window inside", []string{"ada@corp"}, at(1), at(6), 1, 0, 1, []string{"email"}, []string{"alice"}},
		{"two principals, named twice", []string{"svc-export", "ada@corp", "svc-export"}, at(0), at(120), 3, 1, 6,
			[]string{"profile", "email", "password_hash", "payment", "campaigns", "tickets"}, []string{"alice", "bob", "carol", "cordon:campaign/c-1"}},
		{"a principal that did nothing", []string{"eve@corp"}, at(0), at(120), 0, 0, 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := svc.Report(t.Context(), tt.principals, tt.from, tt.to)
			if err != nil {
				t.Fatalf("Report: %v", err)
			}
			var subjects []string
			for _, a := range r.Accesses {
				subjects = append(subjects, a.Subject)
			}
			if r.Users != tt.users || r.Objects != tt.objects || r.Events != tt.events || !slices.Equal(r.Touched, tt.touched) || !slices.Equal(subjects, tt.subjects) {
				t.Errorf("Report = %d users, %d objects, %d events, touched %v, subjects %v; want %d, %d, %d, %v, %v",
					r.Users, r.Objects, r.Events, r.Touched, subjects, tt.users, tt.objects, tt.events, tt.touched, tt.subjects)
			}
			for _, c := range r.Untouched {
				if slices.Contains(auditlog.CordonCategories(), c) {
					t.Errorf("untouched lists cordon's own category %q", c)
				}
			}
		})
	}
	// A saved report keeps its users, not cordon's objects, for a cohort.
	saved, err := svc.SaveReport(t.Context(), []string{"ada@corp"}, at(0), at(60), "t-admin")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.SavedAuditReport(t.Context(), saved.ID)
	if err != nil || !slices.Equal(stored.Subjects, []string{"alice", "bob"}) || stored.CreatedBy != "t-admin" {
		t.Errorf("saved report = %+v, %v; want users alice and bob by t-admin", stored, err)
	}
	if got := saved.Summary; !strings.HasPrefix(got, "2 users, 1 cordon objects; ") {
		t.Errorf("summary %q, want it to begin with the users and cordon objects", got)
	}
}

// TestIngestRefusesLateEvents: with MaxLateness (serve's default 24h), a
// reporter cannot write an event into the past beyond it — a stolen
// audit:write token would otherwise add reads to a closed breach window
// and move its report. The batch is refused whole, at the late event's
// field, and nothing is appended; an event just inside passes.
func TestIngestRefusesLateEvents(t *testing.T) {
	now := t0.Add(time.Hour)
	db := memstore.New()
	svc, err := auditlog.New(t.Context(), auditlog.Config{Store: db, Clock: clock.NewFake(now), Origin: "test.example/audit", Every: 1000, Interval: time.Hour,
		MaxLateness: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	late := events(0, 3)
	late[1].Time = now.Add(-24*time.Hour - time.Second)
	_, _, err = svc.Ingest(t.Context(), late)
	var ce *cordon.Error
	if !errors.As(err, &ce) || ce.Code != cordon.ECodeUnprocessable || ce.Field != "events[1].time" || !strings.Contains(ce.Message, "--audit-max-lateness") {
		t.Fatalf("Ingest of an event 24h1s old = %v, want unprocessable on events[1].time naming --audit-max-lateness", err)
	}
	if _, err := svc.IngestOnce(t.Context(), "k1", late); !errors.As(err, &ce) || ce.Field != "events[1].time" {
		t.Fatalf("IngestOnce of it = %v, want the same refusal", err)
	}
	if n, _ := db.AuditSize(t.Context()); n != 0 {
		t.Fatalf("log size %d after refused batches, want 0", n)
	}
	inside := events(0, 3)
	inside[1].Time = now.Add(-24*time.Hour + time.Second)
	if _, size, err := svc.Ingest(t.Context(), inside); err != nil || size != 3 {
		t.Fatalf("Ingest of an event 23h59m59s old = size %d, %v; want 3, nil", size, err)
	}
}

// TestSavedReportKeepsExternalSubjects: a subject that names an external
// issuer's user (ISSUER#SUB, how cordon names them) resolves to no
// account, yet a saved report keeps it for a users_from_report cohort;
// other unresolved subjects stay out.
func TestSavedReportKeepsExternalSubjects(t *testing.T) {
	db := memstore.New()
	svc := newService(t, db, clock.NewFake(t0.Add(time.Hour)), 1000)
	ev := func(m int, subject string) audit.Event {
		return audit.Event{Time: t0.Add(time.Duration(m) * time.Minute), Principal: "svc-support", Action: audit.ActionRead, Subject: subject, Categories: []string{"profile"}}
	}
	mustIngest(t, svc, []audit.Event{ev(0, "https://id.example.com#u-9"), ev(1, "no-such-user"), ev(2, "http:#x")})
	saved, err := svc.SaveReport(t.Context(), []string{"svc-support"}, t0, t0.Add(time.Hour), "t-admin")
	if err != nil || !slices.Equal(saved.SavedUsers, []string{"https://id.example.com#u-9"}) {
		t.Errorf("saved users %v, %v; want the external subject only", saved.SavedUsers, err)
	}
}
