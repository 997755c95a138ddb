package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cordon-dev/cordon/internal/stored"
)

// unavailable maps the errors that mean PostgreSQL cannot take the
// request — disk full (53100), out of memory (53200), other insufficient
// resources (class 53), the server shutting down or starting (57P01–03),
// a broken or refused connection (class 08, a dial or read failure) — to
// storage_unavailable: an operator's fault to fix, not a bug to report as
// a 500.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100":
			return stored.Unavailable("the store is out of disk space; try again later", err)
		case pe.Code == "53200":
			return stored.Unavailable("the store is out of memory; try again later", err)
		case strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "08"),
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03":
			return stored.Unavailable("the store cannot take requests now; try again later", err)
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return stored.Unavailable("the store is unreachable; try again later", err)
	}
	return nil
}

// Ready reports whether the store takes writes: nil unless the last
// write failed with storage_unavailable and a probe write (one row of
// meta) fails too. The probe runs only while the store is down.
func (db *DB) Ready(ctx context.Context) error {
	if db.health.Down() == nil {
		return nil
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('probe', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			strconv.FormatInt(time.Now().UnixMicro(), 10))
		return err
	})
}
