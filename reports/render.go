package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names WriteFiles writes in the run directory.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
	JUnitFile    = "report.junit.xml"
)

// WriteFiles writes report.json, report.md, report.html and
// report.junit.xml into the run directory dir.
// Each file is written under a temporary name and renamed into place, so a
// reader never sees half a report.
func WriteFiles(dir string, r *Report) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("reports: encode %s: %w", JSONFile, err)
	}
	if err := writeFile(dir, JSONFile, append(js, '\n')); err != nil {
		return err
	}
	var md bytes.Buffer
	writeMarkdown(&md, r)
	if err := writeFile(dir, MarkdownFile, md.Bytes()); err != nil {
		return err
	}
	return writeHTMLAndJUnit(dir, r)
}

func writeFile(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("reports: write %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		// CreateTemp makes the file private; a report is for everyone who
		// can read the run directory.
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("reports: write %s: %w", name, err)
	}
	return nil
}

// The per-step table, shared by report.md and the terminal summary.
var stepColumns = []string{
	"Step", "Weights configured → observed (%)", "Max error (pp)", "Requests", "Failed",
	"Errors by kind", "p50 ms", "p90 ms", "p99 ms", "Convergence ms", "Tasks", "Verdict",
}

// stepRow is the row of s in the per-step table.
func stepRow(s StepReport) []string {
	label := fmt.Sprintf("%d %s", s.Index, s.Name)
	if !s.Reached {
		return []string{label, weightsCell(s), "-", "-", "-", "-", "-", "-", "-", "not reached", "-", stepVerdictText(s)}
	}
	maxErr := "-"
	if s.Weighted && s.ShareRequests > 0 {
		maxErr = pp(s.MaxErrorPP)
	}
	lat := func(d time.Duration) string {
		if s.Latency.Count == 0 {
			return "-"
		}
		return ms(d)
	}
	return []string{
		label, weightsCell(s), maxErr,
		fmt.Sprint(s.Requests), fmt.Sprint(s.Failed), kindsText(s.ErrorsByKind),
		lat(s.Latency.P50), lat(s.Latency.P90), lat(s.Latency.P99),
		convergenceCell(s.Convergence), capacityCell(s), stepVerdictText(s),
	}
}

// stepVerdictText is a step's verdict with its reason: "PASS",
// "INCONCLUSIVE: the load generator fell 1.8s behind schedule …".
func stepVerdictText(s StepReport) string {
	if s.Verdict == VerdictNotJudged {
		return "not judged: " + orDash(s.VerdictReason)
	}
	text := verdictWord(s.Verdict)
	if s.VerdictReason != "" {
		text += ": " + s.VerdictReason
	}
	return text
}

// weightsCell lists each version's configured and observed share:
// "v1 90 → 89.70, v2 10 → 10.30".
func weightsCell(s StepReport) string {
	if len(s.Versions) == 0 {
		return "-"
	}
	parts := make([]string, len(s.Versions))
	for i, v := range s.Versions {
		configured := ""
		if s.Weighted {
			configured = " " + num(roundTo(v.ConfiguredPct, 2))
		}
		observed := "-"
		if s.ShareRequests > 0 {
			observed = pp(v.ObservedPct)
		}
		parts[i] = fmt.Sprintf("%s%s → %s", v.Version, configured, observed)
	}
	return strings.Join(parts, ", ")
}

// convergenceCell is the time to convergence with the number of requests
// left out of the shares: "35.20 (12 excl.)".
func convergenceCell(c Convergence) string {
	var cell string
	switch c.Basis {
	case NotConverged:
		cell = "never"
	default:
		cell = ms(c.After)
	}
	if c.Excluded > 0 {
		cell += fmt.Sprintf(" (%d excl.)", c.Excluded)
	}
	return cell
}

// assertionTitle names an assertion with its threshold: "weight-within 2 pp".
func assertionTitle(a AssertionResult) string {
	switch a.Kind {
	case assertMaxErrorRate:
		return a.Kind + " " + pct(a.Value)
	case assertWeightWithin:
		return a.Kind + " " + num(a.Value) + " pp"
	case assertWeightBinomial:
		z := a.Value
		if z <= 0 {
			z = toleranceZ
		}
		return a.Kind + " " + num(z) + "σ"
	case assertLatencyP99Below, assertStreamsResumedWithin:
		return a.Kind + " " + ms(time.Duration(a.Value)) + " ms"
	default:
		return a.Kind
	}
}

// verdictLine is the one-line verdict: "PASS: all 3 assertions hold",
// "FAIL: 1 of 3 assertions failed", "INCONCLUSIVE: …", "ERROR: …"; a
// partial run adds " (partial run)".
func verdictLine(r *Report) string {
	failed := 0
	for _, a := range r.Assertions {
		if a.outcome() == VerdictFail {
			failed++
		}
	}
	var line string
	switch {
	case r.Verdict == VerdictFail:
		line = fmt.Sprintf("FAIL: %d of %d assertions failed", failed, len(r.Assertions))
	case r.Verdict != VerdictPass:
		line = verdictWord(r.Verdict) + ": " + orDash(r.VerdictReason)
	case len(r.Assertions) == 0:
		line = "PASS: the scenario has no assertions"
	default:
		line = fmt.Sprintf("PASS: all %d assertions hold", len(r.Assertions))
	}
	if r.Run.Partial {
		line += " (partial run)"
	}
	return line
}

