package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func alertTests() []subtest {
	return []subtest{
		{"RaiseAndRead", testAlertRaise},
		{"OpenAlertIsDeduplicated", testAlertDedup},
		{"ListFiltersAndOrders", testAlertList},
		{"UpdateIsCompareAndSet", testAlertUpdate},
		{"ChangeCarriesItsAuditEntry", testAlertAudited},
	}
}

func alertConcurrencyTests() []subtest {
	return []subtest{{"ManyRaisersOneAttack", testAlertRaiseRace}}
}

func newAlert(id, kind, key string, created time.Time) *cordon.Alert {
	return &cordon.Alert{ID: id, Kind: kind, Key: key, Summary: kind + " on " + key, State: cordon.AlertOpen,
		CreatedAt: created.In(elsewhere()), UpdatedAt: created.In(elsewhere()),
		Evidence: cordon.AlertEvidence{From: created.Add(-time.Minute).UTC(), To: created.UTC(), Attempts: 31, Failures: 30, Accounts: 1, Addresses: 2,
			TopAddresses: []string{"198.51.100.7", "198.51.100.8"}, Reached: []string{"acct-1"}, ReachedTotal: 1}}
}

func mustRaise(t *testing.T, s cordon.Store, a *cordon.Alert) bool {
	t.Helper()
	created, err := s.RaiseAlert(t.Context(), a)
	if err != nil {
		t.Fatalf("RaiseAlert(%s): %v", a.ID, err)
	}
	return created
}

func testAlertRaise(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	in := newAlert("al-1", "brute_force", "alice", at(0))
	in.Report = "/admin/v1/audit/report?principal=svc"
	if !mustRaise(t, s, in) {
		t.Error("RaiseAlert of a new attack: created false, want true")
	}
	got, err := s.Alert(ctx, "al-1")
	if err != nil {
		t.Fatalf("Alert: %v", err)
	}
	var d diff
	d.str("ID", got.ID, "al-1")
	d.str("Kind", got.Kind, "brute_force")
	d.str("Key", got.Key, "alice")
	d.str("State", string(got.State), "open")
	d.str("Report", got.Report, "/admin/v1/audit/report?principal=svc")
	d.time("CreatedAt", got.CreatedAt, at(0))
	d.str("Evidence.TopAddresses", fmt.Sprint(got.Evidence.TopAddresses), "[198.51.100.7 198.51.100.8]")
	d.str("Evidence.Reached", fmt.Sprint(got.Evidence.Reached), "[acct-1]")
	d.str("Evidence counts", fmt.Sprint(got.Evidence.Attempts, got.Evidence.Failures, got.Evidence.Accounts, got.Evidence.Addresses, got.Evidence.ReachedTotal), "31 30 1 2 1")
	d.time("Evidence.From", got.Evidence.From, at(-time.Minute))
	d.str("Seen, Version", fmt.Sprint(got.Seen, got.Version), "1 1")
	if len(d) > 0 {
		t.Error(d)
	}
	if got.AcknowledgedAt != nil || got.Incident != "" || got.Campaign != "" {
		t.Errorf("a new alert: acknowledged %v, incident %q, campaign %q; want none", got.AcknowledgedAt, got.Incident, got.Campaign)
	}
	if _, err := s.Alert(ctx, "al-nope"); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("Alert of a missing id: %v, want ErrNotFound", err)
	}
	if _, err := s.RaiseAlert(ctx, &cordon.Alert{ID: "al-2"}); err == nil {
		t.Error("RaiseAlert of an alert with no kind: got nil error")
	}
}

