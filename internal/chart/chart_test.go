package chart

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// elements parses svg as XML and returns its elements' names with their
// attributes and text, failing the test when it is not well-formed.
type elem struct {
	name  string
	attrs map[string]string
	text  string
}

func parse(t *testing.T, svg string) []elem {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var out []elem
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			e := elem{name: x.Name.Local, attrs: map[string]string{}}
			for _, a := range x.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
		case xml.CharData:
			if len(out) > 0 {
				out[len(out)-1].text += string(x)
			}
		}
	}
}

func TestNiceMax(t *testing.T) {
	for _, tc := range []struct{ in, top, step float64 }{
		{0, 1, 0.25}, {1, 1, 0.25}, {3, 5, 1.25}, {7, 10, 2.5}, {10, 10, 2.5}, {11, 20, 5}, {1234, 2000, 500}, {-3, 1, 0.25},
	} {
		top, step := NiceMax(tc.in)
		if top != tc.top || step != tc.step {
			t.Errorf("NiceMax(%v) = %v, %v; want %v, %v", tc.in, top, step, tc.top, tc.step)
		}
	}
}

func TestBarsScaleAndLabel(t *testing.T) {
	svg := string(Bars("sessions by platform", "sessions", []Bar{{Label: "ios 8.4.0 app_store", Value: 40}, {Label: "android", Value: 10}, {Label: "web", Value: 0}}))
	es := parse(t, svg)
	var rects []elem
	var ticks, labels []string
	for _, e := range es {
		switch {
		case e.name == "rect":
			rects = append(rects, e)
		case e.name == "text" && e.attrs["class"] == "tick":
			ticks = append(ticks, e.text)
		case e.name == "text" && e.attrs["class"] == "label":
			labels = append(labels, e.text)
		}
	}
	// The axis runs to 50 (the round number above 40) in ticks of 12.5.
	if want := "0 12.5 25 37.5 50 sessions"; strings.Join(ticks, " ") != want {
		t.Errorf("ticks %q, want %q", strings.Join(ticks, " "), want)
	}
	if want := "ios 8.4.0 app_store|android|web"; strings.Join(labels, "|") != want {
		t.Errorf("labels %q, want %q", strings.Join(labels, "|"), want)
	}
	// 40 of 50 over a 420-wide plot is 336; 10 is 84; 0 is 0.
	for i, want := range []string{"336", "84", "0"} {
		if got := rects[i].attrs["width"]; got != want {
			t.Errorf("bar %d width %s, want %s", i, got, want)
		}
	}
	if es[0].attrs["role"] != "img" || es[0].attrs["aria-label"] != "sessions by platform" {
		t.Errorf("svg attrs %v, want role img and the title as aria-label", es[0].attrs)
	}
}

func TestBarsEscapeLabels(t *testing.T) {
	evil := `<script>alert(1)</script>" onload="alert(2)`
	svg := string(Bars(evil, evil, []Bar{{Label: evil, Value: 1, Class: `x" onclick="y`}}))
	if strings.Contains(svg, "<script") || strings.Contains(svg, `" onload="`) || strings.Contains(svg, `" onclick="`) {
		t.Fatalf("a label escaped its text:\n%s", svg)
	}
	for _, e := range parse(t, svg) {
		for k := range e.attrs {
			if strings.HasPrefix(k, "on") {
				t.Errorf("element %s carries an event attribute %s", e.name, k)
			}
		}
	}
}

func TestLinesAxesAndLegend(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	svg := string(Lines("progress", []Series{
		{Name: "blocked", Points: []Point{{t0, 0}, {t0.Add(time.Minute), 8}, {t0.Add(2 * time.Minute), 8}}},
		{Name: "satisfied", Class: "ok", Points: []Point{{t0, 0}, {t0.Add(2 * time.Minute), 3}}},
	}))
	es := parse(t, svg)
	var ticks []string
	var lines []elem
	for _, e := range es {
		if e.name == "text" && e.attrs["class"] == "tick" {
			ticks = append(ticks, e.text)
		}
		if e.name == "polyline" {
			lines = append(lines, e)
		}
	}
	want := "0 2.5 5 7.5 10 10:00:00 10:00:30 10:01:00 10:01:30 10:02:00 time (UTC)"
	if strings.Join(ticks, " ") != want {
		t.Errorf("ticks %q, want %q", strings.Join(ticks, " "), want)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	// x from 56 to 628 over two minutes; y from 216 (0) to 34 (10).
	if got, want := lines[0].attrs["points"], "56,216 342,70 628,70"; got != want {
		t.Errorf("blocked points %q, want %q", got, want)
	}
	if got := lines[1].attrs["class"]; got != "line ok" {
		t.Errorf("satisfied class %q, want line ok", got)
	}
}

func TestLinesEmpty(t *testing.T) {
	svg := string(Lines("progress", nil))
	if !strings.Contains(svg, "no samples yet") {
		t.Errorf("an empty chart says nothing:\n%s", svg)
	}
	parse(t, svg)
}
