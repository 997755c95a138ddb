package conformance

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func ssfTests() []subtest {
	return []subtest{
		{"StreamRoundTrip", testSSFStreamRoundTrip},
		{"StreamsByOwner", testSSFStreamsByOwner},
		{"UpdateKeepsCounters", testSSFUpdateKeepsCounters},
		{"DeleteTakesOutbox", testSSFDelete},
		{"EnqueueOncePerJTI", testSSFEnqueueOnce},
		{"QueueBoundedDropsOldest", testSSFBounded},
		{"LeaseHidesClaimed", testSSFLease},
		{"SettleAndPrune", testSSFSettlePrune},
		{"DeferRetries", testSSFDefer},
		{"ConcurrentClaimsTakeEachOnce", testSSFConcurrentClaims},
		{"PasswordsChangedSince", testPasswordsChangedSince},
	}
}

func newSSFStream(owner string) *cordon.SSFStream {
	return &cordon.SSFStream{
		ID: cordon.NewID("ssf"), Owner: owner, Audience: "https://rp.example/" + owner,
		Delivery: cordon.SSFDeliveryPush, EndpointURL: "https://rp.example/events", Authorization: "Bearer x",
		EventsRequested: []string{"https://schemas.openid.net/secevent/caep/event-type/session-revoked"},
		Description:     "d", Status: cordon.SSFEnabled, CreatedAt: at(0).In(elsewhere()), UpdatedAt: at(0),
	}
}

func mustCreateStream(t *testing.T, s cordon.Store, owner string) *cordon.SSFStream {
	t.Helper()
	st := newSSFStream(owner)
	if err := s.CreateSSFStream(t.Context(), st); err != nil {
		t.Fatalf("CreateSSFStream: %v", err)
	}
	return st
}

func ssfEvents(n int, from time.Time) []*cordon.SSFEvent {
	var out []*cordon.SSFEvent
	for i := range n {
		out = append(out, &cordon.SSFEvent{JTI: fmt.Sprintf("j%03d", i), SET: fmt.Sprintf("set-%d", i), CreatedAt: from.Add(time.Duration(i) * time.Millisecond)})
	}
	return out
}

func jtis(evs []*cordon.SSFEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.JTI)
	}
	return out
}

func testSSFStreamRoundTrip(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	got, err := s.SSFStreamByID(t.Context(), st.ID)
	if err != nil {
		t.Fatalf("SSFStreamByID: %v", err)
	}
	if got.Owner != "rp1" || got.Audience != st.Audience || got.Delivery != cordon.SSFDeliveryPush || got.Authorization != "Bearer x" ||
		!slices.Equal(got.EventsRequested, st.EventsRequested) || got.Status != cordon.SSFEnabled || !got.CreatedAt.Equal(at(0)) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("round trip: got %+v, want %+v in UTC", got, st)
	}
	if err := s.CreateSSFStream(t.Context(), st); !errors.Is(err, cordon.ErrAlreadyExists) {
		t.Errorf("same id again: got %v, want ErrAlreadyExists", err)
	}
	if _, err := s.SSFStreamByID(t.Context(), "ssf-nope"); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("unknown id: got %v, want ErrNotFound", err)
	}
}

func testSSFStreamsByOwner(t *testing.T, s cordon.Store) {
	a := mustCreateStream(t, s, "rp1")
	b := newSSFStream("rp2")
	b.CreatedAt = at(time.Second)
	if err := s.CreateSSFStream(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	mine, err := s.SSFStreams(t.Context(), "rp1")
	if err != nil || len(mine) != 1 || mine[0].ID != a.ID {
		t.Errorf("SSFStreams(rp1) = %v, %v; want just %s", mine, err, a.ID)
	}
	all, err := s.SSFStreams(t.Context(), "")
	if err != nil || len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Errorf("SSFStreams(all) = %d streams, %v; want 2, oldest first", len(all), err)
	}
}

func testSSFUpdateKeepsCounters(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	if _, err := s.EnqueueSSF(t.Context(), st.ID, ssfEvents(3, at(0)), 1); err != nil {
		t.Fatal(err)
	}
	st.Status, st.StatusReason, st.Owner, st.UpdatedAt = cordon.SSFPaused, "maintenance", "thief", at(time.Minute)
	if err := s.UpdateSSFStream(t.Context(), st); err != nil {
		t.Fatalf("UpdateSSFStream: %v", err)
	}
	got, _ := s.SSFStreamByID(t.Context(), st.ID)
	if got.Status != cordon.SSFPaused || got.StatusReason != "maintenance" || got.Dropped != 2 || got.Owner != "rp1" {
		t.Errorf("after update: status %q reason %q dropped %d owner %q; want paused, maintenance, 2, rp1 (owner never changes)", got.Status, got.StatusReason, got.Dropped, got.Owner)
	}
	gone := newSSFStream("rp1")
	if err := s.UpdateSSFStream(t.Context(), gone); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("update of a missing stream: got %v, want ErrNotFound", err)
	}
}

