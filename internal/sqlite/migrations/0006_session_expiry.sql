-- When a session's refresh family can no longer be used (0: unknown), so
-- expired sessions can be swept out of the live set and its aggregates.
ALTER TABLE sessions ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET expires_at = coalesce((
	SELECT max(min(idle_expires_at, absolute_expires_at)) FROM refresh_tokens
	WHERE refresh_tokens.session_id = sessions.id AND used_at = 0), 0);
CREATE INDEX sessions_expiry ON sessions(expires_at) WHERE revoked_at = 0;
