package main

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestNoticesFailStaticOnThePolicyFeed: a policy change published while
// the notices cannot be read (their table gone from under the server,
// as a failing read would be) still carries the notices read last, so a
// gate keeps explaining its denials as the server itself does, instead
// of going silent until the next policy change.
func TestNoticesFailStaticOnThePolicyFeed(t *testing.T) {
	w := newNoticeWorld(t)
	up := echoUpstream(t)
	g := startGate(t, w.m.URL(), up.URL)
	id := w.create(t, w.noticeDoc(""))
	if r := send(t, "POST", w.m.URL()+"/admin/v1/notices/"+id+"/publish", admin(), nil); r.status != http.StatusOK {
		t.Fatalf("publish: %v", r)
	}
	denial := func(base string, token, client string) (int, string) {
		code, h, _ := call(t, "GET", base, w.app(token, client, "Accept-Language", "de"), "")
		return code, h.Get("Cordon-Notice")
	}
	gateURL := "http://" + g.Addr() + "/api/things"
	waitFor(t, 2*time.Second, "the notice at the gate", func() bool { _, n := denial(gateURL, w.alice, iosApp); return n != "" })
	_, want := denial(gateURL, w.alice, iosApp)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(w.m.Config.Data, "cordon.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE notices RENAME TO notices_away`); err != nil {
		t.Fatal(err)
	}
	defer db.Exec(`ALTER TABLE notices_away RENAME TO notices`)

	// A policy change while the notices cannot be read: a campaign for
	// Android, which the gate applies from the event that carries it.
	r := send(t, "POST", w.m.URL()+"/admin/v1/campaigns", admin(), []byte(`{"kind":"reauth","name":"android","cohort":{"platforms":["android"]}}`))
	if r.status != http.StatusCreated {
		t.Fatalf("create campaign: %v", r)
	}
	if r := send(t, "POST", w.m.URL()+"/admin/v1/campaigns/"+r.body["id"].(string)+"/activate", admin(), nil); r.status != http.StatusOK {
		t.Fatalf("activate: %v", r)
	}
	waitFor(t, 2*time.Second, "the android campaign at the gate", func() bool {
		code, _ := denial(gateURL, w.bob, androidApp)
		return code == http.StatusUnauthorized
	})
	if code, n := denial(gateURL, w.alice, iosApp); code != http.StatusUnauthorized || n != want {
		t.Errorf("after a policy published without the notices readable, the gate's denial: %d, Cordon-Notice %q; want 401 with %q", code, n, want)
	}
	if code, n := denial(w.m.URL()+"/v1/session", w.alice, iosApp); code != http.StatusUnauthorized || n != want {
		t.Errorf("the server's own denial: %d, Cordon-Notice %q; want 401 with %q", code, n, want)
	}
	// A snapshot built meanwhile (a gate's first, or after the hub's log
	// moved past its cache) is built with them too, not refused.
	snap, err := w.m.snapshot(t.Context())
	if err != nil {
		t.Fatalf("a snapshot while the notices cannot be read: %v", err)
	}
	if snap.Policy == nil || len(snap.Policy.Notices) != 1 || snap.Policy.Notices[0].ID != id {
		t.Errorf("the snapshot's policy carries notices %+v; want the one held, %s", snap.Policy, id)
	}
}
