package conformance

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func noticeTests() []subtest {
	return []subtest{
		{"CreateAndRead", testNoticeCreateRead},
		{"Audited", testNoticeAudited},
		{"Lifecycle", testNoticeLifecycle},
		{"ExplainingBumpsPolicy", testNoticeBumpsPolicy},
		{"DeliveriesAndAcks", testNoticeAcks},
		{"PublicPage", testPublicPage},
	}
}

func noticeConcurrencyTests() []subtest {
	return []subtest{
		{"ManyAcksOfOneNotice", testNoticeAckRace},
		{"PublishRacesWithdraw", testNoticePublishRace},
	}
}

func newNotice(id string, created time.Time) *cordon.Notice {
	before := created.Add(-time.Hour).In(elsewhere())
	return &cordon.Notice{ID: id, State: cordon.NoticeDraft, CreatedAt: created.In(elsewhere()), UpdatedAt: created.In(elsewhere()), CreatedBy: "cordon:admin/ops",
		Cohort:          cordon.Cohort{Platforms: []string{"ios", "desktop"}, Versions: "< 8.5.0", AuthenticatedBefore: &before, Users: []string{"alice"}},
		DefaultLanguage: "en", UserIDs: []string{"a-1"},
		Texts: map[string]cordon.NoticeText{"en": {Title: "Log in again", Body: "We **reset** sessions."}, "de": {Title: "Bitte neu anmelden", Body: "Für Ihre Sicherheit."}}}
}

func mustNotice(t *testing.T, s cordon.Store, n *cordon.Notice) {
	t.Helper()
	if err := s.CreateNotice(t.Context(), n); err != nil {
		t.Fatalf("CreateNotice(%s): %v", n.ID, err)
	}
}

