package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An incident played through the CLI against a real server: open it,
// save the blast-radius report, link it and a campaign, note, move, and
// export the timeline and the summary; the timeline's entries prove in
// the signed log.
func TestCLIIncident(t *testing.T) {
	m := cliServer(t)
	if r := cli(t, "a long enough password 1\n", "user", "add", "alice"); r.err != nil {
		t.Fatalf("user add: %v", r)
	}
	now := time.Now()
	if r := cli(t, evAt(now, 0, "svc-support", "alice", "profile", "email"), "audit", "send"); r.err != nil {
		t.Fatalf("audit send: %v", r)
	}
	r := cli(t, "", "audit", "report", "--principal", "svc-support", "--format", "json", "--save")
	var saved struct {
		Report struct {
			ID string `json:"id"`
		} `json:"report"`
	}
	if r.err != nil || json.Unmarshal([]byte(r.stdout), &saved) != nil || saved.Report.ID == "" {
		t.Fatalf("audit report --save: %v", r)
	}
	rep := saved.Report.ID
	doc := writeFile(t, "reauth.json", `{"kind":"reauth","name":"the report's users log in again","cohort":{"users_from_report":"`+rep+`"}}`)
	r = cli(t, "", "campaign", "create", "-f", doc)
	camp := regexp.MustCompile(`campaign (c-[a-z0-9]+)`).FindStringSubmatch(r.stdout)
	if r.err != nil || camp == nil {
		t.Fatalf("campaign create: %v", r)
	}

	r = cli(t, "", "incident", "open", "--title", "support tool read user data", "--severity", "high", "--aware-at", "2h")
	id := regexp.MustCompile(`opened incident (i-[a-z0-9]+) \(high, investigating\); Article 33 notification due \S+ \((69h5[89]m|70h) left\)`).FindStringSubmatch(r.stdout)
	if r.err != nil || id == nil {
		t.Fatalf("incident open: %v", r)
	}
	inc := id[1]
	for _, args := range [][]string{
		{"incident", "link", inc, "report", rep},
		{"incident", "link", inc, "campaign", camp[1]},
		{"campaign", "activate", camp[1]},
		{"incident", "note", inc, "consequences:", "alice's", "email", "may", "be", "phished"},
		{"incident", "status", inc, "contained"},
		{"incident", "close", inc},
	} {
		if r := cli(t, "", args...); r.err != nil {
			t.Fatalf("%v: %v", args, r)
		}
	}
	r = cli(t, "", "incident", "show", inc)
	for _, s := range []string{"incident " + inc + ": support tool read user data", "severity high, resolved (version 6)", "linked report " + rep, "linked campaign " + camp[1], "by cordon:admin/"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("show lacks %q: %v", s, r)
		}
	}
	if r := cli(t, "", "incident", "list"); r.err != nil || !strings.Contains(r.stdout, inc+"  high") {
		t.Errorf("list: %v", r)
	}
	r = cli(t, "", "incident", "timeline", inc)
	for _, s := range []string{"incident opened: severity high", "report " + rep, "campaign " + camp[1], "campaign activate", "state investigating -> contained", "state contained -> resolved", "note: consequences: alice's email may be phished"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("timeline lacks %q: %v", s, r)
		}
	}
	md := filepath.Join(t.TempDir(), "timeline.md")
	if r := cli(t, "", "incident", "timeline", inc, "--format", "md", "-o", md); r.err != nil {
		t.Fatalf("timeline md: %v", r)
	}
	if b, err := os.ReadFile(md); err != nil || !strings.HasPrefix(string(b), "# Timeline of incident "+inc) || !strings.Contains(string(b), "| when (UTC) | who | about | what | log entry |") {
		t.Errorf("timeline.md: %s, %v", b, err)
	}
	r = cli(t, "", "incident", "timeline", inc, "--format", "json")
	var tl struct {
		Entries []struct {
			Index uint64 `json:"index"`
			What  string `json:"what"`
		} `json:"entries"`
	}
	if r.err != nil || json.Unmarshal([]byte(r.stdout), &tl) != nil || len(tl.Entries) != 9 {
		t.Fatalf("timeline json: %d entries, %v; want 9 (opened, report saved, campaign created and activated, 2 links, note, 2 moves)", len(tl.Entries), r)
	}
	if _, err := m.Audit.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, e := range tl.Entries {
		r := cli(t, "", "audit", "prove", strconv.FormatUint(e.Index, 10), "--key", m.Audit.VerifierKey())
		if r.err != nil || !strings.Contains(r.stdout, "is in the signed tree") {
			t.Errorf("entry %d (%s) does not prove: %v", e.Index, e.What, r)
		}
	}
	r = cli(t, "", "incident", "summary", inc)
	for _, s := range []string{"# Personal data breach: support tool read user data", "1 (from report " + rep + ")", "email, profile (from report " + rep + ")",
		"| " + camp[1] + " | reauth |", "alice's email may be phished", "## (b) Data protection officer\n\nNot known yet: no contact is configured"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("summary lacks %q:\n%s", s, r.stdout)
		}
	}
	if r := cli(t, "", "incident", "summary", inc, "--format", "json"); r.err != nil || !json.Valid([]byte(r.stdout)) {
		t.Errorf("summary json: %v", r)
	}
}

