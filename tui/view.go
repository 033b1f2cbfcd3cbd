package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/meshsim/meshsim/scenarios/engine/status"
)

var (
	titleStyle  = lipgloss.NewStyle().Bold(true)
	faintStyle  = lipgloss.NewStyle().Faint(true)
	badStyle    = lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
	goodStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	warnStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("3")).Bold(true)
	keyStyle    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6"))
	currentStep = lipgloss.NewStyle().Bold(true).Reverse(true)
	// versionColors tell the versions apart, in the report's order.
	versionColors = []string{"4", "3", "5", "6", "2", "1"}
)

// logLines is how many lines of the event log the dashboard shows.
const logLines = 8

// View implements tea.Model. The body is padded to the tallest it has
// been, so the frame never shrinks: the inline renderer of bubbletea
// v2.0.10 misplaces a frame drawn after a taller one and leaves lines of
// the old one on screen.
func (m Model) View() tea.View {
	body := m.body()
	if n := strings.Count(body, "\n"); n < m.rows {
		body += strings.Repeat("\n", m.rows-n)
	}
	// The last line stays empty: on exit the renderer leaves the cursor
	// there and erases from it down.
	return tea.NewView(body + m.cut(m.footer()) + "\n")
}

func (m Model) cut(s string) string { return ansi.Truncate(s, m.width, "…") }

// footer is the keys, or what the run is doing about a key.
func (m Model) footer() string {
	switch {
	case m.ended && m.stopping:
		return badStyle.Render("stopped") + " at your request"
	case m.ended:
		return ""
	case m.confirmQuit:
		return warnStyle.Render("quit?") + " the run stops, the world is torn down and the partial run is reported: " +
			keyStyle.Render("y") + " yes, any other key no"
	case m.stopping:
		return badStyle.Render("stopping:") + " the run is winding down; the report follows"
	}
	keys := []string{"? help", "p pause", "n next", "r roll back", "a abort", "q quit"}
	if m.controls == nil {
		keys = []string{"? help", "q quit"}
	}
	for i, k := range keys {
		name, what, _ := strings.Cut(k, " ")
		keys[i] = keyStyle.Render(name) + " " + what
	}
	f := strings.Join(keys, "  ")
	if m.notice != "" {
		f = warnStyle.Render(m.notice) + "   " + f
	}
	return f
}

// body renders the dashboard above its footer, one "\n"-terminated line
// per row, each cut to the width.
func (m Model) body() string {
	var b strings.Builder
	line := func(str string) {
		b.WriteString(m.cut(str))
		b.WriteByte('\n')
	}
	s := m.status
	phase := s.Phase
	if phase == "" {
		phase = "starting"
	}
	title := titleStyle.Render("meshsim · "+m.scenario) + " · " + phase
	if m.runID != "" {
		title += faintStyle.Render(" · run " + m.runID)
	}
	if c := s.Control; c.Holding {
		title += "  " + warnStyle.Render("PAUSED at the end of the step")
	} else if c.Paused {
		title += "  " + warnStyle.Render("PAUSE at the end of this step")
	}
	line(title)
	if m.help {
		m.viewHelp(line)
		return b.String()
	}
	m.viewTimeline(line, s)
	if s.Phase == status.PhaseRollout {
		m.viewVersions(line, s)
	} else if s.Message != "" {
		line(s.Message)
	}
	if s.Live != nil {
		m.viewWorld(line, s.Live)
	}
	m.viewDecisions(line)
	m.viewHistory(line)
	m.viewLog(line)
	return b.String()
}

func (m Model) viewHelp(line func(string)) {
	line("")
	for _, l := range []string{
		"?      this help (again to close)",
		"p      pause at the end of the current step, or resume",
		"n      advance: end the current step now (ECS decides its own phases)",
		"r      roll back: route steps return to the first step's weights;",
		"       an ECS deployment is stopped with ROLLBACK",
		"a      abort: stop the run now, leave the rollout where it is; the partial run is reported",
		"q      quit (asks first): stop the run, tear the world down, report the partial run",
		"ctrl+c quit at once",
		"↑ ↓    scroll the event log back and forth; end: the newest",
	} {
		k, rest, _ := strings.Cut(l, " ")
		line("  " + keyStyle.Render(k) + " " + rest)
	}
}

