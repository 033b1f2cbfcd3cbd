package reports

import (
	"fmt"
	"html/template"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// WriteHTML writes report.html: one self-contained page (inline CSS and
// SVG charts, no script, nothing fetched) with the run, the assertions, the
// per-step table of report.md, charts of the split, latency and requests
// over the steps, and the deployments, faults and streams when the run had
// them. Every text from the run is escaped.
func WriteHTML(w io.Writer, r *Report) error {
	cs, err := charts(r)
	if err != nil {
		return err
	}
	page := htmlPage{
		Report:      r,
		Class:       r.Verdict,
		Mark:        htmlIcon(r.Verdict),
		Verdict:     verdictLine(r),
		Reason:      orDash(r.Run.Reason),
		RunRows:     htmlRunRows(r),
		StepColumns: stepColumns,
		Charts:      cs,
		Deployments: htmlListLines(deploymentLines(r, false)),
		Faults:      faultLines(r, false),
		Analysis:    htmlAnalysisOf(r),
		DNS:         htmlListLines(dnsLines(r)),
	}
	for _, s := range r.Steps {
		page.StepRows = append(page.StepRows, stepRow(s))
	}
	if in := r.Instrument; in != nil {
		page.Instrument = &htmlTable{Text: instrumentText(in), Columns: instrumentColumns}
		for _, s := range r.Steps {
			if row, ok := instrumentRow(s, in); ok {
				page.Instrument.Rows = append(page.Instrument.Rows, row)
			}
		}
	}
	for _, a := range r.Assertions {
		ha := htmlAssertion{AssertionResult: a, Title: assertionTitle(a), Mark: htmlMark(a.outcome()), Class: a.outcome()}
		if len(a.Failures) > 1 {
			ha.List = a.Failures
		}
		page.Assertions = append(page.Assertions, ha)
	}
	if t := r.Run.Streams; t != nil {
		page.Streams = &htmlStreams{Text: streamsText(t), Columns: streamColumns, Unresumed: t.Unresumed}
		for _, s := range r.Steps {
			page.Streams.Rows = append(page.Streams.Rows, streamRow(s))
		}
	}
	page.ScenarioHref = scenarioLink(r)
	if err := htmlTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("reports: render %s: %w", HTMLFile, err)
	}
	return nil
}

// htmlPage is what htmlTemplate renders.
type htmlPage struct {
	Report *Report
	// Class is the verdict, as the CSS class of the verdict line; Mark
	// its icon.
	Class       string
	Mark        template.HTML
	Verdict     string
	Reason      string
	RunRows     [][2]string
	Assertions  []htmlAssertion
	StepColumns []string
	StepRows    [][]string
	Charts      []chart
	Deployments []htmlLine
	Faults      []string
	DNS         []htmlLine
	Streams     *htmlStreams
	Instrument  *htmlTable
	// Analysis is the canary analysis and the comparison with a baseline
	// (template "analysis", html_analysis.go).
	Analysis htmlAnalysis
	// ScenarioHref links the scenario's source ("" for none).
	ScenarioHref string
}

// htmlTable is a section's sentence and table.
type htmlTable struct {
	Text    string
	Columns []string
	Rows    [][]string
}

type htmlAssertion struct {
	AssertionResult
	Title string
	// Mark is the verdict's icon and word (inline SVG: emoji marks show
	// as empty boxes where no emoji font is installed); Class the
	// verdict, as a CSS class.
	Mark  template.HTML
	Class string
	// List is the failures to list under the message (when more than the
	// one the message already names).
	List []string
}

type htmlStreams struct {
	Text      string
	Columns   []string
	Rows      [][]string
	Unresumed []UnresumedBreak
}

// htmlLine is a line of a list; Sub marks the detail lines that belong to
// the line before; Icon is the line's mark as inline SVG.
type htmlLine struct {
	Text string
	Sub  bool
	Icon template.HTML
}

