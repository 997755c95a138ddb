-- Times are INTEGER microseconds since the Unix epoch, 0 meaning "never".
CREATE TABLE accounts (
	id                  TEXT PRIMARY KEY,
	username            TEXT NOT NULL,
	username_key        TEXT NOT NULL UNIQUE,
	password_hash       TEXT NOT NULL,
	password_changed_at INTEGER NOT NULL,
	created_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts(id),
	platform      TEXT NOT NULL,
	version       TEXT NOT NULL,
	source        TEXT NOT NULL,
	device        TEXT NOT NULL,
	auth_time     INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	last_seen_at  INTEGER NOT NULL,
	revoked_at    INTEGER NOT NULL DEFAULT 0,
	revoke_reason TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_account ON sessions(account_id, created_at);

CREATE TABLE refresh_tokens (
	hash                BLOB PRIMARY KEY,
	session_id          TEXT NOT NULL REFERENCES sessions(id),
	created_at          INTEGER NOT NULL,
	idle_expires_at     INTEGER NOT NULL,
	absolute_expires_at INTEGER NOT NULL,
	used_at             INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE signing_keys (
	id          TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	private_key BLOB NOT NULL,
	created_at  INTEGER NOT NULL,
	retired_at  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE admin_tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	scopes     TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
