package gate

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/wire"
)

// The answers are internal/wire's, the same the server gives: an app
// must not be able to tell the gate from the server; gate_test.go pins
// the bytes.

// errorBody is the JSON error of the wire contract.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// writeError answers an error of Decide. Anything but a *cordon.Error of
// a known code is a bug: a 500 that shows nothing of its cause.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *cordon.Error
	status := 0
	if errors.As(err, &e) {
		switch e.Code {
		case CodeUnauthorized, CodeInvalidToken:
			status = http.StatusUnauthorized
		case CodeInvalidClient, CodeInvalidRequest:
			status = http.StatusBadRequest
		case CodeNotReady:
			status = http.StatusServiceUnavailable
		}
	}
	if status == 0 {
		log.Error("gate: internal error", "err", err)
		e, status = cordon.Errorf(cordon.ECodeInternal, "internal error"), http.StatusInternalServerError
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	wire.Challenge(w, status, e.Code, CodeUnauthorized, e.Message)
	wire.WriteJSON(w, status, errorBody{Error: e.Code, Message: e.Message})
}
