package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary writes the terminal summary of r to w: the run in two lines,
// the per-step table of report.md as aligned plain text, the instrument,
// one line per assertion and a final verdict line (PASS, FAIL,
// INCONCLUSIVE or ERROR). Write errors are ignored, as for
// any output to a terminal.
func WriteSummary(w io.Writer, r *Report) {
	info := r.Run
	fmt.Fprintf(w, "run %s · scenario %s · runtime %s · wall time %s\n",
		orDash(info.RunID), orDash(info.Scenario), orDash(info.Runtime), info.WallTime.Round(time.Millisecond))
	fmt.Fprintf(w, "load %s · requests %s\n", loadText(r), totalsText(r))
	if info.Partial {
		fmt.Fprintf(w, "partial run: %s\n", orDash(info.Reason))
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := make([]string, len(stepColumns))
	for i, c := range stepColumns {
		header[i] = strings.ToUpper(c)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, s := range r.Steps {
		row := stepRow(s)
		// The verdict's reason is listed under the table, not in it.
		row[len(row)-1] = verdictWord(s.Verdict)
		if s.Verdict == VerdictNotJudged {
			row[len(row)-1] = "not judged: " + orDash(s.VerdictReason)
		}
		for i, c := range row {
			row[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintf(w, "instrument: %s\n", instrumentText(r.Instrument))
	for _, s := range r.Steps {
		if s.Verdict == VerdictInconclusive {
			fmt.Fprintf(w, "  INCONCLUSIVE %s: %s\n", stepLabel(s), s.VerdictReason)
		}
	}
	writeStreamsSummary(w, r)
	for _, row := range canaryLines(r) {
		fmt.Fprintf(w, "canary %s, step %s: %s; %s; Flagger would %s; Argo Rollouts %s\n", row[1], row[0], row[2], row[3], row[4], row[5])
	}
	if info.TimeScale > 1 {
		fmt.Fprintf(w, "time scale %s\n", timeScaleText(info.TimeScale))
	}
	for _, l := range deploymentLines(r, false) {
		fmt.Fprintln(w, l)
	}
	for _, l := range faultLines(r, false) {
		fmt.Fprintln(w, l)
	}
	for _, l := range dnsLines(r) {
		fmt.Fprintln(w, l)
	}
	if len(r.Deployments) > 0 || len(r.Faults) > 0 || r.DNS != nil {
		fmt.Fprintln(w)
	}

	for _, a := range r.Assertions {
		line := verdictWord(a.outcome()) + "  " + assertionTitle(a)
		if a.Source != "" {
			line += " (" + a.Source + ")"
		}
		fmt.Fprintf(w, "%s: %s\n", line, a.Message)
		if len(a.Failures) > 1 {
			for _, f := range a.Failures {
				fmt.Fprintf(w, "        %s\n", f)
			}
		}
		if a.Caveat != "" {
			fmt.Fprintf(w, "        note: %s\n", a.Caveat)
		}
	}
	fmt.Fprintln(w, verdictLine(r))
}
