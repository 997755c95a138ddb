-- Enforcement points fetch the revocations still in force at (re)connect.
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at != 0;
