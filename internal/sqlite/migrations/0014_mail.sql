-- Accounts gain an email address (cordon.NormalizeEmail form, '' for
-- none), unique among live accounts: it receives reset links, so it must
-- name one account. DeleteAccount clears it.
ALTER TABLE accounts ADD COLUMN email TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX accounts_email ON accounts (email) WHERE email != '';

-- The durable outbox: one row per idempotency key, ever. A worker claims
-- due rows under a lease; sent and failed rows stay as the record of
-- what was done (Counts by key prefix).
CREATE TABLE mail_outbox (
	key         TEXT PRIMARY KEY,
	recipient   TEXT NOT NULL,
	subject     TEXT NOT NULL,
	body        TEXT NOT NULL,
	language    TEXT NOT NULL,
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	owner       TEXT NOT NULL,
	lease_until INTEGER NOT NULL,
	sent_at     INTEGER NOT NULL,
	reason      TEXT NOT NULL
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox (next_at) WHERE state = 'queued';
CREATE INDEX mail_outbox_leased ON mail_outbox (lease_until) WHERE state = 'sending';
