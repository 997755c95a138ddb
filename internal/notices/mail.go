package notices

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/outbox"
)

// MailKind is the outbox key kind of notice emails: a notice's email to
// an account is keyed notice:NOTICE:ACCOUNT, so queuing it again (a
// restart, a second node, a later sweep) adds nothing.
const MailKind = "notice"

// MailKey is the outbox key of notice id's email to account.
func MailKey(id, account string) string { return MailKind + ":" + id + ":" + account }

// MailPrefix is the outbox key prefix of a notice's emails (for Counts).
func MailPrefix(id string) string { return MailKind + ":" + id + ":" }

// Outbox is what notice email needs of the outbox.
type Outbox interface {
	Enqueue(ctx context.Context, ms []outbox.Message) (int, error)
	Counts(ctx context.Context, prefix string) (cordon.MailCounts, error)
}

// Accounts reads the accounts a notice's email goes to.
type Accounts interface {
	AccountByID(ctx context.Context, id string) (*cordon.Account, error)
}

// SetMail connects notice email: published notices with email: true are
// queued in o to the addresses accounts holds, and Show reports their
// counts. Call it before RunMail, once.
func (s *Service) SetMail(o Outbox, accounts Accounts) {
	s.mail, s.accounts = o, accounts
	s.mailWake = make(chan struct{}, 1)
}

// resweep is how often every published email notice is queued again, for
// the accounts that joined its cohort since (queuing the others again
// adds nothing).
const resweep = 10 * time.Minute

// RunMail queues notice email every poll until ctx ends: a notice just
// published at once (Publish wakes it), each other published email
// notice again every 10 minutes. What a crash interrupts, the next sweep
// (on any node) finishes.
func (s *Service) RunMail(ctx context.Context, poll time.Duration) {
	if s.mail == nil {
		return
	}
	if poll <= 0 {
		poll = 2 * time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	swept := map[string]time.Time{}
	for {
		if err := s.sweepMail(ctx, swept); err != nil && ctx.Err() == nil {
			s.log.Warn("queue notice email", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.mailWake:
		}
	}
}

// SweepMail queues the email of every published email notice once (tests
// and one-off runs).
func (s *Service) SweepMail(ctx context.Context) error {
	if s.mail == nil {
		return errors.New("notices: no outbox (SetMail)")
	}
	return s.sweepMail(ctx, map[string]time.Time{})
}

func (s *Service) sweepMail(ctx context.Context, swept map[string]time.Time) error {
	ns, err := s.store.Notices(ctx)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	var errs []error
	for _, n := range ns {
		if !n.Email || n.State != cordon.NoticePublished {
			delete(swept, n.ID)
			continue
		}
		if at, ok := swept[n.ID]; ok && now.Sub(at) < resweep {
			continue
		}
		queued, without, err := s.queueMail(ctx, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("notice %s: %w", n.ID, err))
			continue
		}
		swept[n.ID] = now
		if queued > 0 {
			s.log.Info("notice email queued", "notice", n.ID, "queued", queued, "without_email", without)
		}
	}
	return errors.Join(errs...)
}

// queueMail queues n's email to every account it targets now that has an
// address and is not locked.
func (s *Service) queueMail(ctx context.Context, n *cordon.Notice) (queued, without int, err error) {
	ids, err := s.TargetAccounts(ctx, n.ID)
	if err != nil {
		return 0, 0, err
	}
	t, ok := n.Texts[n.DefaultLanguage]
	if !ok {
		return 0, 0, fmt.Errorf("no text in the default language %s", n.DefaultLanguage)
	}
	subject, text := mailSubject(t.Title), strings.TrimSpace(t.Body)+"\n"
	return outbox.QueueAccounts(ctx, s.mail, s.accounts, ids, func(a *cordon.Account) outbox.Message {
		return outbox.Message{Key: MailKey(n.ID, a.ID), To: a.Email, Subject: subject, Text: text, Language: n.DefaultLanguage}
	})
}

// mailSubject is a title as an email subject: one line (a title is one
// already; the outbox refuses any line break a header could carry).
func mailSubject(title string) string {
	return strings.Join(strings.Fields(title), " ")
}

// RenderMail is the outbox's renderer of notice email: a notice withdrawn
// (or gone) since its email was queued is not sent.
func (s *Service) RenderMail(ctx context.Context, msg *cordon.MailMessage) (string, error) {
	parts := strings.Split(msg.Key, ":")
	if len(parts) != 3 || parts[0] != MailKind {
		return "", fmt.Errorf("%w: not a notice email key: %s", outbox.ErrGiveUp, msg.Key)
	}
	n, err := s.store.Notice(ctx, parts[1])
	switch {
	case errors.Is(err, cordon.ErrNotFound):
		return "", fmt.Errorf("%w: notice %s is gone", outbox.ErrGiveUp, parts[1])
	case err != nil:
		return "", err
	case n.State != cordon.NoticePublished:
		return "", fmt.Errorf("%w: notice %s is %s", outbox.ErrGiveUp, n.ID, n.State)
	}
	return msg.Text, nil
}