func testNoticeCreateRead(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	n := newNotice("n-1", at(0))
	n.Incident, n.Campaign = "i-1", "c-1"
	mustNotice(t, s, n)
	checkErr(t, "CreateNotice of a taken id", s.CreateNotice(ctx, newNotice("n-1", at(0))), cordon.ErrAlreadyExists)
	mustNotice(t, s, newNotice("n-2", at(time.Minute)))
	got, err := s.Notice(ctx, "n-1")
	if err != nil {
		t.Fatalf("Notice: %v", err)
	}
	if got.Incident != "i-1" || got.Campaign != "c-1" || got.State != cordon.NoticeDraft || got.DefaultLanguage != "en" ||
		!reflect.DeepEqual(got.Texts, n.Texts) || !reflect.DeepEqual(got.UserIDs, []string{"a-1"}) ||
		!reflect.DeepEqual(got.Cohort.Platforms, []string{"ios", "desktop"}) || got.Cohort.Versions != "< 8.5.0" ||
		got.Cohort.AuthenticatedBefore == nil || !got.Cohort.AuthenticatedBefore.Equal(at(-time.Hour)) || got.Cohort.AuthenticatedBefore.Location() != time.UTC {
		t.Errorf("Notice: got %+v, want what was stored", got)
	}
	if !got.CreatedAt.Equal(at(0)) || got.CreatedAt.Location() != time.UTC || !got.PublishedAt.IsZero() {
		t.Errorf("Notice times: created %v (want %v in UTC), published %v (want zero)", got.CreatedAt, at(0), got.PublishedAt)
	}
	_, err = s.Notice(ctx, "n-missing")
	checkErr(t, "Notice of a missing id", err, cordon.ErrNotFound)
	all, err := s.Notices(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "n-2" || all[1].ID != "n-1" {
		t.Errorf("Notices: got %d (%v), want n-2 then n-1", len(all), err)
	}
	if pub, err := s.PublishedNotices(ctx); err != nil || len(pub) != 0 {
		t.Errorf("PublishedNotices with only drafts: got %d, %v; want none", len(pub), err)
	}
}

func testNoticeAudited(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	e := newAuditEntry("create", at(0), "cordon:admin/ops", "cordon:notice/n-1", "notices")
	if err := s.CreateNotice(cordon.WithAudit(ctx, e), newNotice("n-1", at(0))); err != nil {
		t.Fatalf("CreateNotice with an audit entry: %v", err)
	}
	checkSize(t, s, 1)
	dup := newAuditEntry("create-again", at(0), "cordon:admin/ops", "cordon:notice/n-1", "notices")
	checkErr(t, "CreateNotice of a taken id", s.CreateNotice(cordon.WithAudit(ctx, dup), newNotice("n-1", at(0))), cordon.ErrAlreadyExists)
	checkSize(t, s, 1)
	pub := newAuditEntry("publish", at(time.Minute), "cordon:admin/ops", "cordon:notice/n-1", "notices")
	if _, err := s.TransitionNotice(cordon.WithAudit(ctx, pub), "n-1", []cordon.NoticeState{cordon.NoticeDraft}, cordon.NoticePublished, at(time.Minute)); err != nil {
		t.Fatalf("TransitionNotice with an audit entry: %v", err)
	}
	checkSize(t, s, 2)
	again := newAuditEntry("publish-again", at(time.Minute), "cordon:admin/ops", "cordon:notice/n-1", "notices")
	_, err := s.TransitionNotice(cordon.WithAudit(ctx, again), "n-1", []cordon.NoticeState{cordon.NoticeDraft}, cordon.NoticePublished, at(time.Minute))
	checkCode(t, "publishing a published notice", err, cordon.ECodeConflict)
	checkSize(t, s, 2)
	u := &cordon.PublicUpdate{ID: "pu-1", PublishedAt: at(0), PublishedBy: "cordon:admin/ops", DefaultLanguage: "en", Texts: map[string]cordon.NoticeText{"en": {Title: "t", Body: "b"}}}
	pe := newAuditEntry("page", at(0), "cordon:admin/ops", "cordon:incident/i-1", "incidents")
	if _, err := s.PublishPageUpdate(cordon.WithAudit(ctx, pe), "i-1", "may", u); err != nil {
		t.Fatalf("PublishPageUpdate with an audit entry: %v", err)
	}
	checkSize(t, s, 3)
}

func testNoticeLifecycle(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustNotice(t, s, newNotice("n-1", at(0)))
	_, err := s.TransitionNotice(ctx, "n-1", []cordon.NoticeState{cordon.NoticePublished}, cordon.NoticeWithdrawn, at(time.Minute))
	checkCode(t, "withdrawing a draft when only published may be", err, cordon.ECodeConflict)
	n, err := s.TransitionNotice(ctx, "n-1", []cordon.NoticeState{cordon.NoticeDraft}, cordon.NoticePublished, at(time.Minute).In(elsewhere()))
	if err != nil || n.State != cordon.NoticePublished || !n.PublishedAt.Equal(at(time.Minute)) {
		t.Fatalf("publish: got %+v, %v; want published at %v", n, err, at(time.Minute))
	}
	if pub, err := s.PublishedNotices(ctx); err != nil || len(pub) != 1 || pub[0].ID != "n-1" {
		t.Errorf("PublishedNotices: got %d, %v; want n-1", len(pub), err)
	}
	n, err = s.TransitionNotice(ctx, "n-1", []cordon.NoticeState{cordon.NoticeDraft, cordon.NoticePublished}, cordon.NoticeWithdrawn, at(2*time.Minute))
	if err != nil || n.State != cordon.NoticeWithdrawn || !n.WithdrawnAt.Equal(at(2*time.Minute)) || !n.PublishedAt.Equal(at(time.Minute)) {
		t.Fatalf("withdraw: got %+v, %v", n, err)
	}
	got, _ := s.Notice(ctx, "n-1")
	if got.State != cordon.NoticeWithdrawn || !got.WithdrawnAt.Equal(at(2*time.Minute)) || !got.UpdatedAt.Equal(at(2*time.Minute)) {
		t.Errorf("stored after withdraw: %+v", got)
	}
	if pub, err := s.PublishedNotices(ctx); err != nil || len(pub) != 0 {
		t.Errorf("PublishedNotices after withdraw: got %d, %v; want none", len(pub), err)
	}
	_, err = s.TransitionNotice(ctx, "n-missing", []cordon.NoticeState{cordon.NoticeDraft}, cordon.NoticePublished, at(0))
	checkErr(t, "TransitionNotice of a missing id", err, cordon.ErrNotFound)
}

func testNoticeBumpsPolicy(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	plain := newNotice("n-plain", at(0))
	explains := newNotice("n-explains", at(0))
	explains.Campaign = "c-1"
	mustNotice(t, s, plain)
	mustNotice(t, s, explains)
	v0, _ := s.PolicyVersion(ctx)
	if _, err := s.TransitionNotice(ctx, "n-plain", []cordon.NoticeState{cordon.NoticeDraft}, cordon.NoticePublished, at(0)); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.PolicyVersion(ctx); v != v0 {
		t.Errorf("publishing a notice that explains no campaign moved the policy version %d -> %d", v0, v)
	}
	if _, err := s.TransitionNotice(ctx, "n-explains", []cordon.NoticeState{cordon.NoticeDraft}, cordon.NoticePublished, at(0)); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.PolicyVersion(ctx); v != v0+1 {
		t.Errorf("publishing a notice that explains a campaign: policy version %d, want %d", v, v0+1)
	}
}

func testNoticeAcks(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustNotice(t, s, newNotice("n-1", at(0)))
	first, err := s.RecordNoticeDelivered(ctx, "n-1", "s-1", "a-1", at(time.Minute))
	if err != nil || !first {
		t.Fatalf("first delivery: %v, %v; want true", first, err)
	}
	if again, err := s.RecordNoticeDelivered(ctx, "n-1", "s-1", "a-1", at(2*time.Minute)); err != nil || again {
		t.Errorf("second delivery to one session: %v, %v; want false", again, err)
	}
	s.RecordNoticeDelivered(ctx, "n-1", "s-2", "a-1", at(time.Minute))
	s.RecordNoticeDelivered(ctx, "n-1", "s-3", "a-2", at(time.Minute))
	if ok, err := s.AckNotice(ctx, "n-1", "s-1", "a-1", at(3*time.Minute).In(elsewhere())); err != nil || !ok {
		t.Fatalf("ack: %v, %v", ok, err)
	}
	if ok, err := s.AckNotice(ctx, "n-1", "s-1", "a-1", at(4*time.Minute)); err != nil || ok {
		t.Errorf("second ack: %v, %v; want false", ok, err)
	}
	// An ack without a fetch before counts as delivered too.
	if ok, err := s.AckNotice(ctx, "n-1", "s-4", "a-3", at(3*time.Minute)); err != nil || !ok {
		t.Errorf("ack of an undelivered session: %v, %v", ok, err)
	}
	p, err := s.NoticeProgress(ctx, "n-1")
	want := cordon.NoticeProgress{DeliveredSessions: 4, DeliveredUsers: 3, AckedSessions: 2, AckedUsers: 2}
	if err != nil || p != want {
		t.Errorf("NoticeProgress: got %+v, %v; want %+v", p, err, want)
	}
	acks, err := s.SessionNoticeAcks(ctx, "s-1")
	if err != nil || len(acks) != 1 || !acks["n-1"].Equal(at(3*time.Minute)) || acks["n-1"].Location() != time.UTC {
		t.Errorf("SessionNoticeAcks(s-1): got %v, %v; want n-1 at %v", acks, err, at(3*time.Minute))
	}
	if acks, _ := s.SessionNoticeAcks(ctx, "s-2"); len(acks) != 0 {
		t.Errorf("SessionNoticeAcks of a session that only fetched: %v", acks)
	}
	if p, err := s.NoticeProgress(ctx, "n-none"); err != nil || p != (cordon.NoticeProgress{}) {
		t.Errorf("NoticeProgress of a notice served to nobody: %+v, %v", p, err)
	}
}

func pageUpdate(id string, when time.Time, title string) *cordon.PublicUpdate {
	return &cordon.PublicUpdate{ID: id, PublishedAt: when.In(elsewhere()), PublishedBy: "cordon:admin/ops", DefaultLanguage: "en",
		Texts: map[string]cordon.NoticeText{"en": {Title: title, Body: "body of " + id}, "fr": {Title: title + " (fr)", Body: "corps"}}}
}

func testPublicPage(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	_, err := s.PublishPageUpdate(ctx, "i-1", "", pageUpdate("pu-0", at(0), "x"))
	checkErr(t, "an update without a slug before the page exists", err, cordon.ErrNotFound)
	_, err = s.PublicPageBySlug(ctx, "may-2026")
	checkErr(t, "PublicPageBySlug before publishing", err, cordon.ErrNotFound)
	p, err := s.PublishPageUpdate(ctx, "i-1", "may-2026", pageUpdate("pu-1", at(0), "First"))
	if err != nil || p.Slug != "may-2026" || len(p.Updates) != 1 {
		t.Fatalf("first update: %+v, %v", p, err)
	}
	if _, err := s.PublishPageUpdate(ctx, "i-1", "", pageUpdate("pu-2", at(time.Hour), "Second")); err != nil {
		t.Fatalf("second update: %v", err)
	}
	_, err = s.PublishPageUpdate(ctx, "i-1", "other", pageUpdate("pu-3", at(2*time.Hour), "x"))
	checkCode(t, "an update naming another slug", err, cordon.ECodeConflict)
	_, err = s.PublishPageUpdate(ctx, "i-2", "may-2026", pageUpdate("pu-4", at(0), "x"))
	checkErr(t, "another incident's page with a taken slug", err, cordon.ErrAlreadyExists)
	got, err := s.PublicPageBySlug(ctx, "may-2026")
	if err != nil || got.Incident != "i-1" || len(got.Updates) != 2 {
		t.Fatalf("PublicPageBySlug: %+v, %v; want i-1 with two updates", got, err)
	}
	u := got.Updates[0]
	if u.ID != "pu-2" || got.Updates[1].ID != "pu-1" || !u.PublishedAt.Equal(at(time.Hour)) || u.PublishedAt.Location() != time.UTC ||
		u.Texts["fr"].Title != "Second (fr)" || u.DefaultLanguage != "en" || u.PublishedBy != "cordon:admin/ops" {
		t.Errorf("updates: got %+v, want pu-2 (newest, in UTC) then pu-1", got.Updates)
	}
	of, err := s.PublicPageOf(ctx, "i-1")
	if err != nil || of.Slug != "may-2026" || len(of.Updates) != 2 {
		t.Errorf("PublicPageOf: %+v, %v", of, err)
	}
	_, err = s.PublicPageOf(ctx, "i-2")
	checkErr(t, "PublicPageOf an incident without a page", err, cordon.ErrNotFound)
}

func testNoticeAckRace(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustNotice(t, s, newNotice("n-1", at(0)))
	const n = 32
	firsts := make([]bool, n)
	errs := race(n, func(i int) error {
		// Each session acks twice at once: one ack counts.
		ok, err := s.AckNotice(ctx, "n-1", fmt.Sprintf("s-%d", i%(n/2)), fmt.Sprintf("a-%d", i%4), at(time.Minute))
		firsts[i] = ok
		return err
	})
	counted := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
		if firsts[i] {
			counted++
		}
	}
	if counted != n/2 {
		t.Errorf("first acks: got %d, want %d (one per session)", counted, n/2)
	}
	p, err := s.NoticeProgress(ctx, "n-1")
	want := cordon.NoticeProgress{DeliveredSessions: n / 2, DeliveredUsers: 4, AckedSessions: n / 2, AckedUsers: 4}
	if err != nil || p != want {
		t.Errorf("NoticeProgress: got %+v, %v; want %+v", p, err, want)
	}
}

