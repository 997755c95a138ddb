package postgres

import "context"

// AccountBlocked reports whether the campaign has denied the account at
// least once: one primary-key read.
func (db *DB) AccountBlocked(ctx context.Context, campaignID, accountID string) (bool, error) {
	var blocked bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign_blocked_users WHERE campaign_id = $1 AND account_id = $2)`, campaignID, accountID).Scan(&blocked)
	if err != nil {
		return false, mapErr(err)
	}
	return blocked, nil
}
