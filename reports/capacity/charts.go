package capacity

import (
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/meshsim/meshsim/reports"
)

// chart is one chart of capacity.html.
type chart struct {
	Title string
	SVG   template.HTML
	Empty string
}

// charts draws capacity.html's charts: throughput against offered load
// with each count's knee, the objective's latency quantile against load
// with M/M/c's prediction, throughput against concurrency with the USL
// fits, and capacity against task count with the USL fit and the target.
func charts(r *Report) ([]chart, error) {
	makers := []struct {
		title, empty string
		make         func(*Report) (*plot.Plot, bool, error)
	}{
		{"Throughput against offered load, per task count (lines: the knee fit; crosses: points where meshsim saturated)", "no point was measured", throughputChart},
		{fmt.Sprintf("%s latency against offered load, per task count (dashed: M/M/c; grey: the objective)", quantileName(r.Sweep.Objective.Quantile)), "no point was measured", latencyChart},
		{"Throughput against requests in flight (Little's law), with the USL fitted per task count", "no task count had enough points for a USL fit", concurrencyChart},
		{"Capacity within the objective against task count, with the USL fit and the target rate", "no task count met the objective", tasksChart},
	}
	out := make([]chart, len(makers))
	for i, m := range makers {
		out[i].Title = m.title
		p, ok, err := m.make(r)
		if err != nil {
			return nil, fmt.Errorf("capacity: chart %q: %w", m.title, err)
		}
		if !ok {
			out[i].Empty = m.empty
			continue
		}
		if out[i].SVG, err = reports.RenderSVG(p, m.title); err != nil {
			return nil, fmt.Errorf("capacity: chart %q: %w", m.title, err)
		}
	}
	return out, nil
}

func countLabel(n int) string { return fmt.Sprintf("%d task%s", n, plural(n)) }

