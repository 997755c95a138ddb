-- Offline grants and password-reset permissions: secrets kept as hashes.
CREATE TABLE offline_grants (
	hash       BYTEA PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	session_id TEXT NOT NULL REFERENCES sessions (id),
	platform   TEXT NOT NULL,
	version    TEXT NOT NULL,
	source     TEXT NOT NULL,
	device     TEXT NOT NULL,
	auth_time  BIGINT NOT NULL,
	issued_at  BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX offline_grants_session ON offline_grants (session_id);

-- campaign_id names the campaign that asked for the reset; it is not a
-- foreign key, as in the SQLite backend.
CREATE TABLE password_resets (
	hash        BYTEA PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	campaign_id TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL,
	used_at     BIGINT NOT NULL DEFAULT 0
);
