package stored

// phcBase64 is the alphabet of the salt and key fields of a PHC string
// and, less '+', of a bcrypt hash.
const phcBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// PasswordSchemeSQL is an SQL expression, in SQLite and PostgreSQL alike,
// for the part of accounts.password_hash that fixes its cost, salt and key
// cut off: "$2b$12$" for bcrypt, "$argon2id$v=19$m=19456,t=2,p=1$" for
// argon2id (password.Scheme computes the same in Go). Counting accounts
// per scheme is one GROUP BY, and no hash leaves the database.
const PasswordSchemeSQL = `CASE WHEN substr(password_hash, 1, 2) = '$2' THEN substr(password_hash, 1, 7) ` +
	`ELSE rtrim(rtrim(rtrim(password_hash, '` + phcBase64 + `'), '$'), '` + phcBase64 + `') END`
