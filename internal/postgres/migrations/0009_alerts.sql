-- Alerts: attacks and anomalies detection saw. One attack is one alert:
-- while an alert of a kind and key is open, raising it again updates it
-- (the partial unique index is the dedup).
CREATE TABLE alerts (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	key         TEXT NOT NULL,
	summary     TEXT NOT NULL,
	state       TEXT NOT NULL,
	evidence    TEXT NOT NULL,
	report      TEXT NOT NULL,
	incident    TEXT NOT NULL,
	campaign    TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL,
	seen        BIGINT NOT NULL,
	acked_at    BIGINT,
	acked_by    TEXT NOT NULL,
	version     BIGINT NOT NULL
);
CREATE UNIQUE INDEX alerts_open ON alerts (kind, key) WHERE state = 'open';
CREATE INDEX alerts_created ON alerts (created_at);