func TestCLIIncidentRefusals(t *testing.T) {
	cliServer(t)
	r := cli(t, "", "incident", "open", "--title", "x", "--severity", "low")
	id := regexp.MustCompile(`i-[a-z0-9]+`).FindString(r.stdout)
	if r.err != nil || id == "" {
		t.Fatalf("open: %v", r)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no verb", []string{"incident"}, 2, "incident needs a verb"},
		{"unknown verb", []string{"incident", "escalate", id}, 2, `unknown verb incident escalate`},
		{"open without severity", []string{"incident", "open", "--title", "x"}, 2, "needs --title and --severity"},
		{"bad severity", []string{"incident", "open", "--title", "x", "--severity", "extreme"}, 1, "severity must be one of low, medium, high, critical"},
		{"bad aware-at", []string{"incident", "open", "--title", "x", "--severity", "low", "--aware-at", "last tuesday"}, 2, "--aware-at: give an RFC 3339 time"},
		{"aware in the future", []string{"incident", "open", "--title", "x", "--severity", "low", "--aware-at", "2099-01-01T00:00:00Z"}, 1, "is in the future"},
		{"bad state", []string{"incident", "status", id, "panicking"}, 1, "state must be one of investigating, contained, resolved"},
		{"reopen while open", []string{"incident", "status", id, "contained", "--reopen"}, 1, "only a resolved incident can be reopened"},
		{"stale version", []string{"incident", "status", id, "contained", "--version", "9"}, 1, "changed by someone else meanwhile"},
		{"unknown incident", []string{"incident", "show", "i-nope"}, 1, `no incident "i-nope"`},
		{"unknown report", []string{"incident", "link", id, "report", "r-nope"}, 1, `no report "r-nope"`},
		{"unknown notice", []string{"incident", "link", id, "notice", "n-nope"}, 1, `no notice "n-nope"`},
		{"link without the object", []string{"incident", "link", id, "report"}, 2, "takes ID KIND OBJECT_ID"},
		{"note without text", []string{"incident", "note", id}, 2, "takes ID TEXT"},
		{"timeline as pdf", []string{"incident", "timeline", id, "--format", "pdf"}, 2, `--format "pdf" is not one of`},
		{"summary as text", []string{"incident", "summary", id, "--format", "text"}, 2, `--format "text" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, "", tt.args...)
			if r.code != tt.code || r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("got %v, want exit %d with %q", r, tt.code, tt.want)
			}
		})
	}
	if r := cli(t, "", "incident", "--help"); r.err != nil || !strings.Contains(r.stdout, "timeline    Print an incident's timeline, read from the audit log") {
		t.Errorf("--help: %v", r)
	}
}

// TestCampaignCreateWithIncident: campaign create --incident links the new
// campaign to the incident as it is created; an unknown incident creates
// no campaign.
func TestCampaignCreateWithIncident(t *testing.T) {
	cliServer(t)
	r := cli(t, "", "incident", "open", "--title", "stolen tokens", "--severity", "high")
	id := regexp.MustCompile(`opened incident (i-[a-z0-9]+)`).FindStringSubmatch(r.stdout)
	if r.err != nil || id == nil {
		t.Fatalf("incident open: %v", r)
	}
	doc := writeFile(t, "reauth.yaml", "kind: reauth\nname: everyone on iOS\ncohort: {platforms: [ios]}\n")
	r = cli(t, "", "campaign", "create", "-f", doc, "--incident", id[1], "-o", "json")
	var c struct {
		ID string `json:"id"`
	}
	if r.err != nil || json.Unmarshal([]byte(r.stdout), &c) != nil || c.ID == "" {
		t.Fatalf("campaign create --incident: %v", r)
	}
	if r := cli(t, "", "incident", "show", id[1]); r.err != nil || !strings.Contains(r.stdout, "linked campaign "+c.ID) {
		t.Errorf("incident show after create --incident: %v, want the campaign linked", r)
	}
	before := cli(t, "", "campaign", "list").stdout
	if r := cli(t, "", "campaign", "create", "-f", doc, "--incident", "i-nope"); r.err == nil || r.code != 1 {
		t.Errorf("create --incident with an unknown incident: %v, want a refusal", r)
	}
	if after := cli(t, "", "campaign", "list").stdout; after != before {
		t.Errorf("a refused create --incident left a campaign behind:\n%s", after)
	}
}
