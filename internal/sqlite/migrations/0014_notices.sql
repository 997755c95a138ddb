-- In-app notices: what cordon tells a cohort's users (issue 15). The
-- cohort, texts and resolved users are one JSON document, fixed at
-- creation; the state moves draft -> published -> withdrawn.
CREATE TABLE notices (
	id           TEXT PRIMARY KEY,
	incident     TEXT NOT NULL,
	campaign     TEXT NOT NULL,
	state        TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	created_by   TEXT NOT NULL,
	updated_at   INTEGER NOT NULL,
	published_at INTEGER NOT NULL,
	withdrawn_at INTEGER NOT NULL,
	doc          TEXT NOT NULL
) STRICT;
CREATE INDEX notices_state ON notices (state, published_at);

-- Who was served a notice and who acknowledged it, once per session.
CREATE TABLE notice_deliveries (
	notice       TEXT NOT NULL REFERENCES notices (id),
	session      TEXT NOT NULL,
	account      TEXT NOT NULL,
	delivered_at INTEGER NOT NULL,
	acked_at     INTEGER NOT NULL, -- 0 until acknowledged
	PRIMARY KEY (notice, session)
) STRICT;
CREATE INDEX notice_deliveries_session ON notice_deliveries (session) WHERE acked_at > 0;

-- The accounts a notice reached, once each, so users are counted as they
-- come rather than by scanning deliveries.
CREATE TABLE notice_accounts (
	notice  TEXT NOT NULL REFERENCES notices (id),
	account TEXT NOT NULL,
	acked   INTEGER NOT NULL, -- 1 once a session of the account acknowledged
	PRIMARY KEY (notice, account)
) STRICT;

-- A notice's progress, counted incrementally: one row per notice.
CREATE TABLE notice_counts (
	notice             TEXT PRIMARY KEY REFERENCES notices (id),
	delivered_sessions INTEGER NOT NULL,
	delivered_users    INTEGER NOT NULL,
	acked_sessions     INTEGER NOT NULL,
	acked_users        INTEGER NOT NULL
) STRICT;

-- Public pages: an incident's page exists from its first published update.
CREATE TABLE public_pages (
	incident TEXT PRIMARY KEY,
	slug     TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE public_updates (
	id               TEXT PRIMARY KEY,
	incident         TEXT NOT NULL REFERENCES public_pages (incident),
	published_at     INTEGER NOT NULL,
	published_by     TEXT NOT NULL,
	default_language TEXT NOT NULL,
	texts            TEXT NOT NULL
) STRICT;
CREATE INDEX public_updates_incident ON public_updates (incident, published_at);
