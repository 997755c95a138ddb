-- OpenID Shared Signals: receivers' streams and the durable outbox of the
-- security event tokens each is owed. Delivered rows stay (settled_at) until
-- pruned, so a jti is never enqueued, and so never delivered, twice.
CREATE TABLE ssf_streams (
    id            TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    audience      TEXT NOT NULL,
    delivery      TEXT NOT NULL,
    endpoint_url  TEXT NOT NULL,
    auth_header   TEXT NOT NULL,
    events        TEXT NOT NULL,
    description   TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    dropped       BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    last_error_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ssf_streams_owner ON ssf_streams (owner, created_at);

CREATE TABLE ssf_outbox (
    stream_id    TEXT NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
    jti          TEXT NOT NULL,
    set_jwt      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL DEFAULT 0,
    settled_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, jti)
);
CREATE INDEX ssf_outbox_pending ON ssf_outbox (stream_id, settled_at, created_at, jti);
CREATE INDEX ssf_outbox_settled ON ssf_outbox (settled_at) WHERE settled_at != 0;
