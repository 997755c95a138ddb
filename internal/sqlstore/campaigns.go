package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// errNoTrail refuses a campaign write without its trail entry: a state
// change and its audit record commit together or not at all.
var errNoTrail = cordon.Errorf(cordon.ECodeInvalid, "a campaign change needs its trail entry")

// CreateCampaign stores c as a draft (whatever c.State says, with no
// activation or end time) and its trail entry, in one transaction. Updated
// defaults to Created. A taken id: ErrAlreadyExists.
func (s *Store) CreateCampaign(ctx context.Context, c *cordon.Campaign, t *cordon.TrailEntry) error {
	if t == nil {
		return errNoTrail
	}
	doc, users, err := stored.EncodeCampaign(c)
	if err != nil {
		return err
	}
	updated := c.Updated
	if updated.IsZero() {
		updated = c.Created
	}
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO campaigns (id, kind, name, document, user_ids, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			c.ID, c.Kind, c.Name, string(doc), string(users), string(cordon.StateDraft), stored.Micros(c.Created), stored.Micros(updated))
		if err != nil {
			return err
		}
		return appendTrail(ctx, tx, c.ID, t)
	})
}

const campaignCols = `id, document, user_ids, state, created_at, updated_at, activated_at, ended_at`

func scanCampaign(row Row) (*cordon.Campaign, error) {
	var r stored.CampaignRow
	if err := row.Scan(&r.ID, &r.Document, &r.UserIDs, &r.State, &r.Created, &r.Updated, &r.Activated, &r.Ended); err != nil {
		return nil, err
	}
	return stored.DecodeCampaign(&r)
}

// Campaign looks a campaign up by id.
func (s *Store) Campaign(ctx context.Context, id string) (*cordon.Campaign, error) {
	return scanCampaign(s.b.Reader().QueryRow(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1`, id))
}

// Campaigns lists every campaign, newest first.
func (s *Store) Campaigns(ctx context.Context) ([]*cordon.Campaign, error) {
	return queryCampaigns(ctx, s.b.Reader(), `SELECT `+campaignCols+` FROM campaigns ORDER BY created_at DESC, id`)
}

func queryCampaigns(ctx context.Context, q Querier, query string, args ...any) ([]*cordon.Campaign, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*cordon.Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// lockCampaign reads the campaign's row in a write transaction, locking it
// until the transaction ends (on SQLite the one writer already serialises
// every write): concurrent writes of one campaign run one after another,
// and the later ones see what the earlier left.
func (s *Store) lockCampaign(ctx context.Context, tx Querier, id string) (*cordon.Campaign, error) {
	return scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1`+s.d.ForUpdate, id))
}

// bumpPolicyVersion adds one to the policy version and returns it.
func bumpPolicyVersion(ctx context.Context, tx Querier) (uint64, error) {
	var version uint64
	err := tx.QueryRow(ctx, `UPDATE policy_version SET version = version + 1 WHERE id = 1 RETURNING version`).Scan(&version)
	return version, err
}