// htmlListLines turns the terminal form of a list, whose detail lines are
// indented, into list items, its ✅/❌ marks into icons.
func htmlListLines(lines []string) []htmlLine {
	out := make([]htmlLine, len(lines))
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		out[i] = htmlLine{Text: trimmed, Sub: trimmed != l}
		for mark, outcome := range map[string]string{"✅ ": VerdictPass, "❌ ": VerdictFail} {
			if rest, ok := strings.CutPrefix(trimmed, mark); ok {
				out[i].Text, out[i].Icon = rest, htmlIcon(outcome)
			}
		}
	}
	return out
}

// htmlIcon is a verdict's icon as inline SVG: a check, a cross or a
// question mark in a coloured disc. It renders in every browser, with no
// font needed.
func htmlIcon(outcome string) template.HTML {
	fill, path := "#0a6b2c", `<path d="M4.5 8.5l2.2 2.2 4.8-5" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>`
	switch outcome {
	case VerdictFail:
		fill, path = "#b00020", `<path d="M5 5l6 6M11 5l-6 6" stroke="#fff" stroke-width="2" stroke-linecap="round"/>`
	case VerdictInconclusive:
		fill, path = "#8a5a00", `<text x="8" y="12" text-anchor="middle" font-size="11" font-weight="bold" font-family="sans-serif" fill="#fff">?</text>`
	case VerdictError:
		fill, path = "#6a1b9a", `<path d="M8 4v5" stroke="#fff" stroke-width="2" stroke-linecap="round"/><circle cx="8" cy="12" r="1.2" fill="#fff"/>`
	}
	return template.HTML(`<svg class="icon" width="16" height="16" viewBox="0 0 16 16" aria-hidden="true"><circle cx="8" cy="8" r="8" fill="` + fill + `"/>` + path + `</svg>`)
}

// htmlMark is a verdict's icon and word.
func htmlMark(outcome string) template.HTML {
	return htmlIcon(outcome) + template.HTML(" "+template.HTMLEscapeString(verdictWord(outcome)))
}

// scenarioLink is where the scenario's source can be opened: the copy in
// the run directory (scenario.yaml, next to report.html) when the run
// wrote one, else the file it came from.
func scenarioLink(r *Report) string {
	if r.Run.ScenarioCopy != "" {
		return r.Run.ScenarioCopy
	}
	src := r.Run.ScenarioSource
	if src == "" || strings.HasPrefix(src, "builtin:") {
		return ""
	}
	if filepath.IsAbs(src) {
		return (&url.URL{Scheme: "file", Path: src}).String()
	}
	return ""
}

// htmlRunRows are the rows of the run table (those of report.md).
func htmlRunRows(r *Report) [][2]string {
	info := r.Run
	partial := "no"
	if info.Partial {
		partial = "yes: " + orDash(info.Reason)
	}
	rows := [][2]string{
		{"Scenario", info.Scenario},
		{"Scenario source", orDash(info.ScenarioSource)},
		{"Run id", orDash(info.RunID)},
		{"Runtime", info.Runtime},
		{"Started", timeText(info.Started)},
		{"Ended", timeText(info.Ended)},
		{"Wall time", info.WallTime.Round(time.Millisecond).String()},
		{"Verdict", verdictWord(r.Verdict)},
		{"Partial", partial},
		{"Measured service", info.MeasuredService},
		{"Time scale", timeScaleText(info.TimeScale)},
		{"Load", loadText(r)},
		{"Requests", totalsText(r)},
		{"Instrument", instrumentText(r.Instrument)},
	}
	if info.TornLines > 0 {
		rows = append(rows, [2]string{"Torn lines skipped", fmt.Sprint(info.TornLines)})
	}
	return rows
}

