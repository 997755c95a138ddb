-- Progress against the cohort (issue 13): whom a campaign targets, fixed at
-- activation and recomputed while it runs; its counters by facts; prompts
-- of flexible campaigns; and samples over time for a chart.

ALTER TABLE campaign_progress ADD COLUMN prompted_sessions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaign_progress ADD COLUMN prompted_users INTEGER NOT NULL DEFAULT 0;

-- The facts of the session an account was first seen in, so a satisfied
-- account is counted in the row it was blocked in.
ALTER TABLE campaign_blocked_users ADD COLUMN platform TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_blocked_users ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_blocked_users ADD COLUMN source TEXT NOT NULL DEFAULT '';

-- A prompted session is one the campaign has seen, as a blocked one is.
ALTER TABLE campaign_blocked ADD COLUMN prompt INTEGER NOT NULL DEFAULT 0;

CREATE TABLE campaign_progress_rows (
	campaign_id       TEXT NOT NULL REFERENCES campaigns(id),
	platform          TEXT NOT NULL,
	version           TEXT NOT NULL,
	source            TEXT NOT NULL,
	blocked_sessions  INTEGER NOT NULL DEFAULT 0,
	blocked_users     INTEGER NOT NULL DEFAULT 0,
	prompted_sessions INTEGER NOT NULL DEFAULT 0,
	prompted_users    INTEGER NOT NULL DEFAULT 0,
	satisfied_users   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (campaign_id, platform, version, source)
) STRICT, WITHOUT ROWID;

-- Counts recorded before this migration have no facts: they stay whole in
-- the row of unknown facts.
INSERT INTO campaign_progress_rows (campaign_id, platform, version, source, blocked_sessions, blocked_users, satisfied_users)
	SELECT campaign_id, '', '', '', blocked_sessions, blocked_users, satisfied_users FROM campaign_progress;

CREATE TABLE campaign_targeted (
	campaign_id TEXT PRIMARY KEY REFERENCES campaigns(id),
	sessions    INTEGER NOT NULL,
	users       INTEGER NOT NULL,
	admitted_sessions INTEGER NOT NULL,
	admitted_users    INTEGER NOT NULL,
	exact       INTEGER NOT NULL,
	at          INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE campaign_targeted_rows (
	campaign_id TEXT NOT NULL REFERENCES campaigns(id),
	platform    TEXT NOT NULL,
	version     TEXT NOT NULL,
	source      TEXT NOT NULL,
	sessions    INTEGER NOT NULL,
	users       INTEGER NOT NULL,
	admitted_sessions INTEGER NOT NULL,
	admitted_users    INTEGER NOT NULL,
	PRIMARY KEY (campaign_id, platform, version, source)
) STRICT, WITHOUT ROWID;

CREATE TABLE campaign_samples (
	campaign_id       TEXT NOT NULL REFERENCES campaigns(id),
	at                INTEGER NOT NULL,
	targeted_sessions INTEGER NOT NULL,
	targeted_users    INTEGER NOT NULL,
	admitted_share    REAL NOT NULL,
	blocked_sessions  INTEGER NOT NULL,
	blocked_users     INTEGER NOT NULL,
	prompted_sessions INTEGER NOT NULL,
	prompted_users    INTEGER NOT NULL,
	satisfied_users   INTEGER NOT NULL,
	PRIMARY KEY (campaign_id, at)
) STRICT, WITHOUT ROWID;
