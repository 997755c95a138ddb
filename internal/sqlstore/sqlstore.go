// Package sqlstore is the one SQL implementation of cordon's store that
// the SQLite and PostgreSQL backends share. A store method is written once
// here, against Querier, in PostgreSQL's placeholder style ($1, $2, …);
// each backend brings only what genuinely differs:
//
//   - its driver, behind Querier (internal/sqlite adapts database/sql and
//     rewrites $N to SQLite's ?N; internal/postgres adapts pgx);
//   - its transactions (SQLite's one writer with BEGIN IMMEDIATE,
//     PostgreSQL's retried READ COMMITTED transactions), behind Backend;
//   - its error codes, mapped to the contract's sentinels by the adapter,
//     so a Querier's errors are cordon's already;
//   - the few statements whose SQL differs (Dialect), and the methods a
//     backend serves its own way for speed (PostgreSQL's unnest batch
//     inserts, SQLite's prepared session hot path): a backend's method of
//     the same name shadows the shared one (Go's embedding), so a reader
//     finds an override next to the backend's driver code.
//
// The conformance suite (internal/conformance) holds both backends, and so
// this package, to one behaviour.
package sqlstore

import "context"

// Querier runs statements: a transaction, or a backend's reading pool
// outside one. Its errors are mapped to the contract's sentinels
// (cordon.ErrNotFound for no row, cordon.ErrAlreadyExists for a taken
// key, storage_unavailable for a store that cannot take the request).
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement that returns rows; the caller closes them.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a statement that returns at most one row; Scan of no
	// row is cordon.ErrNotFound.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a statement's result rows.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is one row of a result, or its error.
type Row interface {
	Scan(dest ...any) error
}

// Backend is one database's transactions.
type Backend interface {
	// Write runs fn in one write transaction and commits it, together
	// with an admin change's pending audit record (cordon.PendingAudit).
	// fn may run more than once (a backend retries a transaction the
	// database aborted for contention), so it must set its results
	// afresh each time.
	Write(ctx context.Context, fn func(Querier) error) error
	// Reader runs reads outside a transaction: each statement sees the
	// newest committed state.
	Reader() Querier
	// Snapshot runs fn in one read-only transaction, so its statements
	// see one state.
	Snapshot(ctx context.Context, fn func(Querier) error) error
}

// Dialect is what differs in the SQL of the statements both backends
// otherwise share.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// NoLimit is the LIMIT parameter that limits nothing: -1 on SQLite;
	// NULL (nil) on PostgreSQL, which refuses a negative LIMIT.
	NoLimit any
	// ForUpdate ends a SELECT that locks the rows it reads until the
	// transaction ends: " FOR UPDATE" on PostgreSQL; empty on SQLite,
	// whose one writer already serialises every write transaction.
	ForUpdate string
	// SkipLocked ends a SELECT that claims rows for a lease: " FOR
	// UPDATE SKIP LOCKED" on PostgreSQL, so the workers of several nodes
	// claim at once, each other rows; empty on SQLite (one writer).
	SkipLocked string
	// DueMail selects the keys, as due_key, of the outbox messages due
	// at $1 (queued and due, or leased and the lease run out), oldest
	// first, at most $4; ClaimMail ends it with SkipLocked. SQLite reads
	// each state's partial index in a UNION ALL (an OR would scan the
	// table, which keeps every message sent); PostgreSQL cannot lock the
	// rows of a UNION, and combines the two indexes of an OR itself.
	DueMail string
	// JSONLists: a list of strings is bound as one JSON array, read
	// through json_each (SQLite, which has no arrays), not as a text[]
	// (PostgreSQL). See InStrings, Strings and StringsDest.
	JSONLists bool
}

// SQLite and Postgres are the two dialects.
var (
	SQLite = Dialect{
		Name:      "sqlite",
		JSONLists: true,
		NoLimit:   int64(-1),
		DueMail: `SELECT key AS due_key FROM (
			SELECT key, next_at FROM mail_outbox WHERE state = 'queued' AND next_at <= $1
			UNION ALL SELECT key, next_at FROM mail_outbox WHERE state = 'sending' AND lease_until <= $1
		) ORDER BY next_at, key LIMIT $4`,
	}
	Postgres = Dialect{
		Name:       "postgres",
		ForUpdate:  " FOR UPDATE",
		SkipLocked: " FOR UPDATE SKIP LOCKED",
		DueMail: `SELECT key AS due_key FROM mail_outbox
			WHERE (state = 'queued' AND next_at <= $1) OR (state = 'sending' AND lease_until <= $1)
			ORDER BY next_at, key LIMIT $4`,
	}
)

// Store is the shared store: every method written once. A backend embeds
// it and shadows the methods it serves its own way.
type Store struct {
	b Backend
	d Dialect
}

// New returns the shared store over b.
func New(b Backend, d Dialect) *Store { return &Store{b: b, d: d} }
