package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// The stream assertion kinds of rundir.Assertion.
const (
	assertNoMessageLost        = "no-message-lost"
	assertStreamsResumedWithin = "streams-resumed-within"
)

// judgeNoMessageLost holds when the streams lost no message.
func judgeNoMessageLost(r *Report) verdictBuilder {
	v := verdictBuilder{none: "the run recorded no stream events"}
	t := r.Run.Streams
	if t == nil {
		return v
	}
	v.judged = 1
	if t.Lost == 0 {
		v.pass = fmt.Sprintf("no message lost in %d streams (%d received, %d breaks)", t.Streams, t.Received, t.Broken)
		return v
	}
	var inSteps uint64
	for _, s := range r.Steps {
		if s.Streams == nil || s.Streams.Lost == 0 {
			continue
		}
		inSteps += s.Streams.Lost
		if v.skipInconclusive(s) {
			continue
		}
		v.fail(s, fmt.Sprintf("%s: %d messages lost (%s) after %d breaks (%s)",
			stepLabel(s), s.Streams.Lost, lostByVersion(s.Streams.Versions), s.Streams.Broken, kindsText(s.Streams.BreaksByKind)))
	}
	if inSteps < t.Lost {
		v.failures = append(v.failures, fmt.Sprintf("%d messages lost outside any step", t.Lost-inSteps))
	}
	if len(v.failures) == 0 {
		v.judged = 0 // every loss was in an inconclusive step
		return v
	}
	v.failures[0] = fmt.Sprintf("%d messages lost; %s", t.Lost, v.failures[0])
	return v
}

// judgeStreamsResumedWithin holds when every broken stream delivered again
// within limit. A break that was never resumed fails it, unless the run
// ended less than limit after the break (it is then not judged).
func judgeStreamsResumedWithin(r *Report, limit time.Duration) verdictBuilder {
	v := verdictBuilder{none: "the run recorded no stream events"}
	t := r.Run.Streams
	if t == nil {
		return v
	}
	if t.Broken == 0 {
		v.judged = 1
		v.pass = fmt.Sprintf("none of %d streams broke", t.Streams)
		return v
	}
	end := r.Run.Started.Add(r.Run.WallTime)
	var worst time.Duration
	for _, s := range r.Steps {
		// A stream may break in one step and resume in the next: judge
		// every step with resumptions.
		if s.Streams == nil || (s.Streams.Broken == 0 && s.Streams.Reconnect.Count == 0) || v.skipInconclusive(s) {
			continue
		}
		v.judged++
		rc := s.Streams.Reconnect
		worst = max(worst, rc.Max)
		if rc.Count > 0 && rc.Max > limit {
			v.fail(s, fmt.Sprintf("%s: the slowest of %d resumptions took %s ms (p50 %s, p99 %s), more than %s ms",
				stepLabel(s), rc.Count, ms(rc.Max), ms(rc.P50), ms(rc.P99), ms(limit)))
		}
	}
	late := 0
	for _, u := range t.Unresumed {
		if end.Sub(u.At) < limit {
			late++
			continue
		}
		v.judged++
		v.failures = append(v.failures, fmt.Sprintf("stream %s broke (%s, version %s) in step %d and never resumed",
			u.Stream, orDash(u.ErrorKind), orDash(u.Version), u.Step))
	}
	if late > 0 {
		v.skipped = append(v.skipped, fmt.Sprintf("%d break(s) less than %s ms before the run ended", late, ms(limit)))
	}
	if len(v.failures) > 0 {
		v.failures[0] = fmt.Sprintf("%d of %d breaks resumed, %d never; %s", t.Resumed, t.Broken, t.NeverResumed, v.failures[0])
	}
	v.pass = fmt.Sprintf("all %d breaks resumed within %s ms (slowest %s ms)", t.Resumed, ms(limit), ms(worst))
	return v
}

// lostByVersion lists the lost messages by the version whose call broke:
// "v1 37".
func lostByVersion(vs []StreamVersion) string {
	var parts []string
	for _, v := range vs {
		if v.Lost > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", orDash(v.Version), v.Lost))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// streamsText is the run's stream continuity in one line.
func streamsText(t *StreamTotals) string {
	text := fmt.Sprintf("%d streams", t.Streams)
	if t.NeverOpened > 0 {
		text += fmt.Sprintf(" (%d never opened)", t.NeverOpened)
	}
	text += fmt.Sprintf(": %d messages received; %d breaks", t.Received, t.Broken)
	if t.Broken > 0 {
		text += " (" + kindsText(t.BreaksByKind) + ")"
	}
	text += fmt.Sprintf(", %d resumed, %d never resumed; messages lost %d, duplicated %d, out of order %d",
		t.Resumed, t.NeverResumed, t.Lost, t.Duplicated, t.OutOfOrder)
	if t.Reconnect.Count > 0 {
		text += "; time to reconnect " + reconnectText(t.Reconnect)
	}
	return text
}

// reconnectText is "p50 12.00 / p99 40.00 / max 52.00 ms".
func reconnectText(l Latency) string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s / p99 %s / max %s ms", ms(l.P50), ms(l.P99), ms(l.Max))
}

// spreadCell is how the delivering streams were spread over versions at
// the start and at the end of a step: "v1 200 → v1 120, v2 80".
func spreadCell(ss *StepStreams, hasEnd bool) string {
	side := func(count func(StreamVersion) int, total int) string {
		var parts []string
		for _, v := range ss.Versions {
			if n := count(v); n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", orDash(v.Version), n))
			}
		}
		if total == 0 {
			return "0"
		}
		return strings.Join(parts, ", ")
	}
	start := side(func(v StreamVersion) int { return v.AtStart }, ss.AtStart)
	if !hasEnd {
		return start + " → -"
	}
	return start + " → " + side(func(v StreamVersion) int { return v.AtEnd }, ss.AtEnd)
}

