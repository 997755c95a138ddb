package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func emailTests() []subtest {
	return []subtest{
		{"StoredAndReadBack", testEmailStored},
		{"UniqueAmongLiveAccounts", testEmailUnique},
		{"ImportSkipsTakenEmail", testEmailImport},
		{"DeleteFreesEmail", testEmailDelete},
		{"SetWithAudit", testEmailAudit},
		{"ChangeDeletesResetLinks", testEmailChangeDeletesResets},
	}
}

// testEmailChangeDeletesResets: changing (or removing) an account's
// address deletes its pending reset links in the same write, so a link
// sent to the old mailbox cannot set a password afterwards; another
// account's link stays.
func testEmailChangeDeletesResets(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a, b := newAccount("alice"), newAccount("bob")
	a.Email, b.Email = "alice@example.com", "bob@example.com"
	for _, acct := range []*cordon.Account{a, b} {
		if err := s.CreateAccount(ctx, acct); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
	}
	reset := func(acct *cordon.Account, secret string) *cordon.PasswordReset {
		r := &cordon.PasswordReset{Hash: []byte(secret), AccountID: acct.ID, CampaignID: "c-1", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
		if err := s.CreatePasswordReset(ctx, r); err != nil {
			t.Fatalf("CreatePasswordReset: %v", err)
		}
		return r
	}
	ra, rb := reset(a, "link-of-alice-000000000000000000"), reset(b, "link-of-bob-00000000000000000000")
	if err := s.SetAccountEmail(ctx, a.ID, "alice.new@example.com"); err != nil {
		t.Fatalf("SetAccountEmail: %v", err)
	}
	_, err := s.ConsumePasswordReset(ctx, ra.Hash, at(time.Minute))
	checkErr(t, "ConsumePasswordReset of a link sent before the address changed", err, cordon.ErrNotFound)
	if got, err := s.ConsumePasswordReset(ctx, rb.Hash, at(time.Minute)); err != nil || got.AccountID != b.ID {
		t.Errorf("another account's link: %+v, %v; want it kept", got, err)
	}
}

func mailTests() []subtest {
	return []subtest{
		{"EnqueueOncePerKey", testMailEnqueueOnce},
		{"ClaimDueOnly", testMailClaimDue},
		{"ExpiredLeaseReclaimed", testMailLeaseExpiry},
		{"OutcomesNeedTheLease", testMailOutcomeOwner},
		{"SentStaysSent", testMailSentStays},
		{"CountsByPrefix", testMailCounts},
		{"BadKeyRefused", testMailBadKey},
	}
}

func testEmailStored(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := newAccount("alice")
	a.Email = "alice@example.com"
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	got, err := s.AccountByID(ctx, a.ID)
	if err != nil || got.Email != "alice@example.com" {
		t.Fatalf("AccountByID: got %+v, %v; want email alice@example.com", got, err)
	}
	if err := s.SetAccountEmail(ctx, a.ID, "a2@example.com"); err != nil {
		t.Fatalf("SetAccountEmail: %v", err)
	}
	got, _ = s.AccountByUsername(ctx, "alice")
	if got.Email != "a2@example.com" {
		t.Errorf("after SetAccountEmail: got email %q, want a2@example.com", got.Email)
	}
	page, err := s.ListAccounts(ctx, cordon.AccountQuery{Limit: 10})
	if err != nil || len(page) != 1 || page[0].Email != "a2@example.com" {
		t.Errorf("ListAccounts: got %v, %v; want one account with a2@example.com", page, err)
	}
	if err := s.SetAccountEmail(ctx, a.ID, ""); err != nil {
		t.Fatalf("SetAccountEmail(\"\"): %v", err)
	}
	got, _ = s.AccountByID(ctx, a.ID)
	if got.Email != "" {
		t.Errorf("after removal: got email %q, want none", got.Email)
	}
	checkErr(t, "SetAccountEmail of an unknown account", s.SetAccountEmail(ctx, "u-nobody", "x@example.com"), cordon.ErrNotFound)
}

func testEmailUnique(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a, b := newAccount("alice"), newAccount("bob")
	a.Email = "same@example.com"
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	b.Email = "same@example.com"
	checkErr(t, "CreateAccount with a taken email", s.CreateAccount(ctx, b), cordon.ErrAlreadyExists)
	b.Email = ""
	if err := s.CreateAccount(ctx, b); err != nil {
		t.Fatalf("CreateAccount without email: %v", err)
	}
	c := newAccount("carol")
	if err := s.CreateAccount(ctx, c); err != nil {
		t.Fatalf("a second account without email: %v (no address is not an address)", err)
	}
	checkErr(t, "SetAccountEmail to a taken email", s.SetAccountEmail(ctx, b.ID, "same@example.com"), cordon.ErrAlreadyExists)
	if err := s.SetAccountEmail(ctx, a.ID, "same@example.com"); err != nil {
		t.Errorf("setting an account's own email again: %v", err)
	}
}

func testEmailImport(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := newAccount("alice")
	a.Email = "alice@example.com"
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	b, c, d := newAccount("bob"), newAccount("carol"), newAccount("dave")
	b.Email, c.Email, d.Email = "alice@example.com", "carol@example.com", "carol@example.com"
	n, err := s.ImportAccounts(ctx, []*cordon.Account{b, c, d})
	if err != nil || n != 1 {
		t.Fatalf("ImportAccounts: got %d, %v; want 1 (bob's email is alice's, dave's is carol's)", n, err)
	}
	got, err := s.AccountByUsername(ctx, "carol")
	if err != nil || got.Email != "carol@example.com" {
		t.Errorf("imported carol: got %+v, %v", got, err)
	}
	checkErr(t, "bob skipped", func() error { _, err := s.AccountByUsername(ctx, "bob"); return err }(), cordon.ErrNotFound)
}

func testEmailDelete(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := newAccount("alice")
	a.Email = "alice@example.com"
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteAccount(ctx, a.ID, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := newAccount("bob")
	b.Email = "alice@example.com"
	if err := s.CreateAccount(ctx, b); err != nil {
		t.Errorf("an email of a deleted account: got %v, want it free (deletion erases it)", err)
	}
}

func testEmailAudit(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	e := newAuditEntry("email", at(time.Minute), "cordon:admin/ops", "alice", "email")
	if err := s.SetAccountEmail(cordon.WithAudit(ctx, e), a.ID, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.AuditSize(ctx); err != nil || n != 1 {
		t.Errorf("AuditSize after an audited SetAccountEmail: got %d, %v; want 1", n, err)
	}
	// An import with nothing to store (every record refused before the
	// store) is still the admin's action: its record commits.
	imp := newAuditEntry("import", at(time.Minute), "cordon:admin/ops", "cordon:accounts", "profile")
	if n, err := s.ImportAccounts(cordon.WithAudit(ctx, imp), nil); err != nil || n != 0 {
		t.Fatalf("an audited empty ImportAccounts: %d, %v", n, err)
	}
	if n, err := s.AuditSize(ctx); err != nil || n != 2 {
		t.Errorf("AuditSize after an audited empty ImportAccounts: got %d, %v; want 2", n, err)
	}
	lost := newAuditEntry("lost", at(time.Minute), "cordon:admin/ops", "x", "email")
	checkErr(t, "a failed SetAccountEmail", s.SetAccountEmail(cordon.WithAudit(ctx, lost), "u-nobody", "b@example.com"), cordon.ErrNotFound)
	if n, _ := s.AuditSize(ctx); n != 2 {
		t.Errorf("AuditSize after a failed change: got %d, want 2 (no record without the change)", n)
	}
}

func newMail(key string, created time.Time) *cordon.MailMessage {
	return &cordon.MailMessage{Key: key, To: "x@example.com", Subject: "s " + key, Text: "hello\nworld", Language: "en", CreatedAt: created.In(elsewhere())}
}

func mustEnqueue(t *testing.T, s cordon.Store, ms ...*cordon.MailMessage) int {
	t.Helper()
	n, err := s.EnqueueMail(t.Context(), ms)
	if err != nil {
		t.Fatalf("EnqueueMail: %v", err)
	}
	return n
}

func testMailEnqueueOnce(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	if n := mustEnqueue(t, s, newMail("notice:n-1:u-1", at(0)), newMail("notice:n-1:u-2", at(0)), newMail("notice:n-1:u-1", at(0))); n != 2 {
		t.Errorf("EnqueueMail with a key twice: got %d, want 2", n)
	}
	again := newMail("notice:n-1:u-1", at(time.Hour))
	again.Subject = "replaced?"
	if n := mustEnqueue(t, s, again); n != 0 {
		t.Errorf("EnqueueMail of a stored key: got %d, want 0", n)
	}
	m, err := s.MailByKey(ctx, "notice:n-1:u-1")
	if err != nil {
		t.Fatal(err)
	}
	var d diff
	d.str("subject", m.Subject, "s notice:n-1:u-1")
	d.str("text", m.Text, "hello\nworld")
	d.str("to", m.To, "x@example.com")
	d.str("language", m.Language, "en")
	d.str("state", string(m.State), "queued")
	d.time("created", m.CreatedAt, at(0))
	d.time("next", m.NextAt, at(0))
	if len(d) > 0 {
		t.Errorf("MailByKey: %s", d)
	}
	_, err = s.MailByKey(ctx, "notice:n-9:u-1")
	checkErr(t, "MailByKey of an unknown key", err, cordon.ErrNotFound)
}

func testMailClaimDue(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	later := newMail("m:later", at(0))
	later.NextAt = at(time.Hour)
	mustEnqueue(t, s, newMail("m:b", at(2*time.Second)), newMail("m:a", at(time.Second)), later)
	got, err := s.ClaimMail(ctx, "w1", at(time.Minute), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "m:a" || got[1].Key != "m:b" {
		t.Fatalf("ClaimMail: got %v, want m:a then m:b (m:later is not due)", keysOf(got))
	}
	var d diff
	d.str("state", string(got[0].State), "sending")
	d.str("owner", got[0].Owner, "w1")
	d.time("lease", got[0].LeaseUntil, at(2*time.Minute))
	if got[0].Attempts != 1 {
		d = append(d, fmt.Sprintf("attempts: got %d, want 1", got[0].Attempts))
	}
	if len(d) > 0 {
		t.Errorf("claimed message: %s", d)
	}
	more, err := s.ClaimMail(ctx, "w2", at(time.Minute), time.Minute, 10)
	if err != nil || len(more) != 0 {
		t.Errorf("a second claim while leases last: got %v, %v; want none", keysOf(more), err)
	}
	one, _ := s.ClaimMail(ctx, "w2", at(2*time.Hour), time.Minute, 1)
	if len(one) != 1 || one[0].Key != "m:a" {
		t.Errorf("a claim with limit 1 after the leases expired: got %v, want [m:a]", keysOf(one))
	}
}

func keysOf(ms []*cordon.MailMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Key)
	}
	return out
}

func testMailLeaseExpiry(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustEnqueue(t, s, newMail("m:1", at(0)))
	if got, _ := s.ClaimMail(ctx, "dead", at(0), time.Minute, 10); len(got) != 1 {
		t.Fatalf("first claim: got %v", keysOf(got))
	}
	if got, _ := s.ClaimMail(ctx, "w2", at(59*time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim before the lease ends: got %v, want none", keysOf(got))
	}
	got, err := s.ClaimMail(ctx, "w2", at(time.Minute), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Owner != "w2" || got[0].Attempts != 2 {
		t.Fatalf("claim at the lease's end: got %+v, %v; want m:1 for w2, attempt 2", got, err)
	}
	checkErr(t, "RetryMail by the worker whose lease expired", s.RetryMail(ctx, "m:1", "dead", at(time.Hour), "late"), cordon.ErrNotFound)
	checkErr(t, "FailMail by the worker whose lease expired", s.FailMail(ctx, "m:1", "dead", "late"), cordon.ErrNotFound)
	m, _ := s.MailByKey(ctx, "m:1")
	if m.State != cordon.MailSending || m.Owner != "w2" {
		t.Errorf("after the stale worker's outcome: got %s by %q, want sending by w2", m.State, m.Owner)
	}
}

func testMailOutcomeOwner(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustEnqueue(t, s, newMail("m:1", at(0)), newMail("m:2", at(0)))
	if got, _ := s.ClaimMail(ctx, "w1", at(0), time.Minute, 10); len(got) != 2 {
		t.Fatalf("claim: got %v", keysOf(got))
	}
	if err := s.RetryMail(ctx, "m:1", "w1", at(time.Hour), "451 try later"); err != nil {
		t.Fatal(err)
	}
	if err := s.FailMail(ctx, "m:2", "w1", "550 no such user"); err != nil {
		t.Fatal(err)
	}
	m1, _ := s.MailByKey(ctx, "m:1")
	var d diff
	d.str("m:1 state", string(m1.State), "queued")
	d.str("m:1 reason", m1.Reason, "451 try later")
	d.time("m:1 next", m1.NextAt, at(time.Hour))
	m2, _ := s.MailByKey(ctx, "m:2")
	d.str("m:2 state", string(m2.State), "failed")
	d.str("m:2 reason", m2.Reason, "550 no such user")
	if len(d) > 0 {
		t.Errorf("%s", d)
	}
	if got, _ := s.ClaimMail(ctx, "w1", at(30*time.Minute), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim before the retry time: got %v, want none (and never the failed one)", keysOf(got))
	}
	if got, _ := s.ClaimMail(ctx, "w1", at(2*time.Hour), time.Minute, 10); len(got) != 1 || got[0].Key != "m:1" {
		t.Errorf("claim after the retry time: got %v, want [m:1]", keysOf(got))
	}
	checkErr(t, "FailMail of a failed message", s.FailMail(ctx, "m:2", "w1", "again"), cordon.ErrNotFound)
	checkErr(t, "RetryMail of an unknown key", s.RetryMail(ctx, "m:9", "w1", at(0), ""), cordon.ErrNotFound)
}

func testMailSentStays(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustEnqueue(t, s, newMail("m:1", at(0)))
	if got, _ := s.ClaimMail(ctx, "w1", at(0), time.Minute, 10); len(got) != 1 {
		t.Fatal("claim")
	}
	// The lease expired mid-send and another worker took the message
	// over: the first send still happened.
	if got, _ := s.ClaimMail(ctx, "w2", at(2*time.Minute), time.Minute, 10); len(got) != 1 {
		t.Fatal("second claim")
	}
	if err := s.MarkMailSent(ctx, "m:1", at(3*time.Minute).In(elsewhere())); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMailSent(ctx, "m:1", at(4*time.Minute)); err != nil {
		t.Errorf("MarkMailSent of a sent message: %v, want nil", err)
	}
	checkErr(t, "RetryMail after sent", s.RetryMail(ctx, "m:1", "w2", at(time.Hour), "x"), cordon.ErrNotFound)
	m, _ := s.MailByKey(ctx, "m:1")
	var d diff
	d.str("state", string(m.State), "sent")
	d.time("sent", m.SentAt, at(3*time.Minute))
	if len(d) > 0 {
		t.Errorf("%s", d)
	}
	if got, _ := s.ClaimMail(ctx, "w3", at(24*time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("claim of a sent message: got %v, want none", keysOf(got))
	}
	checkErr(t, "MarkMailSent of an unknown key", s.MarkMailSent(ctx, "m:9", at(0)), cordon.ErrNotFound)
}

func testMailCounts(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustEnqueue(t, s, newMail("notice:n-1:u-1", at(0)), newMail("notice:n-1:u-2", at(0)), newMail("notice:n-1:u-3", at(0)),
		newMail("notice:n-10:u-1", at(time.Second)), newMail("reset:c-1:u-1", at(time.Second)))
	claimed, _ := s.ClaimMail(ctx, "w", at(0), time.Minute, 2) // notice:n-1:u-1, notice:n-1:u-2
	if len(claimed) != 2 {
		t.Fatalf("claim: got %v", keysOf(claimed))
	}
	if err := s.MarkMailSent(ctx, claimed[0].Key, at(0)); err != nil {
		t.Fatal(err)
	}
	if err := s.FailMail(ctx, claimed[1].Key, "w", "550"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		want   cordon.MailCounts
	}{
		{"notice:n-1:", cordon.MailCounts{Queued: 1, Sent: 1, Failed: 1}},
		{"notice:", cordon.MailCounts{Queued: 2, Sent: 1, Failed: 1}},
		{"reset:c-1:", cordon.MailCounts{Queued: 1}},
		{"", cordon.MailCounts{Queued: 3, Sent: 1, Failed: 1}},
		{"nothing:", cordon.MailCounts{}},
	} {
		got, err := s.MailCounts(ctx, tc.prefix)
		if err != nil || got != tc.want {
			t.Errorf("MailCounts(%q): got %+v, %v; want %+v", tc.prefix, got, err, tc.want)
		}
	}
}

func testMailBadKey(t *testing.T, s cordon.Store) {
	for _, k := range []string{"", "has space", "new\nline", ":leading", "%wild"} {
		_, err := s.EnqueueMail(t.Context(), []*cordon.MailMessage{newMail("ok:1", at(0)), {Key: k, To: "x@example.com", CreatedAt: at(0)}})
		if cordon.ErrorCode(err) != cordon.ECodeInvalid {
			t.Errorf("EnqueueMail with key %q: got %v, want an invalid error", k, err)
		}
	}
	if c, _ := s.MailCounts(t.Context(), ""); c != (cordon.MailCounts{}) {
		t.Errorf("after refused batches: got %+v, want nothing stored", c)
	}
}

// testMailClaimRace: workers claiming at once each get other messages.
func testMailClaimRace(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	var ms []*cordon.MailMessage
	for i := range 40 {
		ms = append(ms, newMail(fmt.Sprintf("m:%02d", i), at(0)))
	}
	mustEnqueue(t, s, ms...)
	// Open the store's connections first: a claim that waits for a new
	// one runs after the others have committed, and the claims, not
	// overlapping, would not test the claim's lock (without this, a
	// PostgreSQL claim without SKIP LOCKED passed).
	for _, err := range race(8, func(int) error { _, err := s.MailCounts(ctx, "m:"); return err }) {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := make([][]*cordon.MailMessage, 8)
	errs := race(8, func(i int) error {
		var err error
		got[i], err = s.ClaimMail(ctx, fmt.Sprintf("w%d", i), at(time.Second), time.Minute, 10)
		return err
	})
	seen := map[string]string{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
		for _, m := range got[i] {
			if w, dup := seen[m.Key]; dup {
				t.Errorf("%s claimed by %s and w%d", m.Key, w, i)
			}
			seen[m.Key] = fmt.Sprintf("w%d", i)
		}
	}
	if len(seen) != 40 {
		t.Errorf("claimed %d distinct messages, want 40", len(seen))
	}
}