// TransitionCampaign moves a campaign from one of the states in from to
// the state to, appends the trail entry and bumps the policy version, in
// one transaction of three row writes whatever the number of sessions.
// The campaign's row is locked before its state is read, and the policy
// version's row after it, always in that order: concurrent transitions of
// one campaign run one after another, and the later ones see the state the
// earlier left. The campaign's updated time becomes t.At; so does its
// activation time the first time it becomes active (a resume keeps it),
// and its end time when it is completed or cancelled. A campaign in no
// state of from: an ECodeConflict error that names its state.
func (s *Store) TransitionCampaign(ctx context.Context, id string, from []cordon.State, to cordon.State, t *cordon.TrailEntry) (*cordon.Campaign, uint64, error) {
	if t == nil {
		return nil, 0, errNoTrail
	}
	var c *cordon.Campaign
	var version uint64
	err := s.b.Write(ctx, func(tx Querier) error {
		c = nil
		cur, err := s.lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(from, cur.State) {
			verb := t.Action
			if verb == "" {
				verb = to.Verb()
			}
			return cordon.Errorf(cordon.ECodeConflict, "campaign is %s; cannot %s", cur.State, verb)
		}
		when := stored.Time(stored.Micros(t.At))
		cur.State, cur.Updated = to, when
		if to == cordon.StateActive && cur.Activated.IsZero() {
			cur.Activated = when
		}
		if to == cordon.StateCompleted || to == cordon.StateCancelled {
			cur.Ended = when
		} else {
			cur.Ended = time.Time{}
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = $1, updated_at = $2, activated_at = $3, ended_at = $4 WHERE id = $5`,
			string(cur.State), stored.Micros(cur.Updated), stored.Micros(cur.Activated), stored.Micros(cur.Ended), id); err != nil {
			return err
		}
		if err := appendTrail(ctx, tx, id, t); err != nil {
			return err
		}
		if version, err = bumpPolicyVersion(ctx, tx); err != nil {
			return err
		}
		c = cur
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return c, version, nil
}

// SetCampaignPace replaces an auto ramp's pace (cordon.CampaignStore).
// The campaign's row is locked, so two control planes pacing at once
// serialise and the second fails the compare-and-set.
func (s *Store) SetCampaignPace(ctx context.Context, id string, prev, next *cordon.Pace) (uint64, error) {
	var version uint64
	err := s.b.Write(ctx, func(tx Querier) error {
		cur, err := s.lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := cordon.CheckPaceChange(cur, prev, next); err != nil {
			return err
		}
		r := *cur.Ramp
		r.Pace = next
		cur.Ramp = &r
		version, err = rewriteCampaign(ctx, tx, cur)
		return err
	})
	if err != nil {
		return 0, err
	}
	return version, nil
}

// AdmitEarly adds early admissions as cordon.MergeEarly allows, with the
// policy version bump, in one transaction on the campaign's row.
func (s *Store) AdmitEarly(ctx context.Context, id string, adds []cordon.EarlyAdmission) (int, uint64, error) {
	var version uint64
	var added int
	err := s.b.Write(ctx, func(tx Querier) error {
		cur, err := s.lockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		early, n, err := cordon.MergeEarly(cur, adds)
		if err != nil {
			return err
		}
		if added = n; n == 0 {
			return tx.QueryRow(ctx, `SELECT version FROM policy_version WHERE id = 1`).Scan(&version)
		}
		cur.Early = early
		version, err = rewriteCampaign(ctx, tx, cur)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return added, version, nil
}

// rewriteCampaign stores c's document in place of its row's, inside tx,
// and bumps the policy version every enforcement point follows.
func rewriteCampaign(ctx context.Context, tx Querier, c *cordon.Campaign) (uint64, error) {
	doc, _, err := stored.EncodeCampaign(c)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET document = $1 WHERE id = $2`, string(doc), c.ID); err != nil {
		return 0, err
	}
	return bumpPolicyVersion(ctx, tx)
}

// appendTrail adds t as the campaign's next trail entry. Its callers hold
// the campaign's row (inserted or locked), so no other entry of the
// campaign takes the same number meanwhile.
func appendTrail(ctx context.Context, tx Querier, campaignID string, t *cordon.TrailEntry) error {
	_, err := tx.Exec(ctx, `INSERT INTO campaign_trail (campaign_id, seq, action, actor, at, document)
		SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5 FROM campaign_trail WHERE campaign_id = $1`,
		campaignID, t.Action, t.Actor, stored.Micros(t.At), t.Document)
	return err
}

// ActiveCampaigns returns the active and paused campaigns, oldest first,
// and the policy version, from one snapshot: a transition commits its
// state and its version bump together, so the pair always matches.
func (s *Store) ActiveCampaigns(ctx context.Context) ([]*cordon.Campaign, uint64, error) {
	var cs []*cordon.Campaign
	var version uint64
	err := s.b.Snapshot(ctx, func(tx Querier) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM policy_version WHERE id = 1`).Scan(&version); err != nil {
			return err
		}
		var err error
		cs, err = queryCampaigns(ctx, tx, `SELECT `+campaignCols+` FROM campaigns WHERE state IN ($1, $2) ORDER BY created_at, id`,
			string(cordon.StateActive), string(cordon.StatePaused))
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return cs, version, nil
}

// PolicyVersion returns the current policy version; 0 before the first
// transition.
func (s *Store) PolicyVersion(ctx context.Context) (uint64, error) {
	var v uint64
	err := s.b.Reader().QueryRow(ctx, `SELECT version FROM policy_version WHERE id = 1`).Scan(&v)
	return v, err
}

// Trail returns the campaign's trail, oldest first; none for an unknown
// campaign.
func (s *Store) Trail(ctx context.Context, campaignID string) ([]*cordon.TrailEntry, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT campaign_id, action, actor, at, document FROM campaign_trail WHERE campaign_id = $1 ORDER BY seq`, campaignID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*cordon.TrailEntry
	for rows.Next() {
		var e cordon.TrailEntry
		var when int64
		if err := rows.Scan(&e.CampaignID, &e.Action, &e.Actor, &when, &e.Document); err != nil {
			return nil, err
		}
		e.At = stored.Time(when)
		out = append(out, &e)
	}
	return out, rows.Err()
}