// The per-step stream table, shared by report.md and the terminal summary.
var streamColumns = []string{
	"Step", "Streams by version, start → end", "Moved", "Opened", "Broken", "Resumed", "Never resumed",
	"Lost", "Duplicated", "Out of order", "Reconnect ms",
}

func streamRow(s StepReport) []string {
	label := fmt.Sprintf("%d %s", s.Index, s.Name)
	ss := s.Streams
	if ss == nil {
		return []string{label, "-", "-", "-", "-", "-", "-", "-", "-", "-", "not reached"}
	}
	broken := fmt.Sprint(ss.Broken)
	if ss.Broken > 0 {
		broken += " (" + kindsText(ss.BreaksByKind) + ")"
	}
	return []string{
		label, spreadCell(ss, !s.End.IsZero()), fmt.Sprint(ss.Moved), fmt.Sprint(ss.Opened), broken,
		fmt.Sprint(ss.Resumed), fmt.Sprint(ss.NeverResumed),
		fmt.Sprint(ss.Lost), fmt.Sprint(ss.Duplicated), fmt.Sprint(ss.OutOfOrder), reconnectText(ss.Reconnect),
	}
}

// writeStreamsMarkdown renders the streams section of report.md, when the
// run held streams.
func writeStreamsMarkdown(b *bytes.Buffer, r *Report) {
	t := r.Run.Streams
	if t == nil {
		return
	}
	fmt.Fprintf(b, "\n## Streams\n\n%s.\n\n", mdText(streamsText(t)))
	mdRow(b, streamColumns)
	sep := make([]string, len(streamColumns))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0], sep[1], sep[4] = "---", "---", "---"
	mdRow(b, sep)
	for _, s := range r.Steps {
		mdRow(b, streamRow(s))
	}

	fmt.Fprintf(b, "\n### Streams by version\n\n")
	mdRow(b, []string{"Step", "Version", "At start", "At end", "Opened", "Broken", "Resumed onto", "Resumed from", "Lost"})
	mdRow(b, []string{"---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"})
	for _, s := range r.Steps {
		if s.Streams == nil {
			continue
		}
		for i, v := range s.Streams.Versions {
			label := ""
			if i == 0 {
				label = fmt.Sprintf("%d %s", s.Index, s.Name)
			}
			mdRow(b, []string{label, orDash(v.Version), fmt.Sprint(v.AtStart), fmt.Sprint(v.AtEnd), fmt.Sprint(v.Opened),
				fmt.Sprint(v.Broken), fmt.Sprint(v.Resumed), fmt.Sprint(v.ResumedFrom), fmt.Sprint(v.Lost)})
		}
	}
	if len(t.Unresumed) > 0 {
		fmt.Fprintf(b, "\nNever resumed:\n\n")
		for _, u := range t.Unresumed {
			fmt.Fprintf(b, "- %s: broke in step %d at %s (%s, version %s)\n", mdCode(u.Stream), u.Step,
				timeText(u.At), mdText(orDash(u.ErrorKind)), mdText(orDash(u.Version)))
		}
	}
	fmt.Fprint(b, "\nA stream stays on the version its call was routed to: weights apply to new calls only, so "+
		"streams move to another version only when their call breaks and is resumed. Lost messages are sequence "+
		"numbers a resumed stream never received (the task no longer retained them); they count against the "+
		"version whose call broke. Time to reconnect runs from the break to the first message on the new call.\n")
}

// writeStreamsSummary writes the per-step stream table of the terminal
// summary, when the run held streams.
func writeStreamsSummary(w io.Writer, r *Report) {
	t := r.Run.Streams
	if t == nil {
		return
	}
	fmt.Fprintln(w, streamsText(t))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := make([]string, len(streamColumns))
	for i, c := range streamColumns {
		header[i] = strings.ToUpper(c)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, s := range r.Steps {
		row := streamRow(s)
		for i, c := range row {
			row[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w)
}
