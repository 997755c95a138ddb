// Package resetmail sends the links of password_reset campaigns with
// verify: email. When such a campaign is active, every account its
// cohort names that has an email address gets one message in the outbox
// (key reset:CAMPAIGN:ACCOUNT, so a restart or a second node queues
// nothing twice); the link's single-use token is made only when the
// outbox sends the message (Render), so no secret rests in the outbox,
// and the link's 30 minutes start when it leaves, not when it was queued.
package resetmail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/outbox"
)

// Placeholder stands for the link in a queued message's text.
const Placeholder = "{reset_link}"

// Kind is the outbox key kind of reset links.
const Kind = "reset"

// ErrNoLink, wrapped by Links, says the link must not be sent at all.
var ErrNoLink = authn.ErrNoResetLink

// Links issues the token of a link (authn.Service.EmailResetLink).
type Links interface {
	EmailResetLink(ctx context.Context, campaignID, accountID, to string) (string, error)
}

// Store is what the mailer reads.
type Store interface {
	ActiveCampaigns(ctx context.Context) ([]*cordon.Campaign, uint64, error)
	Campaign(ctx context.Context, id string) (*cordon.Campaign, error)
	AccountByID(ctx context.Context, id string) (*cordon.Account, error)
}

// Config builds a Mailer.
type Config struct {
	Store Store
	Links Links
	// URL is where a link leads; the token is appended to it, e.g.
	// "https://app.example.com/reset#token=".
	URL   string
	Clock clock.Clock
	Log   *slog.Logger
}

// Mailer queues and renders reset links. Safe for concurrent use.
type Mailer struct {
	cfg  Config
	mu   sync.Mutex
	done map[string]bool // campaigns queued by this process
}

// New returns a Mailer.
func New(cfg Config) *Mailer {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Mailer{cfg: cfg, done: map[string]bool{}}
}

// Key is the outbox key of the campaign's link to the account.
func Key(campaignID, accountID string) string { return Kind + ":" + campaignID + ":" + accountID }

// Prefix is the outbox key prefix of the campaign's links (for Counts).
func Prefix(campaignID string) string { return Kind + ":" + campaignID + ":" }

// Enqueuer is the outbox.
type Enqueuer interface {
	Enqueue(ctx context.Context, ms []outbox.Message) (int, error)
}

// Sweep queues the links of every active verify: email campaign not yet
// queued by this process. Queuing again (after a restart, or by another
// node) adds nothing: the outbox keeps one message per key.
func (m *Mailer) Sweep(ctx context.Context, o Enqueuer) error {
	camps, _, err := m.cfg.Store.ActiveCampaigns(ctx)
	if err != nil {
		return err
	}
	for _, c := range camps {
		if c.State != cordon.StateActive || c.Kind != cordon.KindPasswordReset || c.Verify != cordon.VerifyEmail {
			continue
		}
		m.mu.Lock()
		done := m.done[c.ID]
		m.mu.Unlock()
		if done {
			continue
		}
		queued, without, err := m.queue(ctx, o, c)
		if err != nil {
			return fmt.Errorf("queue reset links of %s: %w", c.ID, err)
		}
		m.cfg.Log.Info("reset links queued", "campaign", c.ID, "queued", queued, "without_email", without)
		m.mu.Lock()
		m.done[c.ID] = true
		m.mu.Unlock()
	}
	return nil
}

func (m *Mailer) queue(ctx context.Context, o Enqueuer, c *cordon.Campaign) (queued, without int, err error) {
	return outbox.QueueAccounts(ctx, o, m.cfg.Store, c.UserIDs, func(a *cordon.Account) outbox.Message { return Message(c, a) })
}

// Message is the queued email of c's link to a; its text holds
// Placeholder where Render puts the link.
func Message(c *cordon.Campaign, a *cordon.Account) outbox.Message {
	intro := c.Message
	if intro == "" {
		intro = cordon.KindPasswordReset.MustRules().Message
	}
	text := fmt.Sprintf(`%s

To set a new password for %s, open this link within %d minutes:

%s

The link works once. Your current password will not be accepted until you
have set a new one, and setting it signs you out everywhere else.
If you did not expect this message, you can ignore it: nobody can use the
link without access to this mailbox.
`, intro, a.Username, int(LinkTTL/time.Minute), Placeholder)
	return outbox.Message{Key: Key(c.ID, a.ID), To: a.Email, Subject: "Set a new password", Text: text}
}

// Resend queues a fresh link for a login the campaign held back (the
// user's link may have expired): at most one per account and campaign
// per LinkTTL window, keyed reset:CAMPAIGN:ACCOUNT:wN, to the account's
// own address. Failures are logged: the login's answer does not wait.
func (m *Mailer) Resend(ctx context.Context, o Enqueuer, c *cordon.Campaign, a *cordon.Account) {
	if a.Email == "" || c.Verify != cordon.VerifyEmail {
		return
	}
	msg := Message(c, a)
	msg.Key = fmt.Sprintf("%s:w%d", msg.Key, m.cfg.Clock.Now().Unix()/int64(LinkTTL/time.Second))
	if _, err := o.Enqueue(ctx, []outbox.Message{msg}); err != nil {
		m.cfg.Log.Warn("queue a fresh reset link", "campaign", c.ID, "account", a.ID, "err", err)
	}
}

// LinkTTL is how long a link holds once sent (authn.EmailResetTTL).
const LinkTTL = 30 * time.Minute

// Render is the outbox renderer of reset links: it issues the token
// (refusing when the account or campaign no longer allows it) and puts
// the link in place of Placeholder.
func (m *Mailer) Render(ctx context.Context, msg *cordon.MailMessage) (string, error) {
	parts := strings.Split(msg.Key, ":")
	if len(parts) < 3 || parts[0] != Kind {
		return "", fmt.Errorf("not a reset link key: %s", msg.Key)
	}
	if m.cfg.Store != nil {
		c, err := m.cfg.Store.Campaign(ctx, parts[1])
		switch {
		case errors.Is(err, cordon.ErrNotFound):
			return "", fmt.Errorf("%w: campaign %s is gone", outbox.ErrGiveUp, parts[1])
		case err != nil:
			return "", err
		case c.State == cordon.StatePaused:
			// Retried with backoff: the link leaves once it is resumed.
			return "", fmt.Errorf("campaign %s is paused", c.ID)
		case c.State != cordon.StateActive:
			return "", fmt.Errorf("%w: campaign %s is %s", outbox.ErrGiveUp, c.ID, c.State)
		}
	}
	tok, err := m.cfg.Links.EmailResetLink(ctx, parts[1], parts[2], msg.To)
	if errors.Is(err, ErrNoLink) {
		return "", fmt.Errorf("%w: %w", outbox.ErrGiveUp, err)
	}
	if err != nil {
		return "", err
	}
	return strings.Replace(msg.Text, Placeholder, m.cfg.URL+tok, 1), nil
}

// Run sweeps every interval until ctx ends.
func (m *Mailer) Run(ctx context.Context, o Enqueuer, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := m.Sweep(ctx, o); err != nil && ctx.Err() == nil {
			m.cfg.Log.Warn("reset links", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
