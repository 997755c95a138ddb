package sqlite

import "context"

import "github.com/cordon-dev/cordon/internal/stored"

// PasswordSchemes counts accounts per password hash scheme (see
// stored.PasswordSchemeSQL). It reads every account row: call it at start,
// not per request.
func (db *DB) PasswordSchemes(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+stored.PasswordSchemeSQL+` AS scheme, count(*) FROM accounts GROUP BY scheme`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int)
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
