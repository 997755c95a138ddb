package sqlstore

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// PutTierSample stores a node's sample in place of its previous one
// (cordon.CampaignStore). The upsert's WHERE keeps a later sample: a
// write that arrives late never replaces a newer one — unless the stored
// one is over stored.TierClockStep after the new, which a node's clock
// stepped back (NTP) leaves: kept, it would never be replaced, and the
// node's shedding would never reach its peers.
func (s *Store) PutTierSample(ctx context.Context, ts *cordon.TierSample, prune time.Time) error {
	if err := stored.CheckTierSample(ts); err != nil {
		return err
	}
	return s.b.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `DELETE FROM tier_samples WHERE at < $1`, stored.Micros(prune)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO tier_samples (node, at, capacity, logins, paced, shed, queued)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (node) DO UPDATE SET at = excluded.at, capacity = excluded.capacity, logins = excluded.logins,
				paced = excluded.paced, shed = excluded.shed, queued = excluded.queued
			WHERE tier_samples.at <= excluded.at OR tier_samples.at > excluded.at + $8`,
			ts.Node, stored.Micros(ts.At), ts.Capacity, ts.Logins, ts.Paced, ts.Shed, int64(ts.Queued), stored.TierClockStep.Microseconds())
		return err
	})
}

// TierSamples returns the samples measured at or after since, by node
// (cordon.CampaignStore).
func (s *Store) TierSamples(ctx context.Context, since time.Time) ([]cordon.TierSample, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT node, at, capacity, logins, paced, shed, queued
		FROM tier_samples WHERE at >= $1 ORDER BY node`, stored.Micros(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cordon.TierSample
	for rows.Next() {
		var (
			ts         cordon.TierSample
			at, queued int64
		)
		if err := rows.Scan(&ts.Node, &at, &ts.Capacity, &ts.Logins, &ts.Paced, &ts.Shed, &queued); err != nil {
			return nil, err
		}
		ts.At, ts.Queued = stored.Time(at), int(queued)
		out = append(out, ts)
	}
	return out, rows.Err()
}
