package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/sqlite"
)

func TestZZProbe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cordon.db")
	db, _ := sqlite.Open(context.Background(), path)
	db.Close()
	raw, _ := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-200000)")
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	n := 200000
	now := fixedNow().UnixMicro()
	tx, _ := raw.Begin()
	s := time.Now()
	if _, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) SELECT count(*) FROM n`, n); err != nil { t.Fatal(err) }
	t.Log("cte", time.Since(s)); s = time.Now()
	_, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at)
		SELECT printf('u-%09d', i), printf('user%09d', i), printf('user%09d', i), '$argon2id$x', ?, ? FROM n`, n/4, now, now)
	t.Log("accounts", time.Since(s), err); s = time.Now()
	_, err = tx.Exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		INSERT INTO sessions (id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at)
		SELECT printf('s-%09d', i), printf('u-%09d', i / 4),
		       CASE i % 3 WHEN 0 THEN 'android' WHEN 1 THEN 'ios' ELSE 'desktop' END,
		       printf('8.%d.0', i % 5),
		       CASE i % 3 WHEN 0 THEN 'play' WHEN 1 THEN 'appstore' ELSE 'official' END,
		       printf('d-%d', i), ? - (i % 30) * 86400000000, ?, ? FROM n`, n, now, now, now)
	t.Log("sessions", time.Since(s), err); s = time.Now()
	_, err = tx.Exec(bucketSQL)
	t.Log("buckets", time.Since(s), err); s = time.Now()
	tx.Commit()
	t.Log("commit", time.Since(s))
}
