-- What each node measured of its part of the login tier over its last pace
-- interval, one row per node (a node's id is new at each start), so every
-- node's pacer sums the nodes that still report. A handful of rows: no
-- index beyond the key; the pacers prune rows a day old.
CREATE TABLE tier_samples (
	node      TEXT PRIMARY KEY,
	at        INTEGER NOT NULL,
	capacity  REAL NOT NULL,
	logins    REAL NOT NULL,
	paced     REAL NOT NULL,
	shed      REAL NOT NULL,
	queued    INTEGER NOT NULL
) STRICT;
