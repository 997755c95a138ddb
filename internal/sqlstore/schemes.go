package sqlstore

import (
	"context"

	"github.com/cordon-dev/cordon/internal/stored"
)

// PasswordSchemes counts accounts per password hash scheme (see
// stored.PasswordSchemeSQL). It reads every account row: call it at start,
// not per request.
func (s *Store) PasswordSchemes(ctx context.Context) (map[string]int, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT `+stored.PasswordSchemeSQL+` AS scheme, count(*) FROM accounts GROUP BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int)
	for rows.Next() {
		var scheme string
		var n int
		if err := rows.Scan(&scheme, &n); err != nil {
			return nil, err
		}
		out[scheme] = n
	}
	return out, rows.Err()
}
