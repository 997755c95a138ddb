//go:build unix

package main

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/password"
)

// The hot-path benchmarks run cordon serve and its load client in one
// process on loopback, next to the floors they are judged against, each
// served and loaded the same way: a bare net/http server answering the
// same body, and the same server verifying one Ed25519 signature first.
// Every request is a keep-alive HTTP/1.1 request from one of
// hotClients goroutines, so ns/op is wall time per request with the
// client and the server sharing the cores.

// hotClients is how many requests are in flight at once.
const hotClients = 8

// hotFixture is a server on loopback (its verified-token cache of the
// given size, negative for none) with one logged-in session per client.
func hotFixture(b *testing.B, tokenCache int) (m *Main, access, refresh []string) {
	b.Helper()
	m = &Main{Config: Config{Addr: "127.0.0.1:0", Data: b.TempDir(), AdminToken: testAdminToken, TokenCache: tokenCache,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, Log: slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	if _, err := m.Authn.CreateAccount(context.Background(), "bench", "a long enough password"); err != nil {
		b.Fatal(err)
	}
	for i := range hotClients {
		req, _ := http.NewRequest("POST", m.URL()+"/v1/login", strings.NewReader(`{"username":"bench","password":"a long enough password"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cordon-Client", fmt.Sprintf(`platform=android, version="8.4.1", source=play, device="d-%d"`, i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var tok struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" || tok.RefreshToken == "" {
			b.Fatalf("login: %d %v", resp.StatusCode, err)
		}
		access, refresh = append(access, tok.AccessToken), append(refresh, tok.RefreshToken)
	}
	return m, access, refresh
}

// floorServer serves on loopback what a bare net/http handler answers:
// body, after verifying one Ed25519 signature over msg when verify is set.
func floorServer(b *testing.B, body []byte, pub ed25519.PublicKey, msg, sig []byte) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pub != nil && !ed25519.Verify(pub, msg, sig) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// loadGET sends GET url with each client's bearer token from hotClients
// goroutines and reports requests per second.
func loadGET(b *testing.B, url string, access []string) {
	b.Helper()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: hotClients * 2}}
	var next atomic.Int64
	b.SetParallelism((hotClients + 1) / 2) // × GOMAXPROCS (2 here) goroutines
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) % len(access)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+access[i])
		req.Header.Set("Cordon-Client", `platform=android, version="8.4.1", source=play`)
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	cpu.report(b)
}

// BenchmarkSessionHTTP is GET /v1/session from 8 concurrent clients over
// loopback, next to its floors:
//
//   - floor=bare: a bare net/http handler writing the same body;
//   - floor=verify: the same after one Ed25519 verify of the token;
//   - token=fresh: cordon with its verified-token cache off, so every
//     request verifies the token's signature (as a token seen for the
//     first time would), reads the session and decides;
//   - token=repeat: cordon as it runs, each client repeating its token.
func BenchmarkSessionHTTP(b *testing.B) {
	// Each case has exactly one cordon server alive (idle behind a
	// floor), so no case pays for another's heap in its GC.
	b.Run("floor=bare", func(b *testing.B) {
		body, _, _, _, access := sessionFloor(b)
		loadGET(b, floorServer(b, body, nil, nil, nil)+"/v1/session", access)
	})
	b.Run("floor=verify", func(b *testing.B) {
		body, pub, msg, sig, access := sessionFloor(b)
		loadGET(b, floorServer(b, body, pub, msg, sig)+"/v1/session", access)
	})
	b.Run("token=fresh", func(b *testing.B) {
		m, access, _ := hotFixture(b, -1)
		loadGET(b, m.URL()+"/v1/session", access)
	})
	b.Run("token=repeat", func(b *testing.B) {
		m, access, _ := hotFixture(b, 0)
		loadGET(b, m.URL()+"/v1/session", access)
	})
}

// sessionFloor is a server's answer to GET /v1/session, the signing input
// and signature of the token it answered, and the key that checks them:
// what the floors serve and verify.
func sessionFloor(b *testing.B) (body []byte, pub ed25519.PublicKey, msg, sig []byte, access []string) {
	b.Helper()
	m, access, _ := hotFixture(b, 0)
	req, _ := http.NewRequest("GET", m.URL()+"/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+access[0])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	msg = []byte(access[0][:strings.LastIndexByte(access[0], '.')])
	if sig, err = base64.RawURLEncoding.DecodeString(access[0][len(msg)+1:]); err != nil {
		b.Fatal(err)
	}
	k, ok := m.Authn.KeySet().PublicKey(m.Authn.KeySet().ActiveKID())
	if !ok {
		b.Fatal("no active key")
	}
	return body, k.(ed25519.PublicKey), msg, sig, access
}

// BenchmarkRefreshHTTP is POST /oauth2/token (grant_type=refresh_token)
// from 8 concurrent clients over loopback, each client rotating its own
// session's refresh token, next to its floor: floor=sqlite-tx is the
// rotation's writes alone (mark the old token used, insert the next, touch
// the session) as one write transaction of prepared statements on a
// SQLite file opened as the store opens its own, from as many goroutines.
func BenchmarkRefreshHTTP(b *testing.B) {
	b.Run("floor=sqlite-tx", func(b *testing.B) {
		db := floorDB(b)
		var st [3]*sql.Stmt
		for i, q := range []string{
			`UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at = 0`,
			`INSERT INTO refresh_tokens (hash, session_id, used_at) VALUES (?, ?, 0)`,
			`UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`,
		} {
			var err error
			if st[i], err = db.Prepare(q); err != nil {
				b.Fatal(err)
			}
		}
		var seq atomic.Int64
		b.SetParallelism((hotClients + 1) / 2)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCPU()
		b.RunParallel(func(pb *testing.PB) {
			sid := fmt.Sprintf("s-%d", seq.Add(1))
			prev := sid + "-0"
			if _, err := db.Exec(`INSERT INTO sessions (id, last_seen_at, expires_at) VALUES (?, 0, 0)`, sid); err != nil {
				b.Error(err)
				return
			}
			if _, err := db.Exec(`INSERT INTO refresh_tokens (hash, session_id, used_at) VALUES (?, ?, 0)`, prev, sid); err != nil {
				b.Error(err)
				return
			}
			for i := 1; pb.Next(); i++ {
				next := fmt.Sprintf("%s-%d", sid, i)
				n := time.Now().UnixMicro()
				tx, err := db.Begin()
				if err != nil {
					b.Error(err)
					return
				}
				r, err := tx.Stmt(st[0]).Exec(n, prev)
				if k, _ := r.RowsAffected(); err != nil || k != 1 {
					tx.Rollback()
					b.Error("rotation lost", err)
					return
				}
				if _, err := tx.Stmt(st[1]).Exec(next, sid); err != nil {
					tx.Rollback()
					b.Error(err)
					return
				}
				if _, err := tx.Stmt(st[2]).Exec(n, n, sid); err != nil {
					tx.Rollback()
					b.Error(err)
					return
				}
				if err := tx.Commit(); err != nil {
					b.Error(err)
					return
				}
				prev = next
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
		cpu.report(b)
	})
	b.Run("path=http", func(b *testing.B) {
		m, _, refresh := hotFixture(b, 0)
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: hotClients * 2}}
		var next atomic.Int64
		b.SetParallelism((hotClients + 1) / 2)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCPU()
		b.RunParallel(func(pb *testing.PB) {
			rt := refresh[int(next.Add(1))%len(refresh)]
			for pb.Next() {
				req, _ := http.NewRequest("POST", m.URL()+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Cordon-Client", `platform=android, version="8.4.1", source=play`)
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				var tok struct {
					RefreshToken string `json:"refresh_token"`
				}
				err = json.NewDecoder(resp.Body).Decode(&tok)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || tok.RefreshToken == "" {
					b.Errorf("refresh: %d %v", resp.StatusCode, err)
					return
				}
				rt = tok.RefreshToken
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
		cpu.report(b)
	})
}

// floorDB is a SQLite file with the two tables a rotation writes, opened
// with the store's pragmas and its single writer connection.
func floorDB(b *testing.B) *sql.DB {
	b.Helper()
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "floor.db")+"?"+q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE sessions (id TEXT PRIMARY KEY, last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) STRICT;
		CREATE TABLE refresh_tokens (hash TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions (id), used_at INTEGER NOT NULL) STRICT`); err != nil {
		b.Fatal(err)
	}
	return db
}

// cpuClock reads the process's CPU time (user and system, every thread),
// so a benchmark can report the CPU each request cost the client and the
// server together: on a machine shared with other work, wall time per
// request moves with the neighbours' load far more than CPU time does.
type cpuClock time.Duration

func startCPU() cpuClock { return cpuClock(processCPU()) }

// report adds cpu-µs/op, the process's CPU time per iteration.
func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-time.Duration(c))/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
