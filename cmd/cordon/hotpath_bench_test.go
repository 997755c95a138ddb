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
	neturl "net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/benchutil"
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
	return floorServerThen(b, body, pub, msg, sig, nil)
}

// floorServerThen is floorServer calling then (when not nil) after the
// verify, before it answers.
func floorServerThen(b *testing.B, body []byte, pub ed25519.PublicKey, msg, sig []byte, then func() error) string {
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
		if then != nil {
			if err := then(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
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
	cpu := benchutil.Start()
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
	cpu.ReportCPU(b, "cpu-µs/op")
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
	// floor=verify-read adds what no session check that refuses a
	// logged-out session at once can avoid: one read of the session's row
	// (cordon's columns, by primary key, a prepared statement) from a
	// SQLite file opened as the store opens its readers.
	b.Run("floor=verify-read", func(b *testing.B) {
		body, pub, msg, sig, access := sessionFloor(b)
		db := floorDB(b)
		db.SetMaxOpenConns(4)
		if _, err := db.Exec(`CREATE TABLE sess (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, platform TEXT NOT NULL, version TEXT NOT NULL,
			source TEXT NOT NULL, device TEXT NOT NULL, auth_time INTEGER NOT NULL, created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL,
			revoked_at INTEGER NOT NULL, revoke_reason TEXT NOT NULL) STRICT`); err != nil {
			b.Fatal(err)
		}
		for i := range 1000 {
			if _, err := db.Exec(`INSERT INTO sess VALUES (?, 'a-1', 'android', '8.4.1', 'play', 'd-1', 1, 1, 1, 0, '')`, fmt.Sprintf("s-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		st, err := db.Prepare(`SELECT id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, revoked_at, revoke_reason FROM sess WHERE id = ?`)
		if err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		read := func() error {
			var id, acct, pl, ver, src, dev, why string
			var auth, created, seen, revoked int64
			return st.QueryRow(fmt.Sprintf("s-%d", n.Add(1)%1000)).Scan(&id, &acct, &pl, &ver, &src, &dev, &auth, &created, &seen, &revoked, &why)
		}
		loadGET(b, floorServerThen(b, body, pub, msg, sig, read)+"/v1/session", access)
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
		r := newRotator(b)
		var seq atomic.Int64
		b.SetParallelism((hotClients + 1) / 2)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := benchutil.Start()
		b.RunParallel(func(pb *testing.PB) {
			sid := fmt.Sprintf("s-%d", seq.Add(1))
			prev, err := r.start(sid)
			if err != nil {
				b.Error(err)
				return
			}
			for pb.Next() {
				if prev, err = r.rotate(prev); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
		cpu.ReportCPU(b, "cpu-µs/op")
	})
	// floor=http-tx-sign is what no refresh server can avoid: the same
	// loopback HTTP exchange (a form in, a token answer of cordon's size
	// out), the same write transaction, and one Ed25519 signature over a
	// signing input of cordon's access token's size.
	b.Run("floor=http-tx-sign", func(b *testing.B) {
		r := newRotator(b)
		m, _, refresh := hotFixture(b, 0)
		answer, msg := refreshAnswer(b, m.URL(), refresh[0])
		_, priv, _ := ed25519.GenerateKey(nil)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		pad := strings.Repeat("x", max(0, len(answer)-len(msg)-180))
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			next, err := r.rotate(req.PostFormValue("refresh_token"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			sig := ed25519.Sign(priv, []byte(msg))
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			fmt.Fprintf(w, `{"access_token":"%s.%s","token_type":"Bearer","expires_in":900,"refresh_token":%q,"pad":%q}`,
				msg, base64.RawURLEncoding.EncodeToString(sig), next, pad)
		})}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		var seq atomic.Int64
		firsts := make([]string, hotClients)
		for i := range firsts {
			if firsts[i], err = r.start(fmt.Sprintf("s-%d", seq.Add(1))); err != nil {
				b.Fatal(err)
			}
		}
		loadRefresh(b, "http://"+ln.Addr().String()+"/oauth2/token", firsts)
	})
	b.Run("path=http", func(b *testing.B) {
		m, _, refresh := hotFixture(b, 0)
		loadRefresh(b, m.URL()+"/oauth2/token", refresh)
	})
}

// loadRefresh posts refresh grants to url from hotClients goroutines,
// each going on with the refresh token the last answer gave it (the
// clients share out firsts), and reports refreshes per second.
func loadRefresh(b *testing.B, url string, firsts []string) {
	b.Helper()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: hotClients * 2}}
	var next atomic.Int64
	b.SetParallelism((hotClients + 1) / 2)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchutil.Start()
	b.RunParallel(func(pb *testing.PB) {
		rt := firsts[int(next.Add(1))%len(firsts)]
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, strings.NewReader(neturl.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
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
	cpu.ReportCPU(b, "cpu-µs/op")
}

// refreshAnswer is the answer of the cordon at server to one refresh with rt (what the
// floor answers as large) and its access token's signing input (what the
// floor signs).
func refreshAnswer(b *testing.B, server, rt string) (answer []byte, msg string) {
	b.Helper()
	req, _ := http.NewRequest("POST", server+"/oauth2/token", strings.NewReader(neturl.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ = io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(answer, &tok); err != nil || resp.StatusCode != http.StatusOK || strings.Count(tok.AccessToken, ".") != 2 {
		b.Fatalf("refresh: %d %v: %s", resp.StatusCode, err, answer)
	}
	return answer, tok.AccessToken[:strings.LastIndexByte(tok.AccessToken, '.')]
}

// rotator is a refresh's writes alone (mark the old token used, insert
// the next, touch the session) as one write transaction of prepared
// statements on a SQLite file opened as the store opens its own.
type rotator struct {
	db *sql.DB
	st [3]*sql.Stmt
}

func newRotator(b *testing.B) *rotator {
	b.Helper()
	r := &rotator{db: floorDB(b)}
	for i, q := range []string{
		`UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at = 0`,
		`INSERT INTO refresh_tokens (hash, session_id, used_at) VALUES (?, ?, 0)`,
		`UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`,
	} {
		var err error
		if r.st[i], err = r.db.Prepare(q); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// start makes session sid and its first refresh token, and returns it.
func (r *rotator) start(sid string) (string, error) {
	first := sid + "-0"
	if _, err := r.db.Exec(`INSERT INTO sessions (id, last_seen_at, expires_at) VALUES (?, 0, 0)`, sid); err != nil {
		return "", err
	}
	_, err := r.db.Exec(`INSERT INTO refresh_tokens (hash, session_id, used_at) VALUES (?, ?, 0)`, first, sid)
	return first, err
}

// rotate spends refresh token prev (SID-N) and returns its successor.
func (r *rotator) rotate(prev string) (string, error) {
	i := strings.LastIndexByte(prev, '-')
	if i < 0 {
		return "", fmt.Errorf("refresh token %q is not SID-N", prev)
	}
	var n int
	if _, err := fmt.Sscan(prev[i+1:], &n); err != nil {
		return "", fmt.Errorf("refresh token %q is not SID-N", prev)
	}
	sid, next := prev[:i], fmt.Sprintf("%s-%d", prev[:i], n+1)
	now := time.Now().UnixMicro()
	tx, err := r.db.Begin()
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	res, err := tx.Stmt(r.st[0]).Exec(now, prev)
	if err != nil {
		return "", err
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return "", fmt.Errorf("rotation of %s lost", prev)
	}
	if _, err := tx.Stmt(r.st[1]).Exec(next, sid); err != nil {
		return "", err
	}
	if _, err := tx.Stmt(r.st[2]).Exec(now, now, sid); err != nil {
		return "", err
	}
	return next, tx.Commit()
}

// floorDB is a SQLite file with the two tables a rotation writes, opened
// with the store's pragmas and its single writer connection.
func floorDB(b *testing.B) *sql.DB {
	b.Helper()
	q := neturl.Values{}
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
