// Package pgtest gives tests a PostgreSQL schema of their own on the test
// server (127.0.0.1:5432, or CORDON_TEST_POSTGRES), dropped when the test
// ends. Without a server the test is skipped — except under CI=true, or when
// CORDON_TEST_POSTGRES names a server, where it fails: CI must never skip.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultURL is the server the tests use unless CORDON_TEST_POSTGRES names
// another: the one CI starts.
const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerURL returns the URL of the test server.
func ServerURL() string {
	if u := os.Getenv("CORDON_TEST_POSTGRES"); u != "" {
		return u
	}
	return defaultURL
}

// Connect opens a connection of its own to the test server. When the
// server does not answer, the test is skipped, except in CI (CI=true),
// which must never skip, and when CORDON_TEST_POSTGRES asked for a server
// explicitly.
func Connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerURL())
	switch {
	case err == nil:
		return conn
	case os.Getenv("CI") == "true" || os.Getenv("CORDON_TEST_POSTGRES") != "":
		tb.Fatalf("connect to PostgreSQL: %v", err)
	default:
		tb.Skip("PostgreSQL not reachable at 127.0.0.1:5432 (set CORDON_TEST_POSTGRES to another URL); skipping")
	}
	return nil
}

// NewSchema creates a schema of its own for the test, dropped with
// everything in it when the test ends, and returns its name.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	conn := Connect(tb)
	defer conn.Close(context.Background())
	b := make([]byte, 8)
	rand.Read(b) // crypto/rand crashes the program rather than fail
	schema := "cordon_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("CREATE SCHEMA %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		conn := Connect(tb)
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("DROP SCHEMA %s: %v", schema, err)
		}
	})
	return schema
}

// SchemaURL is the server's URL with the schema as search_path.
func SchemaURL(tb testing.TB, schema string) string {
	tb.Helper()
	raw := ServerURL()
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return raw + " search_path=" + schema // a key=value string
	}
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("parse %q: %v", raw, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// URL returns the URL of a new schema of the test's own.
func URL(tb testing.TB) string {
	tb.Helper()
	return SchemaURL(tb, NewSchema(tb))
}
