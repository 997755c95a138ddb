package gate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
)

// TestRevocationsExpire checks a revocation holds until its Until and
// then goes, whether a lookup or a Sweep finds it first.
func TestRevocationsExpire(t *testing.T) {
	st := NewState(issuer, audience)
	revoke := func(rs ...feed.Revocation) {
		t.Helper()
		if err := st.apply(feed.Event{Kind: feed.KindRevoke, Revoked: rs}); err != nil {
			t.Fatal(err)
		}
	}
	revoke(
		feed.Revocation{SessionID: "s-1", Until: base.Add(time.Minute)},
		feed.Revocation{SessionID: "s-2", Until: base.Add(2 * time.Minute)},
		feed.Revocation{SessionID: "s-3", Until: base.Add(10 * time.Minute)},
		feed.Revocation{SessionID: "s-forever"}, // no Until: kept until a snapshot
		feed.Revocation{SessionID: ""},          // ignored
	)
	// A later revocation of the same session extends it; an earlier one does not shorten it.
	revoke(feed.Revocation{SessionID: "s-2", Until: base.Add(3 * time.Minute)}, feed.Revocation{SessionID: "s-3", Until: base})

	lw := token.Leeway // an expired token still verifies this long, so its revocation holds too
	steps := []struct {
		at   time.Duration
		sid  string
		want bool
	}{
		{0, "s-1", true},
		{0, "s-other", false},
		{time.Minute, "s-1", true},
		{time.Minute + lw, "s-1", true}, // through the end, as the verifier accepts through exp + leeway
		{time.Minute + lw + 1, "s-1", false},
		{2*time.Minute + lw + 1, "s-2", true},
		{3*time.Minute + lw + 1, "s-2", false},
		{9 * time.Minute, "s-3", true},
		{1000 * time.Hour, "s-forever", true},
	}
	for _, s := range steps {
		if got := st.Revoked(s.sid, base.Add(s.at)); got != s.want {
			t.Errorf("Revoked(%s) at +%v = %v, want %v", s.sid, s.at, got, s.want)
		}
	}
	// s-1 and s-2 were dropped by the lookups that found them ended.
	if n := st.revoked.n.Load(); n != 2 {
		t.Errorf("%d entries after lazy drops, want 2", n)
	}
	if n := st.Sweep(base.Add(10*time.Minute + lw + 1)); n != 1 {
		t.Errorf("Sweep dropped %d, want 1 (s-3)", n)
	}
	if n := st.revoked.n.Load(); n != 1 {
		t.Errorf("%d entries after Sweep, want 1", n)
	}

	// A snapshot replaces the set.
	_, keys, _ := newSigner(t, base)
	if err := st.apply(snapshot(1, nil, []feed.Revocation{{SessionID: "s-9", Until: base.Add(time.Hour)}}, keys.JWKS())); err != nil {
		t.Fatal(err)
	}
	if st.Revoked("s-forever", base) || !st.Revoked("s-9", base) {
		t.Errorf("the snapshot did not replace the revocations")
	}
	if n := st.revoked.n.Load(); n != 1 {
		t.Errorf("%d entries after the snapshot, want 1", n)
	}
}

// TestStateReadiness checks Ready, PolicyVersion and Updated.
func TestStateReadiness(t *testing.T) {
	st := NewState(issuer, audience)
	if st.Ready() || st.PolicyVersion() != 0 || !st.Updated().IsZero() {
		t.Fatalf("a new state: ready %v, version %d, updated %v", st.Ready(), st.PolicyVersion(), st.Updated())
	}
	_, keys, _ := newSigner(t, base)
	before := time.Now()
	if err := st.apply(snapshot(7, nil, nil, keys.JWKS())); err != nil {
		t.Fatal(err)
	}
	if !st.Ready() || st.PolicyVersion() != 7 || st.Updated().Before(before) {
		t.Errorf("after a snapshot: ready %v, version %d, updated %v", st.Ready(), st.PolicyVersion(), st.Updated())
	}
	for _, bad := range [][2]string{{"", audience}, {issuer, ""}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewState(%q, %q) did not panic", bad[0], bad[1])
				}
			}()
			NewState(bad[0], bad[1])
		}()
	}
}

