-- Incidents: the record of a breach being handled. Their history is not
-- kept here but read from the audit log (subject cordon:incident/ID).
CREATE TABLE incidents (
	id         TEXT PRIMARY KEY,
	title      TEXT NOT NULL,
	severity   TEXT NOT NULL,
	state      TEXT NOT NULL,
	aware_at   INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	version    INTEGER NOT NULL
) STRICT;
CREATE INDEX incidents_created ON incidents (created_at);

CREATE TABLE incident_links (
	incident  TEXT NOT NULL REFERENCES incidents (id),
	kind      TEXT NOT NULL,
	object    TEXT NOT NULL,
	linked_at INTEGER NOT NULL,
	linked_by TEXT NOT NULL,
	PRIMARY KEY (incident, kind, object)
) STRICT;

-- A timeline reads the entries about cordon's own objects (incidents,
-- campaigns): a partial index, so reporters' entries (the hot path) add
-- nothing to it.
CREATE INDEX audit_entries_object ON audit_entries (subject, idx) WHERE subject LIKE 'cordon:%';
