-- The data-access log: append-only, so no statement ever updates or
-- deletes a row of these tables. idx is the rowid, so max(idx) (the next
-- index, minus one) is one seek.
CREATE TABLE audit_entries (
	idx        INTEGER PRIMARY KEY,
	leaf       BLOB NOT NULL,
	leaf_hash  BLOB NOT NULL,
	at         INTEGER NOT NULL,
	principal  TEXT NOT NULL,
	action     TEXT NOT NULL,
	subject    TEXT NOT NULL,
	categories TEXT NOT NULL -- sorted, space-separated
) STRICT;
-- Blast-radius reports: one principal's entries over a window.
CREATE INDEX audit_entries_principal_at ON audit_entries(principal, at);

CREATE TABLE audit_checkpoints (
	size       INTEGER PRIMARY KEY,
	root       BLOB NOT NULL,
	note       BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
