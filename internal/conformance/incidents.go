package conformance

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func incidentTests() []subtest {
	return []subtest{
		{"CreateAndRead", testIncidentCreate},
		{"ListNewestFirst", testIncidentList},
		{"UpdateIsCompareAndSet", testIncidentUpdate},
		{"LinksAndUnlinks", testIncidentLinks},
		{"ChangeCarriesItsAuditEntry", testIncidentAudited},
		{"AuditEntriesAbout", testAuditEntriesAbout},
	}
}

func incidentConcurrencyTests() []subtest {
	return []subtest{
		{"OneIncidentTwoMoves", testIncidentMoveRace},
		{"OneIncidentManyLinks", testIncidentLinkRace},
	}
}

func newIncident(id string, created time.Time) *cordon.Incident {
	return &cordon.Incident{ID: id, Title: "admin panel read " + id, Severity: cordon.SeverityHigh, State: cordon.IncidentInvestigating,
		AwareAt: created.Add(-time.Hour).In(elsewhere()), CreatedAt: created.In(elsewhere()), CreatedBy: "cordon:admin/ops", UpdatedAt: created.In(elsewhere())}
}

func mustIncident(t *testing.T, s cordon.Store, inc *cordon.Incident) {
	t.Helper()
	if err := s.CreateIncident(t.Context(), inc); err != nil {
		t.Fatalf("CreateIncident(%s): %v", inc.ID, err)
	}
}

func testIncidentCreate(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	in := newIncident("i-1", at(0))
	mustIncident(t, s, in)
	if in.Version != 1 {
		t.Errorf("CreateIncident set version %d, want 1", in.Version)
	}
	got, err := s.Incident(ctx, "i-1")
	if err != nil {
		t.Fatalf("Incident: %v", err)
	}
	var d diff
	d.str("ID", got.ID, "i-1")
	d.str("Title", got.Title, in.Title)
	d.str("Severity", string(got.Severity), "high")
	d.str("State", string(got.State), "investigating")
	d.str("CreatedBy", got.CreatedBy, "cordon:admin/ops")
	d.time("AwareAt", got.AwareAt, at(-time.Hour))
	d.time("CreatedAt", got.CreatedAt, at(0))
	d.time("UpdatedAt", got.UpdatedAt, at(0))
	if got.Version != 1 || got.Links == nil || len(got.Links) != 0 {
		d = append(d, fmt.Sprintf("Version %d, Links %v; want 1 and an empty list", got.Version, got.Links))
	}
	if len(d) > 0 {
		t.Errorf("Incident after CreateIncident: %s", d)
	}
	checkErr(t, "CreateIncident of a taken id", s.CreateIncident(ctx, newIncident("i-1", at(time.Second))), cordon.ErrAlreadyExists)
	_, err = s.Incident(ctx, "i-missing")
	checkErr(t, "Incident of an unknown id", err, cordon.ErrNotFound)
	if err := s.CreateIncident(ctx, &cordon.Incident{ID: "i-bad"}); err == nil {
		t.Error("CreateIncident without times: got nil error")
	}
}

func testIncidentList(t *testing.T, s cordon.Store) {
	got, err := s.Incidents(t.Context())
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Incidents of an empty store: %v, %v; want an empty list", got, err)
	}
	for i, id := range []string{"i-a", "i-b", "i-c"} {
		mustIncident(t, s, newIncident(id, at(time.Duration(i)*time.Minute)))
	}
	if _, err := s.LinkIncident(t.Context(), "i-b", 1, cordon.IncidentLink{Kind: cordon.LinkCampaign, ID: "c-1", LinkedAt: at(time.Hour), LinkedBy: "x"}, at(time.Hour)); err != nil {
		t.Fatalf("LinkIncident: %v", err)
	}
	got, err = s.Incidents(t.Context())
	if err != nil {
		t.Fatalf("Incidents: %v", err)
	}
	var ids []string
	for _, inc := range got {
		ids = append(ids, inc.ID)
	}
	if !slices.Equal(ids, []string{"i-c", "i-b", "i-a"}) {
		t.Errorf("Incidents: got %v, want newest created first [i-c i-b i-a]", ids)
	}
	if len(got) == 3 && (len(got[1].Links) != 1 || got[1].Links[0].ID != "c-1" || len(got[0].Links) != 0) {
		t.Errorf("Incidents: links %v / %v; want i-b's one link and none on i-c", got[1].Links, got[0].Links)
	}
}