func scatter(p *plot.Plot, xys plotter.XYs, c color.Color, shape draw.GlyphDrawer, legend string) error {
	if len(xys) == 0 {
		return nil
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	s.Color = c
	s.Shape = shape
	s.Radius = vg.Points(3)
	p.Add(s)
	if legend != "" {
		p.Legend.Add(legend, s)
	}
	return nil
}

func line(p *plot.Plot, xys plotter.XYs, c color.Color, dashed bool) error {
	if len(xys) < 2 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	return nil
}

// points returns the count's points as (x, y), split into those meshsim
// kept up in and the saturated ones.
func points(r *Report, c Count, x, y func(Point) float64) (kept, saturated plotter.XYs) {
	for _, i := range c.Points {
		pt := r.Sweep.Points[i]
		xy := plotter.XY{X: x(pt), Y: y(pt)}
		if math.IsNaN(xy.X) || math.IsNaN(xy.Y) || math.IsInf(xy.Y, 0) {
			continue
		}
		if pt.Saturated != "" {
			saturated = append(saturated, xy)
		} else {
			kept = append(kept, xy)
		}
	}
	return kept, saturated
}

func newPlot(x, y string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.Add(plotter.NewGrid())
	return p
}

func throughputChart(r *Report) (*plot.Plot, bool, error) {
	p := newPlot("offered (req/s)", "throughput (successful req/s)")
	maxR := 0.0
	for i, c := range r.Counts {
		col := plotutil.Color(i)
		kept, sat := points(r, c, func(p Point) float64 { return p.Offered }, func(p Point) float64 { return p.Throughput })
		if err := scatter(p, kept, col, draw.CircleGlyph{}, countLabel(c.Tasks)); err != nil {
			return nil, false, err
		}
		if err := scatter(p, sat, col, draw.CrossGlyph{}, ""); err != nil {
			return nil, false, err
		}
		for _, xy := range append(kept, sat...) {
			maxR = max(maxR, xy.X)
		}
		if c.Knee.Found {
			k := c.Knee.Throughput
			if err := line(p, plotter.XYs{{X: 0, Y: 0}, {X: k, Y: k}, {X: max(maxR, k*1.5), Y: k}}, col, false); err != nil {
				return nil, false, err
			}
		}
	}
	if maxR == 0 {
		return nil, false, nil
	}
	if err := line(p, plotter.XYs{{X: 0, Y: 0}, {X: maxR, Y: maxR}}, color.Gray{Y: 160}, true); err != nil {
		return nil, false, err
	}
	return p, true, nil
}

func latencyChart(r *Report) (*plot.Plot, bool, error) {
	obj := r.Sweep.Objective
	p := newPlot("offered (req/s)", quantileName(obj.Quantile)+" latency (ms)")
	maxR, maxY := 0.0, 0.0
	for i, c := range r.Counts {
		col := plotutil.Color(i)
		kept, sat := points(r, c, func(p Point) float64 { return p.Offered }, func(p Point) float64 { return ms(p.Objective) })
		if err := scatter(p, kept, col, draw.CircleGlyph{}, countLabel(c.Tasks)); err != nil {
			return nil, false, err
		}
		if err := scatter(p, sat, col, draw.CrossGlyph{}, ""); err != nil {
			return nil, false, err
		}
		for _, xy := range append(kept, sat...) {
			maxR, maxY = max(maxR, xy.X), max(maxY, xy.Y)
		}
		if r.SlotsPerTask > 0 && r.ServiceTime > 0 {
			var curve plotter.XYs
			servers := r.servers(c.Tasks)
			top := float64(servers) / r.ServiceTime.Seconds()
			for k := 1; k <= 60; k++ {
				rate := top * float64(k) / 61
				q := (MMC{Rate: rate, Servers: servers, ServiceTime: r.ServiceTime}).ResponseQuantile(obj.Quantile)
				curve = append(curve, plotter.XY{X: rate, Y: ms(q)})
				if ms(q) > 3*ms(obj.Latency) {
					break
				}
			}
			if err := line(p, curve, col, true); err != nil {
				return nil, false, err
			}
		}
	}
	if maxR == 0 {
		return nil, false, nil
	}
	if err := line(p, plotter.XYs{{X: 0, Y: ms(obj.Latency)}, {X: maxR, Y: ms(obj.Latency)}}, color.Gray{Y: 140}, false); err != nil {
		return nil, false, err
	}
	p.Y.Max = min(maxY, 4*ms(obj.Latency)) * 1.05
	p.Y.Min = 0
	return p, true, nil
}

func concurrencyChart(r *Report) (*plot.Plot, bool, error) {
	p := newPlot("requests in flight (throughput × mean latency)", "throughput (req/s)")
	any := false
	for i, c := range r.Counts {
		col := plotutil.Color(i)
		kept, _ := points(r, c, func(p Point) float64 { return p.Concurrency }, func(p Point) float64 { return p.Throughput })
		if err := scatter(p, kept, col, draw.CircleGlyph{}, countLabel(c.Tasks)); err != nil {
			return nil, false, err
		}
		if c.ByConcurrency == nil {
			continue
		}
		any = true
		maxN := 0.0
		for _, xy := range kept {
			maxN = max(maxN, xy.X)
		}
		if err := line(p, curveOf(c.ByConcurrency.Throughput, maxN*0.02, maxN*1.05), col, false); err != nil {
			return nil, false, err
		}
	}
	return p, any, nil
}

func tasksChart(r *Report) (*plot.Plot, bool, error) {
	p := newPlot("tasks", "req/s within the objective")
	n, lo, hi := r.capacityPoints()
	if len(n) == 0 {
		return nil, false, nil
	}
	var pts plotter.XYs
	maxN := 0.0
	for i := range n {
		pts = append(pts, plotter.XY{X: n[i], Y: lo[i]})
		maxN = max(maxN, n[i])
		if hi[i] > lo[i] {
			if err := line(p, plotter.XYs{{X: n[i], Y: lo[i]}, {X: n[i], Y: hi[i]}}, plotutil.Color(0), false); err != nil {
				return nil, false, err
			}
		}
	}
	if err := scatter(p, pts, plotutil.Color(0), draw.CircleGlyph{}, "measured (bar: up to the rate that broke it)"); err != nil {
		return nil, false, err
	}
	var bounds plotter.XYs
	for _, c := range r.Counts {
		if c.Capacity > 0 && c.Next == 0 && !slices.Contains(n, float64(c.Tasks)) {
			bounds = append(bounds, plotter.XY{X: float64(c.Tasks), Y: c.Capacity})
			maxN = max(maxN, float64(c.Tasks))
		}
	}
	if err := scatter(p, bounds, plotutil.Color(0), draw.PyramidGlyph{}, "lower bound only (left out of the model)"); err != nil {
		return nil, false, err
	}
	if rec := r.Recommendation; rec != nil && len(rec.Rows) > 0 {
		maxN = max(maxN, float64(rec.Rows[0].High))
	}
	if r.ByTasks == nil {
		// The recommendation's model: linear scaling of the worst
		// per-task capacity.
		per := math.Inf(1)
		for i := range n {
			per = min(per, lo[i]/n[i])
		}
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: maxN, Y: per * maxN}})
		if err != nil {
			return nil, false, err
		}
		l.Color = plotutil.Color(1)
		l.Width = vg.Points(1.5)
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("linear, %.0f req/s per task (no USL fit)", per), l)
	}
	if r.ByTasks != nil {
		l, err := plotter.NewLine(curveOf(r.ByTasks.Throughput, 1, maxN))
		if err != nil {
			return nil, false, err
		}
		l.Color = plotutil.Color(1)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("USL σ=%.3g κ=%.3g λ=%.0f", r.ByTasks.Sigma, r.ByTasks.Kappa, r.ByTasks.Lambda), l)
	}
	if t := r.Sweep.TargetRate; t > 0 {
		l, err := plotter.NewLine(plotter.XYs{{X: 1, Y: t}, {X: maxN, Y: t}})
		if err != nil {
			return nil, false, err
		}
		l.Color = color.Gray{Y: 120}
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("target %.0f req/s", t), l)
	}
	p.X.Min, p.Y.Min = 0, 0
	return p, true, nil
}

// curveOf samples f over [from, to].
func curveOf(f func(float64) float64, from, to float64) plotter.XYs {
	const steps = 80
	var xys plotter.XYs
	for k := 0; k <= steps; k++ {
		x := from + (to-from)*float64(k)/steps
		if y := f(x); !math.IsNaN(y) && !math.IsInf(y, 0) {
			xys = append(xys, plotter.XY{X: x, Y: y})
		}
	}
	return xys
}

func ms(d interface{ Seconds() float64 }) float64 { return d.Seconds() * 1000 }
