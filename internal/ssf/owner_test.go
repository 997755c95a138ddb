package ssf

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestStreamEndsWithItsOwnersToken: a stream made with a stolen ssf token
// hears nothing once that token is revoked or has expired; events from
// then on are not kept for it. A rotation keeps the stream (the new token
// has the name).
func TestStreamEndsWithItsOwnersToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(t *testing.T, f *fixture, tok *cordon.AdminToken)
	}{
		{"revoked", func(t *testing.T, f *fixture, tok *cordon.AdminToken) {
			if _, err := f.st.RevokeAdminToken(t.Context(), tok.ID, f.clk.Now()); err != nil {
				t.Fatal(err)
			}
		}},
		{"expired", func(t *testing.T, f *fixture, tok *cordon.AdminToken) {
			if _, err := f.st.SetAdminTokenExpiry(t.Context(), tok.ID, f.clk.Now().Add(time.Second), f.clk.Now()); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(2 * time.Second)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tok := f.owner(t, "thief")
			f.stream(t, "thief", cordon.SSFEnabled)
			f.clk.Advance(time.Second)
			f.revoke(t, cordon.RevokeLogout)
			if err := f.tr.Step(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := f.pushes.Load(); n != 1 {
				t.Fatalf("while the token is usable: %d pushes, want 1", n)
			}
			tc.cut(t, f, tok)
			f.clk.Advance(time.Second)
			f.revoke(t, cordon.RevokeLogout)
			if err := f.tr.Step(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := f.pushes.Load(); n != 1 {
				t.Errorf("after the owner's token was %s: %d pushes, want still 1 (nothing sent)", tc.name, n)
			}
		})
	}
	t.Run("a rotated token keeps its stream", func(t *testing.T) {
		f := newFixture(t)
		tok := f.owner(t, "receiver")
		f.stream(t, "receiver", cordon.SSFEnabled)
		next := &cordon.AdminToken{ID: cordon.NewID("t"), Hash: []byte("rotated"), CreatedAt: f.clk.Now()}
		if _, err := f.st.RotateAdminToken(t.Context(), tok.ID, next, time.Time{}); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Second)
		f.revoke(t, cordon.RevokeLogout)
		if err := f.tr.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := f.pushes.Load(); n != 1 {
			t.Errorf("after a rotation (the old token revoked, the new one of the same name usable): %d pushes, want 1", n)
		}
	})
}