// viewTimeline renders the steps or ECS stages, the current one marked,
// with the time the current step and the run have left.
func (m Model) viewTimeline(line func(string), s status.Status) {
	if s.Phase != status.PhaseRollout && len(s.Plan) == 0 {
		return
	}
	if s.Phase == status.PhaseRollout {
		label := stepLabel(s) + "  " + elapsed(s)
		if s.Left > 0 {
			label += faintStyle.Render(fmt.Sprintf("   run: %s left", s.Left.Round(time.Second)))
		}
		line(label)
	}
	if len(s.Plan) > 0 {
		line(m.planLine(s.Plan))
	}
}

// elapsed is the current step's elapsed time, of its bake when it has one.
func elapsed(s status.Status) string {
	e := fmt.Sprintf("%.1fs", s.StepElapsed.Seconds())
	if s.StepBake <= 0 {
		return e
	}
	left := max(s.StepBake-s.StepElapsed, 0)
	bar := progressBar(min(float64(s.StepElapsed)/float64(s.StepBake), 1), 12)
	return fmt.Sprintf("%s / %s %s %s left", e, s.StepBake, bar, left.Round(100*time.Millisecond))
}

// planLine renders the timeline on one line, the current step in reverse
// and as many steps around it as fit.
func (m Model) planLine(plan []status.PlanStep) string {
	cur := 0
	for i, p := range plan {
		if p.State == status.StateCurrent {
			cur = i
		}
	}
	names := make([]string, len(plan))
	for i, p := range plan {
		n := p.Name
		if p.Bake > 0 {
			n += " " + p.Bake.String()
		}
		switch p.State {
		case status.StateDone:
			names[i] = goodStyle.Render("✓ " + n)
		case status.StateCurrent:
			names[i] = currentStep.Render("▶ " + n)
		default:
			names[i] = faintStyle.Render("· " + n)
		}
	}
	// Widen a window around the current step while it fits.
	lo, hi := cur, cur+1
	width := func(a, b int) int { return ansi.StringWidth(strings.Join(names[a:b], " → ")) + 6 }
	for {
		grew := false
		if hi < len(names) && width(lo, hi+1) <= m.width {
			hi, grew = hi+1, true
		}
		if lo > 0 && width(lo-1, hi) <= m.width {
			lo, grew = lo-1, true
		}
		if !grew {
			break
		}
	}
	out := strings.Join(names[lo:hi], " → ")
	if lo > 0 {
		out = "… → " + out
	}
	if hi < len(names) {
		out += " → …"
	}
	return out
}

// viewVersions renders, per version, the configured weight against the
// observed share, the rate, the errors by class, p50/p99 and the last
// minute's sparklines.
func (m Model) viewVersions(line func(string), s status.Status) {
	line("")
	var versions []status.VersionLive
	if s.Live != nil {
		versions = s.Live.Versions
	} else { // a status without live figures: counts only
		for _, v := range stepVersions(s) {
			versions = append(versions, status.VersionLive{Version: v, Weight: weightOf(s, v), Requests: s.Versions[v]})
		}
		if ok := answered(s); ok > 0 {
			for i := range versions {
				versions[i].Share = float64(versions[i].Requests) / float64(ok)
			}
		}
	}
	nameW := 7
	for _, v := range versions {
		nameW = max(nameW, len(displayVersion(v.Version)))
	}
	nameW = min(nameW, 16)
	line(faintStyle.Render(fmt.Sprintf("%-*s %-18s %7s %6s %7s %7s  %-12s %-12s %s", nameW, "version", "weight → observed", "req/s", "fail", "p50", "p99", "rate 1m", "p99 1m", "errors")))
	for i, v := range versions {
		color := lipgloss.NewStyle().Foreground(lipgloss.Color(versionColors[i%len(versionColors)]))
		weight := "   -"
		if v.Weight >= 0 {
			weight = fmt.Sprintf("%3d%%", v.Weight)
		}
		observed := fmt.Sprintf("%5.1f%%", 100*v.Share)
		bar := progressBar(v.Share, 6)
		failed := fmt.Sprintf("%6d", v.Failed)
		if v.Failed > 0 {
			failed = badStyle.Render(failed)
		}
		rates, p99s := make([]float64, len(v.History)), make([]float64, len(v.History))
		for j, h := range v.History {
			rates[j], p99s[j] = h.Rate, float64(h.P99)
		}
		line(fmt.Sprintf("%s %s → %s %s %7.1f %s %7s %7s  %s %s %s",
			color.Render(fmt.Sprintf("%-*s", nameW, displayVersion(v.Version))), weight, observed, color.Render(bar),
			v.Rate, failed, shortDuration(v.P50), shortDuration(v.P99),
			color.Render(sparkline(rates, 12)), color.Render(sparkline(p99s, 12)), errorClasses(v.Errors)))
	}
	failed := fmt.Sprintf("failed %d", s.Failed)
	if s.Failed > 0 {
		failed = badStyle.Render(failed)
	}
	line(fmt.Sprintf("requests %d   %s", s.Requests, failed))
}

