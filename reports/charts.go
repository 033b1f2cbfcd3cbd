package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The size of every chart of report.html (drawn at the page's full
// width: the SVG scales).
const (
	chartWidth  = 13 * vg.Inch
	chartHeight = 3.6 * vg.Inch
)

// chart is one chart of report.html: an inline SVG document, or, when the
// run recorded nothing to draw, the reason there is none.
type chart struct {
	Title string
	// ID names the chart (its figure's id), for tests and links.
	ID string
	// SVG is the <svg> element made by gonum/plot, which escapes the text
	// it draws (version names); empty when there is nothing to draw.
	SVG   template.HTML
	Empty string
}

// charts draws the charts of report.html: over the run's time, with the
// steps' names and boundaries, the observed share per version against the
// configured weights, the failures by class with the world events that
// explain them, the latency quantiles per version and the streams'
// continuity; and the requests and failures per step.
func charts(r *Report) ([]chart, error) {
	makers := []struct {
		id, title string
		empty     string
		make      func(*Report) (*plot.Plot, bool, error)
	}{
		{"share", "Share per version over time: observed (solid, a point a second) against the configured weight (dashed steps)", "no step configures weights or counted a request", shareChart},
		{"failures", "Failures by class over time, with the world events (task stopping, endpoint removed, route update, gate decision, rollback)", "no request was recorded", failuresChart},
		{"latency", "Latency over time per version: p50 (dashed) and p99 (solid)", "no version answered a request", latencyChart},
		{"streams", "Stream continuity over time: streams open and broken (awaiting a resume), breaks and resumes", "the run held no long-lived streams", streamsChart},
		{"requests", "Requests and failures per step", "the scenario has no steps", requestsChart},
	}
	out := make([]chart, len(makers))
	for i, m := range makers {
		out[i].Title, out[i].ID = m.title, m.id
		p, ok, err := m.make(r)
		if err != nil {
			return nil, fmt.Errorf("reports: chart %q: %w", m.title, err)
		}
		if !ok {
			out[i].Empty = m.empty
			continue
		}
		svg, err := renderSVG(p, m.title)
		if err != nil {
			return nil, fmt.Errorf("reports: chart %q: %w", m.title, err)
		}
		out[i].SVG = svg
	}
	return out, nil
}

// renderSVG renders p as an <svg> element to inline in HTML, with the
// legend to the right of the plot rather than over the data; without the
// XML declaration and comment gonum/plot writes before it; and labelled for
// screen readers with title.
func renderSVG(p *plot.Plot, title string) (template.HTML, error) {
	c, err := draw.NewFormattedCanvas(chartWidth, chartHeight, "svg")
	if err != nil {
		return "", err
	}
	dc := draw.New(c)
	legend := p.Legend
	p.Legend = plot.NewLegend()
	pad := vg.Points(8)
	lw := min(legend.Rectangle(dc).Size().X+2*pad, chartWidth/2)
	p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
	legend.Left, legend.Top = true, true
	legend.Draw(draw.Crop(dc, chartWidth-lw+pad, 0, 0, -pad))

	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	doc := b.Bytes()
	i := bytes.Index(doc, []byte("<svg"))
	if i < 0 {
		return "", fmt.Errorf("no <svg> element in the rendered chart")
	}
	svg := `<svg role="img" aria-label="` + template.HTMLEscapeString(title) + `"` + string(bytes.TrimSpace(doc[i+len("<svg"):]))
	return template.HTML(svg), nil
}

// Colours: the versions', in order (also the dashboard's order), the
// failure classes', and the world events'.
var (
	versionPalette = []color.Color{rgb(0x1f, 0x77, 0xb4), rgb(0xff, 0x7f, 0x0e), rgb(0x2c, 0xa0, 0x2c), rgb(0x94, 0x67, 0xbd), rgb(0x8c, 0x56, 0x4b), rgb(0xe3, 0x77, 0xc2)}
	errorPalette   = []color.Color{rgb(0xd6, 0x27, 0x28), rgb(0xff, 0x98, 0x96), rgb(0x8c, 0x2d, 0x04), rgb(0xbc, 0xbd, 0x22), rgb(0x7f, 0x7f, 0x7f), rgb(0x17, 0xbe, 0xcf)}
	eventStyles    = []struct {
		kind  string
		color color.Color
		shape draw.GlyphDrawer
	}{
		{EventKindTaskStopping, rgb(0x55, 0x55, 0x55), draw.TriangleGlyph{}},
		{EventKindEndpointRemoved, rgb(0x8c, 0x56, 0x4b), draw.CrossGlyph{}},
		{EventKindRouteUpdate, rgb(0x1f, 0x77, 0xb4), draw.BoxGlyph{}},
		{EventKindGate, rgb(0x2c, 0xa0, 0x2c), draw.CircleGlyph{}},
		{EventKindRollback, rgb(0xd6, 0x27, 0x28), draw.PlusGlyph{}},
	}
	boundaryColor = rgb(0x99, 0x99, 0x99)
	requestsColor = rgb(0x1f, 0x77, 0xb4)
	failedColor   = rgb(0xd6, 0x27, 0x28)
)

func rgb(r, g, b uint8) color.Color { return color.RGBA{R: r, G: g, B: b, A: 255} }

func paletteColor(p []color.Color, i int) color.Color { return p[i%len(p)] }

// seconds is t's place on a time chart: seconds since the timeline's start.
func (tl *Timeline) seconds(t time.Time) float64 { return t.Sub(tl.Start).Seconds() }

// bucketX is the middle of bucket b on a time chart.
func (tl *Timeline) bucketX(b int) float64 {
	return (time.Duration(b)*tl.Interval + tl.Interval/2).Seconds()
}

// newTimePlot is a plot over the run's time, in seconds since its start.
func newTimePlot(tl *Timeline, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text = "time since the run's first request (s)"
	p.Y.Label.Text = yLabel
	p.X.Min = 0
	p.X.Max = (time.Duration(len(tl.Buckets)) * tl.Interval).Seconds()
	p.Add(plotter.NewGrid())
	return p
}

// addSteps draws the steps' boundaries as vertical lines from 0 to top and
// their names at the top of each step.
func addSteps(p *plot.Plot, r *Report, top float64) error {
	tl := r.Timeline
	var labels plotter.XYLabels
	row := 0
	for _, s := range r.Steps {
		if !s.Reached || s.Start.IsZero() {
			continue
		}
		x := tl.seconds(s.Start)
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}})
		if err != nil {
			return err
		}
		l.Color, l.Width, l.Dashes = boundaryColor, vg.Points(0.8), []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		// Three rows of names, in turn, so that short steps' names do
		// not overlap.
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: top * (1 - 0.045*float64(row%3))})
		labels.Labels = append(labels.Labels, " "+s.Name)
		row++
	}
	if len(labels.XYs) == 0 {
		return nil
	}
	names, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range names.TextStyle {
		names.TextStyle[i].Color = rgb(0x44, 0x44, 0x44)
		names.TextStyle[i].Font.Size = vg.Points(8)
		names.TextStyle[i].YAlign = -1 // below the top
	}
	p.Add(names)
	return nil
}

