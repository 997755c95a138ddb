-- Interior nodes of the log's Merkle tree, written with each checkpoint,
-- so a proof is a few lookups rather than a rehash of the log.
CREATE TABLE audit_nodes (
	level INTEGER NOT NULL,
	idx   BIGINT NOT NULL,
	hash  BYTEA NOT NULL,
	PRIMARY KEY (level, idx)
);

-- The checkpoint signing key: one row, shared by every node of the store.
CREATE TABLE audit_key (
	one        BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
	signer     TEXT NOT NULL,
	verifier   TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

-- Saved blast-radius reports.
CREATE TABLE audit_reports (
	id         TEXT PRIMARY KEY,
	principals TEXT[] NOT NULL,
	from_at    BIGINT NOT NULL,
	to_at      BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	created_by TEXT NOT NULL,
	subjects   TEXT[] NOT NULL
);
