-- In-app notices: what cordon tells a cohort's users (issue 15). The
-- cohort, texts and resolved users are one JSON document, fixed at
-- creation; the state moves draft -> published -> withdrawn.
CREATE TABLE notices (
	id           TEXT PRIMARY KEY,
	incident     TEXT NOT NULL,
	campaign     TEXT NOT NULL,
	state        TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	created_by   TEXT NOT NULL,
	updated_at   BIGINT NOT NULL,
	published_at BIGINT NOT NULL,
	withdrawn_at BIGINT NOT NULL,
	doc          TEXT NOT NULL
);
CREATE INDEX notices_state ON notices (state, published_at);

-- Who was served a notice and who acknowledged it, once per session.
CREATE TABLE notice_deliveries (
	notice       TEXT NOT NULL REFERENCES notices (id),
	session      TEXT NOT NULL,
	account      TEXT NOT NULL,
	delivered_at BIGINT NOT NULL,
	acked_at     BIGINT NOT NULL, -- 0 until acknowledged
	PRIMARY KEY (notice, session)
);
CREATE INDEX notice_deliveries_session ON notice_deliveries (session);

-- The accounts a notice reached, once each, so users are counted as they
-- come rather than by scanning deliveries.
CREATE TABLE notice_accounts (
	notice  TEXT NOT NULL REFERENCES notices (id),
	account TEXT NOT NULL,
	acked   BIGINT NOT NULL, -- 1 once a session of the account acknowledged
	PRIMARY KEY (notice, account)
);

-- A notice's progress, counted incrementally: one row per notice.
CREATE TABLE notice_counts (
	notice             TEXT PRIMARY KEY REFERENCES notices (id),
	delivered_sessions BIGINT NOT NULL,
	delivered_users    BIGINT NOT NULL,
	acked_sessions     BIGINT NOT NULL,
	acked_users        BIGINT NOT NULL
);

-- Public pages: an incident's page exists from its first published update.
CREATE TABLE public_pages (
	incident TEXT PRIMARY KEY,
	slug     TEXT NOT NULL UNIQUE
);

CREATE TABLE public_updates (
	id               TEXT PRIMARY KEY,
	incident         TEXT NOT NULL REFERENCES public_pages (incident),
	published_at     BIGINT NOT NULL,
	published_by     TEXT NOT NULL,
	default_language TEXT NOT NULL,
	texts            TEXT NOT NULL
);
CREATE INDEX public_updates_incident ON public_updates (incident, published_at);
