package campaigndoc

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// specDoc is the campaign document of SPEC.md, word for word. It is a
// reauth campaign with an upgrade block, which the SPEC's own rule
// ("upgrade belongs to upgrade campaigns only") refuses.
const specDoc = `{
  "kind": "reauth",
  "name": "May incident: desktop, iOS, Windows Phone",
  "cohort": {
    "platforms": ["desktop", "ios", "winphone"],
    "versions": "< 8.5.0",
    "sources": ["play", "unknown"],
    "authenticated_before": "2014-05-27T00:00:00Z",
    "users": ["u-123"],
    "users_from_report": "r-42"
  },
  "ramp": {"start": "2014-05-27T08:00:00Z", "duration": "72h"},
  "upgrade": {"min_version": "8.5.0", "mode": "immediate",
              "urls": {"play": "https://play.google.com/...",
                       "amazon": "https://www.amazon.com/...",
                       "official": "https://m.example.com/download"}},
  "message": "For your security, please log in again."
}`

// specUpgrade is the SPEC example as the upgrade campaign its upgrade
// block belongs to.
var specUpgrade = strings.Replace(specDoc, `"kind": "reauth"`, `"kind": "upgrade"`, 1)

// specReauth is the SPEC example as the reauth campaign its kind says,
// without the upgrade block.
var specReauth = strings.Replace(specDoc, `  "upgrade": {"min_version": "8.5.0", "mode": "immediate",
              "urls": {"play": "https://play.google.com/...",
                       "amazon": "https://www.amazon.com/...",
                       "official": "https://m.example.com/download"}},
`, "", 1)

const specYAML = `# The SPEC example, as an operator would write it in YAML.
kind: upgrade
name: "May incident: desktop, iOS, Windows Phone"
cohort:
  platforms: [desktop, ios, winphone]
  versions: "< 8.5.0"
  sources: [play, unknown]
  authenticated_before: 2014-05-27T00:00:00Z
  users: [u-123]
  users_from_report: r-42
ramp:
  start: 2014-05-27T08:00:00Z
  duration: 72h
upgrade:
  min_version: 8.5.0
  mode: immediate
  urls:
    play: https://play.google.com/...
    amazon: https://www.amazon.com/...
    official: https://m.example.com/download
message: For your security, please log in again.
`

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func ptr[T any](v T) *T { return &v }

func specCampaign() *cordon.Campaign {
	return &cordon.Campaign{
		Kind: cordon.KindUpgrade,
		Name: "May incident: desktop, iOS, Windows Phone",
		Cohort: cordon.Cohort{
			Platforms:           []string{"desktop", "ios", "winphone"},
			Versions:            "< 8.5.0",
			Sources:             []string{"play", "unknown"},
			AuthenticatedBefore: ptr(date("2014-05-27T00:00:00Z")),
			Users:               []string{"u-123"},
			UsersFromReport:     "r-42",
		},
		Ramp: &cordon.Ramp{Start: date("2014-05-27T08:00:00Z"), Duration: 72 * time.Hour},
		Upgrade: &cordon.UpgradeSpec{MinVersion: "8.5.0", Mode: "immediate", URLs: map[string]string{
			"play":     "https://play.google.com/...",
			"amazon":   "https://www.amazon.com/...",
			"official": "https://m.example.com/download",
		}},
		Message: "For your security, please log in again.",
		State:   cordon.StateDraft,
	}
}

