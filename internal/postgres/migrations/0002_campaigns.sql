-- Campaigns, their admin trail and the policy version; the fleet aggregates
-- that make previews instant; the counters that make progress O(1).

-- document is the JSON of the whole cordon.Campaign as created. The
-- lifecycle columns (state and the times after it) are the truth: a
-- transition writes them, never the document, so it costs one row.
CREATE TABLE campaigns (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	name         TEXT NOT NULL,
	document     TEXT NOT NULL,
	user_ids     TEXT NOT NULL, -- JSON array of account ids
	state        TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL,
	activated_at BIGINT NOT NULL DEFAULT 0,
	ended_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX campaigns_created ON campaigns (created_at);
CREATE INDEX campaigns_state ON campaigns (state);

CREATE TABLE campaign_trail (
	campaign_id TEXT NOT NULL REFERENCES campaigns (id),
	seq         BIGINT NOT NULL,
	action      TEXT NOT NULL,
	actor       TEXT NOT NULL,
	at          BIGINT NOT NULL,
	document    BYTEA,
	PRIMARY KEY (campaign_id, seq)
);

-- One row: the version of the policy that the active and paused campaigns
-- make up. Every transition bumps it in its own transaction.
CREATE TABLE policy_version (
	id      INT PRIMARY KEY CHECK (id = 1),
	version BIGINT NOT NULL
);
INSERT INTO policy_version (id, version) VALUES (1, 0);

-- Live sessions counted by client facts and UTC day of auth_time (midnight,
-- in microseconds). users counts the accounts with a row in account_buckets
-- for the same key. Rows that reach zero are deleted.
CREATE TABLE session_buckets (
	platform TEXT NOT NULL,
	version  TEXT NOT NULL,
	source   TEXT NOT NULL,
	auth_day BIGINT NOT NULL,
	sessions BIGINT NOT NULL,
	users    BIGINT NOT NULL,
	PRIMARY KEY (platform, version, source, auth_day)
);

CREATE TABLE account_buckets (
	account_id TEXT NOT NULL,
	platform   TEXT NOT NULL,
	version    TEXT NOT NULL,
	source     TEXT NOT NULL,
	auth_day   BIGINT NOT NULL,
	sessions   BIGINT NOT NULL,
	PRIMARY KEY (account_id, platform, version, source, auth_day)
);

CREATE TABLE campaign_blocked (
	campaign_id TEXT NOT NULL REFERENCES campaigns (id),
	session_id  TEXT NOT NULL,
	account_id  TEXT NOT NULL,
	at          BIGINT NOT NULL,
	PRIMARY KEY (campaign_id, session_id)
);

CREATE TABLE campaign_blocked_users (
	campaign_id TEXT NOT NULL REFERENCES campaigns (id),
	account_id  TEXT NOT NULL,
	PRIMARY KEY (campaign_id, account_id)
);

CREATE TABLE campaign_satisfied (
	campaign_id TEXT NOT NULL REFERENCES campaigns (id),
	account_id  TEXT NOT NULL,
	at          BIGINT NOT NULL,
	PRIMARY KEY (campaign_id, account_id)
);

-- The counters of progress, moved in the transaction that inserts the row
-- they count, so reading progress is one row, never a count(*).
CREATE TABLE campaign_progress (
	campaign_id      TEXT PRIMARY KEY REFERENCES campaigns (id),
	blocked_sessions BIGINT NOT NULL DEFAULT 0,
	blocked_users    BIGINT NOT NULL DEFAULT 0,
	satisfied_users  BIGINT NOT NULL DEFAULT 0
);
