package postgres

import (
	"context"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// The incidents themselves are sqlstore's (internal/sqlstore/incident.go).
// AuditEntriesAbout, the incident timeline's read of the audit log, stays
// with this backend's audit queries (queryAudit, auditCols) for now.

// AuditEntriesAbout reads through the partial index of cordon's own
// subjects; the query repeats the index's condition so the planner may
// use it.
func (db *DB) AuditEntriesAbout(ctx context.Context, subjects []string, fn func(*cordon.AuditEntry) error) error {
	if err := stored.CheckAboutSubjects(subjects); err != nil {
		return err
	}
	next := int64(0)
	for {
		batch, err := db.queryAudit(ctx, `SELECT `+auditCols+` FROM audit_entries WHERE subject = ANY($1) AND subject LIKE 'cordon:%' AND idx >= $2 ORDER BY idx LIMIT $3`,
			subjects, next, stored.AuditBatch)
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
