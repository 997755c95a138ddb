package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/password"
)

// TestDebugAddr: --debug-addr serves Go's profiles on its own listener and
// nowhere else; the public listener answers 404 for them; the same address
// for both is refused; Close stops both.
func TestDebugAddr(t *testing.T) {
	m := &Main{Config: Config{Addr: "127.0.0.1:0", DebugAddr: "127.0.0.1:0", Data: t.TempDir(), AdminToken: testAdminToken,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32},
		Log:  slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	debug := "http://" + m.debug.Addr()
	for _, tt := range []struct {
		url  string
		want int
	}{
		{debug + "/debug/pprof/", 200},
		{debug + "/debug/pprof/goroutine?debug=1", 200},
		{debug + "/v1/session", 404}, // the debug listener serves profiles only
		{m.URL() + "/debug/pprof/", 404},
		{m.URL() + "/debug/pprof/goroutine?debug=1", 404},
	} {
		if got := probe(tt.url); got != tt.want {
			t.Errorf("GET %s: %d, want %d", tt.url, got, tt.want)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := probe(debug + "/debug/pprof/"); got != 0 {
		t.Errorf("after Close the profiles still answer %d", got)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	same := &Main{Config: Config{Addr: addr, DebugAddr: addr, Data: t.TempDir(), AdminToken: testAdminToken,
		Log: slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := same.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--debug-addr must differ") {
		same.Close()
		t.Errorf("the same address for profiles and the API: %v, want it refused", err)
	}
}

func TestServeLogFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--log-level", "loud"},
		{"serve", "--access-log-sample", "-2"},
		{"serve", "--pace-nodes", "0"},
		{"serve", "--pace-nodes", "-3"},
		{"serve", "--pace-nodes", "many"},
		{"serve", "--pace-every", "0s"},
		{"serve", "--pace-every", "2h"},
	} {
		err := run(context.Background(), args, nil, io.Discard, io.Discard)
		if exitCode(err) != 2 {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
