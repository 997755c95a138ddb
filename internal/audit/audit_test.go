package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func validEvent() Event {
	return Event{
		Time:       now.Add(-time.Minute),
		Principal:  "svc:billing",
		Action:     ActionRead,
		Subject:    "alice",
		Categories: []string{"email", "payment"},
		Purpose:    "TICKET-123",
		Source:     "billing-7f9c",
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(e *Event)
		field string // "" means valid
	}{
		{"valid", func(e *Event) {}, ""},
		{"every action write", func(e *Event) { e.Action = ActionWrite }, ""},
		{"export", func(e *Event) { e.Action = ActionExport }, ""},
		{"delete", func(e *Event) { e.Action = ActionDelete }, ""},
		{"empty purpose and source", func(e *Event) { e.Purpose, e.Source = "", "" }, ""},
		{"time 5 min ahead", func(e *Event) { e.Time = now.Add(MaxFutureSkew) }, ""},
		{"time just past skew", func(e *Event) { e.Time = now.Add(MaxFutureSkew + time.Nanosecond) }, "time"},
		{"zero time", func(e *Event) { e.Time = time.Time{} }, "time"},
		{"unknown action", func(e *Event) { e.Action = "peek" }, "action"},
		{"empty action", func(e *Event) { e.Action = "" }, "action"},
		{"empty principal", func(e *Event) { e.Principal = "" }, "principal"},
		{"long principal", func(e *Event) { e.Principal = strings.Repeat("p", 257) }, "principal"},
		{"principal at limit", func(e *Event) { e.Principal = strings.Repeat("p", 256) }, ""},
		{"principal newline", func(e *Event) { e.Principal = "a\nb" }, "principal"},
		{"principal invalid utf8", func(e *Event) { e.Principal = "a\xffb" }, "principal"},
		{"empty subject", func(e *Event) { e.Subject = "" }, "subject"},
		{"long subject", func(e *Event) { e.Subject = strings.Repeat("s", 257) }, "subject"},
		{"subject escape", func(e *Event) { e.Subject = "\x1b[2J" }, "subject"},
		{"unicode subject", func(e *Event) { e.Subject = "zoë" }, ""},
		{"no categories", func(e *Event) { e.Categories = nil }, "categories"},
		{"unknown category", func(e *Event) { e.Categories = []string{"email", "phone", "dna"} }, "categories[2]"},
		{"duplicate category", func(e *Event) { e.Categories = []string{"email", "phone", "email"} }, "categories[2]"},
		{"long purpose", func(e *Event) { e.Purpose = strings.Repeat("x", 513) }, "purpose"},
		{"purpose at limit", func(e *Event) { e.Purpose = strings.Repeat("x", 512) }, ""},
		{"purpose control", func(e *Event) { e.Purpose = "a\tb" }, "purpose"},
		{"long source", func(e *Event) { e.Source = strings.Repeat("x", 257) }, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			tt.edit(&e)
			err := e.Validate(now, DefaultCategories())
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				return
			}
			var ce *cordon.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Validate: got %v, want *cordon.Error", err)
			}
			if ce.Code != cordon.ECodeUnprocessable || ce.Field != tt.field {
				t.Errorf("Validate: got code %q field %q, want %q %q", ce.Code, ce.Field, cordon.ECodeUnprocessable, tt.field)
			}
		})
	}
}

func TestValidateOperatorCategory(t *testing.T) {
	e := validEvent()
	e.Categories = []string{"voice"}
	if err := e.Validate(now, append(DefaultCategories(), "voice")); err != nil {
		t.Errorf("Validate with operator category: %v", err)
	}
}

func TestLeafDeterministic(t *testing.T) {
	a := validEvent()
	a.Time = time.Date(2026, 3, 1, 11, 59, 0, 120000000, time.UTC)
	b := a
	b.Categories = []string{"payment", "email"}
	b.Time = a.Time.In(time.FixedZone("CET", 3600))
	la, lb := Leaf(a), Leaf(b)
	if !bytes.Equal(la, lb) {
		t.Fatalf("Leaf differs by zone/category order:\n%s\n%s", la, lb)
	}
	want := `{"time":"2026-03-01T11:59:00.12Z","principal":"svc:billing","action":"read","subject":"alice","categories":["email","payment"],"purpose":"TICKET-123","source":"billing-7f9c"}`
	if string(la) != want {
		t.Errorf("Leaf:\ngot  %s\nwant %s", la, want)
	}
	if b.Categories[0] != "payment" {
		t.Error("Leaf sorted the caller's categories in place")
	}
	// Monotonic clock readings must not leak into the encoding.
	m := a
	m.Time = time.Now()
	strip := m
	strip.Time = m.Time.Round(0)
	if !bytes.Equal(Leaf(m), Leaf(strip)) {
		t.Error("monotonic reading changed the encoding")
	}
}

func TestLeafDistinguishesFields(t *testing.T) {
	base := Leaf(validEvent())
	edits := map[string]func(e *Event){
		"time":      func(e *Event) { e.Time = e.Time.Add(time.Nanosecond) },
		"principal": func(e *Event) { e.Principal = "svc:other" },
		"action":    func(e *Event) { e.Action = ActionExport },
		"subject":   func(e *Event) { e.Subject = "bob" },
		"category":  func(e *Event) { e.Categories = []string{"email"} },
		"purpose":   func(e *Event) { e.Purpose = "" },
		"source":    func(e *Event) { e.Source = "" },
	}
	for name, edit := range edits {
		e := validEvent()
		edit(&e)
		if bytes.Equal(Leaf(e), base) {
			t.Errorf("editing %s did not change the leaf", name)
		}
	}
}

func TestParseLeaf(t *testing.T) {
	e := validEvent()
	e.Categories = []string{"payment", "email"}
	got, err := ParseLeaf(Leaf(e))
	if err != nil {
		t.Fatalf("ParseLeaf: %v", err)
	}
	if !got.Time.Equal(e.Time) || got.Principal != e.Principal || got.Categories[0] != "email" {
		t.Errorf("ParseLeaf: got %+v", got)
	}
	for _, bad := range []string{
		``, `{}`, `not json`,
		`{"principal":"svc:billing","time":"2026-03-01T11:59:00Z","action":"read","subject":"alice","categories":["email"],"purpose":"","source":""}`,
		`{"time":"2026-03-01T11:59:00Z","principal":"p","action":"read","subject":"s","categories":["email"],"purpose":"","source":"","x":1}`,
		`{"time":"2026-03-01T12:59:00+01:00","principal":"p","action":"read","subject":"s","categories":["email"],"purpose":"","source":""}`,
	} {
		if _, err := ParseLeaf([]byte(bad)); err == nil {
			t.Errorf("ParseLeaf(%q): got nil error", bad)
		}
	}
}