func testIncidentUpdate(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustIncident(t, s, newIncident("i-1", at(0)))
	up := newIncident("i-1", at(0))
	up.Version, up.State, up.Title, up.Severity, up.UpdatedAt = 1, cordon.IncidentContained, "renamed", cordon.SeverityCritical, at(time.Minute).In(elsewhere())
	if err := s.UpdateIncident(ctx, up); err != nil {
		t.Fatalf("UpdateIncident at the current version: %v", err)
	}
	if up.Version != 2 {
		t.Errorf("UpdateIncident set version %d, want 2", up.Version)
	}
	got, err := s.Incident(ctx, "i-1")
	if err != nil {
		t.Fatal(err)
	}
	var d diff
	d.str("State", string(got.State), "contained")
	d.str("Title", got.Title, "renamed")
	d.str("Severity", string(got.Severity), "critical")
	d.time("UpdatedAt", got.UpdatedAt, at(time.Minute))
	d.time("AwareAt (never changes)", got.AwareAt, at(-time.Hour))
	if got.Version != 2 {
		d = append(d, fmt.Sprintf("Version %d, want 2", got.Version))
	}
	if len(d) > 0 {
		t.Errorf("Incident after UpdateIncident: %s", d)
	}
	stale := newIncident("i-1", at(0))
	stale.Version, stale.State = 1, cordon.IncidentResolved
	if err := s.UpdateIncident(ctx, stale); !cordon.IsStale(err) {
		t.Errorf("UpdateIncident at an old version: got %v, want ErrStale", err)
	}
	if got, _ := s.Incident(ctx, "i-1"); got.State != cordon.IncidentContained || got.Version != 2 {
		t.Errorf("a stale update changed the row: state %s version %d", got.State, got.Version)
	}
	missing := newIncident("i-missing", at(0))
	missing.Version = 1
	checkErr(t, "UpdateIncident of an unknown id", s.UpdateIncident(ctx, missing), cordon.ErrNotFound)
}

