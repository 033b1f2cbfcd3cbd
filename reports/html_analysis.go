package reports

import "html/template"

// htmlAnalysis is what the "analysis" piece of report.html shows: the
// canary analyses and, when the run was compared with a baseline, the
// "Compared with baseline" section with its regression table.
type htmlAnalysis struct {
	Canary     *htmlTable
	Comparison *htmlComparison
}

type htmlComparison struct {
	Class, Line string
	Base, New   ComparedRun
	Notes       []string
	Rows        []htmlCompareRow
	Gating      string
}

type htmlCompareRow struct {
	CompareRow
	Class, Arrow, Test, Result string
}

func htmlAnalysisOf(r *Report) htmlAnalysis {
	var a htmlAnalysis
	if rows := canaryLines(r); len(rows) > 0 {
		a.Canary = &htmlTable{Columns: canaryColumns, Rows: rows}
	}
	if c := r.Comparison; c != nil {
		hc := &htmlComparison{Class: "pass", Line: comparisonLine(c), Base: c.Base, New: c.New, Notes: c.Notes}
		switch c.Verdict {
		case CompareRegression:
			hc.Class = "fail"
		case CompareInconclusive:
			hc.Class = "inconclusive"
		}
		for _, row := range c.Rows {
			class := "pass"
			switch {
			case row.Regressed && row.Gates:
				class = "fail"
			case !row.Gates:
				class = "info"
			}
			hc.Rows = append(hc.Rows, htmlCompareRow{CompareRow: row, Class: class, Arrow: arrow(row.Direction), Test: pText(row), Result: rowMark(row) + ": " + row.Why})
		}
		hc.Gating = compareGatingText(c)
		a.Comparison = hc
	}
	return a
}

var _ = template.Must(htmlTemplate.New("analysis").Parse(`
{{- with .Canary}}

<h2>Canary analysis</h2>
<p>Each canary against the baseline version measured in the same step (Kayenta-style: Mann–Whitney U on latency, Fisher / two-proportion z on the error rate), and what Flagger and Argo Rollouts would have concluded from the same requests in one-second intervals.</p>
<table class="grid canary">
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- end}}
{{- with .Comparison}}

<h2>Compared with baseline</h2>
<p class="verdict {{.Class}}">{{.Line}}</p>
<p>BASE <code>{{.Base.Source}}</code> (run <code>{{.Base.RunID}}</code>, {{.Base.Verdict}}) · NEW <code>{{.New.Source}}</code> (run <code>{{.New.RunID}}</code>, {{.New.Verdict}})</p>
{{- range .Notes}}
<p class="warning">{{.}}</p>
{{- end}}
<table class="grid comparison">
<thead><tr><th>Metric</th><th>BASE</th><th>NEW</th><th>Change</th><th>Test</th><th>Interval</th><th>Result</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr class="{{.Class}}"><td>{{.Metric}}</td><td>{{.Base}}</td><td>{{.New}}</td><td>{{.Arrow}} {{.Change}}</td><td>{{.Test}}</td><td>{{or .Interval "-"}}</td><td>{{.Result}}</td></tr>
{{- end}}
</tbody>
</table>
<p>{{.Gating}}</p>
{{- end}}`))
