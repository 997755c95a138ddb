-- Admin tokens can expire, be revoked and be rotated; accounts can be
-- locked and deleted (a deleted account stays as a row so its username
-- stays taken).
ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE admin_tokens ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE admin_tokens ADD COLUMN replaced_by TEXT NOT NULL DEFAULT '';

-- A token's name is its audit principal, so it must name one lineage. Two
-- tokens that already share a name keep working: the oldest keeps the
-- name, each later one is renamed NAME~ID, which the listing shows.
UPDATE admin_tokens SET name = name || '~' || id
WHERE EXISTS (SELECT 1 FROM admin_tokens o WHERE o.name = admin_tokens.name
              AND (o.created_at < admin_tokens.created_at OR (o.created_at = admin_tokens.created_at AND o.id < admin_tokens.id)));
-- A rotation's successor takes the name over from the token it replaced.
CREATE UNIQUE INDEX admin_tokens_name ON admin_tokens(name) WHERE replaced_by = '';

ALTER TABLE accounts ADD COLUMN locked_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX accounts_created ON accounts(created_at, id);
