-- Interior nodes of the log's Merkle tree, written with each checkpoint,
-- so a proof is a few lookups rather than a rehash of the log.
CREATE TABLE audit_nodes (
	level INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	hash  BLOB NOT NULL,
	PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

-- The checkpoint signing key: one row, shared by every node of the store.
CREATE TABLE audit_key (
	one        INTEGER PRIMARY KEY CHECK (one = 1),
	signer     TEXT NOT NULL,
	verifier   TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- Saved blast-radius reports; subjects is a JSON array of usernames.
CREATE TABLE audit_reports (
	id         TEXT PRIMARY KEY,
	principals TEXT NOT NULL, -- JSON array
	from_at    INTEGER NOT NULL,
	to_at      INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	subjects   TEXT NOT NULL
) STRICT;
