CREATE TABLE password_resets (
	hash        BLOB PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts(id),
	campaign_id TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