// addLine adds xys as a line (dashed, or with points) to p and its
// legend.
func addLine(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed, points bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	l.Color, l.Width = c, vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	if !points {
		p.Legend.Add(name, l)
		return nil
	}
	pts, err := plotter.NewScatter(xys)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	pts.Color, pts.Radius = c, vg.Points(1.5)
	pts.Shape = draw.CircleGlyph{}
	p.Add(pts)
	p.Legend.Add(name, l, pts)
	return nil
}

// shareChart draws, per version, the share of each second's answered
// requests it served, against its configured weight in each step.
func shareChart(r *Report) (*plot.Plot, bool, error) {
	tl := r.Timeline
	if tl == nil || len(tl.Versions) == 0 {
		return nil, false, nil
	}
	p := newTimePlot(tl, "% of answered requests")
	p.Y.Min, p.Y.Max = 0, 112
	if err := addSteps(p, r, 112); err != nil {
		return nil, false, err
	}
	for i, v := range tl.Versions {
		var observed plotter.XYs
		for b, bucket := range tl.Buckets {
			answered := 0
			for _, n := range bucket.Served {
				answered += n
			}
			if answered > 0 {
				observed = append(observed, plotter.XY{X: tl.bucketX(b), Y: 100 * float64(bucket.Served[v]) / float64(answered)})
			}
		}
		c := paletteColor(versionPalette, i)
		if configured := configuredSteps(r, v); len(configured) > 0 {
			if err := addLine(p, v+" configured", configured, c, true, false); err != nil {
				return nil, false, err
			}
		}
		if len(observed) > 0 {
			if err := addLine(p, v+" observed", observed, c, false, true); err != nil {
				return nil, false, err
			}
		}
	}
	return p, true, nil
}

