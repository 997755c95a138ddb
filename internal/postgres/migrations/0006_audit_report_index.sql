-- A covering index for blast-radius reports (index-only scans): a report
-- reads subject and categories for every entry of its principals in the
-- window, and with (principal, at) alone each one was a heap fetch.
CREATE INDEX audit_entries_report ON audit_entries (principal, at) INCLUDE (subject, categories);
DROP INDEX audit_entries_principal_at;
