package capacity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The files WriteFiles writes into the run directory.
const (
	JSONFile     = "capacity.json"
	MarkdownFile = "capacity.md"
	HTMLFile     = "capacity.html"
)

// WriteFiles writes the report as capacity.json, capacity.md and
// capacity.html into dir.
func WriteFiles(dir string, r *Report) error {
	var js, md, page bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(jsonSafe(r)); err != nil {
		return fmt.Errorf("capacity: encoding %s: %w", JSONFile, err)
	}
	WriteMarkdown(&md, r)
	if err := WriteHTML(&page, r); err != nil {
		return err
	}
	for name, b := range map[string][]byte{JSONFile: js.Bytes(), MarkdownFile: md.Bytes(), HTMLFile: page.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("capacity: writing %s: %w", name, err)
		}
	}
	return nil
}

// jsonSafe returns a copy of r whose non-finite floats (standard errors
// that could not be estimated) are zero, as JSON has no NaN.
func jsonSafe(r *Report) *Report {
	c := *r
	fix := func(f *USLFit) *USLFit {
		if f == nil {
			return nil
		}
		g := *f
		for _, v := range []*float64{&g.StdErr.Sigma, &g.StdErr.Kappa, &g.StdErr.Lambda} {
			if math.IsNaN(*v) || math.IsInf(*v, 0) {
				*v = 0
			}
		}
		return &g
	}
	c.ByTasks = fix(r.ByTasks)
	c.Counts = append([]Count(nil), r.Counts...)
	for i := range c.Counts {
		c.Counts[i].ByConcurrency = fix(c.Counts[i].ByConcurrency)
	}
	return &c
}

// tableRows are a table's header and rows, shared by Markdown and HTML.
type table struct {
	Columns []string
	Rows    [][]string
}

func countsTable(r *Report) table {
	t := table{Columns: []string{"tasks", "points", "knee (req/s)", "capacity within objective (req/s)", "M/M/c (req/s)", "USL by concurrency σ / κ / λ (R²)", "saturated"}}
	for _, c := range r.Counts {
		knee := fmt.Sprintf("%.0f", c.Knee.Throughput)
		switch {
		case c.Saturated == len(c.Points):
			knee = "- (every point saturated meshsim)"
		case !c.Knee.Found:
			knee = "≥ " + knee + " (not reached)"
		}
		capText := "none met it"
		if c.Capacity > 0 {
			capText = fmt.Sprintf("%.0f", c.Capacity)
			if c.Next > 0 {
				capText += fmt.Sprintf(" (broken at %.0f offered)", c.Next)
			}
		}
		mmc := "-"
		if c.MMC > 0 {
			mmc = fmt.Sprintf("%.0f", c.MMC)
		}
		usl := "- (" + c.ByConcurrencyErr + ")"
		if f := c.ByConcurrency; f != nil {
			usl = fmt.Sprintf("%.3g / %.3g / %.1f (%.3f)", f.Sigma, f.Kappa, f.Lambda, f.R2)
		}
		t.Rows = append(t.Rows, []string{fmt.Sprint(c.Tasks), fmt.Sprint(len(c.Points)), knee, capText, mmc, usl, fmt.Sprint(c.Saturated)})
	}
	return t
}

func pointsTable(r *Report) table {
	q := quantileName(r.Sweep.Objective.Quantile)
	t := table{Columns: []string{"tasks", "offered", "sent", "throughput", "errors", "p50", q, "in flight", "lag p99", "meshsim CPU", "verdict"}}
	for _, c := range r.Counts {
		for _, i := range c.Points {
			p := r.Sweep.Points[i]
			verdict := "ok"
			switch {
			case p.Saturated != "":
				verdict = "saturated: " + p.Saturated
			case p.Broken != "":
				verdict = "broken: " + p.Broken
			}
			t.Rows = append(t.Rows, []string{
				fmt.Sprint(p.Tasks), fmt.Sprintf("%.0f", p.Offered), fmt.Sprintf("%.0f", p.Sent), fmt.Sprintf("%.1f", p.Throughput),
				pctText(p.ErrorRate()), roundDur(p.Latency.P50).String(), roundDur(p.Objective).String(),
				fmt.Sprintf("%.1f", p.Concurrency), roundDur(p.LagP99).String(), fmt.Sprintf("%.2f cores", p.ProcessCores), verdict,
			})
		}
	}
	return t
}