func testAlertDedup(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustRaise(t, s, newAlert("al-1", "brute_force", "alice", at(0)))
	again := newAlert("al-2", "brute_force", "alice", at(time.Minute))
	again.Evidence.Failures = 45
	if mustRaise(t, s, again) {
		t.Error("RaiseAlert of an open attack: created true, want false")
	}
	if again.ID != "al-1" || again.Seen != 2 || again.Version != 2 || again.Evidence.Failures != 45 {
		t.Errorf("raised again: id %s seen %d version %d failures %d, want al-1 2 2 45", again.ID, again.Seen, again.Version, again.Evidence.Failures)
	}
	if !again.CreatedAt.Equal(at(0)) || !again.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("raised again: created %v updated %v, want %v %v", again.CreatedAt, again.UpdatedAt, at(0), at(time.Minute))
	}
	if _, err := s.Alert(ctx, "al-2"); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("the dedup's id was stored: %v", err)
	}
	// Another key, or another kind, is another attack.
	if !mustRaise(t, s, newAlert("al-3", "brute_force", "bob", at(0))) || !mustRaise(t, s, newAlert("al-4", "password_spraying", "alice", at(0))) {
		t.Error("another key or kind: created false, want true")
	}
	// Once acknowledged, the same attack raises a new alert.
	a, _ := s.Alert(ctx, "al-1")
	now := at(2 * time.Minute)
	a.State, a.AcknowledgedAt, a.AcknowledgedBy, a.UpdatedAt = cordon.AlertAcknowledged, &now, "cordon:admin/ops", now
	if err := s.UpdateAlert(ctx, a); err != nil {
		t.Fatalf("UpdateAlert: %v", err)
	}
	if !mustRaise(t, s, newAlert("al-5", "brute_force", "alice", at(3*time.Minute))) {
		t.Error("RaiseAlert after the acknowledgement: created false, want true")
	}
}

