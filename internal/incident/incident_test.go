package incident_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"golang.org/x/mod/sumdb/note"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type env struct {
	store cordon.Store
	clk   *clock.Fake
	log   *auditlog.Service
	camps *campaign.Service
	svc   *incident.Service
}

func newEnv(t testing.TB, store cordon.Store) *env {
	t.Helper()
	e := &env{store: store, clk: clock.NewFake(t0)}
	var err error
	if e.log, err = auditlog.New(t.Context(), auditlog.Config{Store: store, Clock: e.clk, Origin: "test.example/audit", Interval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if e.camps, err = campaign.New(t.Context(), store, e.clk, nil); err != nil {
		t.Fatal(err)
	}
	if e.svc, err = incident.New(incident.Config{Store: store, Audit: e.log, Campaigns: e.camps, Clock: e.clk, DPO: "dpo@example.com"}); err != nil {
		t.Fatal(err)
	}
	return e
}

var ops = incident.Actor{Principal: "cordon:admin/ops", TokenID: "t-ops", Source: "192.0.2.1"}

func (e *env) open(t *testing.T) *incident.View {
	t.Helper()
	v, err := e.svc.Open(t.Context(), ops, incident.Open{Title: "support tool read user data", Severity: "high", AwareAt: t0.Add(-2 * time.Hour)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return v
}

// auditSize returns the log's size.
func (e *env) auditSize(t *testing.T) uint64 {
	t.Helper()
	n, err := e.store.AuditSize(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCheckMove(t *testing.T) {
	const (
		inv = cordon.IncidentInvestigating
		con = cordon.IncidentContained
		res = cordon.IncidentResolved
	)
	tests := []struct {
		name     string
		from, to cordon.IncidentState
		reopen   bool
		ok       bool
	}{
		{"investigating to contained", inv, con, false, true},
		{"investigating straight to resolved", inv, res, false, true},
		{"contained to resolved", con, res, false, true},
		{"contained back to investigating", con, inv, false, true},
		{"to the same state", con, con, false, false},
		{"resolved to investigating without reopen", res, inv, false, false},
		{"resolved to contained without reopen", res, con, false, false},
		{"resolved reopened to investigating", res, inv, true, true},
		{"resolved reopened to contained", res, con, true, false},
		{"reopen of an open incident", inv, con, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := incident.CheckMove(tt.from, tt.to, tt.reopen)
			if (err == nil) != tt.ok {
				t.Errorf("CheckMove(%s, %s, reopen %v): got %v, want ok %v", tt.from, tt.to, tt.reopen, err, tt.ok)
			}
			if err != nil && cordon.ErrorCode(err) != cordon.ECodeUnprocessable {
				t.Errorf("refusal code %q, want invalid_field", cordon.ErrorCode(err))
			}
		})
	}
}

func TestOpenRefusesBadInput(t *testing.T) {
	e := newEnv(t, memstore.New())
	tests := []struct {
		name  string
		open  incident.Open
		field string
	}{
		{"no title", incident.Open{Severity: "low"}, "title"},
		{"blank title", incident.Open{Title: "   ", Severity: "low"}, "title"},
		{"title too long", incident.Open{Title: strings.Repeat("x", 201), Severity: "low"}, "title"},
		{"a newline in the title", incident.Open{Title: "a\nforged line", Severity: "low"}, "title"},
		{"invalid UTF-8", incident.Open{Title: "a\xffb", Severity: "low"}, "title"},
		{"unknown severity", incident.Open{Title: "x", Severity: "apocalyptic"}, "severity"},
		{"severity in capitals", incident.Open{Title: "x", Severity: "HIGH"}, "severity"},
		{"aware in the future", incident.Open{Title: "x", Severity: "low", AwareAt: t0.Add(time.Hour)}, "aware_at"},
		{"aware in the last century", incident.Open{Title: "x", Severity: "low", AwareAt: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}, "aware_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Open(t.Context(), ops, tt.open)
			var ce *cordon.Error
			if err == nil || !asError(err, &ce) || ce.Code != cordon.ECodeUnprocessable || ce.Field != tt.field {
				t.Errorf("Open: got %v, want invalid_field on %q", err, tt.field)
			}
		})
	}
	if n := e.auditSize(t); n != 0 {
		t.Errorf("refused opens appended %d audit entries, want 0", n)
	}
	if _, err := e.svc.Open(t.Context(), ops, incident.Open{Title: "x", Severity: "low", AwareAt: t0.Add(30 * time.Second)}); err != nil {
		t.Errorf("an aware time 30 s ahead (clock skew): %v", err)
	}
}

func asError(err error, target **cordon.Error) bool {
	ce, ok := err.(*cordon.Error)
	if ok {
		*target = ce
	}
	return ok
}

// Every change is one audit entry about the incident, written with it.
func TestEveryChangeIsRecorded(t *testing.T) {
	e := newEnv(t, memstore.New())
	ctx := t.Context()
	v := e.open(t)
	if v.State != cordon.IncidentInvestigating || v.Version != 1 || !v.AwareAt.Equal(t0.Add(-2*time.Hour)) {
		t.Fatalf("opened: %+v", v.Incident)
	}
	if want := t0.Add(70 * time.Hour); !v.NotifyBy.Equal(want) || v.Clock() != "70h left" {
		t.Errorf("72-hour clock: notify by %v (%s), want %v (70h left)", v.NotifyBy, v.Clock(), want)
	}
	rep := e.saveReport(t)
	steps := []struct {
		name string
		do   func() error
		want string // the purpose, without the token
	}{
		{"note", func() error { _, err := e.svc.Note(ctx, ops, v.ID, "the support tool's export was used"); return err }, "note: the support tool's export was used"},
		{"move", func() error {
			_, err := e.svc.Move(ctx, ops, v.ID, cordon.IncidentContained, false, 0)
			return err
		}, "state investigating -> contained"},
		{"link", func() error { _, err := e.svc.Link(ctx, ops, v.ID, cordon.LinkReport, rep); return err }, "linked report " + rep},
		{"unlink", func() error { _, err := e.svc.Unlink(ctx, ops, v.ID, cordon.LinkReport, rep); return err }, "unlinked report " + rep},
	}
	for _, st := range steps {
		before := e.auditSize(t)
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if after := e.auditSize(t); after != before+1 {
			t.Fatalf("%s appended %d entries, want 1", st.name, after-before)
		}
		var got *cordon.AuditEntry
		if err := e.store.AuditEntries(ctx, before, before+1, func(a *cordon.AuditEntry) error { got = a; return nil }); err != nil {
			t.Fatal(err)
		}
		ev, err := audit.ParseLeaf(got.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Subject != "cordon:incident/"+v.ID || ev.Principal != "cordon:admin/ops" || ev.Purpose != st.want+" (admin token t-ops)" ||
			len(ev.Categories) != 1 || ev.Categories[0] != "incidents" || ev.Source != "192.0.2.1" || ev.Action != "write" {
			t.Errorf("%s: recorded %+v", st.name, ev)
		}
	}
	got, err := e.svc.Get(ctx, v.ID)
	if err != nil || got.Version != 5 || got.State != cordon.IncidentContained {
		t.Errorf("after four changes: %+v, %v; want version 5, contained", got, err)
	}
}

func (e *env) saveReport(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	// Reports count accounts: alice and bob are accounts; "no-such-user"
	// names none and is counted apart, never as a person.
	for _, n := range []string{"alice", "bob"} {
		if _, err := e.store.AccountByUsername(ctx, n); err == nil {
			continue
		}
		if err := e.store.CreateAccount(ctx, &cordon.Account{ID: "u-" + n, Username: n, PasswordHash: "x", CreatedAt: t0, PasswordChangedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := e.log.Ingest(ctx, []audit.Event{
		{Time: t0.Add(-3 * time.Hour), Principal: "support-tool", Action: audit.ActionRead, Subject: "alice", Categories: []string{"email", "payment"}},
		{Time: t0.Add(-3 * time.Hour), Principal: "support-tool", Action: audit.ActionRead, Subject: "bob", Categories: []string{"email"}},
		{Time: t0.Add(-3 * time.Hour), Principal: "support-tool", Action: audit.ActionRead, Subject: "no-such-user", Categories: []string{"email"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.log.SaveReport(ctx, []string{"support-tool"}, t0.Add(-24*time.Hour), t0, "cordon:admin/ops")
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func TestMoveConflicts(t *testing.T) {
	e := newEnv(t, memstore.New())
	ctx := t.Context()
	v := e.open(t)
	if _, err := e.svc.Move(ctx, ops, v.ID, cordon.IncidentContained, false, v.Version); err != nil {
		t.Fatalf("Move at the version seen: %v", err)
	}
	before := e.auditSize(t)
	_, err := e.svc.Move(ctx, ops, v.ID, cordon.IncidentResolved, false, v.Version)
	if cordon.ErrorCode(err) != cordon.ECodeConflict || !strings.Contains(err.Error(), "contained, version 2") {
		t.Errorf("Move at an old version: got %v, want a conflict naming the state now", err)
	}
	_, err = e.svc.Move(ctx, ops, v.ID, cordon.IncidentContained, false, 0)
	if cordon.ErrorCode(err) != cordon.ECodeUnprocessable {
		t.Errorf("Move to the state it is in: %v, want invalid_field", err)
	}
	if _, err := e.svc.Move(ctx, ops, "i-nope", cordon.IncidentContained, false, 0); cordon.ErrorCode(err) != cordon.ECodeNotFound {
		t.Errorf("Move of an unknown incident: %v", err)
	}
	if after := e.auditSize(t); after != before {
		t.Errorf("refused moves appended %d entries", after-before)
	}
	if _, err := e.svc.Move(ctx, ops, v.ID, cordon.IncidentResolved, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Move(ctx, ops, v.ID, cordon.IncidentInvestigating, false, 0); cordon.ErrorCode(err) != cordon.ECodeUnprocessable {
		t.Errorf("moving a resolved incident without reopen: %v", err)
	}
	if got, err := e.svc.Move(ctx, ops, v.ID, cordon.IncidentInvestigating, true, 0); err != nil || got.State != cordon.IncidentInvestigating {
		t.Errorf("reopen: %v, %v", got, err)
	}
}

func TestLinkChecksTheObject(t *testing.T) {
	e := newEnv(t, memstore.New())
	ctx := t.Context()
	v := e.open(t)
	rep := e.saveReport(t)
	before := e.auditSize(t)
	tests := []struct {
		name   string
		kind   cordon.LinkKind
		object string
		code   string
	}{
		{"an unknown report", cordon.LinkReport, "r-doesnotexist", cordon.ECodeNotFound},
		{"an unknown campaign", cordon.LinkCampaign, "c-doesnotexist", cordon.ECodeNotFound},
		{"an unknown notice", cordon.LinkNotice, "n-doesnotexist", cordon.ECodeNotFound},
		{"an unknown alert", cordon.LinkAlert, "al-doesnotexist", cordon.ECodeNotFound},
		{"a hostile id", cordon.LinkReport, "r-1\n| forged |", cordon.ECodeUnprocessable},
		{"an empty id", cordon.LinkReport, "", cordon.ECodeUnprocessable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.svc.Link(ctx, ops, v.ID, tt.kind, tt.object); cordon.ErrorCode(err) != tt.code {
				t.Errorf("Link: got %v, want %s", err, tt.code)
			}
		})
	}
	if after := e.auditSize(t); after != before {
		t.Errorf("refused links appended %d entries", after-before)
	}
	if _, err := e.svc.Link(ctx, ops, v.ID, cordon.LinkReport, rep); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Link(ctx, ops, v.ID, cordon.LinkReport, rep); cordon.ErrorCode(err) != cordon.ECodeConflict {
		t.Errorf("linking twice: %v, want conflict", err)
	}
	if _, err := e.svc.Link(ctx, ops, "i-nope", cordon.LinkReport, rep); cordon.ErrorCode(err) != cordon.ECodeNotFound {
		t.Errorf("linking to an unknown incident: %v", err)
	}
	if _, err := e.svc.Unlink(ctx, ops, v.ID, cordon.LinkCampaign, "c-1"); cordon.ErrorCode(err) != cordon.ECodeNotFound {
		t.Errorf("unlinking what is not linked: %v", err)
	}
}

// The timeline is read from the signed log: editing the incident's row in
// the database changes none of it, and each of its entries is proven in
// the log against a signed checkpoint.
func TestTimelineFromTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cordon.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newEnv(t, db)
	ctx := t.Context()
	v := e.open(t)
	rep := e.saveReport(t)
	e.clk.Advance(time.Minute)
	c, err := e.camps.CreateWithID(cordon.WithAudit(ctx, e.adminEntry(t, "cordon:campaign/c-timeline", "campaign draft created")), "c-timeline",
		[]byte(`{"kind":"reauth","name":"everyone logs in again"}`), "json", "ops")
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.camps.CreateWithID(cordon.WithAudit(ctx, e.adminEntry(t, "cordon:campaign/c-other", "campaign draft created")), "c-other",
		[]byte(`{"kind":"reauth","name":"unrelated"}`), "json", "ops")
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { _, err := e.svc.Link(ctx, ops, v.ID, cordon.LinkReport, rep); return err },
		func() error { _, err := e.svc.Link(ctx, ops, v.ID, cordon.LinkCampaign, c.ID); return err },
		func() error {
			_, err := e.camps.Transition(cordon.WithAudit(ctx, e.adminEntry(t, "cordon:campaign/"+c.ID, "campaign activate")), c.ID, "activate", "ops")
			return err
		},
		func() error {
			_, err := e.camps.Transition(cordon.WithAudit(ctx, e.adminEntry(t, "cordon:campaign/"+other.ID, "campaign activate")), other.ID, "activate", "ops")
			return err
		},
		func() error {
			_, err := e.svc.Note(ctx, ops, v.ID, "consequences: emails of two users may be phished")
			return err
		},
		func() error { _, err := e.svc.Move(ctx, ops, v.ID, cordon.IncidentContained, false, 0); return err },
	}
	for i, st := range steps {
		e.clk.Advance(time.Minute)
		if err := st(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	tl, err := e.svc.Timeline(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range tl.Entries {
		got = append(got, en.Object+": "+strings.TrimSuffix(en.What, " (admin token t-ops)"))
	}
	want := []string{
		"incident " + v.ID + ": incident opened: severity high; aware at 2026-12-01T07:00:00Z; title: support tool read user data",
		"campaign c-timeline: campaign draft created",
		"incident " + v.ID + ": linked report " + rep,
		"incident " + v.ID + ": linked campaign c-timeline",
		"campaign c-timeline: campaign activate",
		"incident " + v.ID + ": note: consequences: emails of two users may be phished",
		"incident " + v.ID + ": state investigating -> contained",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := 1; i < len(tl.Entries); i++ {
		if tl.Entries[i].Index <= tl.Entries[i-1].Index || tl.Entries[i].Time.Before(tl.Entries[i-1].Time) {
			t.Errorf("entries %d and %d out of order", i-1, i)
		}
	}

	// Edit the incident's row behind cordon's back: the title, the state.
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `UPDATE incidents SET title = 'nothing happened', state = 'resolved', created_by = 'nobody' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Timeline(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Entries) != len(tl.Entries) {
		t.Fatalf("after editing the row: %d entries, want %d", len(again.Entries), len(tl.Entries))
	}
	for i := range tl.Entries {
		if again.Entries[i] != tl.Entries[i] {
			t.Errorf("entry %d changed with the row: %+v, was %+v", i, again.Entries[i], tl.Entries[i])
		}
	}

	// Each entry is in the log the checkpoint signs.
	if _, err := e.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	v1, err := note.NewVerifier(e.log.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range tl.Entries {
		p, err := e.log.Inclusion(ctx, en.Index, 0)
		if err != nil {
			t.Fatalf("inclusion of %d: %v", en.Index, err)
		}
		size, root, err := audit.OpenCheckpoint(p.Checkpoint, note.VerifierList(v1), e.log.Origin())
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(audit.LeafHash(p.Leaf)) != en.LeafHash {
			t.Errorf("entry %d: the log's leaf hashes to another hash than the timeline shows", en.Index)
		}
		if err := audit.VerifyInclusion(audit.LeafHash(p.Leaf), en.Index, size, p.Hashes, root); err != nil {
			t.Errorf("entry %d does not verify against the signed checkpoint: %v", en.Index, err)
		}
		if ev, err := audit.ParseLeaf(p.Leaf); err != nil || ev.Purpose != en.What {
			t.Errorf("entry %d: the signed leaf says %q, the timeline %q", en.Index, ev.Purpose, en.What)
		}
	}

	// Damage to an entry's leaf shows in the timeline, not hidden.
	if _, err := raw.ExecContext(ctx, `UPDATE audit_entries SET leaf = CAST(replace(CAST(leaf AS TEXT), 'phished', 'fine!!!') AS BLOB) WHERE idx = ?`, tl.Entries[5].Index); err != nil {
		t.Fatal(err)
	}
	damaged, err := e.svc.Timeline(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !damaged.Entries[5].Damaged || strings.Contains(damaged.Entries[5].What, "fine") {
		t.Errorf("a rewritten leaf read as %+v; want it marked damaged", damaged.Entries[5])
	}
	md := tl.Markdown()
	for _, s := range []string{"# Timeline of incident " + v.ID, "| when (UTC) | who | about | what | log entry |", "cordon:admin/ops", "linked campaign c-timeline"} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown lacks %q:\n%s", s, md)
		}
	}
}

// adminEntry is the record httpapi writes for an admin's action.
func (e *env) adminEntry(t *testing.T, subject, purpose string) *cordon.AuditEntry {
	t.Helper()
	now := e.clk.Now()
	en, err := e.log.Entry(audit.Event{Time: now, Principal: "cordon:admin/ops", Action: audit.ActionWrite, Subject: subject,
		Categories: []string{"campaigns"}, Purpose: purpose + " (admin token t-ops)"}, now, -1)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

func TestSummaryStatesOnlyWhatItHolds(t *testing.T) {
	e := newEnv(t, memstore.New())
	ctx := t.Context()
	v := e.open(t)
	sum, err := e.svc.Summary(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sum.People.Known || sum.People.Count != nil || sum.Categories.Known || !strings.Contains(sum.People.NotKnownYet, "no saved audit report is linked") {
		t.Errorf("with no report: people %+v, categories %+v; want not known yet, saying what would tell", sum.People, sum.Categories)
	}
	md := sum.Markdown()
	for _, s := range []string{"## (a) Nature of the breach", "### Approximate number of data subjects concerned\n\nNot known yet: no saved audit report is linked",
		"## (c) Likely consequences\n\nNot known yet", "## (d) Measures taken or proposed\n\nNot known yet", `dpo\@example.com`, "the incident is investigating, not resolved"} {
		if !strings.Contains(md, s) {
			t.Errorf("summary lacks %q:\n%s", s, md)
		}
	}
	rep := e.saveReport(t)
	if _, err := e.svc.Link(ctx, ops, v.ID, cordon.LinkReport, rep); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"an export by the support tool", "Consequences: phishing of the users' email addresses", "measure: export disabled", "notified: the supervisory authority, case 123"} {
		if _, err := e.svc.Note(ctx, ops, v.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	sum, err = e.svc.Summary(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.People.Known || sum.People.Count == nil || *sum.People.Count != 2 {
		t.Errorf("people: %+v, want 2 from the report", sum.People)
	}
	if strings.Join(sum.Categories.Values, ",") != "email,payment" {
		t.Errorf("categories: %v, want email,payment", sum.Categories.Values)
	}
	if len(sum.Nature) != 1 || sum.Nature[0].Text != "an export by the support tool" || len(sum.Consequences) != 1 ||
		sum.Consequences[0].Text != "phishing of the users' email addresses" || len(sum.MeasureNotes) != 1 || len(sum.Notified) != 1 {
		t.Errorf("notes filed as nature %+v, consequences %+v, measures %+v, notified %+v", sum.Nature, sum.Consequences, sum.MeasureNotes, sum.Notified)
	}
	md = sum.Markdown()
	for _, s := range []string{"2 (from report " + rep + ")", "1 logged subject names no account and is not counted", "email, payment (from report " + rep + ")", "phishing of the users' email addresses"} {
		if !strings.Contains(md, s) {
			t.Errorf("summary lacks %q:\n%s", s, md)
		}
	}
	if strings.Contains(md, "telling the supervisory authority: not recorded") {
		t.Errorf("summary says the notification is not recorded after a notified: note")
	}
}

func TestSummaryWithoutDPO(t *testing.T) {
	store := memstore.New()
	clk := clock.NewFake(t0)
	log, err := auditlog.New(t.Context(), auditlog.Config{Store: store, Clock: clk, Origin: "x/audit"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := incident.New(incident.Config{Store: store, Audit: log, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.Open(context.Background(), ops, incident.Open{Title: "x", Severity: "low"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(80 * time.Hour)
	sum, err := svc.Summary(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sum.DPO.Known || !strings.Contains(sum.Markdown(), "Not known yet: no contact is configured") {
		t.Errorf("DPO: %+v", sum.DPO)
	}
	if !sum.Incident.Overdue || sum.Incident.Clock() != "overdue by 8h" {
		t.Errorf("80 h after awareness: %s (overdue %v), want overdue by 8h", sum.Incident.Clock(), sum.Incident.Overdue)
	}
}