// assertionMark is the mark of an assertion's verdict in report.md and
// report.html.
func assertionMark(a AssertionResult) string {
	switch a.outcome() {
	case VerdictFail:
		return "❌ FAIL"
	case VerdictInconclusive:
		return "❔ INCONCLUSIVE"
	default:
		return "✅ PASS"
	}
}

func loadText(r *Report) string {
	l := r.Run.Load
	text := fmt.Sprintf("offered %s req/s, achieved %s req/s", num(roundTo(l.OfferedRate, 1)), num(roundTo(l.AchievedRate, 1)))
	if l.Target != "" {
		text += " → " + l.Target
	}
	return text
}

func totalsText(r *Report) string {
	t := r.Run.Totals
	text := fmt.Sprintf("%d, failed %d (%s)", t.Requests, t.Failed, pct(t.ErrorRate))
	if t.OutsideSteps > 0 {
		text += fmt.Sprintf(", %d outside any step", t.OutsideSteps)
	}
	if t.Canceled > 0 {
		text += fmt.Sprintf(", %d canceled at stop (not counted)", t.Canceled)
	}
	return text
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339Nano)
}

func roundTo(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

// writeMarkdown renders report.md.
func writeMarkdown(b *bytes.Buffer, r *Report) {
	info := r.Run
	fmt.Fprintf(b, "# meshsim report: %s\n\n", mdText(info.Scenario))
	fmt.Fprintf(b, "**%s**\n\n", verdictLine(r))
	if info.Partial {
		fmt.Fprintf(b, "> ⚠️ Partial run: %s. The assertions judge what was recorded.\n\n", mdText(orDash(info.Reason)))
	}

	fmt.Fprintf(b, "## Run\n\n")
	rows := [][2]string{
		{"Scenario", mdText(info.Scenario)},
		{"Scenario source", mdCode(info.ScenarioSource)},
		{"Run id", mdCode(info.RunID)},
		{"Runtime", mdText(info.Runtime)},
		{"Started", timeText(info.Started)},
		{"Ended", timeText(info.Ended)},
		{"Wall time", info.WallTime.Round(time.Millisecond).String()},
		{"Verdict", mdText(verdictWord(r.Verdict))},
		{"Partial", partialText(info)},
		{"Measured service", mdText(info.MeasuredService)},
		{"Time scale", timeScaleText(info.TimeScale)},
		{"Load", mdText(loadText(r))},
		{"Requests", totalsText(r)},
		{"Instrument", mdText(instrumentText(r.Instrument))},
	}
	if info.TornLines > 0 {
		rows = append(rows, [2]string{"Torn lines skipped", fmt.Sprint(info.TornLines)})
	}
	fmt.Fprintf(b, "| | |\n| --- | --- |\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", row[0], row[1])
	}

	fmt.Fprintf(b, "\n## Steps\n\n")
	mdRow(b, stepColumns)
	sep := make([]string, len(stepColumns))
	for i := range sep {
		sep[i] = "---"
		if i >= 2 && i != 5 && i != len(sep)-1 {
			sep[i] = "---:"
		}
	}
	mdRow(b, sep)
	for _, s := range r.Steps {
		mdRow(b, stepRow(s))
	}

	writeCanaryMarkdown(b, r, "##")
	if r.Comparison != nil {
		writeComparisonMarkdown(b, r.Comparison, "##")
	}

	if len(r.Deployments) > 0 {
		fmt.Fprintf(b, "\n## Deployments\n\n")
		for _, l := range deploymentLines(r, true) {
			fmt.Fprintln(b, mdText(l))
		}
	}
	if r.DNS != nil {
		fmt.Fprintf(b, "\n## DNS\n\n")
		for _, l := range dnsLines(r) {
			fmt.Fprintln(b, mdText(l))
		}
	}
	if len(r.Faults) > 0 {
		fmt.Fprintf(b, "\n## Faults\n\n")
		for _, l := range faultLines(r, true) {
			fmt.Fprintln(b, mdText(l))
		}
	}

	fmt.Fprintf(b, "\n### Split accuracy\n\n")
	mdRow(b, []string{"Step", "Version", "Configured %", "Observed %", "Error pp", "±3σ pp", "Requests", "χ² (df)", "p-value"})
	mdRow(b, []string{"---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"})
	for _, s := range r.Steps {
		if !s.Reached {
			continue
		}
		for i, v := range s.Versions {
			row := []string{"", v.Version, "-", "-", "-", "-", fmt.Sprint(v.Requests), "", ""}
			if i == 0 {
				row[0] = fmt.Sprintf("%d %s", s.Index, s.Name)
				if c := s.ChiSquare; c != nil {
					row[7] = fmt.Sprintf("%.2f (%d)", c.Statistic, c.DF)
					row[8] = fmt.Sprintf("%.3g", c.PValue)
				}
			}
			if s.Weighted {
				row[2] = pp(v.ConfiguredPct)
			}
			if s.ShareRequests > 0 {
				row[3] = pp(v.ObservedPct)
				if s.Weighted {
					row[4] = pp(v.ErrorPP)
					row[5] = pp(v.TolerancePP)
				}
			}
			mdRow(b, row)
		}
	}

	writeStreamsMarkdown(b, r)
	writeInstrumentMarkdown(b, r)

	fmt.Fprintf(b, "\n## Assertions\n\n")
	if len(r.Assertions) == 0 {
		fmt.Fprintf(b, "The scenario has no assertions.\n")
	}
	for _, a := range r.Assertions {
		fmt.Fprintf(b, "- %s **%s**", assertionMark(a), mdText(assertionTitle(a)))
		if a.Source != "" {
			fmt.Fprintf(b, " (%s)", mdCode(a.Source))
		}
		fmt.Fprintf(b, ": %s\n", mdText(a.Message))
		if len(a.Failures) > 1 {
			for _, f := range a.Failures {
				fmt.Fprintf(b, "  - %s\n", mdText(f))
			}
		}
		if a.Caveat != "" {
			fmt.Fprintf(b, "  - note: %s\n", mdText(a.Caveat))
		}
	}

	fmt.Fprintf(b, "\n## How to read this\n\n")
	fmt.Fprint(b, "The proxy picks a version for each request independently, so an observed share is "+
		"binomial: with configured share p over n requests its standard error is √(p(1−p)/n). "+
		"The ±3σ column is 3 of those, in percentage points: at p = 50% it is 4.74 pp for 1,000 requests "+
		"and 1.50 pp for 10,000, so a small step can miss its weights by a few points by chance alone. "+
		"The χ² p-value is the chance of a split at least this far off if the weights were honoured; "+
		"below 0.001 the split really differs, but with very many requests χ² flags harmless differences, "+
		"so read it together with the error in pp. Shares count only requests scheduled after the step's "+
		"weights were acknowledged by the proxies (convergence); the requests before that (excl.) still count "+
		"for errors and latency. Latency runs from each request's scheduled send time (no coordinated "+
		"omission) and includes failed requests. A step is INCONCLUSIVE when meshsim itself could not keep up: "+
		"its load generator fell further behind schedule (p99 lag) or sent less of the offered rate than the "+
		"Instrument limits allow; what happened in it may be the machine's doing, so no assertion judges it.\n")
}

