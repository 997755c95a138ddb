package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// debugServer serves Go's profiles (net/http/pprof) on an address of the
// operator's, never on the public listener: `go tool pprof
// http://ADDR/debug/pprof/profile?seconds=30` profiles a running server.
type debugServer struct {
	ln  net.Listener
	srv *http.Server
}

// startDebug listens on addr and serves the profiles in the background.
// addr must differ from the public one: profiles show the code, the heap
// and the goroutines of the server, which no client should reach.
func startDebug(addr, public string, log *slog.Logger) (*debugServer, error) {
	if addr == public || strings.TrimPrefix(addr, "localhost") == strings.TrimPrefix(public, "127.0.0.1") {
		return nil, usageError("--debug-addr must differ from --addr: profiles are never served on the public listener")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --debug-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	d := &debugServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go d.srv.Serve(ln)
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Warn("profiles are served on an address other machines may reach; prefer 127.0.0.1", "debug_addr", ln.Addr().String())
	}
	log.Info("profiles served", "debug_addr", ln.Addr().String(), "try", "go tool pprof http://"+ln.Addr().String()+"/debug/pprof/profile?seconds=30")
	return d, nil
}

// Addr is where the profiles are served.
func (d *debugServer) Addr() string { return d.ln.Addr().String() }

// Close stops serving profiles at once (a profile being taken is cut).
func (d *debugServer) Close() error {
	if err := d.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseLevel reads --log-level.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, usageError("--log-level must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}
