-- The planner took sessions_expiry (WHERE revoked_at = 0) for every query
-- on live sessions, reading them in expiry order all over the table: up to
-- 24x slower than a scan. Narrowed, it serves only the expiry sweep.
DROP INDEX sessions_expiry;
CREATE INDEX sessions_expiry ON sessions(expires_at) WHERE revoked_at = 0 AND expires_at != 0;