func recommendationTable(r *Report) table {
	t := table{Columns: []string{"case", "tasks", "range (5th–95th pct)", "why"}}
	if r.Recommendation == nil {
		return t
	}
	for _, row := range r.Recommendation.Rows {
		tasks, rng := fmt.Sprint(row.Tasks), fmt.Sprintf("%d–%d", row.Low, row.High)
		if r.Recommendation.AtMost != "" {
			tasks, rng = "≤ "+tasks, fmt.Sprintf("≤ %d", row.High)
		}
		if row.Tasks == 0 {
			tasks, rng = "-", "-"
		}
		t.Rows = append(t.Rows, []string{row.Case, tasks, rng, row.Detail})
	}
	return t
}

func uslText(r *Report) string {
	f := r.ByTasks
	if f == nil {
		return "No USL fit against the task count: " + r.ByTasksErr + "."
	}
	nmax := "unbounded (κ = 0)"
	if n := f.MaxConcurrency(); !math.IsInf(n, 1) {
		nmax = fmt.Sprintf("%.0f tasks (X_max %.0f req/s)", n, f.MaxThroughput())
	}
	return fmt.Sprintf("USL fitted to the capacity within the objective against the task count (%d counts): σ (contention) = %.4g ± %s, κ (coherency) = %.4g ± %s, λ (one task) = %.1f ± %s req/s; R² = %.4f, RMSE %.1f req/s, residuals %s. Throughput peaks at %s.",
		f.Points, f.Sigma, seText(f.StdErr.Sigma), f.Kappa, seText(f.StdErr.Kappa), f.Lambda, seText(f.StdErr.Lambda), f.R2, f.RMSE, residualText(f.Residuals), nmax)
}

func seText(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2g", v)
}

