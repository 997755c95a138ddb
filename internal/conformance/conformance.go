// Package conformance is the storage conformance suite: every behaviour
// the doc comments of cordon.Store promise, written once and run by each
// backend's own tests, so SQLite and PostgreSQL answer every call alike.
//
// A backend's test hands the suite a function that returns a fresh, empty
// store and closes it when the test ends:
//
//	func TestConformance(t *testing.T) { conformance.RunTests(t, newStore) }
//	func TestConcurrency(t *testing.T) { conformance.RunConcurrencyTests(t, newStore) }
//
// Fixtures use a fixed base time to the microsecond and inputs in a
// non-UTC zone, because the contract promises microsecond round-trips that
// come back in UTC.
package conformance

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// RunTests runs one subtest per behaviour of the storage contract, each
// on its own store from newStore. newStore must return an empty store and
// close it with t.Cleanup.
func RunTests(t *testing.T, newStore func(t *testing.T) cordon.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Accounts", accountTests()},
		{"Sessions", sessionTests()},
		{"RefreshRotation", refreshTests()},
		{"SigningKeys", signingKeyTests()},
		{"AdminTokens", adminTokenTests()},
		{"AdminTokenLifecycle", adminLifeTests()},
		{"AccountLifecycle", accountLifeTests()},
		{"Times", timeTests()},
		{"Campaigns", campaignTests()},
		{"Fleet", fleetTests()},
		{"Progress", progressTests()},
		{"OfflineGrants", offlineTests()},
		{"PasswordResets", resetTests()},
		{"Ping", []subtest{{"Answers", testPing}}},
		{"AuditWithChange", []subtest{{"SameTransaction", testAuditWithChange}}},
		{"Incidents", incidentTests()},
		{"Notices", noticeTests()},
		{"Alerts", alertTests()},
		{"AuditQuery", auditQueryTests()},
		{"SharedSignals", ssfTests()},
		{"Console", consoleTests()},
		{"AccountEmail", emailTests()},
		{"Outbox", mailTests()},
		{"TierSamples", tierTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { run(t, newStore, g.tests) })
	}
	t.Run("Audit", func(t *testing.T) {
		RunAuditTests(t, func(t *testing.T) cordon.AuditStore { return newStore(t) })
	})
}

// subtest is one behaviour, checked on a fresh store.
type subtest struct {
	name string
	run  func(t *testing.T, s cordon.Store)
}

func run(t *testing.T, newStore func(t *testing.T) cordon.Store, tests []subtest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

func testPing(t *testing.T, s cordon.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: got error %v, want nil", err)
	}
}

// Lifetimes of the refresh tokens the fixtures make.
const (
	idleTTL     = 24 * time.Hour
	absoluteTTL = 30 * 24 * time.Hour
)

// at returns the suite's base time plus d: fixed, in UTC, and truncated to
// the microsecond, the precision every backend must keep.
func at(d time.Duration) time.Time {
	base := time.Date(2025, time.March, 14, 9, 26, 53, 589793238, time.UTC).Truncate(time.Microsecond)
	return base.Add(d)
}

// elsewhere is a zone away from UTC by a non-whole number of hours, so a
// backend that keeps the caller's zone, or drops the offset, shows it.
func elsewhere() *time.Location { return time.FixedZone("x", 5*3600+30*60) }

// newHash returns a random 32-byte refresh-token hash.
func newHash() []byte {
	h := make([]byte, 32)
	rand.Read(h) // crypto/rand crashes the program rather than fail
	return h
}

func newAccount(username string) *cordon.Account {
	return &cordon.Account{
		ID:                cordon.NewID("u"),
		Username:          username,
		PasswordHash:      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$" + username,
		PasswordChangedAt: at(0),
		CreatedAt:         at(0),
	}
}

func mustCreateAccount(t *testing.T, s cordon.Store, username string) *cordon.Account {
	t.Helper()
	a := newAccount(username)
	if err := s.CreateAccount(t.Context(), a); err != nil {
		t.Fatalf("CreateAccount(%q): %v", username, err)
	}
	return a
}

func newSession(accountID string, created time.Time) *cordon.Session {
	return &cordon.Session{
		ID:        cordon.NewID("s"),
		AccountID: accountID,
		Facts: cordon.ClientFacts{
			Platform: cordon.PlatformAndroid,
			Version:  "8.4.1",
			Source:   cordon.SourcePlay,
			Device:   "d-" + cordon.NewID("d"),
		},
		AuthTime:   created,
		CreatedAt:  created,
		LastSeenAt: created,
	}
}