// viewWorld renders the tasks per service and version, the streams and
// the instrument's health.
func (m Model) viewWorld(line func(string), l *status.Live) {
	line("")
	line(titleStyle.Render("tasks") + "  " + taskSummary(l.Tasks))
	st := l.Streams
	if st.Open+st.Broken+st.Ended+st.Breaks > 0 {
		broken := fmt.Sprintf("broken/resuming %d", st.Broken)
		if st.Broken > 0 {
			broken = badStyle.Render(broken)
		}
		line(fmt.Sprintf("%s  open %d  %s  ended %d  breaks %d  resumed %d  gaps %d", titleStyle.Render("streams"),
			st.Open, broken, st.Ended, st.Breaks, st.Resumes, st.Gaps))
	}
	in := l.Instrument
	lag := fmt.Sprintf("lag %s (max %s)", orZero(shortDuration(in.Lag)), orZero(shortDuration(in.MaxLag)))
	if in.MaxLag > 100*time.Millisecond {
		lag = warnStyle.Render(lag)
	}
	line(fmt.Sprintf("%s  load generator %s · meshsim CPU %.2f of %d cores · CPU wait p99 %s · host load %.2f",
		titleStyle.Render("instrument"), lag, in.CPU, in.CPUs, shortDuration(in.SchedP99), in.Load1))
}

// taskSummary counts the tasks of each service by lifecycle state:
// "api-v1 RUNNING 2 · api-v2 PENDING 1 RUNNING 1".
func taskSummary(tasks []status.Task) string {
	if len(tasks) == 0 {
		return faintStyle.Render("none reported yet")
	}
	type key struct{ service, version string }
	counts := map[key]map[string]int{}
	var keys []key
	for _, t := range tasks {
		k := key{t.Service, t.Version}
		if counts[k] == nil {
			counts[k] = map[string]int{}
			keys = append(keys, k)
		}
		counts[k][t.State]++
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].service != keys[j].service {
			return keys[i].service < keys[j].service
		}
		return keys[i].version < keys[j].version
	})
	var parts []string
	for _, k := range keys {
		name := k.service
		if k.version != "" && !strings.HasSuffix(k.service, "-"+k.version) {
			name += " " + k.version
		}
		var states []string
		for _, st := range lifecycle {
			if n := counts[k][st]; n > 0 {
				s := fmt.Sprintf("%s %d", st, n)
				if st != "RUNNING" && st != "STOPPED" {
					s = warnStyle.Render(s)
				}
				states = append(states, s)
			}
		}
		parts = append(parts, name+" "+strings.Join(states, " "))
	}
	return strings.Join(parts, " · ")
}

// lifecycle is ECS's task lifecycle, in order.
var lifecycle = []string{"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"}

// viewDecisions renders the latest gate verdicts, rollbacks and aborts.
func (m Model) viewDecisions(line func(string)) {
	if len(m.decisions) == 0 {
		return
	}
	line("")
	line(titleStyle.Render("decisions"))
	for _, e := range m.decisions {
		line("  " + m.eventLine(e))
	}
}