func residualText(res []float64) string {
	parts := make([]string, len(res))
	for i, v := range res {
		parts[i] = fmt.Sprintf("%+.1f", v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func summaryLines(r *Report) []string {
	s := r.Sweep
	lines := []string{
		fmt.Sprintf("Service %s (version %s, ECS service %s) of scenario %s, on the %s runtime; %s to %s.", s.Service, s.Version, s.ECSService, s.Scenario, orText(s.Runtime, "inproc"), s.Started.Format(time.RFC3339), s.Ended.Format(time.RFC3339)),
		fmt.Sprintf("Objective: %s. Each rate was offered for %s (open model: vegeta's constant pacer, latency from the scheduled send).", objectiveText(s.Objective), s.StepDuration),
		fmt.Sprintf("The sweep stopped: %s.", s.Stopped),
	}
	if s.Cost != "" {
		lines = append(lines, "Sample service cost per request: "+s.Cost+".")
	}
	if s.Partial {
		lines = append(lines, "The sweep was cut short: the report covers what was measured.")
	}
	if r.ServiceTime > 0 {
		calib := fmt.Sprintf("Measured service time %s (mean, at the lowest load)", roundDur(r.ServiceTime))
		if r.SlotsPerTask > 0 {
			calib += fmt.Sprintf("; %.1f requests served at once per task (knee × service time), the M/M/c calibration", r.SlotsPerTask)
		}
		lines = append(lines, calib+".")
	}
	if rec := r.Recommendation; rec != nil {
		switch {
		case rec.Unreachable != "":
			lines = append(lines, fmt.Sprintf("Target %.0f req/s: %s.", rec.TargetRate, rec.Unreachable))
		case len(rec.Rows) > 0 && rec.AtMost != "":
			lines = append(lines, fmt.Sprintf("Target %.0f req/s: at most %d tasks, by %s; %s.", rec.TargetRate, rec.Rows[0].High, rec.Basis, rec.AtMost))
		case len(rec.Rows) > 0:
			lines = append(lines, fmt.Sprintf("Target %.0f req/s: %d tasks (%d–%d), by %s.", rec.TargetRate, rec.Rows[0].Tasks, rec.Rows[0].Low, rec.Rows[0].High, rec.Basis))
		}
	}
	return lines
}

// WriteMarkdown writes capacity.md.
func WriteMarkdown(w io.Writer, r *Report) {
	fmt.Fprintf(w, "# Capacity of %s\n\n", r.Sweep.Service)
	for _, l := range summaryLines(r) {
		fmt.Fprintln(w, l)
	}
	if r.Recommendation != nil {
		fmt.Fprintln(w, "\n## Recommendation")
		fmt.Fprintln(w)
		mdTable(w, recommendationTable(r))
	}
	fmt.Fprintln(w, "\n## Per task count")
	fmt.Fprintln(w)
	mdTable(w, countsTable(r))
	fmt.Fprintln(w)
	fmt.Fprintln(w, uslText(r))
	fmt.Fprintln(w, "\n## What this machine can and cannot say")
	fmt.Fprintln(w)
	for _, c := range r.Caveats {
		fmt.Fprintln(w, c)
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "## Points")
	fmt.Fprintln(w)
	mdTable(w, pointsTable(r))
}

func mdTable(w io.Writer, t table) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	fmt.Fprintln(w, "| "+strings.Join(t.Columns, " | ")+" |")
	fmt.Fprintln(w, strings.Repeat("| --- ", len(t.Columns))+"|")
	for _, row := range t.Rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = esc(c)
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
}

// WriteSummary prints the terminal summary: the recommendation and where
// the files are.
func WriteSummary(w io.Writer, r *Report) {
	for _, l := range summaryLines(r) {
		fmt.Fprintln(w, l)
	}
	for _, c := range r.Counts {
		if c.Saturated == len(c.Points) {
			fmt.Fprintf(w, "  %s: every point saturated meshsim (not measured)\n", countLabel(c.Tasks))
			continue
		}
		knee := fmt.Sprintf("knee %.0f req/s", c.Knee.Throughput)
		if !c.Knee.Found {
			knee = fmt.Sprintf("no knee up to %.0f req/s", c.Knee.Throughput)
		}
		fmt.Fprintf(w, "  %s: %s; %.0f req/s within the objective\n", countLabel(c.Tasks), knee, c.Capacity)
	}
	if r.Recommendation != nil {
		for _, row := range r.Recommendation.Rows {
			switch {
			case row.Tasks > 0 && r.Recommendation.AtMost != "":
				fmt.Fprintf(w, "  %s: at most %d tasks\n", row.Case, row.High)
			case row.Tasks > 0:
				fmt.Fprintf(w, "  %s: %d tasks (%d–%d)\n", row.Case, row.Tasks, row.Low, row.High)
			}
		}
	}
}

// WriteHTML writes capacity.html: one self-contained page with the
// charts (points and fitted curves), the recommendation, the tables and
// the caveats.
func WriteHTML(w io.Writer, r *Report) error {
	cs, err := charts(r)
	if err != nil {
		return err
	}
	page := struct {
		Service        string
		Summary        []string
		Charts         []chart
		Recommendation table
		HasRec         bool
		Counts, Points table
		USL            string
		Caveats        []string
	}{r.Sweep.Service, summaryLines(r), cs, recommendationTable(r), r.Recommendation != nil, countsTable(r), pointsTable(r), uslText(r), r.Caveats}
	if err := htmlTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("capacity: rendering %s: %w", HTMLFile, err)
	}
	return nil
}

var htmlTemplate = template.Must(template.New("capacity").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Capacity of {{.Service}} — meshsim</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}.empty{color:#777}
</style></head><body>
<h1>Capacity of {{.Service}}</h1>
{{range .Summary}}<p>{{.}}</p>{{end}}
{{if .HasRec}}<h2>Recommendation</h2>
<table><tr>{{range .Recommendation.Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Recommendation.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
<h2>Curves</h2>
{{range .Charts}}<figure><figcaption>{{.Title}}</figcaption>{{if .SVG}}{{.SVG}}{{else}}<p class="empty">{{.Empty}}</p>{{end}}</figure>{{end}}
<h2>Per task count</h2>
<table><tr>{{range .Counts.Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Counts.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
<p>{{.USL}}</p>
<h2>What this machine can and cannot say</h2>
{{range .Caveats}}<p>{{.}}</p>{{end}}
<h2>Points</h2>
<table><tr>{{range .Points.Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Points.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
</body></html>
`))