func testSSFDelete(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	if _, err := s.EnqueueSSF(t.Context(), st.ID, ssfEvents(2, at(0)), 10); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSSFStream(t.Context(), st.ID); err != nil {
		t.Fatalf("DeleteSSFStream: %v", err)
	}
	if err := s.DeleteSSFStream(t.Context(), st.ID); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("second delete: got %v, want ErrNotFound", err)
	}
	if evs, err := s.PendingSSF(t.Context(), st.ID, at(time.Hour), 10, 0); err != nil || len(evs) != 0 {
		t.Errorf("pending after delete: %d, %v; want none", len(evs), err)
	}
	if _, err := s.EnqueueSSF(t.Context(), st.ID, ssfEvents(1, at(0)), 10); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("enqueue on a deleted stream: got %v, want ErrNotFound", err)
	}
}

func testSSFEnqueueOnce(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	evs := ssfEvents(3, at(0))
	for range 2 {
		if _, err := s.EnqueueSSF(t.Context(), st.ID, evs, 10); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.PendingSSF(t.Context(), st.ID, at(time.Hour), 10, 0)
	if want := []string{"j000", "j001", "j002"}; !slices.Equal(jtis(got), want) {
		t.Fatalf("pending = %v, want %v (each jti once, oldest first)", jtis(got), want)
	}
	if got[0].SET != "set-0" || got[0].StreamID != st.ID || !got[0].CreatedAt.Equal(at(0)) {
		t.Errorf("event round trip: %+v", got[0])
	}
	if _, err := s.SettleSSF(t.Context(), st.ID, []string{"j000"}, at(time.Second), ""); err != nil {
		t.Fatal(err)
	}
	// A delivered jti is not enqueued again.
	if _, err := s.EnqueueSSF(t.Context(), st.ID, evs[:1], 10); err != nil {
		t.Fatal(err)
	}
	got, _ = s.PendingSSF(t.Context(), st.ID, at(time.Hour), 10, 0)
	if want := []string{"j001", "j002"}; !slices.Equal(jtis(got), want) {
		t.Errorf("after settling j000 and enqueuing it again: pending %v, want %v", jtis(got), want)
	}
}

func testSSFBounded(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	dropped, err := s.EnqueueSSF(t.Context(), st.ID, ssfEvents(5, at(0)), 3)
	if err != nil || dropped != 2 {
		t.Fatalf("EnqueueSSF of 5 into 3: dropped %d, %v; want 2", dropped, err)
	}
	got, _ := s.PendingSSF(t.Context(), st.ID, at(time.Hour), 10, 0)
	if want := []string{"j002", "j003", "j004"}; !slices.Equal(jtis(got), want) {
		t.Errorf("kept %v, want the newest %v", jtis(got), want)
	}
	if g, _ := s.SSFStreamByID(t.Context(), st.ID); g.Dropped != 2 {
		t.Errorf("Dropped = %d, want 2", g.Dropped)
	}
}

func testSSFLease(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	s.EnqueueSSF(t.Context(), st.ID, ssfEvents(3, at(0)), 10)
	first, err := s.PendingSSF(t.Context(), st.ID, at(time.Second), 2, time.Minute)
	if err != nil || !slices.Equal(jtis(first), []string{"j000", "j001"}) {
		t.Fatalf("first claim: %v, %v", jtis(first), err)
	}
	second, _ := s.PendingSSF(t.Context(), st.ID, at(2*time.Second), 10, time.Minute)
	if !slices.Equal(jtis(second), []string{"j002"}) {
		t.Errorf("second claim inside the lease: %v, want [j002]", jtis(second))
	}
	later, _ := s.PendingSSF(t.Context(), st.ID, at(2*time.Minute), 10, 0)
	if len(later) != 3 {
		t.Errorf("after the lease: %d due, want 3", len(later))
	}
}

func testSSFSettlePrune(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	s.EnqueueSSF(t.Context(), st.ID, ssfEvents(3, at(0)), 10)
	n, err := s.SettleSSF(t.Context(), st.ID, []string{"j000", "j001", "unknown"}, at(time.Second), "")
	if err != nil || n != 2 {
		t.Errorf("SettleSSF: %d, %v; want 2", n, err)
	}
	if n, _ := s.SettleSSF(t.Context(), st.ID, []string{"j000"}, at(time.Second), ""); n != 0 {
		t.Errorf("settling twice: %d, want 0", n)
	}
	if n, _ := s.SettleSSF(t.Context(), st.ID, []string{"j002"}, at(time.Minute), "receiver answered 400: bad"); n != 1 {
		t.Errorf("give up: %d, want 1", n)
	}
	if g, _ := s.SSFStreamByID(t.Context(), st.ID); g.LastError != "receiver answered 400: bad" || !g.LastErrorAt.Equal(at(time.Minute)) {
		t.Errorf("LastError = %q at %v", g.LastError, g.LastErrorAt)
	}
	if n, err := s.PruneSSF(t.Context(), at(30*time.Second)); err != nil || n != 2 {
		t.Errorf("PruneSSF: %d, %v; want the 2 settled before", n, err)
	}
	// j000 is forgotten: it may be enqueued again; j002 is still held.
	s.EnqueueSSF(t.Context(), st.ID, ssfEvents(3, at(0)), 10)
	got, _ := s.PendingSSF(t.Context(), st.ID, at(time.Hour), 10, 0)
	if want := []string{"j000", "j001"}; !slices.Equal(jtis(got), want) {
		t.Errorf("after prune and re-enqueue: %v, want %v", jtis(got), want)
	}
}

func testSSFDefer(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	s.EnqueueSSF(t.Context(), st.ID, ssfEvents(1, at(0)), 10)
	if err := s.DeferSSF(t.Context(), st.ID, "j000", at(time.Minute), at(time.Second), "receiver answered 503"); err != nil {
		t.Fatalf("DeferSSF: %v", err)
	}
	if got, _ := s.PendingSSF(t.Context(), st.ID, at(30*time.Second), 10, 0); len(got) != 0 {
		t.Errorf("due before next attempt: %v", jtis(got))
	}
	got, _ := s.PendingSSF(t.Context(), st.ID, at(time.Minute), 10, 0)
	if len(got) != 1 || got[0].Attempts != 1 || !got[0].NextAttempt.Equal(at(time.Minute)) {
		t.Errorf("after defer: %+v, want 1 attempt, next at +1m", got)
	}
	if g, _ := s.SSFStreamByID(t.Context(), st.ID); g.LastError != "receiver answered 503" {
		t.Errorf("LastError = %q", g.LastError)
	}
	if err := s.DeferSSF(t.Context(), st.ID, "nope", at(time.Minute), at(time.Second), "x"); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("defer of an unknown jti: %v, want ErrNotFound", err)
	}
}

