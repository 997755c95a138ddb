-- A deployment's identity: settings made once at its first start
-- (deployment id, issuer), read by every later start.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