// configuredSteps is version v's configured weight over time: a step
// line, flat through each weighted step.
func configuredSteps(r *Report, v string) plotter.XYs {
	tl := r.Timeline
	var xys plotter.XYs
	for _, s := range r.Steps {
		if !s.Weighted || !s.Reached || s.Start.IsZero() || s.End.IsZero() {
			continue
		}
		w := 0.0
		for _, sv := range s.Versions {
			if sv.Version == v {
				w = sv.ConfiguredPct
			}
		}
		xys = append(xys, plotter.XY{X: tl.seconds(s.Start), Y: w}, plotter.XY{X: tl.seconds(s.End), Y: w})
	}
	return xys
}

// failuresChart draws each second's failures by class, with the world
// events marked.
func failuresChart(r *Report) (*plot.Plot, bool, error) {
	tl := r.Timeline
	if tl == nil {
		return nil, false, nil
	}
	top := 1.0
	for _, b := range tl.Buckets {
		for _, n := range b.Errors {
			top = max(top, float64(n))
		}
	}
	top *= 1.25
	p := newTimePlot(tl, "failed requests per "+intervalName(tl.Interval))
	p.Y.Min, p.Y.Max = 0, top*1.1
	if err := addSteps(p, r, top*1.1); err != nil {
		return nil, false, err
	}
	for i, kind := range tl.ErrorKinds {
		xys := make(plotter.XYs, len(tl.Buckets))
		for b, bucket := range tl.Buckets {
			xys[b] = plotter.XY{X: tl.bucketX(b), Y: float64(bucket.Errors[kind])}
		}
		if err := addLine(p, kind, xys, paletteColor(errorPalette, i), false, false); err != nil {
			return nil, false, err
		}
	}
	if len(tl.ErrorKinds) == 0 {
		// No failure: a flat line at zero says so.
		zero := plotter.XYs{{X: 0, Y: 0}, {X: p.X.Max, Y: 0}}
		if err := addLine(p, "failures (none)", zero, failedColor, false, false); err != nil {
			return nil, false, err
		}
	}
	if err := addEvents(p, tl, top); err != nil {
		return nil, false, err
	}
	return p, true, nil
}

// addEvents marks the world events: a thin line from 0 to y and a glyph
// at y, one shape and colour per kind, in the legend.
func addEvents(p *plot.Plot, tl *Timeline, y float64) error {
	for _, st := range eventStyles {
		var xys plotter.XYs
		for _, e := range tl.Events {
			if e.Kind != st.kind {
				continue
			}
			x := tl.seconds(e.At)
			xys = append(xys, plotter.XY{X: x, Y: y})
			l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: y}})
			if err != nil {
				return err
			}
			l.Color, l.Width = st.color, vg.Points(0.5)
			p.Add(l)
		}
		if len(xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		s.Color, s.Shape, s.Radius = st.color, st.shape, vg.Points(3.5)
		p.Add(s)
		p.Legend.Add(fmt.Sprintf("%s (%d)", st.kind, len(xys)), s)
	}
	return nil
}

func intervalName(d time.Duration) string {
	if d == time.Second {
		return "second"
	}
	return d.String()
}

