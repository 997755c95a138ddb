-- The audit rollup: per set of categories (as audit_entries.categories
-- holds them), UTC day (microseconds / 86,400,000,000, rounded down) and
-- principal, the entries' count, by action, and their first and last
-- time. AppendAudit adds a batch to it in the transaction that inserts
-- the batch, so at every snapshot it sums exactly the entries. The
-- questions grouped by principal (by category, the principals list) read
-- the whole days of a window from it, about 1 row per 10 entries here
-- rather than every entry, and the days a window cuts from the entries.
CREATE TABLE audit_rollup (
	categories TEXT NOT NULL,
	day        INTEGER NOT NULL,
	principal  TEXT NOT NULL,
	count      INTEGER NOT NULL,
	reads      INTEGER NOT NULL,
	writes     INTEGER NOT NULL,
	exports    INTEGER NOT NULL,
	deletes    INTEGER NOT NULL,
	first_at   INTEGER NOT NULL,
	last_at    INTEGER NOT NULL,
	PRIMARY KEY (categories, day, principal)
) STRICT, WITHOUT ROWID;
-- The sets of categories the rollup holds (a few hundred at most): a
-- question about one category finds the sets carrying it here, then
-- reads only their rows through the primary key.
CREATE TABLE audit_rollup_sets (
	categories TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;
INSERT INTO audit_rollup (categories, day, principal, count, reads, writes, exports, deletes, first_at, last_at)
	SELECT categories, CASE WHEN at >= 0 THEN at / 86400000000 ELSE -((-at - 1) / 86400000000) - 1 END AS d, principal,
		count(*), sum(action = 'read'), sum(action = 'write'), sum(action = 'export'), sum(action = 'delete'), min(at), max(at)
	FROM audit_entries GROUP BY categories, d, principal;
INSERT INTO audit_rollup_sets (categories) SELECT DISTINCT categories FROM audit_rollup;
