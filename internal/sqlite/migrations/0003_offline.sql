CREATE TABLE offline_grants (
	hash       BLOB PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	session_id TEXT NOT NULL REFERENCES sessions(id),
	platform   TEXT NOT NULL,
	version    TEXT NOT NULL,
	source     TEXT NOT NULL,
	device     TEXT NOT NULL,
	auth_time  INTEGER NOT NULL,
	issued_at  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX offline_grants_session ON offline_grants(session_id);
