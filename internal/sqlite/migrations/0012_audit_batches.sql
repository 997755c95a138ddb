-- Ingested batches remembered by their idempotency key for a while, so a
-- reporter's retry after a lost answer appends nothing twice.
CREATE TABLE audit_batches (
    key      TEXT PRIMARY KEY,
    digest   BLOB NOT NULL,
    first    INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    size     INTEGER NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_batches_at ON audit_batches (at);
