package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
)

// Schema is the schema Open makes today, every table's and index's SQL
// by name, read from a scratch file it makes in dir. Benchmarks name the
// large stores they cache by a digest of it, so a file built under
// another schema is not taken for today's.
func Schema(ctx context.Context, dir string) (string, error) {
	path := filepath.Join(dir, "schema-digest.db")
	defer os.Remove(path)
	db, err := Open(ctx, path)
	if err != nil {
		return "", err
	}
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return "", err
	}
	defer raw.Close()
	var schema string
	if err := raw.QueryRowContext(ctx, `SELECT group_concat(name || ':' || sql, ';') FROM
		(SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name)`).Scan(&schema); err != nil {
		return "", err
	}
	return schema, nil
}