var htmlTemplate = template.Must(template.New(HTMLFile).Funcs(template.FuncMap{"time": timeText}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshsim report: {{.Report.Run.Scenario}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 110em; padding: 0 1.5em; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
table.grid td:nth-child(n+3) { text-align: right; font-variant-numeric: tabular-nums; }
table.steps td:nth-child(6), table.streams td:nth-child(5) { text-align: left; }
.verdict { font-size: 1.3em; font-weight: bold; padding: 0.4em 0.8em; border-radius: 4px; display: inline-block; }
.pass { color: #0a6b2c; }
.fail { color: #b00020; }
.inconclusive { color: #8a5a00; }
.error { color: #6a1b9a; }
.verdict.pass { background: #e6f4ea; }
.verdict.fail { background: #fce8e6; }
.verdict.inconclusive { background: #fff4e5; }
.verdict.error { background: #f3e5f5; }
table.steps td:last-child, table.instrument td:last-child { text-align: left; }
.warning { background: #fff4e5; border-left: 4px solid #f0a030; padding: 0.5em 1em; }
ul.assertions { list-style: none; padding-left: 0; }
ul.assertions > li { margin: 0.4em 0; }
ul.assertions p.note { margin: 0.2em 0 0 1.6em; color: #555; font-size: 0.9em; }
li.sub { list-style: none; margin-left: 1.5em; color: #555; }
code { background: #f3f3f3; padding: 0 0.2em; }
figure { margin: 1em 0 2em; }
figcaption { font-weight: bold; margin-bottom: 0.3em; }
figure svg { width: 100%; height: auto; }
svg.icon { vertical-align: -3px; }
p.ids { color: #555; margin-top: -0.5em; }
</style>
</head>
<body>
<h1>meshsim report: {{.Report.Run.Scenario}}</h1>
<p class="ids">Scenario {{if .ScenarioHref}}<a href="{{.ScenarioHref}}">{{.Report.Run.Scenario}}</a>{{else}}<strong>{{.Report.Run.Scenario}}</strong>{{end}}
{{- with .Report.Run.ScenarioSource}} (<code>{{.}}</code>){{end}}
· run <a href="run.json" title="the run directory's run.json, next to this report">{{or .Report.Run.RunID "-"}}</a>
· <a href="./">run directory</a></p>
<p class="verdict {{.Class}}">{{.Mark}} {{.Verdict}}</p>
{{- if .Report.Run.Partial}}
<p class="warning">Partial run: {{.Reason}}. The assertions judge what was recorded.</p>
{{- end}}

<h2>Run</h2>
<table class="run">
{{- range .RunRows}}
<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{- end}}
</table>

<h2>Assertions</h2>
{{- if not .Assertions}}
<p>The scenario has no assertions.</p>
{{- else}}
<ul class="assertions">
{{- range .Assertions}}
<li class="{{.Class}}">{{.Mark}} <strong>{{.Title}}</strong>
{{- if .Source}} (<code>{{.Source}}</code>){{end}}: {{.Message}}
{{- if .List}}
<ul>
{{- range .List}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Caveat}}
<p class="note">note: {{.Caveat}}</p>
{{- end}}</li>
{{- end}}
</ul>
{{- end}}

<h2>Steps</h2>
<table class="grid steps">
<thead><tr>{{range .StepColumns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .StepRows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>

<h2>Charts</h2>
{{- range .Charts}}
<figure id="chart-{{.ID}}">
<figcaption>{{.Title}}</figcaption>
{{if .SVG}}{{.SVG}}{{else}}<p>No chart: {{.Empty}}.</p>{{end}}
</figure>
{{- end}}
{{- if .Deployments}}

<h2>Deployments</h2>
<ul class="deployments">
{{- range .Deployments}}
<li{{if .Sub}} class="sub"{{end}}>{{.Icon}}{{if .Icon}} {{end}}{{.Text}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .DNS}}

<h2>DNS</h2>
<ul class="deployments">
{{- range .DNS}}
<li{{if .Sub}} class="sub"{{end}}>{{.Text}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Faults}}

<h2>Faults</h2>
<ul class="faults">
{{- range .Faults}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- with .Streams}}

<h2>Streams</h2>
<p>{{.Text}}.</p>
<table class="grid streams">
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- if .Unresumed}}
<p>Never resumed:</p>
<ul class="unresumed">
{{- range .Unresumed}}
<li><code>{{.Stream}}</code>: broke in step {{.Step}} at {{time .At}} ({{or .ErrorKind "-"}}, version {{or .Version "-"}})</li>
{{- end}}
</ul>
{{- end}}
{{- end}}
{{- with .Instrument}}

<h2>Instrument</h2>
<p>{{.Text}}.</p>
{{- if .Rows}}
<table class="grid instrument">
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- end}}
{{- end}}
{{template "analysis" .Analysis}}
</body>
</html>
`))
