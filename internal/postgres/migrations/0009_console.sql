-- The web console's people and their sessions. Passwords are argon2id
-- hashes; sessions are kept by the hash of the cookie's secret.
CREATE TABLE console_admins (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	totp_secret   TEXT NOT NULL,
	totp_step     BIGINT NOT NULL DEFAULT 0,
	created_at    BIGINT NOT NULL
);

CREATE TABLE console_sessions (
	hash       BYTEA PRIMARY KEY,
	admin_id   TEXT NOT NULL REFERENCES console_admins (id),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
