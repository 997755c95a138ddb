package notices_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/notices"
	"github.com/cordon-dev/cordon/internal/outbox"
)

// TestNoticeMail: a published email notice is queued once to every
// targeted account that has an address and is not locked, in its default
// language; a sweep again (a restart, another node) adds nothing; a notice
// without email queues nothing; one withdrawn before its email left is
// given up, never sent.
func TestNoticeMail(t *testing.T) {
	e := newEnv(t)
	o, err := outbox.New(outbox.Config{Store: e.store, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetMail(o, e.store)
	withEmail := func(name, email string, locked bool, facts cordon.ClientFacts) string {
		id, _ := e.account(t, name, facts)
		if email != "" {
			if err := e.store.SetAccountEmail(t.Context(), id, email); err != nil {
				t.Fatal(err)
			}
		}
		if locked {
			if _, err := e.store.LockAccount(t.Context(), id, t0); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	amy := withEmail("amy", "amy@example.org", false, ios)
	withEmail("ben", "", false, ios)
	withEmail("cat", "cat@example.org", true, ios)
	withEmail("dan", "dan@example.org", false, android)

	n := e.published(t, `cohort: {platforms: [ios]}
default_language: de
email: true
texts:
  de: {title: "Bitte neu   anmelden", body: "Wir haben Sie abgemeldet.\n"}
  en: {title: "Please log in again", body: "We signed you out."}
`)
	quiet := e.published(t, `cohort: {platforms: [ios]}
default_language: en
texts:
  en: {title: "In the app only", body: "No email."}
`)
	// A locked account named outright (locking ended its sessions) gets
	// no email either.
	named := e.published(t, `cohort: {users: [cat, ben]}
default_language: en
email: true
texts:
  en: {title: "Named", body: "Named accounts."}
`)
	for range 2 {
		if err := e.svc.SweepMail(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := o.Counts(t.Context(), notices.MailPrefix(n.ID)); err != nil || c != (cordon.MailCounts{Queued: 1}) {
		t.Errorf("the email notice's counts: %+v, %v; want 1 queued (amy only)", c, err)
	}
	if c, _ := o.Counts(t.Context(), notices.MailPrefix(named.ID)); c != (cordon.MailCounts{}) {
		t.Errorf("a locked account and one without an address were queued %+v", c)
	}
	if c, _ := o.Counts(t.Context(), notices.MailPrefix(quiet.ID)); c != (cordon.MailCounts{}) {
		t.Errorf("a notice without email queued %+v", c)
	}
	msg, err := e.store.MailByKey(t.Context(), notices.MailKey(n.ID, amy))
	if err != nil || msg.To != "amy@example.org" || msg.Subject != "Bitte neu anmelden" || msg.Text != "Wir haben Sie abgemeldet.\n" || msg.Language != "de" {
		t.Fatalf("amy's email: %+v, %v", msg, err)
	}
	v, err := e.svc.Show(t.Context(), n.ID)
	if err != nil || v.Mail == nil || v.Mail.Queued != 1 {
		t.Errorf("Show's mail counts: %+v, %v", v, err)
	}

	if text, err := e.svc.RenderMail(t.Context(), msg); err != nil || text != msg.Text {
		t.Errorf("render while published: %q, %v", text, err)
	}
	if _, err := e.svc.Withdraw(t.Context(), ops, n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RenderMail(t.Context(), msg); !errors.Is(err, outbox.ErrGiveUp) || !strings.Contains(err.Error(), "withdrawn") {
		t.Errorf("render after withdrawal: %v, want it given up", err)
	}
	for _, key := range []string{"notice:n-nope:u-1", "notice:only-two", "reset:c-1:u-1", "notice:a:b:c"} {
		if _, err := e.svc.RenderMail(t.Context(), &cordon.MailMessage{Key: key}); !errors.Is(err, outbox.ErrGiveUp) {
			t.Errorf("render %s: %v, want it given up", key, err)
		}
	}
	// A withdrawn notice is swept no more.
	e.clk.Advance(time.Hour)
	if err := e.svc.SweepMail(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c, _ := o.Counts(t.Context(), notices.MailPrefix(n.ID)); c.Queued != 1 {
		t.Errorf("after withdrawal: %+v", c)
	}
}
