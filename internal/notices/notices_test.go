package notices_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/notices"
)

var t0 = time.Date(2026, 5, 27, 8, 0, 0, 0, time.UTC)

var ops = incident.Actor{Principal: "cordon:admin/ops", TokenID: "t-ops", Source: "192.0.2.1"}

type env struct {
	store *memstore.Store
	clk   *clock.Fake
	svc   *notices.Service
	log   *auditlog.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: memstore.New(), clk: clock.NewFake(t0)}
	var err error
	if e.log, err = auditlog.New(t.Context(), auditlog.Config{Store: e.store, Clock: e.clk, Origin: "test.example/audit", Interval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	camps, err := campaign.New(t.Context(), e.store, e.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.svc, err = notices.New(notices.Config{Store: e.store, Audit: e.log, Campaigns: camps, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	return e
}

// account makes an account with one session per facts, logged in an hour
// before t0; it returns the account id and the sessions.
func (e *env) account(t *testing.T, name string, facts ...cordon.ClientFacts) (string, []*cordon.Session) {
	t.Helper()
	a := &cordon.Account{ID: cordon.NewID("u"), Username: name, PasswordHash: "x", CreatedAt: t0.Add(-time.Hour), PasswordChangedAt: t0.Add(-time.Hour)}
	if err := e.store.CreateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	var out []*cordon.Session
	for _, f := range facts {
		s := &cordon.Session{ID: cordon.NewID("s"), AccountID: a.ID, Facts: f, AuthTime: t0.Add(-time.Hour), CreatedAt: t0.Add(-time.Hour), LastSeenAt: t0.Add(-time.Hour)}
		rt := &cordon.RefreshToken{Hash: []byte(s.ID), SessionID: s.ID, CreatedAt: t0.Add(-time.Hour), IdleExpiresAt: t0.Add(24 * time.Hour), AbsoluteExpiresAt: t0.Add(48 * time.Hour)}
		if err := e.store.CreateSession(t.Context(), s, rt); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return a.ID, out
}

var (
	ios     = cordon.ClientFacts{Platform: "ios", Version: "8.4.0", Source: "appstore"}
	iosNew  = cordon.ClientFacts{Platform: "ios", Version: "8.6.0", Source: "appstore"}
	android = cordon.ClientFacts{Platform: "android", Version: "8.4.0", Source: "play"}
)

func (e *env) published(t *testing.T, doc string) *cordon.Notice {
	t.Helper()
	n, err := e.svc.Create(t.Context(), ops, []byte(doc), "yaml", "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := e.svc.Publish(t.Context(), ops, n.ID); err != nil {
		t.Fatalf("publish: %v", err)
	}
	return n
}

// TargetAccounts is whom a notice reaches, as account ids: for a cohort of
// facts, the accounts with a live session in it; for named users alone,
// every named account, with or without a session.
func TestTargetAccounts(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.account(t, "alice", ios, android)
	bob, _ := e.account(t, "bob", android)
	carol, _ := e.account(t, "carol", iosNew)
	dave, _ := e.account(t, "dave") // no session
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"platform", "cohort: {platforms: [ios]}\n", []string{alice, carol}},
		{"platform and versions", "cohort: {platforms: [ios], versions: \"< 8.5.0\"}\n", []string{alice}},
		{"everyone", "", []string{alice, bob, carol}},
		{"named users alone, one without a session", "cohort: {users: [bob, dave]}\n", []string{bob, dave}},
		{"named users and a platform", "cohort: {users: [bob, alice], platforms: [ios]}\n", []string{alice}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := e.published(t, tt.doc+"default_language: en\ntexts: {en: {title: T, body: B}}\n")
			got, err := e.svc.TargetAccounts(t.Context(), n.ID)
			want := slices.Sorted(slices.Values(tt.want))
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("TargetAccounts: got %v, %v; want %v", got, err, want)
			}
		})
	}
	if _, err := e.svc.TargetAccounts(t.Context(), "n-nope"); cordon.ErrorCode(err) != cordon.ECodeNotFound {
		t.Errorf("TargetAccounts of an unknown notice: %v", err)
	}
}

// A session is served the notices its facts at login put it in, whatever
// it claims since; a notice that is not for it cannot be acknowledged,
// and a withdrawn one is served no more.
func TestServedByFactsAtLogin(t *testing.T) {
	e := newEnv(t)
	_, as := e.account(t, "alice", android)
	sess := as[0]
	n := e.published(t, "cohort: {platforms: [ios]}\ndefault_language: en\ntexts: {en: {title: T, body: B}, fr: {title: Tf, body: Bf}}\n")
	// An Android session is not in an iOS cohort (the HTTP test shows a
	// claim of iOS moves nothing: the stored session is what is judged).
	got, err := e.svc.ForSession(t.Context(), sess, "fr")
	if err != nil || len(got) != 0 {
		t.Fatalf("android session served an iOS notice: %v, %v", got, err)
	}
	if _, err := e.svc.Ack(t.Context(), sess, n.ID); cordon.ErrorCode(err) != cordon.ECodeNotFound || !strings.Contains(err.Error(), "no notice") {
		t.Errorf("ack of a notice not for the session: %v, want not found", err)
	}
	_, is := e.account(t, "ivy", ios)
	got, err = e.svc.ForSession(t.Context(), is[0], "fr-CA")
	if err != nil || len(got) != 1 || got[0].Language != "fr" || got[0].Title != "Tf" {
		t.Fatalf("ios session: %+v, %v", got, err)
	}
	if first, err := e.svc.Ack(t.Context(), is[0], n.ID); err != nil || !first {
		t.Errorf("ack: %v, %v", first, err)
	}
	if _, err := e.svc.Withdraw(t.Context(), ops, n.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.ForSession(t.Context(), is[0], ""); len(got) != 0 {
		t.Errorf("a withdrawn notice served: %+v", got)
	}
	if _, err := e.svc.Ack(t.Context(), is[0], n.ID); cordon.ErrorCode(err) != cordon.ECodeNotFound {
		t.Errorf("ack of a withdrawn notice: %v, want not found", err)
	}
}

// Every change is one audit entry about the notice, in its transaction;
// a refused change writes none.
func TestEveryChangeIsRecorded(t *testing.T) {
	e := newEnv(t)
	size := func() uint64 {
		n, err := e.store.AuditSize(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n, err := e.svc.Create(t.Context(), ops, []byte("default_language: en\ntexts: {en: {title: T, body: B}}\n"), "yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := size(); got != 1 {
		t.Fatalf("after create: %d entries, want 1", got)
	}
	if _, err := e.svc.Publish(t.Context(), ops, n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Publish(t.Context(), ops, n.ID); cordon.ErrorCode(err) != cordon.ECodeConflict {
		t.Errorf("second publish: %v, want conflict", err)
	}
	if _, err := e.svc.Create(t.Context(), ops, []byte("default_language: xx-!!\ntexts: {en: {title: T, body: B}}\n"), "yaml", ""); err == nil {
		t.Error("a bad document was created")
	}
	if got := size(); got != 2 {
		t.Errorf("after publish and two refusals: %d entries, want 2", got)
	}
	var subjects []string
	e.log.EntriesAbout(t.Context(), []string{notices.Subject(n.ID)}, func(en *cordon.AuditEntry) error {
		subjects = append(subjects, en.Subject+" "+en.Principal)
		return nil
	})
	if len(subjects) != 2 || subjects[0] != "cordon:notice/"+n.ID+" cordon:admin/ops" {
		t.Errorf("entries about the notice: %v", subjects)
	}
}