func (m Model) viewHistory(line func(string)) {
	if len(m.history) == 0 {
		return
	}
	line("")
	line(titleStyle.Render("ended steps"))
	for _, h := range m.history {
		line("  " + historyLine(h))
	}
}

// viewLog renders the newest events, or older ones when scrolled back.
func (m Model) viewLog(line func(string)) {
	line("")
	head := titleStyle.Render("events")
	if m.scroll > 0 {
		head += faintStyle.Render(fmt.Sprintf("  (%d newer below; end: back to the newest)", m.scroll))
	}
	line(head)
	end := len(m.events) - m.scroll
	start := max(end-logLines, 0)
	shown := 0
	for _, e := range m.events[start:end] {
		line("  " + m.eventLine(e))
		shown++
	}
	for ; shown < logLines; shown++ {
		line("")
	}
}

// historyLine renders an ended step on one line:
//
//	step 1/5 base  v1=100 v2=0 → v1 100.0% v2 0.0%  1200 req  0 failed
func historyLine(s status.Status) string {
	var b strings.Builder
	b.WriteString(stepLabel(s))
	b.WriteString(" ")
	for _, w := range s.Weights {
		fmt.Fprintf(&b, " %s=%d", w.Version, w.Weight)
	}
	b.WriteString(" →")
	ok := answered(s)
	if ok == 0 {
		b.WriteString(" -")
	}
	for _, v := range stepVersions(s) {
		if ok > 0 {
			fmt.Fprintf(&b, " %s %.1f%%", displayVersion(v), 100*float64(s.Versions[v])/float64(ok))
		}
	}
	fmt.Fprintf(&b, "  %d req  %d failed", s.Requests, s.Failed)
	return b.String()
}

// stepVersions lists the versions of a step: the configured ones in their
// order, then any other version that answered, sorted.
func stepVersions(s status.Status) []string {
	seen := map[string]bool{}
	var versions, extra []string
	for _, w := range s.Weights {
		if !seen[w.Version] {
			seen[w.Version] = true
			versions = append(versions, w.Version)
		}
	}
	for v := range s.Versions {
		if !seen[v] {
			extra = append(extra, v)
		}
	}
	sort.Strings(extra)
	return append(versions, extra...)
}

func weightOf(s status.Status, v string) int {
	for _, w := range s.Weights {
		if w.Version == v {
			return w.Weight
		}
	}
	return -1
}

// errorClasses renders failures by class, the most frequent first:
// "reset 3 · eof 1".
func errorClasses(errs map[string]int64) string {
	if len(errs) == 0 {
		return faintStyle.Render("-")
	}
	kinds := make([]string, 0, len(errs))
	for k := range errs {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if errs[kinds[i]] != errs[kinds[j]] {
			return errs[kinds[i]] > errs[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, errs[k])
	}
	return badStyle.Render(strings.Join(parts, " · "))
}

// sparks are a sparkline's levels, lowest first.
var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values (oldest first) in width cells: each cell the
// largest of its values, scaled to the largest of all; a cell with no
// data is blank. Fewer values than cells are drawn right-aligned.
func sparkline(values []float64, width int) string {
	if width <= 0 {
		return ""
	}
	per := max((len(values)+width-1)/width, 1)
	var cells []float64
	for i := 0; i < len(values); i += per {
		c := 0.0
		for _, v := range values[i:min(i+per, len(values))] {
			c = max(c, v)
		}
		cells = append(cells, c)
	}
	top := 0.0
	for _, c := range cells {
		top = max(top, c)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(cells)))
	for _, c := range cells {
		switch {
		case c <= 0:
			b.WriteRune(' ')
		default:
			b.WriteRune(sparks[min(int(c/top*float64(len(sparks)-1)+0.5), len(sparks)-1)])
		}
	}
	return b.String()
}

// progressBar draws fraction f of width cells.
func progressBar(f float64, width int) string {
	full := min(max(int(f*float64(width)+0.5), 0), width)
	return strings.Repeat("█", full) + strings.Repeat("░", width-full)
}

// orZero shows a zero duration as 0 where it is a measurement.
func orZero(s string) string {
	if s == "-" {
		return "0"
	}
	return s
}

// shortDuration renders a latency in at most 7 characters.
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