func TestParseValid(t *testing.T) {
	reauth := specCampaign()
	reauth.Kind, reauth.Upgrade = cordon.KindReauth, nil

	tests := []struct {
		name   string
		format string
		doc    string
		want   *cordon.Campaign // nil: only parse and round-trip
		check  func(t *testing.T, c *cordon.Campaign)
	}{
		{name: "spec example as upgrade", format: JSON, doc: specUpgrade, want: specCampaign()},
		{name: "spec example as reauth", format: JSON, doc: specReauth, want: reauth},
		{name: "spec example in yaml", format: YAML, doc: specYAML, want: specCampaign()},
		{name: "json is yaml", format: YAML, doc: specUpgrade, want: specCampaign()},
		{name: "external subjects", format: YAML, doc: "kind: reauth\nname: idp users\ncohort:\n  subjects:\n    - {issuer: 'https://id.example.com/realms/app', sub: 'f47ac10b'}\n    - {issuer: 'https://id.example.com/realms/app', sub: 'f47ac10b'}\n",
			want: &cordon.Campaign{Kind: "reauth", Name: "idp users", State: "draft", Cohort: cordon.Cohort{Subjects: []cordon.Subject{{Issuer: "https://id.example.com/realms/app", Sub: "f47ac10b"}}}}},
		{name: "minimal reauth", format: JSON, doc: `{"kind":"reauth","name":"everyone logs in again"}`,
			want: &cordon.Campaign{Kind: "reauth", Name: "everyone logs in again", State: "draft"}},
		{name: "password reset by email", format: YAML, doc: "kind: password_reset\nname: leaked hashes\nverify: email\ncohort: {users_from_report: r-1}\n",
			want: &cordon.Campaign{Kind: "password_reset", Name: "leaked hashes", State: "draft", Verify: "email", Cohort: cordon.Cohort{UsersFromReport: "r-1"}}},
		{name: "password reset by password", format: JSON, doc: `{"kind":"password_reset","name":"p","verify":"password"}`,
			want: &cordon.Campaign{Kind: "password_reset", Name: "p", State: "draft", Verify: "password"}},
		{name: "offline rekey", format: JSON,
			doc: `{"kind":"offline_rekey","name":"rotate offline keys","cohort":{"platforms":["android","ios"],"authenticated_before":"2014-05-27T00:00:00+02:00"}}`,
			want: &cordon.Campaign{Kind: "offline_rekey", Name: "rotate offline keys", State: "draft",
				Cohort: cordon.Cohort{Platforms: []string{"android", "ios"}, AuthenticatedBefore: ptr(date("2014-05-26T22:00:00Z"))}}},
		{name: "password reset for listed users", format: JSON,
			doc: `{"kind":"password_reset","name":"leaked","cohort":{"users":["u-1","alice","u-1","bob","alice"]}}`,
			check: func(t *testing.T, c *cordon.Campaign) {
				if want := []string{"u-1", "alice", "bob"}; !reflect.DeepEqual(c.Cohort.Users, want) {
					t.Errorf("users = %q, want %q (duplicates removed, order kept)", c.Cohort.Users, want)
				}
			}},
		{name: "flexible upgrade", format: JSON,
			doc: `{"kind":"upgrade","name":"please update","upgrade":{"min_version":"9.0","mode":"flexible","urls":{"official":"https://example.com/dl?a=1&b=2","appstore":"https://apps.apple.com/app/id1"}}}`,
			want: &cordon.Campaign{Kind: "upgrade", Name: "please update", State: "draft",
				Upgrade: &cordon.UpgradeSpec{MinVersion: "9.0", Mode: "flexible", URLs: map[string]string{
					"official": "https://example.com/dl?a=1&b=2", "appstore": "https://apps.apple.com/app/id1"}}}},
		{name: "upgrade to localhost over http", format: JSON,
			doc: `{"kind":"upgrade","name":"dev","upgrade":{"min_version":"1.0.0","mode":"immediate","urls":{"official":"http://127.0.0.1:8080/dl","play":"http://localhost/p"}}}`},
		{name: "ramp in days", format: JSON, doc: `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"3d"}}`,
			check: wantRamp(72 * time.Hour)},
		{name: "ramp in days and hours", format: YAML, doc: "kind: reauth\nname: r\nramp: {start: 2014-05-27T08:00:00Z, duration: 1d12h}\n",
			check: wantRamp(36 * time.Hour)},
		{name: "ramp in seconds", format: JSON, doc: `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":259200}}`,
			check: wantRamp(72 * time.Hour)},
		{name: "ramp in seconds in yaml", format: YAML, doc: "kind: reauth\nname: r\nramp:\n  start: 2014-05-27T08:00:00Z\n  duration: 5400\n",
			check: wantRamp(90 * time.Minute)},
		{name: "auto ramp", format: YAML, doc: "kind: reauth\nname: r\nramp: {start: 2014-05-27T08:00:00Z, mode: auto, max_duration: 3d, target_utilisation: 0.7}\n",
			check: wantAuto(72*time.Hour, 0.7)},
		{name: "auto ramp with the default target", format: JSON, doc: `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"auto","max_duration":"72h"}}`,
			check: wantAuto(72*time.Hour, 0.8)},
		{name: "auto ramp with priorities", format: YAML, doc: "kind: reauth\nname: r\nramp:\n  start: 2014-05-27T08:00:00Z\n  mode: auto\n  max_duration: 72h\n  priority: {users_from_report: r-7, users: [alice, alice, bob], unusual_addresses: true}\n",
			check: func(t *testing.T, c *cordon.Campaign) {
				p := c.Ramp.Priority
				if p == nil || p.UsersFromReport != "r-7" || !reflect.DeepEqual(p.Users, []string{"alice", "bob"}) || !p.UnusualAddresses {
					t.Errorf("priority = %+v", p)
				}
			}},
		{name: "fixed ramp with unusual addresses first", format: JSON, doc: `{"kind":"password_reset","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":{"unusual_addresses":true}}}`,
			check: func(t *testing.T, c *cordon.Campaign) {
				if p := c.Ramp.Priority; p == nil || !p.UnusualAddresses || c.Ramp.Auto() {
					t.Errorf("ramp = %+v", c.Ramp)
				}
			}},
		{name: "fixed ramp said so", format: JSON, doc: `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"fixed","duration":"1h"}}`,
			check: wantRamp(time.Hour)},
		{name: "ramp of ten years", format: JSON, doc: `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"3650d"}}`,
			check: wantRamp(3650 * 24 * time.Hour)},
		{name: "versions range below min_version", format: JSON,
			doc: `{"kind":"upgrade","name":"u","cohort":{"versions":">= 8.0, < 8.5.0 || 7.x"},"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://e.com/"}}}`},
		{name: "versions with one patch between", format: JSON, doc: `{"kind":"reauth","name":"r","cohort":{"versions":"> 1.2.3, < 1.2.5"}}`},
		{name: "versions of a wildcard's top", format: JSON, doc: `{"kind":"reauth","name":"r","cohort":{"versions":"1.x, >= 1.9.9"}}`},
		{name: "versions but one", format: JSON, doc: `{"kind":"offline_rekey","name":"o","cohort":{"versions":"!= 1.0.0"}}`},
		{name: "versions where one alternative is empty", format: JSON, doc: `{"kind":"reauth","name":"r","cohort":{"versions":"> 2, < 1 || ~3.1"}}`},
		{name: "versions from a prerelease of min_version", format: JSON,
			doc: `{"kind":"upgrade","name":"u","cohort":{"versions":">= 8.5.0-0"},"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://e.com/"}}}`},
		{name: "multi-line yaml message", format: YAML, doc: "kind: reauth\nname: r\nmessage: |\n  Please log in again.\n  Thank you.\n",
			check: func(t *testing.T, c *cordon.Campaign) {
				if want := "Please log in again.\nThank you.\n"; c.Message != want {
					t.Errorf("message = %q, want %q", c.Message, want)
				}
			}},
		{name: "yaml text with & and *", format: YAML, doc: "kind: reauth\nname: Terms & conditions *v2*\nmessage: \"&a *a\"\n",
			check: func(t *testing.T, c *cordon.Campaign) {
				if c.Name != "Terms & conditions *v2*" || c.Message != "&a *a" {
					t.Errorf("name %q, message %q", c.Name, c.Message)
				}
			}},
		{name: "yaml with a leading ---", format: YAML, doc: "---\nkind: reauth\nname: r\n",
			want: &cordon.Campaign{Kind: "reauth", Name: "r", State: "draft"}},
		{name: "null blocks are absent", format: JSON, doc: `{"kind":"reauth","name":"r","cohort":null,"ramp":null,"upgrade":null}`,
			want: &cordon.Campaign{Kind: "reauth", Name: "r", State: "draft"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.doc), tt.format)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
			roundTrip(t, got)
		})
	}
}