// latencyChart draws each version's p50 and p99 latency over time, in
// milliseconds.
func latencyChart(r *Report) (*plot.Plot, bool, error) {
	tl := r.Timeline
	if tl == nil || len(tl.Versions) == 0 {
		return nil, false, nil
	}
	top := 0.0
	for _, b := range tl.Buckets {
		for _, d := range b.P99 {
			top = max(top, msFloat(d))
		}
	}
	top = max(top*1.15, 1)
	p := newTimePlot(tl, "latency (ms)")
	p.Y.Min, p.Y.Max = 0, top
	if err := addSteps(p, r, top); err != nil {
		return nil, false, err
	}
	for i, v := range tl.Versions {
		var p50, p99 plotter.XYs
		for b, bucket := range tl.Buckets {
			if d, ok := bucket.P50[v]; ok {
				p50 = append(p50, plotter.XY{X: tl.bucketX(b), Y: msFloat(d)})
				p99 = append(p99, plotter.XY{X: tl.bucketX(b), Y: msFloat(bucket.P99[v])})
			}
		}
		if len(p50) == 0 {
			continue
		}
		c := paletteColor(versionPalette, i)
		if err := addLine(p, v+" p50", p50, c, true, false); err != nil {
			return nil, false, err
		}
		if err := addLine(p, v+" p99", p99, c, false, true); err != nil {
			return nil, false, err
		}
	}
	return p, true, nil
}

// streamsChart draws the streams open and broken at the end of each
// second, and the breaks and resumes in it.
func streamsChart(r *Report) (*plot.Plot, bool, error) {
	tl := r.Timeline
	if tl == nil || !tl.Streams {
		return nil, false, nil
	}
	series := []struct {
		name  string
		value func(TimeBucket) int
		color color.Color
		dash  bool
	}{
		{"open", func(b TimeBucket) int { return b.Open }, rgb(0x2c, 0xa0, 0x2c), false},
		{"broken (awaiting a resume)", func(b TimeBucket) int { return b.Broken }, failedColor, false},
		{"breaks in the " + intervalName(tl.Interval), func(b TimeBucket) int { return b.Breaks }, rgb(0xff, 0x7f, 0x0e), true},
		{"resumes in the " + intervalName(tl.Interval), func(b TimeBucket) int { return b.Resumes }, requestsColor, true},
	}
	top := 1.0
	for _, b := range tl.Buckets {
		for _, s := range series {
			top = max(top, float64(s.value(b)))
		}
	}
	top *= 1.15
	p := newTimePlot(tl, "streams")
	p.Y.Min, p.Y.Max = 0, top
	if err := addSteps(p, r, top); err != nil {
		return nil, false, err
	}
	for _, s := range series {
		xys := make(plotter.XYs, len(tl.Buckets))
		for b, bucket := range tl.Buckets {
			xys[b] = plotter.XY{X: tl.bucketX(b), Y: float64(s.value(bucket))}
		}
		if err := addLine(p, s.name, xys, s.color, s.dash, false); err != nil {
			return nil, false, err
		}
	}
	return p, true, nil
}

// requestsChart draws the requests and failed requests of each step as
// bars side by side (none for a step the run never reached), the steps
// named on the x axis.
func requestsChart(r *Report) (*plot.Plot, bool, error) {
	if len(r.Steps) == 0 {
		return nil, false, nil
	}
	requests := make(plotter.Values, len(r.Steps))
	failed := make(plotter.Values, len(r.Steps))
	for pos, s := range r.Steps {
		requests[pos], failed[pos] = float64(s.Requests), float64(s.Failed)
	}
	p := plot.New()
	p.X.Label.Text = "step"
	p.Y.Label.Text = "requests"
	ticks := make(plot.ConstantTicks, len(r.Steps))
	for i, s := range r.Steps {
		ticks[i] = plot.Tick{Value: float64(i), Label: strconv.Itoa(s.Index) + " " + s.Name}
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(r.Steps))-0.5
	p.Add(plotter.NewGrid())
	p.Y.Min = 0
	width := vg.Points(14)
	for _, series := range []struct {
		name   string
		values plotter.Values
		offset vg.Length
		color  color.Color
	}{{"requests", requests, -width / 2, requestsColor}, {"failed", failed, width / 2, failedColor}} {
		bars, err := plotter.NewBarChart(series.values, width)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", series.name, err)
		}
		bars.Color = series.color
		bars.LineStyle.Width = 0
		bars.Offset = series.offset
		p.Add(bars)
		p.Legend.Add(series.name, bars)
	}
	return p, true, nil
}

// msFloat is d in milliseconds.
func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
