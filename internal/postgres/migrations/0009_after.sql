-- Campaigns that wait for each other (issue 15): the part of a cohort a
-- campaign with a prerequisite (after:) still waits for, counted with the
-- rest of the cohort, so progress shows it as waiting, not dormant.
ALTER TABLE campaign_targeted ADD COLUMN waiting_sessions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaign_targeted ADD COLUMN waiting_users BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaign_targeted_rows ADD COLUMN waiting_sessions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaign_targeted_rows ADD COLUMN waiting_users BIGINT NOT NULL DEFAULT 0;
