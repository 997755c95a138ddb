package sqlstore

import "context"

// AccountBlocked reports whether the campaign has denied the account at
// least once: one primary-key read on a reader.
func (s *Store) AccountBlocked(ctx context.Context, campaignID, accountID string) (bool, error) {
	var blocked bool
	err := s.b.Reader().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign_blocked_users WHERE campaign_id = $1 AND account_id = $2)`, campaignID, accountID).Scan(&blocked)
	return blocked, err
}
