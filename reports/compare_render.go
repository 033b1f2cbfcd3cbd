package reports

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// arrow is a row's direction as an arrow: ▲ worse, ▼ better, = same.
func arrow(d int) string {
	switch d {
	case Worse:
		return "▲"
	case Better:
		return "▼"
	}
	return "="
}

// rowMark says what a row decided.
func rowMark(r CompareRow) string {
	switch {
	case r.Regressed && r.Gates:
		return "REGRESSED"
	case r.Regressed:
		return "worse (not gating)"
	case !r.Gates:
		return "ok (not gating)"
	}
	return "ok"
}

func pText(r CompareRow) string {
	if r.Test == "" || math.IsNaN(r.P) {
		return "threshold"
	}
	return r.Test + " " + pValueText(r.P)
}

// pValueText is "p=0.0123", or "p<1e-16" below what a float64 sum holds.
func pValueText(p float64) string {
	if p < 1e-16 {
		return "p<1e-16"
	}
	return fmt.Sprintf("p=%.3g", p)
}

// compareGatingText says which families gate and at which levels.
func compareGatingText(c *Comparison) string {
	o := c.Options
	return fmt.Sprintf("Gating: %s; alpha %g (one-sided tests), intervals at %g%%.", strings.Join(o.Gate, ", "), o.Alpha, 100*o.Level)
}

// comparisonLine is the one-line verdict of a comparison.
func comparisonLine(c *Comparison) string {
	return fmt.Sprintf("%s: %s", strings.ToUpper(c.Verdict), c.Reason)
}

// WriteComparison prints a comparison for a terminal or a CI log: the
// verdict, then one line per metric with both values, the change and its
// arrow, the test with its p-value and interval, and what it decided.
func WriteComparison(w io.Writer, c *Comparison) {
	fmt.Fprintf(w, "meshsim compare: BASE %s (%s, %s) vs NEW %s (%s, %s)\n", c.Base.Source, c.Base.Scenario, verdictWord(c.Base.Verdict),
		c.New.Source, c.New.Scenario, verdictWord(c.New.Verdict))
	for _, n := range c.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tBASE\tNEW\tCHANGE\tTEST\tINTERVAL\tRESULT")
	for _, r := range c.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s\t%s: %s\n", r.Metric, r.Base, r.New, arrow(r.Direction), r.Change, pText(r), orDash(r.Interval), rowMark(r), r.Why)
	}
	tw.Flush()
	fmt.Fprintln(w, compareGatingText(c))
	fmt.Fprintln(w, comparisonLine(c))
}

// writeComparisonMarkdown is the "Compared with baseline" section: the
// verdict and the regression table with arrows.
func writeComparisonMarkdown(b *bytes.Buffer, c *Comparison, heading string) {
	fmt.Fprintf(b, "\n%s Compared with baseline\n\n", heading)
	fmt.Fprintf(b, "**%s**\n\n", mdText(comparisonLine(c)))
	fmt.Fprintf(b, "BASE %s (run %s, %s) · NEW %s (run %s, %s)\n\n", mdCode(c.Base.Source), mdCode(c.Base.RunID), mdText(verdictWord(c.Base.Verdict)),
		mdCode(c.New.Source), mdCode(c.New.RunID), mdText(verdictWord(c.New.Verdict)))
	for _, n := range c.Notes {
		fmt.Fprintf(b, "> %s\n\n", mdText(n))
	}
	mdRow(b, []string{"", "Metric", "BASE", "NEW", "Change", "Test", "Interval", "Result"})
	mdRow(b, []string{"---", "---", "---:", "---:", "---:", "---", "---", "---"})
	for _, r := range c.Rows {
		mark := "✅"
		switch {
		case r.Regressed && r.Gates:
			mark = "❌"
		case !r.Gates:
			mark = "ℹ️"
		}
		mdRow(b, []string{mark, r.Metric, r.Base, r.New, arrow(r.Direction) + " " + r.Change, pText(r), orDash(r.Interval), rowMark(r) + ": " + r.Why})
	}
	fmt.Fprintf(b, "\n%s ▲ worse, ▼ better, = no change beyond noise.\n", mdText(compareGatingText(c)))
}

// WriteStepSummary writes the Markdown summary for a CI step summary
// ($GITHUB_STEP_SUMMARY, a GitLab job report): the verdict, the steps
// table, the canary analyses, and with a comparison the regression table.
// Either r or c may be nil.
func WriteStepSummary(w io.Writer, r *Report, c *Comparison) error {
	var b bytes.Buffer
	if r != nil {
		fmt.Fprintf(&b, "## meshsim: %s\n\n**%s**\n\n", mdText(r.Run.Scenario), mdText(verdictLine(r)))
		fmt.Fprintf(&b, "Run %s · %s · %s\n\n", mdCode(r.Run.RunID), mdText(loadText(r)), totalsText(r))
		mdRow(&b, stepColumns)
		sep := make([]string, len(stepColumns))
		for i := range sep {
			sep[i] = "---"
		}
		mdRow(&b, sep)
		for _, s := range r.Steps {
			mdRow(&b, stepRow(s))
		}
		writeCanaryMarkdown(&b, r, "###")
	}
	if c != nil {
		if r == nil {
			fmt.Fprintf(&b, "## meshsim compare: %s\n", mdText(c.New.Scenario))
		}
		writeComparisonMarkdown(&b, c, "###")
	}
	b.WriteString("\n")
	_, err := w.Write(b.Bytes())
	return err
}
