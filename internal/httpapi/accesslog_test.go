package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cordon-dev/cordon/internal/httpapi"
	"github.com/cordon-dev/cordon/internal/memstore"
)

// syncBuffer is a log destination the handler's goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

// TestAccessLogSampleAndLevel: --access-log-sample N logs one access line
// in N answers below 400 and every answer from 400 up; --log-level warn
// drops the info access lines and keeps nothing else from them.
func TestAccessLogSampleAndLevel(t *testing.T) {
	for _, tt := range []struct {
		name          string
		level         slog.Level
		sample        int
		wantOK, want4 int
	}{
		{"every line", slog.LevelInfo, 1, 9, 3},
		{"zero is every line", slog.LevelInfo, 0, 9, 3},
		{"one in three", slog.LevelInfo, 3, 3, 3},
		{"warn drops access lines", slog.LevelWarn, 1, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: tt.level}))
			srv := httptest.NewServer(httpapi.New(httpapi.Deps{Store: memstore.New(), Log: log, AccessLogSample: tt.sample}))
			defer srv.Close()
			get := func(path string) {
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			for range 9 {
				get("/healthz")
			}
			for range 3 {
				get("/no/such/path")
			}
			if got := out.lines(`"status":200`); got != tt.wantOK {
				t.Errorf("%d access lines of 200 answers, want %d", got, tt.wantOK)
			}
			if got := out.lines(`"status":404`); got != tt.want4 {
				t.Errorf("%d access lines of 404 answers, want %d (never sampled)", got, tt.want4)
			}
		})
	}
}
