package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"sort"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The size of every chart of report.html.
const (
	chartWidth  = 7 * vg.Inch
	chartHeight = 3 * vg.Inch
)

// chart is one chart of report.html: an inline SVG document, or, when the
// run recorded nothing to draw, the reason there is none.
type chart struct {
	Title string
	// SVG is the <svg> element made by gonum/plot, which escapes the text
	// it draws (version names); empty when there is nothing to draw.
	SVG   template.HTML
	Empty string
}

// charts draws the three charts of report.html: configured against
// observed share per version, latency quantiles, and requests and failures,
// each over the steps.
func charts(r *Report) ([]chart, error) {
	makers := []struct {
		title string
		empty string
		make  func(*Report) (*plot.Plot, bool, error)
	}{
		{"Share per version: configured (dashed) and observed (solid)", "no step configures weights or counted a request", shareChart},
		{"Latency per step", "no step recorded a request", latencyChart},
		{"Requests and failures per step", "the scenario has no steps", requestsChart},
	}
	out := make([]chart, len(makers))
	for i, m := range makers {
		out[i].Title = m.title
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

// newStepPlot is a plot whose x axis is the position of each step in
// r.Steps, labelled with the step's index.
func newStepPlot(r *Report, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text = "step"
	p.Y.Label.Text = yLabel
	ticks := make(plot.ConstantTicks, len(r.Steps))
	for i, s := range r.Steps {
		ticks[i] = plot.Tick{Value: float64(i), Label: strconv.Itoa(s.Index)}
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(r.Steps))-0.5
	p.Add(plotter.NewGrid())
	return p
}

// addSeries adds xys as a line with points (or a dashed line without
// points) to p and its legend.
func addSeries(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed bool) error {
	if dashed {
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		l.Color = c
		l.Width = vg.Points(1.5)
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	l.Color, pts.Color = c, c
	l.Width = vg.Points(1.5)
	p.Add(l, pts)
	p.Legend.Add(name, l, pts)
	return nil
}

// shareChart draws, per version, the configured share of the weighted
// steps and the observed share of the steps that counted requests.
func shareChart(r *Report) (*plot.Plot, bool, error) {
	seen := map[string]bool{}
	var versions []string
	for _, s := range r.Steps {
		for _, v := range s.Versions {
			if !seen[v.Version] {
				seen[v.Version] = true
				versions = append(versions, v.Version)
			}
		}
	}
	sort.Strings(versions)
	p := newStepPlot(r, "% of requests")
	p.Y.Min, p.Y.Max = 0, 100
	drawn := false
	for i, name := range versions {
		var configured, observed plotter.XYs
		for pos, s := range r.Steps {
			// A version a step does not list has no weight in it and
			// served none of its requests.
			var share VersionShare
			for _, v := range s.Versions {
				if v.Version == name {
					share = v
				}
			}
			if s.Weighted {
				configured = append(configured, plotter.XY{X: float64(pos), Y: share.ConfiguredPct})
			}
			if s.Reached && s.ShareRequests > 0 {
				observed = append(observed, plotter.XY{X: float64(pos), Y: share.ObservedPct})
			}
		}
		c := plotutil.Color(i)
		if len(configured) > 0 {
			if err := addSeries(p, name+" configured", configured, c, true); err != nil {
				return nil, false, err
			}
			drawn = true
		}
		if len(observed) > 0 {
			if err := addSeries(p, name+" observed", observed, c, false); err != nil {
				return nil, false, err
			}
			drawn = true
		}
	}
	return p, drawn, nil
}

// latencyChart draws the p50, p90 and p99 latency of the steps that
// recorded requests, in milliseconds.
func latencyChart(r *Report) (*plot.Plot, bool, error) {
	var p50, p90, p99 plotter.XYs
	for pos, s := range r.Steps {
		if !s.Reached || s.Latency.Count == 0 {
			continue
		}
		x := float64(pos)
		p50 = append(p50, plotter.XY{X: x, Y: msFloat(s.Latency.P50)})
		p90 = append(p90, plotter.XY{X: x, Y: msFloat(s.Latency.P90)})
		p99 = append(p99, plotter.XY{X: x, Y: msFloat(s.Latency.P99)})
	}
	if len(p50) == 0 {
		return nil, false, nil
	}
	p := newStepPlot(r, "latency (ms)")
	p.Y.Min = 0
	for i, series := range []struct {
		name string
		xys  plotter.XYs
	}{{"p50", p50}, {"p90", p90}, {"p99", p99}} {
		if err := addSeries(p, series.name, series.xys, plotutil.Color(i), false); err != nil {
			return nil, false, err
		}
	}
	return p, true, nil
}

// requestsChart draws the requests and failed requests of each step as
// bars side by side (none for a step the run never reached).
func requestsChart(r *Report) (*plot.Plot, bool, error) {
	if len(r.Steps) == 0 {
		return nil, false, nil
	}
	requests := make(plotter.Values, len(r.Steps))
	failed := make(plotter.Values, len(r.Steps))
	for pos, s := range r.Steps {
		requests[pos], failed[pos] = float64(s.Requests), float64(s.Failed)
	}
	p := newStepPlot(r, "requests")
	p.Y.Min = 0
	width := vg.Points(14)
	for i, series := range []struct {
		name   string
		values plotter.Values
		offset vg.Length
	}{{"requests", requests, -width / 2}, {"failed", failed, width / 2}} {
		bars, err := plotter.NewBarChart(series.values, width)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", series.name, err)
		}
		bars.Color = plotutil.Color(i * 2)
		bars.LineStyle.Width = 0
		bars.Offset = series.offset
		p.Add(bars)
		p.Legend.Add(series.name, bars)
	}
	return p, true, nil
}

// msFloat is d in milliseconds.
func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