func testNoticePublishRace(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	for round := range 20 {
		id := fmt.Sprintf("n-%d", round)
		mustNotice(t, s, newNotice(id, at(0)))
		var states [2]cordon.NoticeState
		errs := race(2, func(i int) error {
			if i == 0 {
				n, err := s.TransitionNotice(ctx, id, []cordon.NoticeState{cordon.NoticeDraft}, cordon.NoticePublished, at(time.Minute))
				if err == nil {
					states[0] = n.State
				}
				return err
			}
			n, err := s.TransitionNotice(ctx, id, []cordon.NoticeState{cordon.NoticeDraft, cordon.NoticePublished}, cordon.NoticeWithdrawn, at(time.Minute))
			if err == nil {
				states[1] = n.State
			}
			return err
		})
		got, _ := s.Notice(ctx, id)
		switch {
		case errs[1] != nil:
			t.Errorf("round %d: withdraw (from draft or published) failed: %v", round, errs[1])
		case got.State != cordon.NoticeWithdrawn:
			t.Errorf("round %d: a withdrawn notice ended %s (publish %v, withdraw %v)", round, got.State, errs[0], errs[1])
		case errs[0] != nil && cordon.ErrorCode(errs[0]) != cordon.ECodeConflict:
			t.Errorf("round %d: the losing publish: %v, want a conflict", round, errs[0])
		case errs[0] == nil && got.PublishedAt.IsZero():
			t.Errorf("round %d: publish won first but the notice has no published time", round)
		}
	}
}
