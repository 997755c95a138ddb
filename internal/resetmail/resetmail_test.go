package resetmail_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/outbox"
	"github.com/cordon-dev/cordon/internal/resetmail"
)

type queue struct{ got []outbox.Message }

func (q *queue) Enqueue(_ context.Context, ms []outbox.Message) (int, error) {
	q.got = append(q.got, ms...)
	return len(ms), nil
}

type links struct{ err error }

func (l links) EmailResetLink(_ context.Context, c, a, to string) (string, error) {
	if l.err != nil {
		return "", l.err
	}
	return "cre_" + c + a, nil
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSweepQueuesNamedAccountsOnce(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	for _, a := range []cordon.Account{{ID: "u-a", Username: "a", Email: "a@example.org"}, {ID: "u-b", Username: "b"},
		{ID: "u-c", Username: "c", Email: "c@example.org"}, {ID: "u-d", Username: "d", Email: "d@example.org"}} {
		a.CreatedAt = t0
		if err := st.CreateAccount(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.LockAccount(ctx, "u-c", t0); err != nil {
		t.Fatal(err)
	}
	mk := func(id string, verify string, state cordon.State) {
		c := &cordon.Campaign{ID: id, Kind: cordon.KindPasswordReset, Name: id, Verify: verify, UserIDs: []string{"u-a", "u-b", "u-c", "u-gone"}, Created: t0}
		if err := st.CreateCampaign(ctx, c, &cordon.TrailEntry{CampaignID: id, Action: "create", At: t0}); err != nil {
			t.Fatal(err)
		}
		if state != cordon.StateDraft {
			if _, _, err := st.TransitionCampaign(ctx, id, []cordon.State{cordon.StateDraft}, cordon.StateActive, &cordon.TrailEntry{CampaignID: id, Action: "activate", At: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if state == cordon.StatePaused {
			if _, _, err := st.TransitionCampaign(ctx, id, []cordon.State{cordon.StateActive}, cordon.StatePaused, &cordon.TrailEntry{CampaignID: id, Action: "pause", At: t0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("c-email", cordon.VerifyEmail, cordon.StateActive)
	mk("c-password", cordon.VerifyPassword, cordon.StateActive)
	mk("c-paused", cordon.VerifyEmail, cordon.StatePaused)
	mk("c-draft", cordon.VerifyEmail, cordon.StateDraft)
	m := resetmail.New(resetmail.Config{Store: st, Links: links{}, URL: "https://app.example/r#t="})
	q := &queue{}
	if err := m.Sweep(ctx, q); err != nil {
		t.Fatal(err)
	}
	if len(q.got) != 1 || q.got[0].Key != "reset:c-email:u-a" || q.got[0].To != "a@example.org" || !strings.Contains(q.got[0].Text, resetmail.Placeholder) {
		t.Fatalf("queued %+v; want one link, to a only (b has no address, c is locked, the others are no active email campaigns)", q.got)
	}
	if err := m.Sweep(ctx, q); err != nil || len(q.got) != 1 {
		t.Errorf("a second sweep queued %d more, %v", len(q.got)-1, err)
	}
}

func TestRender(t *testing.T) {
	msg := &cordon.MailMessage{Key: "reset:c-1:u-1", To: "a@example.org", Text: "open " + resetmail.Placeholder + " now"}
	m := resetmail.New(resetmail.Config{Links: links{}, URL: "https://app.example/r#t="})
	got, err := m.Render(t.Context(), msg)
	if err != nil || got != "open https://app.example/r#t=cre_c-1u-1 now" {
		t.Errorf("Render: %q, %v", got, err)
	}
	refused := resetmail.New(resetmail.Config{Links: links{err: fmt.Errorf("%w: locked", authn.ErrNoResetLink)}})
	if _, err := refused.Render(t.Context(), msg); !errors.Is(err, outbox.ErrGiveUp) {
		t.Errorf("a link the account may not have: %v, want ErrGiveUp (never sent)", err)
	}
	flaky := resetmail.New(resetmail.Config{Links: links{err: errors.New("database is locked")}})
	if _, err := flaky.Render(t.Context(), msg); err == nil || errors.Is(err, outbox.ErrGiveUp) {
		t.Errorf("a store error: %v, want a retryable error", err)
	}
	if _, err := m.Render(t.Context(), &cordon.MailMessage{Key: "notice:n-1:u-1"}); err == nil {
		t.Error("rendered a key of another kind")
	}
}

// TestRenderFollowsTheCampaign: a queued link leaves only while its
// campaign is active; paused, it waits (retried); ended, it is dropped.
func TestRenderFollowsTheCampaign(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	c := &cordon.Campaign{ID: "c-1", Kind: cordon.KindPasswordReset, Name: "x", Verify: cordon.VerifyEmail, Created: t0}
	if err := st.CreateCampaign(ctx, c, &cordon.TrailEntry{CampaignID: "c-1", Action: "create", At: t0}); err != nil {
		t.Fatal(err)
	}
	m := resetmail.New(resetmail.Config{Store: st, Links: links{}, URL: "u#"})
	msg := &cordon.MailMessage{Key: "reset:c-1:u-1", To: "a@example.org", Text: resetmail.Placeholder}
	move := func(from, to cordon.State) {
		if _, _, err := st.TransitionCampaign(ctx, "c-1", []cordon.State{from}, to, &cordon.TrailEntry{CampaignID: "c-1", Action: string(to), At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Render(ctx, msg); !errors.Is(err, outbox.ErrGiveUp) {
		t.Errorf("draft: %v, want given up", err)
	}
	move(cordon.StateDraft, cordon.StateActive)
	if got, err := m.Render(ctx, msg); err != nil || got != "u#cre_c-1u-1" {
		t.Errorf("active: %q, %v", got, err)
	}
	move(cordon.StateActive, cordon.StatePaused)
	if _, err := m.Render(ctx, msg); err == nil || errors.Is(err, outbox.ErrGiveUp) {
		t.Errorf("paused: %v, want a retryable error", err)
	}
	move(cordon.StatePaused, cordon.StateCancelled)
	if _, err := m.Render(ctx, msg); !errors.Is(err, outbox.ErrGiveUp) {
		t.Errorf("cancelled: %v, want given up", err)
	}
	if _, err := m.Render(ctx, &cordon.MailMessage{Key: "reset:c-9:u-1", To: "a@example.org"}); !errors.Is(err, outbox.ErrGiveUp) {
		t.Errorf("unknown campaign: %v, want given up", err)
	}
}
