// Package chart draws bar and line charts as SVG, server-side, with axes,
// tick labels and a legend, for the web console. Colours come from CSS
// classes (the page's stylesheet sets them for light and dark mode), so
// the SVG carries no style of its own and needs no script.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Bar is one bar: a label and its value.
type Bar struct {
	Label string
	Value float64
	// Class picks the bar's colour class ("" is the default series).
	Class string
}

const (
	rowHeight = 22
	labelW    = 190
	plotW     = 420
	rightPad  = 70
	topPad    = 8
	axisH     = 30
)

// esc escapes text for SVG (XML) content and attributes.
func esc(s string) string { return template.HTMLEscapeString(s) }

// NiceMax returns a round upper bound ≥ v for an axis (1, 2, 5 × 10^n),
// and the step between its ticks.
func NiceMax(v float64) (top, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 0.25
	}
	exp := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if top = m * exp; top >= v {
			break
		}
	}
	step = top / 4
	return top, step
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// Bars draws a horizontal bar chart: one row per bar, the label at the
// left, the value at the bar's end, and a value axis with ticks below.
// title names the chart for assistive technology (role="img").
func Bars(title, unit string, bars []Bar) template.HTML {
	var b strings.Builder
	h := topPad + rowHeight*max(len(bars), 1) + axisH
	w := labelW + plotW + rightPad
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, esc(title))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(title))
	top := 0.0
	for _, bar := range bars {
		top = max(top, bar.Value)
	}
	axisMax, step := NiceMax(top)
	plotBottom := topPad + rowHeight*max(len(bars), 1)
	// Grid and ticks.
	for v := 0.0; v <= axisMax+step/2; v += step {
		x := labelW + int(math.Round(v/axisMax*plotW))
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%d" x2="%d" y2="%d"/>`, x, topPad, x, plotBottom)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="middle">%s</text>`, x, plotBottom+16, num(v))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, labelW, plotBottom, labelW+plotW, plotBottom)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>`, labelW+plotW, plotBottom+28, esc(unit))
	if len(bars) == 0 {
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d">nothing to show</text>`, labelW+8, topPad+15)
	}
	for i, bar := range bars {
		y := topPad + i*rowHeight
		bw := 0
		if axisMax > 0 {
			bw = int(math.Round(bar.Value / axisMax * plotW))
		}
		if bar.Value > 0 && bw == 0 {
			bw = 1 // a non-zero value stays visible
		}
		cls := "bar"
		if bar.Class != "" {
			cls += " " + bar.Class
		}
		label := bar.Label
		if r := []rune(label); len(r) > 28 {
			label = string(r[:27]) + "…"
		}
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, labelW-6, y+15, esc(label))
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="%d" width="%d" height="%d"><title>%s: %s</title></rect>`, esc(cls), labelW, y+3, bw, rowHeight-6, esc(bar.Label), num(bar.Value))
		fmt.Fprintf(&b, `<text class="value" x="%d" y="%d">%s</text>`, labelW+bw+4, y+15, num(bar.Value))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Point is one sample of a series.
type Point struct {
	At    time.Time
	Value float64
}

// Series is one line.
type Series struct {
	Name   string
	Class  string
	Points []Point
}

const (
	lineW, lineH     = 640, 260
	leftPad, botPad  = 56, 44
	linePad, legendH = 12, 22
)

// Lines draws line series over time with a value axis (left), a time axis
// (bottom, in UTC) and a legend naming each series.
func Lines(title string, series []Series) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, lineW, lineH, esc(title))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(title))
	var t0, t1 time.Time
	top := 0.0
	n := 0
	for _, s := range series {
		for _, p := range s.Points {
			if t0.IsZero() || p.At.Before(t0) {
				t0 = p.At
			}
			if p.At.After(t1) {
				t1 = p.At
			}
			top = max(top, p.Value)
			n++
		}
	}
	axisMax, step := NiceMax(top)
	x0, x1 := leftPad, lineW-linePad
	y0, y1 := lineH-botPad, linePad+legendH
	yOf := func(v float64) int { return y0 - int(math.Round(v/axisMax*float64(y0-y1))) }
	span := t1.Sub(t0)
	xOf := func(t time.Time) int {
		if span <= 0 {
			return (x0 + x1) / 2
		}
		return x0 + int(math.Round(float64(t.Sub(t0))/float64(span)*float64(x1-x0)))
	}
	for v := 0.0; v <= axisMax+step/2; v += step {
		y := yOf(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%d" x2="%d" y2="%d"/>`, x0, y, x1, y)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>`, x0-6, y+4, num(v))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, x0, y0, x1, y0)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, x0, y1, x0, y0)
	if n == 0 {
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d">no samples yet</text>`, x0+10, (y0+y1)/2)
	} else {
		layout := "15:04:05"
		switch {
		case span > 24*time.Hour:
			layout = "Jan 2 15:04"
		case span < 10*time.Second:
			layout = "15:04:05.0"
		}
		ticks := 4
		if span <= 0 {
			ticks = 0
		}
		for i := 0; i <= ticks; i++ {
			t := t0
			if ticks > 0 {
				t = t0.Add(time.Duration(float64(span) * float64(i) / float64(ticks)))
			}
			x := xOf(t)
			fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, x, y0, x, y0+4)
			anchor := "middle"
			if i == ticks && ticks > 0 {
				anchor = "end" // the last label ends at the axis, inside the chart
			}
			fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="%s">%s</text>`, x, y0+18, anchor, t.UTC().Format(layout))
		}
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">time (UTC)</text>`, x1, y0+36)
	}
	lx := x0
	for i, s := range series {
		cls := s.Class
		if cls == "" {
			cls = fmt.Sprintf("s%d", i)
		}
		fmt.Fprintf(&b, `<rect class="key %s" x="%d" y="%d" width="12" height="12"/><text class="label" x="%d" y="%d">%s</text>`, esc(cls), lx, 4, lx+16, 14, esc(s.Name))
		lx += 24 + 8*len([]rune(s.Name))
		if len(s.Points) == 0 {
			continue
		}
		var pts []string
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%d,%d", xOf(p.At), yOf(p.Value)))
		}
		fmt.Fprintf(&b, `<polyline class="line %s" fill="none" points="%s"><title>%s</title></polyline>`, esc(cls), strings.Join(pts, " "), esc(s.Name))
		last := s.Points[len(s.Points)-1]
		fmt.Fprintf(&b, `<circle class="dot %s" cx="%d" cy="%d" r="3"/>`, esc(cls), xOf(last.At), yOf(last.Value))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
