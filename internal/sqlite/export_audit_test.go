package sqlite

// SetAuditGoGroups lowers how many users AuditQuery by subject groups in
// memory before it hands the query to SQL, so a test can take both ways.
func SetAuditGoGroups(db *DB, n int) { db.auditGoGroups = n }

// AuditSQLFallbacks is how many by-subject queries outgrew the groups
// held and went to SQL.
func AuditSQLFallbacks(db *DB) int64 { return db.auditSQLFallbacks.Load() }
