package sqlstore

import "context"

// Initialise (cordon.MetaStore) stays with each backend: SQLite holds a
// mutex of its DB (cordon serve's lock on the file keeps other processes
// out), PostgreSQL a session-level advisory lock on a connection of its
// own.

// Meta returns the value under key, or cordon.ErrNotFound.
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.b.Reader().QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	return v, err
}

// PutMeta stores value under key unless one is there; it returns the
// value stored.
func (s *Store) PutMeta(ctx context.Context, key, value string) (string, error) {
	var got string
	err := s.b.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&got)
	})
	return got, err
}

// SetMeta stores value under key, replacing any value.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}

// RaisePolicyVersion moves the policy version to v+1 unless it is past v.
// The version is a signed 64-bit column on both backends, so it binds and
// scans as an int64.
func (s *Store) RaisePolicyVersion(ctx context.Context, v uint64) (uint64, error) {
	var got int64
	err := s.b.Write(ctx, func(tx Querier) error {
		return tx.QueryRow(ctx, `UPDATE policy_version SET version = CASE WHEN version > $1 THEN version ELSE $1 + 1 END WHERE id = 1 RETURNING version`, int64(v)).Scan(&got)
	})
	return uint64(got), err
}
