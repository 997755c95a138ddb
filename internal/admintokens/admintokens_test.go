package admintokens_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/admintokens"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/memstore"
)

var t0 = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

type fixture struct {
	svc   *admintokens.Service
	store *memstore.Store
	clk   *clock.Fake
	root  *cordon.AdminToken
	// records are the audit records the store committed, in order.
	records func() []*cordon.AuditEntry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store := memstore.New()
	clk := clock.NewFake(t0)
	f := &fixture{svc: admintokens.New(store, clk), store: store, clk: clk}
	root := &cordon.AdminToken{ID: "t-root", Name: "root", Hash: []byte("root-hash"), Scopes: []string{cordon.ScopeAll}, CreatedAt: t0}
	if err := store.CreateAdminToken(context.Background(), root); err != nil {
		t.Fatal(err)
	}
	f.root = root
	f.records = func() []*cordon.AuditEntry {
		var out []*cordon.AuditEntry
		if err := store.AuditEntries(context.Background(), 0, 1<<62, func(e *cordon.AuditEntry) error {
			out = append(out, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return f
}

// rec makes a record the store can keep; purposes collects what the
// service said happened.
func rec(purposes *[]string) admintokens.Record {
	return func(purpose string) (*cordon.AuditEntry, error) {
		*purposes = append(*purposes, purpose)
		return &cordon.AuditEntry{Principal: "cordon:admin/test", Action: "write", Subject: "cordon:admin-tokens",
			Categories: []string{"admin_tokens"}, Leaf: []byte(purpose), LeafHash: []byte("h")}, nil
	}
}

func code(err error) string {
	var ce *cordon.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

func TestMintAuthenticateAndDelegation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var purposes []string
	ops, secret, err := f.svc.Mint(ctx, f.root, admintokens.Mint{Name: "ops", Scopes: []string{cordon.ScopeCampaigns, cordon.ScopeTokens}}, rec(&purposes))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, admintokens.SecretPrefix) || len(purposes) != 1 || !strings.Contains(purposes[0], ops.ID) {
		t.Fatalf("secret %q, purposes %v", secret, purposes)
	}
	if got := f.records(); len(got) != 1 || string(got[0].Leaf) != purposes[0] {
		t.Fatalf("records %v, want the mint's", got)
	}
	// The secret authenticates for the scopes it holds, and only those.
	if at, err := f.svc.Authenticate(ctx, secret, cordon.ScopeCampaigns); err != nil || at.ID != ops.ID {
		t.Fatalf("authenticate: %v, %v", at, err)
	}
	if _, err := f.svc.Authenticate(ctx, secret, cordon.ScopeKeys); code(err) != cordon.ECodeForbidden {
		t.Errorf("a scope the token lacks: %v, want forbidden", err)
	}
	if _, err := f.svc.Authenticate(ctx, "cat_wrong", cordon.ScopeCampaigns); code(err) != cordon.ECodeInvalidToken {
		t.Errorf("a wrong secret: %v, want invalid_token", err)
	}
	// A narrow token grants only what it holds: never "*", never a scope
	// it lacks.
	for _, scopes := range [][]string{{cordon.ScopeAll}, {cordon.ScopeKeys}, {cordon.ScopeCampaigns, cordon.ScopeAccounts}} {
		if _, _, err := f.svc.Mint(ctx, ops, admintokens.Mint{Name: "wider", Scopes: scopes}, nil); code(err) != cordon.ECodeForbidden {
			t.Errorf("ops minting %v: %v, want forbidden", scopes, err)
		}
	}
	// ...nor acts on a token wider than itself: rotating root would hand
	// it a "*" secret.
	if _, err := f.svc.Rotate(ctx, ops, "root", time.Time{}, 0, nil); code(err) != cordon.ECodeForbidden {
		t.Errorf("ops rotating root: %v, want forbidden", err)
	}
	if _, err := f.svc.Revoke(ctx, ops, f.root.ID, nil); code(err) != cordon.ECodeForbidden {
		t.Errorf("ops revoking root: %v, want forbidden", err)
	}
	if _, err := f.svc.SetExpiry(ctx, ops, "root", t0.Add(time.Hour), nil); code(err) != cordon.ECodeForbidden {
		t.Errorf("ops re-timing root: %v, want forbidden", err)
	}
	// A token it covers, it may act on.
	narrow, narrowSecret, err := f.svc.Mint(ctx, ops, admintokens.Mint{Name: "gate-1", Scopes: []string{cordon.ScopeCampaigns}, ExpiresAt: t0.Add(time.Hour)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, ops, narrow.Name, rec(&purposes)); err != nil {
		t.Fatalf("ops revoking a narrower token: %v", err)
	}
	if ok, err := f.svc.Usable(ctx, narrow.ID); ok || err != nil {
		t.Errorf("a revoked token usable: %t, %v", ok, err)
	}
	if _, err := f.svc.Authenticate(ctx, narrowSecret, cordon.ScopeCampaigns); code(err) != cordon.ECodeInvalidToken {
		t.Errorf("a revoked token authenticates: %v, want invalid_token", err)
	}
	// An expired one neither.
	f.clk.Advance(2 * time.Hour)
	if _, err := f.svc.Authenticate(ctx, secret, cordon.ScopeCampaigns); err != nil {
		t.Errorf("a token without an end, later: %v", err)
	}
	late, lateSecret, err := f.svc.Mint(ctx, f.root, admintokens.Mint{Name: "brief", Scopes: []string{cordon.ScopeKeys}, ExpiresAt: f.clk.Now().Add(time.Minute)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Minute)
	if _, err := f.svc.Authenticate(ctx, lateSecret, cordon.ScopeKeys); code(err) != cordon.ECodeInvalidToken {
		t.Errorf("an expired token %s authenticates: %v, want invalid_token", late.ID, err)
	}
	if got := f.records(); len(got) != 2 || !strings.Contains(string(got[1].Leaf), "revoked") {
		t.Errorf("records after the revoke: %d, want the mint's and the revoke's", len(got))
	}
}

func TestMintRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		m    admintokens.Mint
		code string
	}{
		{"no name", admintokens.Mint{Scopes: []string{cordon.ScopeKeys}}, cordon.ECodeUnprocessable},
		{"a control character", admintokens.Mint{Name: "ops\x1b[31m", Scopes: []string{cordon.ScopeKeys}}, cordon.ECodeUnprocessable},
		{"invalid UTF-8", admintokens.Mint{Name: "ops\xff", Scopes: []string{cordon.ScopeKeys}}, cordon.ECodeUnprocessable},
		{"too long", admintokens.Mint{Name: strings.Repeat("n", admintokens.MaxName+1), Scopes: []string{cordon.ScopeKeys}}, cordon.ECodeUnprocessable},
		{"no scope", admintokens.Mint{Name: "ops"}, cordon.ECodeUnprocessable},
		{"an unknown scope", admintokens.Mint{Name: "ops", Scopes: []string{"root"}}, cordon.ECodeUnprocessable},
		{"an end in the past", admintokens.Mint{Name: "ops", Scopes: []string{cordon.ScopeKeys}, ExpiresAt: t0.Add(-time.Second)}, cordon.ECodeUnprocessable},
		{"an end past ten years", admintokens.Mint{Name: "ops", Scopes: []string{cordon.ScopeKeys}, ExpiresAt: t0.Add(admintokens.MaxTTL + time.Hour)}, cordon.ECodeUnprocessable},
	} {
		if _, _, err := f.svc.Mint(ctx, f.root, c.m, nil); code(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, _, err := f.svc.Mint(ctx, nil, admintokens.Mint{Name: "ops", Scopes: []string{cordon.ScopeKeys}}, nil); code(err) != cordon.ECodeForbidden {
		t.Errorf("no caller: %v, want forbidden", err)
	}
	// A taken name is a conflict at the name, and nothing is recorded.
	var purposes []string
	if _, _, err := f.svc.Mint(ctx, f.root, admintokens.Mint{Name: "root", Scopes: []string{cordon.ScopeKeys}}, rec(&purposes)); code(err) != cordon.ECodeConflict {
		t.Errorf("a taken name: %v, want conflict", err)
	}
	if got := f.records(); len(got) != 0 {
		t.Errorf("%d records after refused mints, want none", len(got))
	}
	if _, err := f.svc.Rotate(ctx, f.root, "root", time.Time{}, admintokens.MaxGrace+time.Second, nil); code(err) != cordon.ECodeInvalid {
		t.Errorf("a grace past the bound: %v, want invalid", err)
	}
	if _, err := f.svc.Find(ctx, "t-nobody"); code(err) != cordon.ECodeNotFound {
		t.Errorf("an unknown token: %v, want not_found", err)
	}
}

func TestRotateAndExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var purposes []string
	rot, err := f.svc.Rotate(ctx, f.root, "root", t0.Add(24*time.Hour), 10*time.Minute, rec(&purposes))
	if err != nil {
		t.Fatal(err)
	}
	if rot.Next.Name != "root" || rot.Old.ReplacedBy != rot.Next.ID || !strings.Contains(purposes[0], rot.Next.ID) {
		t.Fatalf("rotation %+v / %+v, purposes %v", rot.Next, rot.Old, purposes)
	}
	// The old secret works during the grace, not after; the name now
	// finds the successor.
	if ok, _ := f.svc.Usable(ctx, f.root.ID); !ok {
		t.Error("the old token is not usable during its grace")
	}
	f.clk.Advance(11 * time.Minute)
	if ok, _ := f.svc.Usable(ctx, f.root.ID); ok {
		t.Error("the old token is usable after its grace")
	}
	if got, err := f.svc.Find(ctx, "root"); err != nil || got.ID != rot.Next.ID {
		t.Errorf("root names %v, %v; want the successor", got, err)
	}
	got, err := f.svc.SetExpiry(ctx, rot.Next, rot.Next.ID, time.Time{}, rec(&purposes))
	if err != nil || !got.ExpiresAt.IsZero() || !strings.HasSuffix(purposes[1], "never expires") {
		t.Errorf("lifting the expiry: %v, %v, %v", got, err, purposes)
	}
	if got := f.records(); len(got) != 2 {
		t.Errorf("%d records, want the rotation's and the expiry's", len(got))
	}
}

// The last usable "*" token cannot be revoked, also by two revocations
// racing for the last two.
func TestRevokeLastAdminConcurrently(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	second, _, err := f.svc.Mint(ctx, f.root, admintokens.Mint{Name: "root-2", Scopes: []string{cordon.ScopeAll}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{f.root.ID, second.ID} {
		wg.Go(func() { _, errs[i] = f.svc.Revoke(ctx, f.root, id, nil) })
	}
	wg.Wait()
	var ok, last int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, cordon.ErrLastAdmin):
			last++
		default:
			t.Errorf("revoke: %v", err)
		}
	}
	if ok != 1 || last != 1 {
		t.Errorf("%d revoked, %d refused as the last admin; want one each", ok, last)
	}
}

// A change whose record cannot be made is not made.
func TestNoRecordNoChange(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("no record")
	_, _, err := f.svc.Mint(context.Background(), f.root, admintokens.Mint{Name: "ops", Scopes: []string{cordon.ScopeKeys}},
		func(string) (*cordon.AuditEntry, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("mint: %v, want the record's error", err)
	}
	if _, err := f.svc.Find(context.Background(), "ops"); code(err) != cordon.ECodeNotFound {
		t.Errorf("the token was made without its record: %v", err)
	}
}

// A leaked token rotated with a grace keeps its other powers for the
// grace, but cannot manage tokens: the thief cannot rotate the successor
// away from its owner.
func TestGraceDoesNotManageTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	lead, leaked, err := f.svc.Mint(ctx, f.root, admintokens.Mint{Name: "lead", Scopes: []string{cordon.ScopeAll}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := f.svc.Rotate(ctx, lead, "lead", time.Time{}, 10*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, leaked, cordon.ScopeCampaigns); err != nil {
		t.Errorf("the old secret in its grace, for campaigns: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, leaked, cordon.ScopeTokens); code(err) != cordon.ECodeForbidden {
		t.Errorf("the old secret in its grace, managing tokens: %v, want forbidden", err)
	}
	if at, err := f.svc.Authenticate(ctx, rot.Secret, cordon.ScopeTokens); err != nil || at.ID != rot.Next.ID {
		t.Errorf("the new secret: %v, %v", at, err)
	}
}
