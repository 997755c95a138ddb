-- The Shared Signals transmitter reads recent password changes
-- (PasswordsChangedSince) every second: an index, not a scan of accounts.
CREATE INDEX accounts_password_changed ON accounts (password_changed_at, id);
