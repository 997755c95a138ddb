package sqlite

import "context"

// AccountBlocked reports whether the campaign has denied the account at
// least once: one primary-key read on a reader.
func (db *DB) AccountBlocked(ctx context.Context, campaignID, accountID string) (bool, error) {
	return db.exists(ctx, `SELECT 1 FROM campaign_blocked_users WHERE campaign_id = ? AND account_id = ?`, campaignID, accountID)
}