// writeInstrumentMarkdown writes the Instrument section: how far the load
// generator kept to its schedule in each step, and the host.
func writeInstrumentMarkdown(b *bytes.Buffer, r *Report) {
	if r.Instrument == nil {
		return
	}
	fmt.Fprintf(b, "\n## Instrument\n\n%s.\n\n", mdText(instrumentText(r.Instrument)))
	var rows [][]string
	for _, s := range r.Steps {
		if row, ok := instrumentRow(s, r.Instrument); ok {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(b, "No step had requests to measure the load generator by.\n")
		return
	}
	mdRow(b, instrumentColumns)
	mdRow(b, []string{"---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---", "---"})
	for _, row := range rows {
		mdRow(b, row)
	}
}

func partialText(info RunInfo) string {
	if !info.Partial {
		return "no"
	}
	return "yes: " + mdText(orDash(info.Reason))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mdRow(b *bytes.Buffer, cells []string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" ")
		b.WriteString(mdText(c))
		b.WriteString(" |")
	}
	b.WriteString("\n")
}

// mdEscaper makes text from the run (step, version and scenario names,
// error messages) inert in Markdown: line breaks become spaces (a table row
// is one line), HTML's special characters become entities (no tag, no
// script), and Markdown's inline punctuation is escaped with a backslash
// (no emphasis, link, code span or extra table cell).
var mdEscaper = strings.NewReplacer(
	"\r\n", " ", "\r", " ", "\n", " ",
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`, "~", `\~`, "#", `\#`,
)

// mdText makes s safe inside a Markdown table cell, list item or heading.
func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCode is s as a code span: its text is literal there, so only a line
// break (a table row is one line), a pipe (GitHub's tables split cells on
// it even in code) and a backtick (it would end the span) are changed.
func mdCode(s string) string {
	if s == "" {
		return "-"
	}
	s = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ", "|", `\|`, "`", "'").Replace(s)
	return "`" + s + "`"
}

// timeScaleText says how AWS time relates to wall time.
func timeScaleText(scale float64) string {
	if scale <= 1 {
		return "1× (real time)"
	}
	return fmt.Sprintf("%g× (AWS-side durations ran %g times faster: AWS time = wall time × %g)", scale, scale, scale)
}