func testAlertList(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	for i, k := range []string{"a", "b", "c"} {
		mustRaise(t, s, newAlert("al-"+k, "brute_force", k, at(time.Duration(i)*time.Minute)))
	}
	a, _ := s.Alert(ctx, "al-b")
	a.State, a.UpdatedAt = cordon.AlertAcknowledged, at(time.Hour)
	if err := s.UpdateAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	ids := func(q cordon.AlertQuery) string {
		got, err := s.Alerts(ctx, q)
		if err != nil {
			t.Fatalf("Alerts(%+v): %v", q, err)
		}
		var out []string
		for _, a := range got {
			out = append(out, a.ID)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct {
		q    cordon.AlertQuery
		want string
	}{
		{cordon.AlertQuery{}, "[al-c al-b al-a]"},
		{cordon.AlertQuery{State: cordon.AlertOpen}, "[al-c al-a]"},
		{cordon.AlertQuery{State: cordon.AlertAcknowledged}, "[al-b]"},
		{cordon.AlertQuery{Limit: 2}, "[al-c al-b]"},
		{cordon.AlertQuery{Kind: "brute_force", Key: "b"}, "[al-b]"},
		{cordon.AlertQuery{State: cordon.AlertOpen, Kind: "brute_force", Key: "b"}, "[]"},
		{cordon.AlertQuery{State: cordon.AlertOpen, Kind: "brute_force", Key: "c", Limit: 1}, "[al-c]"},
		{cordon.AlertQuery{Kind: "password_spraying", Key: "a"}, "[]"},
	} {
		if got := ids(c.q); got != c.want {
			t.Errorf("Alerts(%+v) = %s, want %s", c.q, got, c.want)
		}
	}
}

func testAlertUpdate(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	in := newAlert("al-1", "brute_force", "alice", at(0))
	mustRaise(t, s, in)
	up := *in
	ackAt := at(time.Minute)
	up.State, up.AcknowledgedAt, up.AcknowledgedBy, up.Incident, up.Campaign, up.UpdatedAt = cordon.AlertAcknowledged, &ackAt, "cordon:admin/ops", "i-1", "c-1", ackAt
	if err := s.UpdateAlert(ctx, &up); err != nil {
		t.Fatalf("UpdateAlert: %v", err)
	}
	if up.Version != 2 {
		t.Errorf("version after the update: %d, want 2", up.Version)
	}
	got, _ := s.Alert(ctx, "al-1")
	var d diff
	d.str("State", string(got.State), "acknowledged")
	d.str("AcknowledgedBy", got.AcknowledgedBy, "cordon:admin/ops")
	d.str("Incident", got.Incident, "i-1")
	d.str("Campaign", got.Campaign, "c-1")
	d.time("UpdatedAt", got.UpdatedAt, at(time.Minute))
	if len(d) > 0 {
		t.Error(d)
	}
	if got.AcknowledgedAt == nil || !got.AcknowledgedAt.Equal(ackAt) {
		t.Errorf("AcknowledgedAt = %v, want %v", got.AcknowledgedAt, ackAt)
	}
	stale := *in // version 1
	if err := s.UpdateAlert(ctx, &stale); !cordon.IsStale(err) {
		t.Errorf("UpdateAlert at a stale version: %v, want ErrStale", err)
	}
	missing := newAlert("al-nope", "brute_force", "x", at(0))
	missing.Version = 1
	if err := s.UpdateAlert(ctx, missing); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("UpdateAlert of a missing alert: %v, want ErrNotFound", err)
	}
}

func testAlertAudited(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	in := newAlert("al-1", "brute_force", "alice", at(0))
	if _, err := s.RaiseAlert(cordon.WithAudit(ctx, newAuditEntry("raise", at(0), "cordon:detect", "cordon:alert/al-1", "alerts")), in); err != nil {
		t.Fatalf("RaiseAlert with an audit entry: %v", err)
	}
	checkSize(t, s, 1)
	again := newAlert("al-2", "brute_force", "alice", at(0))
	if _, err := s.RaiseAlert(cordon.WithAudit(ctx, newAuditEntry("raise-again", at(0), "cordon:detect", "cordon:alert/al-1", "alerts")), again); err != nil {
		t.Fatalf("RaiseAlert again with an audit entry: %v", err)
	}
	checkSize(t, s, 2)
	up := *again
	up.State, up.UpdatedAt = cordon.AlertAcknowledged, at(time.Minute)
	if err := s.UpdateAlert(cordon.WithAudit(ctx, newAuditEntry("ack", at(0), "cordon:admin/ops", "cordon:alert/al-1", "alerts")), &up); err != nil {
		t.Fatalf("UpdateAlert with an audit entry: %v", err)
	}
	checkSize(t, s, 3)
	stale := *again
	if err := s.UpdateAlert(cordon.WithAudit(ctx, newAuditEntry("lost", at(0), "cordon:admin/ops", "cordon:alert/al-1", "alerts")), &stale); !cordon.IsStale(err) {
		t.Fatalf("stale UpdateAlert: %v, want ErrStale", err)
	}
	checkSize(t, s, 3)
	if _, err := s.RaiseAlert(cordon.WithAudit(ctx, &cordon.AuditEntry{Principal: "x"}), newAlert("al-3", "brute_force", "bob", at(0))); err == nil {
		t.Fatal("RaiseAlert with an entry lacking its leaf: got nil error")
	}
	checkSize(t, s, 3)
	if _, err := s.Alert(ctx, "al-3"); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("an alert whose audit entry failed was stored: %v", err)
	}
}

// testAlertRaiseRace: nodes raising one attack at once make one alert
// that counts every raise.
func testAlertRaiseRace(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	const n = 8
	errs := race(n, func(i int) error {
		_, err := s.RaiseAlert(ctx, newAlert(fmt.Sprintf("al-%d", i), "credential_stuffing", "*", at(time.Duration(i)*time.Second)))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("raiser %d: %v", i, err)
		}
	}
	all, err := s.Alerts(ctx, cordon.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Seen != n {
		var seen []int64
		for _, a := range all {
			seen = append(seen, a.Seen)
		}
		t.Errorf("%d alerts (seen %v), want 1 seen %d", len(all), seen, n)
	}
}
