-- Ingested batches remembered by their idempotency key for a while, so a
-- reporter's retry after a lost answer appends nothing twice.
CREATE TABLE audit_batches (
    key      TEXT PRIMARY KEY,
    digest   BYTEA NOT NULL,
    first    BIGINT NOT NULL,
    count    INTEGER NOT NULL,
    size     BIGINT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX audit_batches_at ON audit_batches (at);
