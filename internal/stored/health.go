package stored

import (
	"errors"
	"sync/atomic"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// RetryAfter is the Retry-After, in seconds, of a storage_unavailable
// answer: long enough for an operator's alert to fire, short enough that a
// client retries soon after space is freed.
const RetryAfter = 5

// Unavailable is the error a backend answers when the store cannot take
// a request for want of storage (disk full, out of memory, I/O error,
// damaged file, database unreachable). cause is kept for the logs and
// never shown.
func Unavailable(message string, cause error) error {
	return &cordon.Error{Code: cordon.ECodeStorageUnavailable, Message: message, RetryAfter: RetryAfter, Err: cause}
}

// Health remembers whether a store's last write failed with
// storage_unavailable, so readiness can say so: a store that answers
// reads (a ping) may still refuse every write. A write that succeeds, or
// a probe write, clears it. The zero value is healthy.
type Health struct {
	down atomic.Pointer[error]
}

// Note records the outcome of a write and returns err unchanged: nil or
// any other error means the store took or refused the write on its own
// terms; storage_unavailable means it could not.
func (h *Health) Note(err error) error {
	switch {
	case err == nil:
		h.down.Store(nil)
	case IsUnavailable(err):
		h.down.Store(&err)
	}
	return err
}

// IsUnavailable reports whether err is storage_unavailable.
func IsUnavailable(err error) bool {
	return errors.Is(err, &cordon.Error{Code: cordon.ECodeStorageUnavailable})
}

// Down returns the storage_unavailable error of the last write, or nil.
func (h *Health) Down() error {
	if p := h.down.Load(); p != nil {
		return *p
	}
	return nil
}
