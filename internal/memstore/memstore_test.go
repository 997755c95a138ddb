package memstore_test

import (
	"testing"

	"github.com/cordon-dev/cordon/internal/conformance"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/memstore"
)

// The reference store runs the same suites as SQLite and PostgreSQL.

func newStore(t *testing.T) cordon.Store {
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { conformance.RunTests(t, newStore) }

func TestConcurrency(t *testing.T) { conformance.RunConcurrencyTests(t, newStore) }
