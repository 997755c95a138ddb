package fleetsim

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// A plot is a hand-written SVG line chart: axes with ticks and labels, a
// legend, one polyline per run. No dependency for three charts.

type line struct {
	name string
	xs   []float64 // hours
	ys   []float64
}

var palette = []string{"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4"}

const (
	plotW, plotH       = 760.0, 420.0
	marginL, marginR   = 70.0, 210.0
	marginT, marginB   = 40.0, 50.0
	innerW, innerH     = plotW - marginL - marginR, plotH - marginT - marginB
	maxPointsPerSeries = 2000
)

// chart writes one chart. xMax is in hours; ref, when positive, is drawn
// as a dashed horizontal line named refName (the tier's capacity).
func chart(w io.Writer, title, xLabel, yLabel string, xMax, yMax float64, lines []line, ref float64, refName string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, html.EscapeString(title))
	x := func(v float64) float64 { return marginL + innerW*math.Min(v, xMax)/xMax }
	y := func(v float64) float64 { return marginT + innerH*(1-math.Min(v, yMax)/yMax) }
	// Axes and ticks.
	fmt.Fprintf(&b, `<path d="M%.1f %.1fV%.1fH%.1f" stroke="black" fill="none"/>`+"\n", marginL, marginT, marginT+innerH, marginL+innerW)
	for _, t := range ticks(xMax) {
		fmt.Fprintf(&b, `<path d="M%.1f %.1fv5" stroke="black"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n",
			x(t), marginT+innerH, x(t), marginT+innerH+18, trim(t))
	}
	for _, t := range ticks(yMax) {
		fmt.Fprintf(&b, `<path d="M%.1f %.1fh-5" stroke="black"/><path d="M%.1f %.1fH%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			marginL, y(t), marginL, y(t), marginL+innerW, marginL-8, y(t)+4, trim(t))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", marginL+innerW/2, plotH-10, html.EscapeString(xLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", marginT+innerH/2, html.EscapeString(yLabel))
	if ref > 0 {
		fmt.Fprintf(&b, `<path d="M%.1f %.1fH%.1f" stroke="red" stroke-dasharray="6 4"/>`+"\n", marginL, y(ref), marginL+innerW)
	}
	for i, l := range lines {
		col := palette[i%len(palette)]
		var pts strings.Builder
		step := max(1, len(l.xs)/maxPointsPerSeries)
		for j := 0; j < len(l.xs); j += step {
			if l.xs[j] > xMax {
				break
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(l.xs[j]), y(l.ys[j]))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.6"/>`+"\n", strings.TrimSpace(pts.String()), col)
		ly := marginT + 10 + 18*float64(i)
		fmt.Fprintf(&b, `<path d="M%.1f %.1fh20" stroke="%s" stroke-width="3"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			marginL+innerW+12, ly, col, marginL+innerW+38, ly+4, html.EscapeString(l.name))
	}
	if ref > 0 {
		ly := marginT + 10 + 18*float64(len(lines))
		fmt.Fprintf(&b, `<path d="M%.1f %.1fh20" stroke="red" stroke-dasharray="6 4"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			marginL+innerW+12, ly, marginL+innerW+38, ly+4, html.EscapeString(refName))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ticks are 4 to 10 round values from 0 to max.
func ticks(m float64) []float64 {
	step := math.Pow(10, math.Floor(math.Log10(m)))
	for m/step < 4 {
		step /= 2
	}
	for m/step > 10 {
		step *= 2
	}
	var out []float64
	for t := 0.0; t <= m*1.0001; t += step {
		out = append(out, t)
	}
	return out
}

func trim(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// Plot names the charts WritePlots writes.
var Plot = struct{ Demand, Containment, Satisfied string }{"demand.svg", "containment.svg", "satisfied.svg"}

// WritePlots writes the three charts of the runs through create, which
// opens a file by name (Plot's names).
func WritePlots(rs []*Result, create func(name string) (io.WriteCloser, error)) error {
	if len(rs) == 0 {
		return nil
	}
	var demand, open, sat []line
	var peak float64
	for _, r := range rs {
		d := line{name: r.Ramp.Name()}
		o := line{name: r.Ramp.Name()}
		s := line{name: r.Ramp.Name()}
		for _, p := range r.Series {
			h := p.At.Hours()
			d.xs, d.ys = append(d.xs, h), append(d.ys, p.Demand)
			o.xs, o.ys = append(o.xs, h), append(o.ys, 100*float64(p.OpenWindows)/float64(max(1, r.Active)))
			s.xs, s.ys = append(s.xs, h), append(s.ys, 100*p.Satisfied)
			if h <= 12 {
				peak = math.Max(peak, p.Demand)
			}
		}
		demand, open, sat = append(demand, d), append(open, o), append(sat, s)
	}
	c := rs[0].Capacity
	yMax := niceCeil(math.Max(peak, c) * 1.1)
	horizon := rs[0].Series[len(rs[0].Series)-1].At
	charts := []struct {
		name, title, xl, yl string
		xMax, yMax          float64
		lines               []line
		ref                 float64
	}{
		{Plot.Demand, fmt.Sprintf("Login demand vs capacity, %s installs (5-minute means)", count(rs[0].Installs)), "hours since activation", "logins per second", 12, yMax, demand, c},
		{Plot.Containment, "Stolen sessions still accepted (active installs whose user is not yet admitted)", "hours since activation", "% of active installs", 24, 100, open, 0},
		{Plot.Satisfied, "Active installs logged in again", "hours since activation", "% of active installs", math.Round(horizon.Hours()), 100, sat, 0},
	}
	for _, ch := range charts {
		f, err := create(ch.name)
		if err != nil {
			return err
		}
		err = chart(f, ch.title, ch.xl, ch.yl, ch.xMax, ch.yMax, ch.lines, ch.ref, fmt.Sprintf("capacity %s/s", trim(ch.ref)))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", ch.name, err)
		}
	}
	return nil
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func count(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Table writes the runs as a Markdown table.
func Table(w io.Writer, rs []*Result) error {
	var b strings.Builder
	b.WriteString("| ramp | peak login demand (per min) | logins shed | apps that gave up | every active install's stolen session refused | 95 % of active installs logged in again |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.1f/s of %s/s (%.0f %%) | %s | %s | %s | %s |\n", r.Ramp.Name(), r.PeakDemand, trim(r.Capacity),
			100*r.PeakDemand/r.Capacity, count(int(r.Shed)), count(int(r.GaveUp)), dur(r.Contained), dur(r.Satisfied95))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func dur(d time.Duration) string {
	if d < 0 {
		return "not within the run"
	}
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h >= 48:
		return fmt.Sprintf("%dd %dh %02dm", h/24, h%24, m)
	case h > 0:
		return fmt.Sprintf("%dh %02dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}