func wantRamp(d time.Duration) func(t *testing.T, c *cordon.Campaign) {
	return func(t *testing.T, c *cordon.Campaign) {
		t.Helper()
		if c.Ramp == nil || c.Ramp.Duration != d {
			t.Errorf("ramp = %+v, want duration %v", c.Ramp, d)
		}
	}
}

func wantAuto(maxDur time.Duration, u float64) func(t *testing.T, c *cordon.Campaign) {
	return func(t *testing.T, c *cordon.Campaign) {
		t.Helper()
		if c.Ramp == nil || !c.Ramp.Auto() || c.Ramp.Duration != maxDur || c.Ramp.TargetUtilisation != u || c.Ramp.Pace != nil {
			t.Errorf("ramp = %+v, want auto, max_duration %v, target %v, no pace", c.Ramp, maxDur, u)
		}
	}
}

// roundTrip checks that Format writes c so that Parse reads it back equal.
func roundTrip(t *testing.T, c *cordon.Campaign) {
	t.Helper()
	out, err := Format(c)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	again, err := Parse(out, JSON)
	if err != nil {
		t.Fatalf("Parse(Format(c)): %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, c) {
		t.Errorf("Parse(Format(c)) differs from c:\n got %+v\nwant %+v\n%s", again, c, out)
	}
}

// upgradeWith is an upgrade campaign with the given upgrade block.
func upgradeWith(block string) string {
	return `{"kind":"upgrade","name":"u","upgrade":` + block + `}`
}

// billionLaughs is the classic alias bomb: nine levels of ten aliases.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("kind: reauth\nname: lol\nl0: &l0 lol\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// scalarBomb slips past go-yaml's alias ratio guard: few aliases of one
// long scalar, among enough plain nodes to keep the ratio low. Without the
// anchor check it expands 1 MiB of YAML to gigabytes.
func scalarBomb() string {
	var b strings.Builder
	b.WriteString("kind: reauth\nname: boom\nx: &x " + strings.Repeat("a", 512<<10) + "\nf: [")
	b.WriteString(strings.Repeat("y,", 4000))
	b.WriteString("y]\nmessage: [")
	for b.Len() < MaxSize-10 {
		b.WriteString("*x,")
	}
	b.WriteString("*x]\n")
	return b.String()
}

func TestParseInvalid(t *testing.T) {
	const (
		bad     = cordon.ECodeInvalid
		refused = cordon.ECodeUnprocessable
	)
	official := `"official":"https://m.example.com/download"`
	ramp := func(dur string) string {
		return `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":` + dur + `}}`
	}
	cohort := func(c string) string { return `{"kind":"reauth","name":"r","cohort":` + c + `}` }
	manyUsers := `"u"` + strings.Repeat(`,"u"`, maxUsers)

	tests := []struct {
		name   string
		format string
		doc    string
		code   string
		field  string
	}{
		// kind and name
		{"unknown kind", JSON, `{"kind":"nuke","name":"x"}`, refused, "kind"},
		{"missing kind", JSON, `{"name":"x"}`, refused, "kind"},
		{"upper-case kind", JSON, `{"kind":"Reauth","name":"x"}`, refused, "kind"},
		{"missing name", JSON, `{"kind":"reauth"}`, refused, "name"},
		{"blank name", JSON, `{"kind":"reauth","name":"  "}`, refused, "name"},
		{"long name", JSON, `{"kind":"reauth","name":"` + strings.Repeat("é", 201) + `"}`, refused, "name"},
		{"name with a newline", JSON, `{"kind":"reauth","name":"a\nb"}`, refused, "name"},

		// verify
		{"verify on a reauth", JSON, `{"kind":"reauth","name":"r","verify":"email"}`, refused, "verify"},
		{"verify unknown", JSON, `{"kind":"password_reset","name":"p","verify":"sms","cohort":{"users":["alice"]}}`, refused, "verify"},
		{"verify upper-case", JSON, `{"kind":"password_reset","name":"p","verify":"Email","cohort":{"users":["alice"]}}`, refused, "verify"},
		{"verify email without named users", JSON, `{"kind":"password_reset","name":"p","verify":"email","cohort":{"platforms":["ios"]}}`, refused, "verify"},
		{"verify email with a ramp", JSON, `{"kind":"password_reset","name":"p","verify":"email","cohort":{"users":["alice"]},"ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h"}}`, refused, "ramp"},
		{"verify not a string", JSON, `{"kind":"password_reset","name":"p","verify":true,"cohort":{"users":["alice"]}}`, bad, "verify"},

		// cohort
		{"bad constraint", JSON, cohort(`{"versions":"<<8"}`), refused, "cohort.versions"},
		{"empty constraint", JSON, cohort(`{"versions":""}`), refused, "cohort.versions"},
		{"long constraint", JSON, cohort(`{"versions":"` + strings.Repeat("<9 ", 70) + `"}`), refused, "cohort.versions"},
		{"reauth versions no version satisfies", JSON, cohort(`{"versions":">= 1.0.0, < 0.5"}`), refused, "cohort.versions"},
		{"password_reset versions no version satisfies", JSON, `{"kind":"password_reset","name":"p","cohort":{"versions":">= 1.0.0, < 0.5"}}`, refused, "cohort.versions"},
		{"offline_rekey versions no version satisfies", JSON, `{"kind":"offline_rekey","name":"o","cohort":{"versions":">= 1.0.0, < 0.5"}}`, refused, "cohort.versions"},
		{"upgrade versions no version satisfies", JSON, `{"kind":"upgrade","name":"u","cohort":{"versions":">= 1.0.0, < 0.5"},"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{` + official + `}}}`, refused, "cohort.versions"},
		{"versions between two adjacent patches", JSON, cohort(`{"versions":"> 1.2.3, < 1.2.4"}`), refused, "cohort.versions"},
		{"versions below zero", JSON, cohort(`{"versions":"< 0.0.0"}`), refused, "cohort.versions"},
		{"caret and a bound past it", JSON, cohort(`{"versions":"^0.2.3, >= 0.3"}`), refused, "cohort.versions"},
		{"every alternative empty", JSON, cohort(`{"versions":"> 2, < 1 || = 3, != 3"}`), refused, "cohort.versions"},
		{"unknown platform", JSON, cohort(`{"platforms":["ios","blackberry"]}`), refused, "cohort.platforms"},
		{"platform listed twice", JSON, cohort(`{"platforms":["ios","ios"]}`), refused, "cohort.platforms"},
		{"empty platform list", JSON, cohort(`{"platforms":[]}`), refused, "cohort.platforms"},
		{"platform as a string", JSON, cohort(`{"platforms":"ios"}`), bad, "cohort.platforms"},
		{"unknown source", JSON, cohort(`{"sources":["sideloaded"]}`), refused, "cohort.sources"},
		{"bad time", JSON, cohort(`{"authenticated_before":"yesterday"}`), refused, "cohort.authenticated_before"},
		{"time without zone", JSON, cohort(`{"authenticated_before":"2014-05-27T00:00:00"}`), refused, "cohort.authenticated_before"},
		{"time past 2200", JSON, cohort(`{"authenticated_before":"2300-01-01T00:00:00Z"}`), refused, "cohort.authenticated_before"},
		{"empty user", JSON, cohort(`{"users":["u-1",""]}`), refused, "cohort.users"},
		{"long user", JSON, cohort(`{"users":["` + strings.Repeat("a", 255) + `"]}`), refused, "cohort.users"},
		{"too many users", JSON, cohort(`{"users":[` + manyUsers + `]}`), refused, "cohort.users"},
		{"bad report id", JSON, cohort(`{"users_from_report":"42"}`), refused, "cohort.users_from_report"},
		{"long report id", JSON, cohort(`{"users_from_report":"r-` + strings.Repeat("1", 63) + `"}`), refused, "cohort.users_from_report"},
		{"empty subjects", JSON, cohort(`{"subjects":[]}`), refused, "cohort.subjects"},
		{"subject without sub", JSON, cohort(`{"subjects":[{"issuer":"https://id.example.com"}]}`), refused, "cohort.subjects"},
		{"subject with an empty sub", JSON, cohort(`{"subjects":[{"issuer":"https://id.example.com","sub":""}]}`), refused, "cohort.subjects"},
		{"subject sub with a space", JSON, cohort(`{"subjects":[{"issuer":"https://id.example.com","sub":"a b"}]}`), refused, "cohort.subjects"},
		{"subject issuer with a fragment", JSON, cohort(`{"subjects":[{"issuer":"https://id.example.com#x","sub":"a"}]}`), refused, "cohort.subjects"},
		{"subject issuer not a URL", JSON, cohort(`{"subjects":[{"issuer":"id.example.com","sub":"a"}]}`), refused, "cohort.subjects"},
		{"subject key in capitals", JSON, cohort(`{"subjects":[{"Issuer":"https://id.example.com","sub":"a"}]}`), bad, "cohort.subjects[].Issuer"},
		{"subject unknown key", JSON, cohort(`{"subjects":[{"issuer":"https://id.example.com","sub":"a","email":"x"}]}`), bad, "cohort.subjects[].email"},
		{"subject key twice", JSON, cohort(`{"subjects":[{"issuer":"https://id.example.com","sub":"a","sub":"b"}]}`), bad, "cohort.subjects[].sub"},

		// ramp
		{"negative ramp", JSON, ramp(`"-5h"`), refused, "ramp.duration"},
		{"zero ramp", JSON, ramp(`"0s"`), refused, "ramp.duration"},
		{"zero seconds", JSON, ramp(`0`), refused, "ramp.duration"},
		{"negative seconds", JSON, ramp(`-60`), refused, "ramp.duration"},
		{"fractional seconds", JSON, ramp(`1.5`), refused, "ramp.duration"},
		{"exponent seconds", JSON, ramp(`1e3`), refused, "ramp.duration"},
		{"ramp too long", JSON, ramp(`"3651d"`), refused, "ramp.duration"},
		{"ramp too long in hours", JSON, ramp(`"87601h"`), refused, "ramp.duration"},
		{"unknown ramp mode", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"turbo","duration":"1h"}}`, refused, "ramp.mode"},
		{"auto without max_duration", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"auto"}}`, refused, "ramp.max_duration"},
		{"auto with a duration", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"auto","duration":"1h","max_duration":"72h"}}`, refused, "ramp.duration"},
		{"auto max_duration negative", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"auto","max_duration":"-1h"}}`, refused, "ramp.max_duration"},
		{"auto max_duration too long", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"auto","max_duration":"3651d"}}`, refused, "ramp.max_duration"},
		{"target above one", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"auto","max_duration":"72h","target_utilisation":1.01}}`, refused, "ramp.target_utilisation"},
		{"target zero", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","mode":"auto","max_duration":"72h","target_utilisation":0}}`, refused, "ramp.target_utilisation"},
		{"fixed with max_duration", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","max_duration":"72h"}}`, refused, "ramp.max_duration"},
		{"empty priority", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":{}}}`, refused, "ramp.priority"},
		{"priority of nothing", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":{"unusual_addresses":false}}}`, refused, "ramp.priority"},
		{"priority with an unknown key", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":{"unusual_addresses":true,"last":["mallory"]}}}`, bad, "ramp.priority.last"},
		{"priority users empty", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":{"users":[]}}}`, refused, "ramp.priority.users"},
		{"priority user empty", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":{"users":[""]}}}`, refused, "ramp.priority.users"},
		{"priority report not an id", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":{"users_from_report":"../r-1"}}}`, refused, "ramp.priority.users_from_report"},
		{"priority as a list", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","priority":["alice"]}}`, bad, "ramp.priority"},
		{"fixed with a target", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","target_utilisation":0.5}}`, refused, "ramp.target_utilisation"},
		{"ramp too long in seconds", JSON, ramp(`315360001`), refused, "ramp.duration"},
		{"ramp days overflow", JSON, ramp(`"99999999999999999999d"`), refused, "ramp.duration"},
		{"ramp in weeks", JSON, ramp(`"2w"`), refused, "ramp.duration"},
		{"ramp as a list", JSON, ramp(`["72h"]`), refused, "ramp.duration"},
		{"ramp without duration", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z"}}`, refused, "ramp.duration"},
		{"ramp without start", JSON, `{"kind":"reauth","name":"r","ramp":{"duration":"72h"}}`, refused, "ramp.start"},
		{"ramp with bad start", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"yesterday","duration":"72h"}}`, refused, "ramp.start"},

		// upgrade
		{"upgrade block on a reauth campaign", JSON, specDoc, refused, "upgrade"},
		{"upgrade campaign without upgrade", JSON, `{"kind":"upgrade","name":"u"}`, refused, "upgrade"},
		{"upgrade without min_version", JSON, upgradeWith(`{"mode":"immediate","urls":{` + official + `}}`), refused, "upgrade.min_version"},
		{"bad min_version", JSON, upgradeWith(`{"min_version":"latest","mode":"immediate","urls":{` + official + `}}`), refused, "upgrade.min_version"},
		{"min_version with v", JSON, upgradeWith(`{"min_version":"v8.5.0","mode":"immediate","urls":{` + official + `}}`), refused, "upgrade.min_version"},
		{"upgrade without mode", JSON, upgradeWith(`{"min_version":"8.5.0","urls":{` + official + `}}`), refused, "upgrade.mode"},
		{"unknown mode", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"soon","urls":{` + official + `}}`), refused, "upgrade.mode"},
		{"upgrade without urls", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate"}`), refused, "upgrade.urls"},
		{"upgrade without official url", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{"play":"https://play.google.com/x"}}`), refused, "upgrade.urls.official"},
		{"url for unknown installs", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{` + official + `,"unknown":"https://mirror.example.net/"}}`), refused, "upgrade.urls.unknown"},
		{"http url to a remote host", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{` + official + `,"play":"http://play.google.com/x"}}`), refused, "upgrade.urls.play"},
		{"javascript url", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{"official":"javascript:alert(1)"}}`), refused, "upgrade.urls.official"},
		{"relative url", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{"official":"/download"}}`), refused, "upgrade.urls.official"},
		{"url with userinfo", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://m.example.com@evil.example/"}}`), refused, "upgrade.urls.official"},
		{"url with a space", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://m.example.com/a b"}}`), refused, "upgrade.urls.official"},
		{"long url", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://m.example.com/` + strings.Repeat("a", 2048) + `"}}`), refused, "upgrade.urls.official"},
		{"versions that match nobody", JSON, `{"kind":"upgrade","name":"u","cohort":{"versions":">= 9"},"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{` + official + `}}}`, refused, "cohort.versions"},
		{"versions that match nobody either way", JSON, `{"kind":"upgrade","name":"u","cohort":{"versions":"^8.5 || ~9.1"},"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{` + official + `}}}`, refused, "cohort.versions"},

		// message
		{"long message", JSON, `{"kind":"reauth","name":"r","message":"` + strings.Repeat("x", 2001) + `"}`, refused, "message"},
		{"message with escape codes", JSON, `{"kind":"reauth","name":"r","message":"\u001b[31mred"}`, refused, "message"},

		// structure
		{"unknown field at top level", JSON, `{"kind":"reauth","name":"r","colour":"red"}`, bad, "colour"},
		{"unknown field inside cohort", JSON, cohort(`{"platform":["ios"]}`), bad, "cohort.platform"},
		{"unknown field inside ramp", JSON, `{"kind":"reauth","name":"r","ramp":{"start":"2014-05-27T08:00:00Z","duration":"1h","end":"x"}}`, bad, "ramp.end"},
		{"unknown field inside upgrade", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","url":"https://e.com"}`), bad, "upgrade.url"},
		{"field in another case", JSON, `{"Kind":"reauth","name":"r"}`, bad, "Kind"},
		{"duplicated key", JSON, `{"kind":"reauth","name":"r","kind":"upgrade"}`, bad, "kind"},
		{"duplicated key in cohort", JSON, cohort(`{"versions":"<8","versions":">=8"}`), bad, "cohort.versions"},
		{"duplicated url key", JSON, upgradeWith(`{"min_version":"8.5.0","mode":"immediate","urls":{` + official + `,` + official + `}}`), bad, "upgrade.urls.official"},
		{"two json objects", JSON, `{"kind":"reauth","name":"a"} {"kind":"reauth","name":"b"}`, bad, ""},
		{"trailing garbage", JSON, `{"kind":"reauth","name":"a"}]`, bad, ""},
		{"top-level list", JSON, `[{"kind":"reauth","name":"a"}]`, bad, ""},
		{"top-level null", JSON, `null`, bad, ""},
		{"empty document", JSON, ``, bad, ""},
		{"truncated", JSON, `{"kind":"reauth","name":`, bad, ""},
		{"syntax error", JSON, `{"kind":"reauth",,}`, bad, ""},
		{"name as a number", JSON, `{"kind":"reauth","name":7}`, bad, "name"},
		{"deeply nested", JSON, `{"message":` + strings.Repeat("[", MaxSize-20) + strings.Repeat("]", 8) + "}", bad, ""},
		{"2 MiB document", JSON, `{"kind":"reauth","name":"r","message":"` + strings.Repeat("x", 2<<20) + `"}`, cordon.ECodeTooLarge, ""},
		{"non-UTF-8 json", JSON, "{\"kind\":\"reauth\",\"name\":\"caf\xe9\"}", bad, ""},
		{"non-UTF-8 yaml", YAML, "kind: reauth\nname: caf\xe9\n", bad, ""},

		// YAML
		{"yaml unknown field", YAML, "kind: reauth\nname: r\ncohort:\n  platfroms: [ios]\n", bad, "cohort.platfroms"},
		{"yaml number as user", YAML, "kind: reauth\nname: r\ncohort:\n  users: [123]\n", bad, "cohort.users"},
		{"yaml duplicated key", YAML, "kind: reauth\nname: r\nkind: upgrade\n", bad, ""},
		{"two yaml documents", YAML, "kind: reauth\nname: a\n---\nkind: reauth\nname: b\n", bad, ""},
		{"yaml anchors", YAML, "kind: reauth\nname: &n r\nmessage: *n\n", bad, ""},
		{"yaml merge key", YAML, "base: &b {kind: reauth}\n<<: *b\nname: r\n", bad, ""},
		{"yaml billion laughs", YAML, billionLaughs(), bad, ""},
		{"yaml scalar bomb", YAML, scalarBomb(), bad, ""},
		{"yaml too many values", YAML, "kind: reauth\nname: r\ncohort:\n  users: [" + strings.Repeat("a,", maxYAMLNodes) + "a]\n", bad, ""},
		{"yaml deeply nested", YAML, "kind: reauth\nname: r\nmessage: " + strings.Repeat("[", 100000), bad, ""},
		{"yaml list at top", YAML, "- kind: reauth\n", bad, ""},
		{"yaml syntax error", YAML, "kind: [reauth\n", bad, ""},
		{"empty yaml", YAML, "", bad, ""},
		{"unknown format", "toml", `kind = "reauth"`, cordon.ECodeMediaType, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c, err := Parse([]byte(tt.doc), tt.format)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Parse took %v", d)
			}
			if err == nil {
				t.Fatalf("Parse accepted the document: %+v", c)
			}
			var e *cordon.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error %v is a %T, want *cordon.Error", err, err)
			}
			if e.Code != tt.code || e.Field != tt.field {
				t.Errorf("Parse error code %q field %q, want code %q field %q (%s)", e.Code, e.Field, tt.code, tt.field, e.Message)
			}
			if e.Message == "" || strings.Contains(e.Message, "json:") || strings.Contains(e.Message, "Go ") {
				t.Errorf("message %q is empty or speaks of internals", e.Message)
			}
		})
	}
}

// TestParseLargeYAML checks that a document near the limit, with no
// aliases, converts promptly and is accepted.
func TestParseLargeYAML(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: password_reset\nname: big\ncohort:\n  users: [u")
	for i := 1; i < maxUsers; i++ {
		fmt.Fprintf(&b, ",u%d", i)
	}
	b.WriteString("]\n")
	if b.Len() > MaxSize {
		t.Fatalf("test document is %d bytes, more than MaxSize", b.Len())
	}
	c, err := Parse([]byte(b.String()), YAML)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(c.Cohort.Users) != maxUsers {
		t.Errorf("%d users, want %d", len(c.Cohort.Users), maxUsers)
	}
	roundTrip(t, c)
}

// TestParseCanonicalTooLarge: a YAML document under the limit whose JSON
// form is over it is refused, so Format's output can always be posted.
func TestParseCanonicalTooLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: password_reset\nname: big\ncohort:\n  users: [")
	for i := 1; i < maxUsers; i++ {
		fmt.Fprintf(&b, "u%07d,", i)
	}
	b.WriteString("x]\n")
	_, err := Parse([]byte(b.String()), YAML)
	if got := cordon.ErrorCode(err); got != cordon.ECodeTooLarge {
		t.Errorf("Parse of %d bytes of YAML: code %q (%v), want %q", b.Len(), got, err, cordon.ECodeTooLarge)
	}
}

func TestFormatGolden(t *testing.T) {
	c, err := Parse([]byte(specYAML), YAML)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Format(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "spec-upgrade.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Format:\n%s\nwant (%s):\n%s", got, path, want)
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{72 * time.Hour, "72h"},
		{90 * time.Minute, "1h30m"},
		{time.Minute, "1m"},
		{36*time.Hour + 5*time.Second, "36h0m5s"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		if got := cordon.FormatDuration(tt.d); got != tt.want {
			t.Errorf("cordon.FormatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
		if back, err := time.ParseDuration(tt.want); err != nil || back != tt.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.want, back, err, tt.d)
		}
	}
}

// TestFormatFields checks that Format writes only the document: the
// lifecycle fields and resolved ids are the server's, not the operator's.
func TestFormatFields(t *testing.T) {
	c := specCampaign()
	c.ID, c.State, c.Created, c.UserIDs = "c-1", cordon.StateActive, time.Now(), []string{"u-9"}
	out, err := Format(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"id"`, `"state"`, `"created_at"`, "u-9", `\u003c`} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("Format output holds %s:\n%s", s, out)
		}
	}
	if _, err := Format(nil); err == nil {
		t.Error("Format(nil) succeeded")
	}
}

// TestAfter: the prerequisite block reads with its defaults, refuses what
// it cannot mean, and Format writes it back to the same campaign.
func TestAfter(t *testing.T) {
	for _, tc := range []struct {
		doc       string
		satisfied bool
		per       string
	}{
		{`{"kind":"offline_rekey","name":"x","after":{"campaign":"c-1"}}`, true, cordon.AfterPerInstall},
		{`{"kind":"offline_rekey","name":"x","after":{"campaign":"c-1","per":"user"}}`, true, cordon.AfterPerUser},
		{`{"kind":"reauth","name":"x","after":{"campaign":"c-1","satisfied":false}}`, false, cordon.AfterPerUser},
		{`{"kind":"reauth","name":"x","after":{"campaign":"c-1","satisfied":false,"per":"user"}}`, false, cordon.AfterPerUser},
	} {
		c, err := Parse([]byte(tc.doc), JSON)
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		if c.After == nil || c.After.Campaign != "c-1" || c.After.Satisfied != tc.satisfied || c.After.Per != tc.per {
			t.Fatalf("%s: after = %+v", tc.doc, c.After)
		}
		out, err := Format(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(out, JSON)
		if err != nil {
			t.Fatalf("Format wrote what Parse refuses: %v\n%s", err, out)
		}
		if *back.After != *c.After {
			t.Fatalf("round trip: %+v, want %+v", back.After, c.After)
		}
	}
	for doc, field := range map[string]string{
		`{"kind":"reauth","name":"x","after":{}}`:                                                   "after.campaign",
		`{"kind":"reauth","name":"x","after":{"campaign":""}}`:                                      "after.campaign",
		`{"kind":"reauth","name":"x","after":{"campaign":"c-` + strings.Repeat("a", 80) + `"}}`:     "after.campaign",
		`{"kind":"reauth","name":"x","after":{"campaign":"c-1; drop"}}`:                             "after.campaign",
		`{"kind":"reauth","name":"x","after":{"campaign":"c-1","per":"device"}}`:                    "after.per",
		`{"kind":"reauth","name":"x","after":{"campaign":"c-1","satisfied":false,"per":"install"}}`: "after.per",
		`{"kind":"reauth","name":"x","after":{"campaign":"c-1","Per":"user"}}`:                      "after.Per",
		`{"kind":"reauth","name":"x","after":"c-1"}`:                                                "after",
	} {
		_, err := Parse([]byte(doc), JSON)
		var e *cordon.Error
		if !errors.As(err, &e) || e.Field != field {
			t.Errorf("%s: err %v, want a refusal of %s", doc, err, field)
		}
	}
}