func testSSFConcurrentClaims(t *testing.T, s cordon.Store) {
	st := mustCreateStream(t, s, "rp1")
	s.EnqueueSSF(t.Context(), st.ID, ssfEvents(40, at(0)), 100)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				evs, err := s.PendingSSF(t.Context(), st.ID, at(time.Second), 3, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, e := range evs {
					seen[e.JTI]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for j, n := range seen {
		if n != 1 {
			t.Errorf("jti %s claimed %d times, want once", j, n)
		}
	}
	if len(seen) != 40 {
		t.Errorf("claimed %d distinct events, want 40", len(seen))
	}
}

func testPasswordsChangedSince(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a, b, c := mustCreateAccount(t, s, "pa"), mustCreateAccount(t, s, "pb"), mustCreateAccount(t, s, "pc")
	mustCreateAccount(t, s, "pd") // created, never changed
	if err := s.SetPasswordHash(ctx, a.ID, "h1", true, at(time.Minute).In(elsewhere())); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, b.ID, "h2", false, at(2*time.Minute)); err != nil { // a rehash
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, c.ID, "h3", true, at(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.PasswordsChangedSince(ctx, at(0), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].AccountID != a.ID || !got[0].At.Equal(at(time.Minute)) || got[0].At.Location() != time.UTC || got[1].AccountID != c.ID {
		t.Errorf("since the start: %+v, want pa at +1m (UTC) then pc; creation and a rehash are no change", got)
	}
	if got, _ := s.PasswordsChangedSince(ctx, at(time.Minute), 10); len(got) != 2 {
		t.Errorf("since exactly pa's change: %d, want 2 (at or after)", len(got))
	}
	if got, _ := s.PasswordsChangedSince(ctx, at(2*time.Minute), 10); len(got) != 1 || got[0].AccountID != c.ID {
		t.Errorf("since +2m: %+v, want just pc", got)
	}
	if got, _ := s.PasswordsChangedSince(ctx, at(0), 1); len(got) != 1 || got[0].AccountID != a.ID {
		t.Errorf("limit 1: %+v, want the oldest, pa", got)
	}
}
