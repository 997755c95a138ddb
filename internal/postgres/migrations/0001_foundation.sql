-- Times are BIGINT microseconds since the Unix epoch, 0 meaning "never",
-- exactly as the SQLite backend keeps them: sortable, zone-free, and the
-- same on PostgreSQL and CockroachDB. Text columns keep the database's
-- collation: ids only break ties in orderings, and a COLLATE clause would
-- not port to CockroachDB.
CREATE TABLE accounts (
	id                  TEXT PRIMARY KEY,
	username            TEXT NOT NULL,
	-- cordon.UsernameKey(username): unique, and the form looked up.
	username_key        TEXT NOT NULL UNIQUE,
	password_hash       TEXT NOT NULL,
	password_changed_at BIGINT NOT NULL,
	created_at          BIGINT NOT NULL
);

-- expires_at is when the session's refresh family can no longer be used
-- (0: unknown), so expired sessions can be swept out of the live set.
CREATE TABLE sessions (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts (id),
	platform      TEXT NOT NULL,
	version       TEXT NOT NULL,
	source        TEXT NOT NULL,
	device        TEXT NOT NULL,
	auth_time     BIGINT NOT NULL,
	created_at    BIGINT NOT NULL,
	last_seen_at  BIGINT NOT NULL,
	revoked_at    BIGINT NOT NULL DEFAULT 0,
	revoke_reason TEXT NOT NULL DEFAULT '',
	expires_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_account ON sessions (account_id, created_at);
-- Enforcement points fetch the revocations still in force at (re)connect.
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at != 0;
-- The sweep of expired sessions reads the live ones by expiry.
CREATE INDEX sessions_expiry ON sessions (expires_at) WHERE revoked_at = 0;

CREATE TABLE refresh_tokens (
	hash                BYTEA PRIMARY KEY,
	session_id          TEXT NOT NULL REFERENCES sessions (id),
	created_at          BIGINT NOT NULL,
	idle_expires_at     BIGINT NOT NULL,
	absolute_expires_at BIGINT NOT NULL,
	used_at             BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
	id          TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	private_key BYTEA NOT NULL,
	created_at  BIGINT NOT NULL,
	retired_at  BIGINT NOT NULL DEFAULT 0
);

-- scopes are space-separated, as the SQLite backend keeps them.
CREATE TABLE admin_tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	hash       BYTEA NOT NULL UNIQUE,
	scopes     TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
