package sqlite

import (
	"context"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// The incidents themselves are sqlstore's (internal/sqlstore/incident.go).
// AuditEntriesAbout, the incident timeline's read of the audit log, stays
// with this backend's audit queries (queryAudit, auditCols) for now.

// AuditEntriesAbout reads through the partial index of cordon's own
// subjects; the query repeats the index's condition so SQLite uses it.
func (db *DB) AuditEntriesAbout(ctx context.Context, subjects []string, fn func(*cordon.AuditEntry) error) error {
	if err := stored.CheckAboutSubjects(subjects); err != nil {
		return err
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(subjects)), ", ")
	q := `SELECT ` + auditCols + ` FROM audit_entries WHERE subject IN (` + marks + `) AND subject LIKE 'cordon:%' AND idx >= ? ORDER BY idx LIMIT ?`
	next := int64(0)
	for {
		args := make([]any, 0, len(subjects)+2)
		for _, s := range subjects {
			args = append(args, s)
		}
		args = append(args, next, stored.AuditBatch)
		batch, err := db.queryAudit(ctx, q, args...)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < stored.AuditBatch {
			return nil
		}
		next = int64(batch[len(batch)-1].Index) + 1
	}
}
