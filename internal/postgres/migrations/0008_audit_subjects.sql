-- The account each entry's subject resolved to at ingest (signed in the
-- leaf as "account"): NULL for entries logged before subjects were
-- resolved, '' for a subject that named no account (kept and reported as
-- unresolved, never counted as a user).
ALTER TABLE audit_entries ADD COLUMN account TEXT;
-- By subject: who touched this account (or this unresolved subject).
CREATE INDEX audit_entries_account_at ON audit_entries (account, at);
CREATE INDEX audit_entries_subject_at ON audit_entries (subject, at);
-- By category and the principals list: the entries of a window.
CREATE INDEX audit_entries_at ON audit_entries (at);
