-- The log's size, one row, as on PostgreSQL. Taking the next index from
-- max(idx) + 1 would hand a deleted tail's indexes out again, so a
-- truncation could be papered over by new entries; the counter only grows.
CREATE TABLE audit_size (
	one  INTEGER PRIMARY KEY CHECK (one = 1),
	size INTEGER NOT NULL
) STRICT;
INSERT INTO audit_size (one, size) SELECT 1, coalesce(max(idx) + 1, 0) FROM audit_entries;
