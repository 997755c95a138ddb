package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// LockAccount and DeleteAccount stay with each backend for now: they
// revoke the account's sessions and take each out of its fleet bucket,
// and the bucket moves are still each backend's own (fleet.go).

// UnlockAccount clears an account's lock.
func (s *Store) UnlockAccount(ctx context.Context, id string) error {
	return s.b.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `UPDATE accounts SET locked_at = 0 WHERE id = $1 AND deleted_at = 0`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

// ListAccounts returns one page of accounts in (created_at, id) order.
func (s *Store) ListAccounts(ctx context.Context, q cordon.AccountQuery) ([]*cordon.Account, error) {
	where := []string{`deleted_at = 0`}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if !q.After.CreatedAt.IsZero() || q.After.ID != "" {
		c, id := arg(stored.Micros(q.After.CreatedAt)), arg(q.After.ID)
		where = append(where, `(created_at > `+c+` OR (created_at = `+c+` AND id > `+id+`))`)
	}
	if q.Prefix != "" {
		p := arg(cordon.UsernameKey(q.Prefix))
		where = append(where, `substr(username_key, 1, length(`+p+`)) = `+p)
	}
	switch q.Locked {
	case cordon.LockedOnly:
		where = append(where, `locked_at != 0`)
	case cordon.UnlockedOnly:
		where = append(where, `locked_at = 0`)
	case cordon.AnyLock:
	}
	rows, err := s.b.Reader().Query(ctx, `SELECT `+accountCols+` FROM accounts WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY created_at, id LIMIT `+arg(max(q.Limit, 1)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*cordon.Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