func testIncidentLinks(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustIncident(t, s, newIncident("i-1", at(0)))
	link := func(kind cordon.LinkKind, id string, d time.Duration) cordon.IncidentLink {
		return cordon.IncidentLink{Kind: kind, ID: id, LinkedAt: at(d).In(elsewhere()), LinkedBy: "cordon:admin/ops"}
	}
	v, err := s.LinkIncident(ctx, "i-1", 1, link(cordon.LinkReport, "r-1", time.Minute), at(time.Minute))
	if err != nil || v != 2 {
		t.Fatalf("LinkIncident: version %d, %v; want 2, nil", v, err)
	}
	if v, err = s.LinkIncident(ctx, "i-1", 2, link(cordon.LinkCampaign, "c-1", 2*time.Minute), at(2*time.Minute)); err != nil || v != 3 {
		t.Fatalf("second LinkIncident: version %d, %v; want 3, nil", v, err)
	}
	_, err = s.LinkIncident(ctx, "i-1", 3, link(cordon.LinkReport, "r-1", 3*time.Minute), at(3*time.Minute))
	checkErr(t, "LinkIncident of a linked object", err, cordon.ErrAlreadyExists)
	if cordon.IsStale(err) {
		t.Errorf("LinkIncident of a linked object: got ErrStale, want ErrAlreadyExists")
	}
	if _, err := s.LinkIncident(ctx, "i-1", 1, link(cordon.LinkCampaign, "c-2", 3*time.Minute), at(3*time.Minute)); !cordon.IsStale(err) {
		t.Errorf("LinkIncident at an old version: got %v, want ErrStale", err)
	}
	_, err = s.LinkIncident(ctx, "i-missing", 1, link(cordon.LinkCampaign, "c-2", 0), at(0))
	checkErr(t, "LinkIncident of an unknown incident", err, cordon.ErrNotFound)
	got, err := s.Incident(ctx, "i-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || len(got.Links) != 2 || got.Links[0].ID != "r-1" || got.Links[0].Kind != cordon.LinkReport ||
		got.Links[1].ID != "c-1" || !got.Links[0].LinkedAt.Equal(at(time.Minute)) || got.Links[0].LinkedAt.Location() != time.UTC || got.Links[0].LinkedBy != "cordon:admin/ops" {
		t.Errorf("after two links: version %d, links %+v; want 3 and r-1 then c-1 in UTC", got.Version, got.Links)
	}
	_, err = s.UnlinkIncident(ctx, "i-1", 3, cordon.LinkCampaign, "c-9", at(4*time.Minute))
	checkErr(t, "UnlinkIncident of an object not linked", err, cordon.ErrNotFound)
	if _, err := s.UnlinkIncident(ctx, "i-1", 2, cordon.LinkReport, "r-1", at(4*time.Minute)); !cordon.IsStale(err) {
		t.Errorf("UnlinkIncident at an old version: got %v, want ErrStale", err)
	}
	if v, err := s.UnlinkIncident(ctx, "i-1", 3, cordon.LinkReport, "r-1", at(4*time.Minute)); err != nil || v != 4 {
		t.Fatalf("UnlinkIncident: version %d, %v; want 4, nil", v, err)
	}
	if got, _ := s.Incident(ctx, "i-1"); len(got.Links) != 1 || got.Links[0].ID != "c-1" || !got.UpdatedAt.Equal(at(4*time.Minute)) {
		t.Errorf("after unlink: links %+v, updated %v; want only c-1, updated at the unlink", got.Links, got.UpdatedAt)
	}
}

func testIncidentAudited(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	e := newAuditEntry("open", at(0), "cordon:admin/ops", "cordon:incident/i-1", "incidents")
	in := newIncident("i-1", at(0))
	if err := s.CreateIncident(cordon.WithAudit(ctx, e), in); err != nil {
		t.Fatalf("CreateIncident with an audit entry: %v", err)
	}
	checkSize(t, s, 1)
	dup := newAuditEntry("open-again", at(0), "cordon:admin/ops", "cordon:incident/i-1", "incidents")
	checkErr(t, "CreateIncident of a taken id", s.CreateIncident(cordon.WithAudit(ctx, dup), newIncident("i-1", at(0))), cordon.ErrAlreadyExists)
	checkSize(t, s, 1)
	up := *in
	up.State, up.UpdatedAt = cordon.IncidentContained, at(time.Minute)
	if err := s.UpdateIncident(cordon.WithAudit(ctx, newAuditEntry("move", at(time.Minute), "cordon:admin/ops", "cordon:incident/i-1", "incidents")), &up); err != nil {
		t.Fatalf("UpdateIncident with an audit entry: %v", err)
	}
	checkSize(t, s, 2)
	stale := *in // version 1
	if err := s.UpdateIncident(cordon.WithAudit(ctx, newAuditEntry("lost", at(time.Minute), "cordon:admin/ops", "cordon:incident/i-1", "incidents")), &stale); !cordon.IsStale(err) {
		t.Fatalf("stale UpdateIncident: %v, want ErrStale", err)
	}
	checkSize(t, s, 2)
	l := cordon.IncidentLink{Kind: cordon.LinkCampaign, ID: "c-1", LinkedAt: at(2 * time.Minute), LinkedBy: "x"}
	if _, err := s.LinkIncident(cordon.WithAudit(ctx, newAuditEntry("link", at(0), "cordon:admin/ops", "cordon:incident/i-1", "incidents")), "i-1", 2, l, at(2*time.Minute)); err != nil {
		t.Fatalf("LinkIncident with an audit entry: %v", err)
	}
	checkSize(t, s, 3)
	if _, err := s.LinkIncident(cordon.WithAudit(ctx, newAuditEntry("link-dup", at(0), "cordon:admin/ops", "cordon:incident/i-1", "incidents")), "i-1", 3, l, at(2*time.Minute)); err == nil {
		t.Fatal("a second link of one object: got nil error")
	}
	checkSize(t, s, 3)
	if _, err := s.UnlinkIncident(cordon.WithAudit(ctx, newAuditEntry("unlink", at(0), "cordon:admin/ops", "cordon:incident/i-1", "incidents")), "i-1", 3, l.Kind, l.ID, at(3*time.Minute)); err != nil {
		t.Fatalf("UnlinkIncident with an audit entry: %v", err)
	}
	checkSize(t, s, 4)
	// A bad entry fails the change.
	bad := *in
	bad.Version = 4
	if err := s.UpdateIncident(cordon.WithAudit(ctx, &cordon.AuditEntry{Principal: "x"}), &bad); err == nil {
		t.Fatal("UpdateIncident with an entry lacking its leaf: got nil error")
	}
	if got, _ := s.Incident(ctx, "i-1"); got.Version != 4 {
		t.Errorf("an update whose audit entry was refused was stored: version %d, want 4", got.Version)
	}
}

func testAuditEntriesAbout(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	subjects := []string{"cordon:incident/i-1", "alice", "cordon:campaign/c-1", "cordon:campaign/c-2", "cordon:incident/i-1", "cordon:incident/i-10"}
	var es []*cordon.AuditEntry
	for i, sub := range subjects {
		es = append(es, newAuditEntry(fmt.Sprintf("about-%d", i), at(time.Duration(i)*time.Second), "cordon:admin/ops", sub, "incidents"))
	}
	mustAppend(t, s, es, uint64(len(es)))
	var got []uint64
	err := s.AuditEntriesAbout(ctx, []string{"cordon:incident/i-1", "cordon:campaign/c-1"}, func(e *cordon.AuditEntry) error {
		got = append(got, e.Index)
		if e.Subject != subjects[e.Index] || string(e.Leaf) != fmt.Sprintf(`{"tag":"about-%d"}`, e.Index) || e.Time.Location() != time.UTC {
			t.Errorf("entry %d: subject %q leaf %s zone %v; want the stored entry in UTC", e.Index, e.Subject, e.Leaf, e.Time.Location())
		}
		return nil
	})
	if err != nil || !slices.Equal(got, []uint64{0, 2, 4}) {
		t.Errorf("AuditEntriesAbout: got %v, %v; want [0 2 4] in index order", got, err)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.AuditEntriesAbout(ctx, []string{"cordon:incident/i-1"}, func(*cordon.AuditEntry) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("AuditEntriesAbout with fn failing: %v after %d calls; want fn's error after 1", err, n)
	}
	if err := s.AuditEntriesAbout(ctx, []string{"alice"}, func(*cordon.AuditEntry) error { return nil }); cordon.ErrorCode(err) != cordon.ECodeInvalid {
		t.Errorf("AuditEntriesAbout of a user subject: got %v, want invalid_request", err)
	}
	if err := s.AuditEntriesAbout(ctx, nil, func(*cordon.AuditEntry) error { return nil }); cordon.ErrorCode(err) != cordon.ECodeInvalid {
		t.Errorf("AuditEntriesAbout of no subjects: got %v, want invalid_request", err)
	}
}

// testIncidentMoveRace: two (here eight) admins move one incident from
// the same version at once; exactly one move is stored, with its audit
// entry, and every other gets ErrStale and appends nothing.
func testIncidentMoveRace(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustIncident(t, s, newIncident("i-1", at(0)))
	const n = 8
	errs := race(n, func(i int) error {
		up := newIncident("i-1", at(0))
		up.Version, up.State, up.UpdatedAt = 1, cordon.IncidentContained, at(time.Duration(i+1)*time.Second)
		e := newAuditEntry(fmt.Sprintf("move-%d", i), at(time.Second), "cordon:admin/ops", "cordon:incident/i-1", "incidents")
		return s.UpdateIncident(cordon.WithAudit(ctx, e), up)
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !cordon.IsStale(err):
			t.Errorf("mover %d: got %v, want nil or ErrStale", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d moves from one version succeeded, want exactly 1", won)
	}
	checkSize(t, s, 1)
	if got, _ := s.Incident(ctx, "i-1"); got.Version != 2 {
		t.Errorf("version after the race: %d, want 2", got.Version)
	}
}

// testIncidentLinkRace: many admins link different objects, each
// retrying on ErrStale; every link lands, the version counts them.
func testIncidentLinkRace(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustIncident(t, s, newIncident("i-1", at(0)))
	const n = 6
	errs := race(n, func(i int) error {
		for {
			cur, err := s.Incident(ctx, "i-1")
			if err != nil {
				return err
			}
			_, err = s.LinkIncident(ctx, "i-1", cur.Version, cordon.IncidentLink{Kind: cordon.LinkCampaign, ID: fmt.Sprintf("c-%d", i), LinkedAt: at(0), LinkedBy: "x"}, at(0))
			if !cordon.IsStale(err) {
				return err
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("linker %d: %v", i, err)
		}
	}
	if got, _ := s.Incident(ctx, "i-1"); got.Version != n+1 || len(got.Links) != n {
		t.Errorf("after %d links: version %d, %d links; want %d and %d", n, got.Version, len(got.Links), n+1, n)
	}
}