// newRefreshToken returns the first token of a session's family.
func newRefreshToken(sessionID string, created time.Time) *cordon.RefreshToken {
	return &cordon.RefreshToken{
		Hash:              newHash(),
		SessionID:         sessionID,
		CreatedAt:         created,
		IdleExpiresAt:     created.Add(idleTTL),
		AbsoluteExpiresAt: created.Add(absoluteTTL),
	}
}

// nextToken returns a token to rotate to at now. SessionID and
// AbsoluteExpiresAt are left for the store to set from the family.
func nextToken(now time.Time) *cordon.RefreshToken {
	return &cordon.RefreshToken{
		Hash:          newHash(),
		CreatedAt:     now,
		IdleExpiresAt: now.Add(idleTTL),
	}
}

func mustCreateSession(t *testing.T, s cordon.Store, accountID string, created time.Time) (*cordon.Session, *cordon.RefreshToken) {
	t.Helper()
	sess := newSession(accountID, created)
	rt := newRefreshToken(sess.ID, created)
	if err := s.CreateSession(t.Context(), sess, rt); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess, rt
}

// mustRotate rotates old at now and returns the token it was exchanged for.
func mustRotate(t *testing.T, s cordon.Store, old []byte, now time.Time) *cordon.RefreshToken {
	t.Helper()
	next := nextToken(now)
	if _, err := s.RotateRefreshToken(t.Context(), old, next, now); err != nil {
		t.Fatalf("RotateRefreshToken at %v: %v", now, err)
	}
	return next
}

func mustSession(t *testing.T, s cordon.Store, id string) *cordon.Session {
	t.Helper()
	sess, err := s.SessionByID(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionByID(%q): %v", id, err)
	}
	return sess
}

// checkErr reports an error unless errors.Is(got, want); a nil want
// demands a nil error.
func checkErr(t *testing.T, op string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: got error %v, want %v", op, got, want)
	}
}

// diff collects the fields in which a stored value differs from the one
// wanted. Times must be equal instants and in UTC.
type diff []string

func (d diff) String() string { return strings.Join(d, "; ") }

func (d *diff) str(field, got, want string) {
	if got != want {
		*d = append(*d, fmt.Sprintf("%s: got %q, want %q", field, got, want))
	}
}

func (d *diff) time(field string, got, want time.Time) {
	if !got.Equal(want) || got.Location() != time.UTC {
		*d = append(*d, fmt.Sprintf("%s: got %v, want %v", field, got, want.UTC()))
	}
}

func (d *diff) bytes(field string, got, want []byte) {
	if !bytes.Equal(got, want) {
		*d = append(*d, fmt.Sprintf("%s: got %x, want %x", field, got, want))
	}
}

// strings compares lists, a nil list being equal to an empty one.
func (d *diff) strings(field string, got, want []string) {
	if !slices.Equal(got, want) {
		*d = append(*d, fmt.Sprintf("%s: got %q, want %q", field, got, want))
	}
}

func accountDiff(got, want *cordon.Account) string {
	var d diff
	d.str("ID", got.ID, want.ID)
	d.str("Username", got.Username, want.Username)
	d.str("PasswordHash", got.PasswordHash, want.PasswordHash)
	d.time("PasswordChangedAt", got.PasswordChangedAt, want.PasswordChangedAt)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	return d.String()
}

func sessionDiff(got, want *cordon.Session) string {
	var d diff
	d.str("ID", got.ID, want.ID)
	d.str("AccountID", got.AccountID, want.AccountID)
	d.str("Facts.Platform", got.Facts.Platform, want.Facts.Platform)
	d.str("Facts.Version", got.Facts.Version, want.Facts.Version)
	d.str("Facts.Source", got.Facts.Source, want.Facts.Source)
	d.str("Facts.Device", got.Facts.Device, want.Facts.Device)
	d.time("AuthTime", got.AuthTime, want.AuthTime)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("LastSeenAt", got.LastSeenAt, want.LastSeenAt)
	d.time("RevokedAt", got.RevokedAt, want.RevokedAt)
	d.str("RevokeReason", got.RevokeReason, want.RevokeReason)
	return d.String()
}

func signingKeyDiff(got, want *cordon.SigningKey) string {
	var d diff
	d.str("ID", got.ID, want.ID)
	d.str("Algorithm", got.Algorithm, want.Algorithm)
	d.bytes("PrivateKey", got.PrivateKey, want.PrivateKey)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("RetiredAt", got.RetiredAt, want.RetiredAt)
	return d.String()
}

func adminTokenDiff(got, want *cordon.AdminToken) string {
	var d diff
	d.str("ID", got.ID, want.ID)
	d.str("Name", got.Name, want.Name)
	d.bytes("Hash", got.Hash, want.Hash)
	d.strings("Scopes", got.Scopes, want.Scopes)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	return d.String()
}
