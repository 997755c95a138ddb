-- The data-access log: append-only, so no statement ever updates or
-- deletes a row of audit_entries or audit_checkpoints.
CREATE TABLE audit_entries (
	idx        BIGINT PRIMARY KEY,
	leaf       BYTEA NOT NULL,
	leaf_hash  BYTEA NOT NULL,
	at         BIGINT NOT NULL,
	principal  TEXT NOT NULL,
	action     TEXT NOT NULL,
	subject    TEXT NOT NULL,
	categories TEXT NOT NULL -- sorted, space-separated
);
-- Blast-radius reports: one principal's entries over a window.
CREATE INDEX audit_entries_principal_at ON audit_entries (principal, at);

-- The log's size, one row. An append moves it with UPDATE … RETURNING in
-- the transaction that inserts the entries: the row lock serialises
-- appends, and a rolled-back append gives its indexes back.
CREATE TABLE audit_size (
	one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
	size BIGINT NOT NULL
);
INSERT INTO audit_size (one, size) VALUES (TRUE, 0);

CREATE TABLE audit_checkpoints (
	size       BIGINT PRIMARY KEY,
	root       BYTEA NOT NULL,
	note       BYTEA NOT NULL,
	created_at BIGINT NOT NULL
);
