-- The audit rollup, as on SQLite (see its 0015_audit.sql): per set of
-- categories, UTC day and principal, the entries' count, by action, and
-- their first and last time, kept by AppendAudit in the transaction that
-- inserts the entries.
CREATE TABLE audit_rollup (
	categories TEXT COLLATE "C" NOT NULL,
	day        BIGINT NOT NULL,
	principal  TEXT COLLATE "C" NOT NULL,
	count      BIGINT NOT NULL,
	reads      BIGINT NOT NULL,
	writes     BIGINT NOT NULL,
	exports    BIGINT NOT NULL,
	deletes    BIGINT NOT NULL,
	first_at   BIGINT NOT NULL,
	last_at    BIGINT NOT NULL,
	PRIMARY KEY (categories, day, principal)
);
CREATE TABLE audit_rollup_sets (
	categories TEXT COLLATE "C" PRIMARY KEY
);
INSERT INTO audit_rollup (categories, day, principal, count, reads, writes, exports, deletes, first_at, last_at)
	SELECT categories, floor(at::numeric / 86400000000)::bigint AS d, principal,
		count(*), count(*) FILTER (WHERE action = 'read'), count(*) FILTER (WHERE action = 'write'),
		count(*) FILTER (WHERE action = 'export'), count(*) FILTER (WHERE action = 'delete'), min(at), max(at)
	FROM audit_entries GROUP BY categories, d, principal;
INSERT INTO audit_rollup_sets (categories) SELECT DISTINCT categories FROM audit_rollup;