// TestSnapshotReadyLast: a new State answers not_ready until its first
// snapshot is applied whole, revocations included. The test holds the
// shard of one revoked session, so the snapshot stops half applied, with
// the shards before it filled in; the gate must not decide yet.
func TestSnapshotReadyLast(t *testing.T) {
	sidIn := func(shard uint64) string {
		for i := 0; ; i++ {
			if sid := fmt.Sprintf("s-%d", i); revShardOf(sid) == shard {
				return sid
			}
		}
	}
	early, held := sidIn(0), sidIn(revShards-1) // replaced first and last
	_, keys, signer := newSigner(t, base.Add(-24*time.Hour))
	st := NewState(issuer, audience)
	g := New(st, Options{Clock: func() time.Time { return base }, CacheSize: -1})
	tok := bearerOf(sign(t, signer, claims(func(c *token.Claims) { c.SessionID = held }), base))
	until := base.Add(ttl)

	sh := &st.revoked.shards[revShards-1]
	sh.mu.Lock()
	done := make(chan error, 1)
	go func() {
		done <- st.apply(snapshot(1, nil, []feed.Revocation{{SessionID: early, Until: until}, {SessionID: held, Until: until}}, keys.JWKS()))
	}()
	for !st.Revoked(early, base) {
		time.Sleep(time.Millisecond) // until the snapshot waits for the held shard
	}
	w := newRecorder(g, tok, androidPlay)
	if st.Ready() || w.Code != http.StatusServiceUnavailable {
		t.Errorf("half applied: ready %t, a session revoked in the rest answered %d; want not ready, 503", st.Ready(), w.Code)
	}
	sh.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var body errorBody
	if w := newRecorder(g, tok, androidPlay); w.Code != http.StatusUnauthorized || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error != "session_revoked" {
		t.Errorf("applied: %d %s, want 401 session_revoked", w.Code, w.Body)
	}
}

// TestConcurrentDecisions decides from many goroutines while the feed
// applies snapshot, policy, revoke and keys events and sweeps run; run
// it with -race. Every answer must be one the wire contract allows, and
// once the feed settles every request must pass again.
func TestConcurrentDecisions(t *testing.T) {
	f := newFixture(t, Options{CacheSize: 256})
	toks := make([]string, 300) // more than the cache holds: evictions too
	for i := range toks {
		toks[i] = bearerOf(f.token(claims(func(c *token.Claims) { c.SessionID = fmt.Sprintf("s-%d", i) })))
	}
	jwks := f.keys.JWKS()

	const workers, requests = 8, 400
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			h := f.g.Handler(ok())
			for range requests {
				rec := newRecorderWith(h, toks[r.IntN(len(toks))], androidPlay)
				switch rec.Code {
				case http.StatusOK, http.StatusUnauthorized, http.StatusUpgradeRequired:
				default:
					errs <- fmt.Errorf("status %d: %s", rec.Code, rec.Body)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	events := 0
	for v := uint64(2); ; v++ {
		select {
		case <-done:
		default:
			var cs []*cordon.Campaign
			switch v % 3 {
			case 0:
				cs = append(cs, reauthAndroid())
			case 1:
				cs = append(cs, campaign("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", cordon.UpgradeImmediate)))
			}
			f.apply(policyEvent(v, cs...))
			f.apply(feed.Event{Kind: feed.KindRevoke, Revoked: []feed.Revocation{{SessionID: fmt.Sprintf("s-%d", v%300), Until: base.Add(time.Second)}}})
			f.apply(feed.Event{Kind: feed.KindKeys, JWKS: jwks})
			f.st.Sweep(base)
			events += 4
			if v%10 == 0 {
				f.apply(snapshot(v, cs, []feed.Revocation{{SessionID: "s-1", Until: base.Add(time.Second)}}, jwks))
				events++
			}
			continue
		}
		f.apply(policyEvent(v))
		break
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d events applied during %d requests", events, workers*requests)

	f.advance(2*time.Second + token.Leeway) // past every revocation
	for i, tok := range toks {
		if rec := newRecorder(f.g, tok, androidPlay); rec.Code != http.StatusOK {
			t.Fatalf("token %d after the feed settled: %d %s", i, rec.Code, rec.Body)
		}
	}
}
