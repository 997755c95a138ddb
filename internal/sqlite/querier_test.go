package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE id = $1`, `SELECT a FROM t WHERE id = ?1`},
		{`UPDATE t SET a = $2 WHERE id = $1 AND b = $2`, `UPDATE t SET a = ?2 WHERE id = ?1 AND b = ?2`},
		{`SELECT '$1', "$2", $3`, `SELECT '$1', "$2", ?3`},
		{`SELECT 'it''s $1', $10`, `SELECT 'it''s $1', ?10`},
		{`SELECT $ , $x, $`, `SELECT $ , $x, $`},
		{"SELECT a -- the user's row\nFROM t WHERE id = $1", "SELECT a -- the user's row\nFROM t WHERE id = ?1"},
		{`SELECT /* don't */ a FROM t WHERE id = $1`, `SELECT /* don't */ a FROM t WHERE id = ?1`},
		{`SELECT a$1, $1`, `SELECT a$1, ?1`},
		{`SELECT $1 -- $2`, `SELECT ?1 -- $2`},
		{`SELECT '$1`, `SELECT '$1`},
		{`SELECT /* $1`, `SELECT /* $1`},
		{`SELECT /* x */$1, '-- '||$2`, `SELECT /* x */?1, '-- '||?2`},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A shared statement that names its arguments out of order, or one twice,
// binds them by number, as PostgreSQL does.
func TestQuerierBindsByNumber(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := backend{db}.Reader()
	var a, b, c string
	if err := q.QueryRow(ctx, `SELECT $2, $1, $2`, "one", "two").Scan(&a, &b, &c); err != nil {
		t.Fatal(err)
	}
	if a != "two" || b != "one" || c != "two" {
		t.Errorf("SELECT $2, $1, $2 of (one, two) = %q %q %q", a, b, c)
	}
	if err := q.QueryRow(ctx, `SELECT id FROM accounts WHERE id = $1`, "nobody").Scan(&a); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("no row: %v, want ErrNotFound", err)
	}
}

func FuzzRebind(f *testing.F) {
	f.Add(`SELECT $1, '$2' FROM t WHERE a = $3`)
	f.Add(`'unterminated $1`)
	f.Fuzz(func(t *testing.T, q string) {
		out := rebind(q)
		if len(out) != len(q) {
			t.Fatalf("rebind changed the length: %q → %q", q, out)
		}
		for i := range q {
			if q[i] != out[i] && (q[i] != '$' || out[i] != '?') {
				t.Fatalf("rebind changed byte %d of %q: %q", i, q, out)
			}
		}
	})
}
