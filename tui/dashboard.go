package tui

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"charm.land/bubbles/v2/progress"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"

	"github.com/meshsim/meshsim/scenarios/engine/status"
)

// IsTerminal reports whether w is a terminal, where the live dashboard can
// be drawn.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// StatusMsg carries one engine status into the dashboard's program.
type StatusMsg status.Status

// endMsg tells the model that the run ended: Dashboard.Close sends it
// before stopping the program, so the last frame left on screen offers
// no keys.
type endMsg struct{}

// historyLen is how many ended steps the dashboard shows.
const historyLen = 8

// Model is the live dashboard as a bubbletea model: the latest status of the
// run, the steps that ended, and whether the user asked the run to stop.
// Statuses arrive as StatusMsg; q or ctrl+c calls the cancel func once.
type Model struct {
	scenario string
	cancel   func()
	width    int

	status   status.Status
	history  []status.Status // the last status of each ended step, oldest first
	stopping bool
	ended    bool // the run ended and the dashboard is closing
	rows     int  // the tallest the body has been, in lines

	stepBar, weightBar, shareBar progress.Model
}

// NewModel returns the dashboard model for the named scenario. cancel is
// called when the user asks the run to stop; it must not block.
func NewModel(scenario string, cancel func()) Model {
	return Model{
		scenario:  scenario,
		cancel:    cancel,
		width:     80,
		stepBar:   progress.New(progress.WithFillCharacters(progress.DefaultFullCharFullBlock, '░'), progress.WithColors(lipgloss.Color("4"))),
		weightBar: progress.New(progress.WithFillCharacters(progress.DefaultFullCharFullBlock, '░'), progress.WithColors(lipgloss.Color("8")), progress.WithoutPercentage()),
		shareBar:  progress.New(progress.WithFillCharacters(progress.DefaultFullCharFullBlock, '░'), progress.WithColors(lipgloss.Color("2")), progress.WithoutPercentage()),
	}
}

// Stopping reports whether the user asked the run to stop.
func (m Model) Stopping() bool { return m.stopping }

// Init implements tea.Model.
func (m Model) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case StatusMsg:
		m.apply(status.Status(msg))
	case endMsg:
		m.ended = true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "q", "ctrl+c":
			if !m.stopping {
				m.stopping = true
				if m.cancel != nil {
					m.cancel()
				}
			}
		}
	case tea.WindowSizeMsg:
		if msg.Width > 0 {
			m.width = msg.Width
		}
	}
	m.rows = max(m.rows, strings.Count(m.body(), "\n"))
	return m, nil
}

// apply makes s the current status. A rollout step ends when a status for
// another step or another phase arrives; its last status goes to history.
func (m *Model) apply(s status.Status) {
	cur := m.status
	if cur.Phase == "rollout" && (s.Phase != "rollout" || s.Step != cur.Step) {
		if n := len(m.history); n > 0 && m.history[n-1].Step == cur.Step {
			m.history[n-1] = cur
		} else {
			m.history = append(m.history, cur)
		}
		if n := len(m.history); n > historyLen {
			m.history = append([]status.Status(nil), m.history[n-historyLen:]...)
		}
	}
	m.status = s
	m.applyTotals(s.Totals)
}

// applyTotals puts the final counts of the run's steps (sent when the run
// ends) into the ended steps shown, so the last frame shows the report's
// numbers, requests that came back after their step ended included.
func (m *Model) applyTotals(totals []status.StepTotal) {
	for _, t := range totals {
		for i := range m.history {
			if h := &m.history[i]; h.Step == t.Step {
				h.Requests, h.Failed, h.Versions = t.Requests, t.Failed, t.Versions
			}
		}
	}
}

var (
	titleStyle = lipgloss.NewStyle().Bold(true)
	faintStyle = lipgloss.NewStyle().Faint(true)
	badStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
)

// View implements tea.Model. The body (title, current step, ended steps)
// is padded to the tallest it has been, so the frame never shrinks: the
// inline renderer of bubbletea v2.0.10 misplaces a frame drawn after a
// taller one and leaves lines of the old one on screen.
func (m Model) View() tea.View {
	body := m.body()
	if n := strings.Count(body, "\n"); n < m.rows {
		body += strings.Repeat("\n", m.rows-n)
	}
	var footer string
	switch {
	case m.ended && m.stopping:
		footer = badStyle.Render("stopped") + " at your request"
	case m.ended:
	case m.stopping:
		footer = badStyle.Render("stopping:") + " the run is winding down; the report follows"
	default:
		footer = faintStyle.Render("q or ctrl+c: stop the run (the partial run is reported)")
	}
	// The last line stays empty: on exit the renderer leaves the cursor
	// there and erases from it down.
	return tea.NewView(body + "\n" + ansi.Truncate(footer, m.width, "…") + "\n")
}

// body renders the dashboard above its footer, one "\n"-terminated line
// per row, each cut to the width.
func (m Model) body() string {
	var b strings.Builder
	s := m.status
	phase := s.Phase
	if phase == "" {
		phase = "starting"
	}
	line := func(str string) {
		b.WriteString(ansi.Truncate(str, m.width, "…"))
		b.WriteByte('\n')
	}
	line(titleStyle.Render("meshsim · "+m.scenario) + " · " + phase)
	if s.Phase == "rollout" {
		m.viewStep(line, s)
	} else if s.Message != "" {
		line(s.Message)
	}
	if len(m.history) > 0 {
		line("")
		line(titleStyle.Render("ended steps"))
		for _, h := range m.history {
			line("  " + historyLine(h))
		}
	}
	return b.String()
}

// viewStep renders the current rollout step: its progress, configured
// weights against observed shares, and counts.
func (m Model) viewStep(line func(string), s status.Status) {
	elapsed := fmt.Sprintf("%.1fs", s.StepElapsed.Seconds())
	if s.StepBake > 0 {
		elapsed += " / " + s.StepBake.String()
	}
	line(stepLabel(s) + "  " + elapsed)
	if s.StepBake > 0 {
		bar := m.stepBar
		bar.SetWidth(min(m.width, 60))
		line(bar.ViewAs(float64(s.StepElapsed) / float64(s.StepBake)))
	}

	versions := stepVersions(s)
	ok := answered(s)
	nameW := 7
	for _, v := range versions {
		nameW = max(nameW, len(displayVersion(v)))
	}
	nameW = min(nameW, 20)
	barW := min(max((m.width-nameW-2-2*7-4)/2, 8), 40)
	weightBar, shareBar := m.weightBar, m.shareBar
	weightBar.SetWidth(barW)
	shareBar.SetWidth(barW)
	line(fmt.Sprintf("%-*s  %-*s       %s", nameW, "version", barW, "configured", "observed"))
	weights := map[string]int{}
	for _, w := range s.Weights {
		weights[w.Version] = w.Weight
	}
	for _, v := range versions {
		conf, confText := 0.0, "   -"
		if w, ok := weights[v]; ok {
			conf, confText = float64(w)/100, fmt.Sprintf("%3d%%", w)
		}
		share, shareText := 0.0, "     -"
		if ok > 0 {
			share = float64(s.Versions[v]) / float64(ok)
			shareText = fmt.Sprintf("%5.1f%%", 100*share)
		}
		line(fmt.Sprintf("%-*s  %s %s  %s %s", nameW, displayVersion(v), weightBar.ViewAs(conf), confText, shareBar.ViewAs(share), shareText))
	}
	failed := fmt.Sprintf("failed %d", s.Failed)
	if s.Failed > 0 {
		failed = badStyle.Render(failed)
	}
	line(fmt.Sprintf("requests %d   %s", s.Requests, failed))
}

// stepLabel names a step: "step 2/5 canary-25", or "step 3 name" when the
// number of steps is not known (deployment phases).
func stepLabel(s status.Status) string {
	if s.Steps > 0 {
		return fmt.Sprintf("step %d/%d %s", s.Step+1, s.Steps, s.StepName)
	}
	return fmt.Sprintf("step %d %s", s.Step+1, s.StepName)
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

// maxPending bounds the statuses waiting for the program.
const maxPending = 64

// Dashboard runs a Model in a bubbletea program and implements
// engine.Progress: Update hands each status to the program without ever
// blocking the engine. Statuses of the same step (or, outside the rollout,
// the same phase) that the program has not taken yet are coalesced, the
// latest kept. Close stops the program and restores the terminal.
type Dashboard struct {
	prog *tea.Program

	mu      sync.Mutex
	pending []status.Status
	closed  bool

	wake      chan struct{} // a status is pending
	stop      chan struct{} // Close was called
	forwarded chan struct{} // the forwarding goroutine returned
	done      chan struct{} // the program returned
	closeOnce sync.Once

	final tea.Model // the program's final model, once done is closed
	err   error
}

// StartDashboard starts the program showing m, with opts (for example
// tea.WithOutput). The program does not handle SIGINT or SIGTERM: the
// caller does, by cancelling the run, as m's cancel func does for q and
// ctrl+c. Call Close when the run ends.
func StartDashboard(m Model, opts ...tea.ProgramOption) *Dashboard {
	d := &Dashboard{
		prog:      tea.NewProgram(m, append([]tea.ProgramOption{tea.WithoutSignalHandler()}, opts...)...),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		forwarded: make(chan struct{}),
		done:      make(chan struct{}),
	}
	go func() {
		defer close(d.done)
		d.final, d.err = d.prog.Run()
	}()
	go d.forward()
	return d
}

// Update implements engine.Progress. It never blocks on the program.
func (d *Dashboard) Update(s status.Status) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	if n := len(d.pending); n > 0 && sameSlot(d.pending[n-1], s) {
		d.pending[n-1] = s
	} else {
		if n == maxPending {
			d.pending = append(d.pending[:0], d.pending[1:]...)
		}
		d.pending = append(d.pending, s)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default: // the forwarder is already due to look
	}
}

// sameSlot reports whether b supersedes a: the same rollout step, or the
// same phase outside the rollout.
func sameSlot(a, b status.Status) bool {
	if a.Phase != b.Phase {
		return false
	}
	return a.Phase != "rollout" || a.Step == b.Step
}

// forward sends pending statuses to the program until Close, then sends
// what is left and returns.
func (d *Dashboard) forward() {
	defer close(d.forwarded)
	for {
		select {
		case <-d.wake:
			d.send()
		case <-d.stop:
			d.send()
			return
		}
	}
}

func (d *Dashboard) send() {
	d.mu.Lock()
	batch := d.pending
	d.pending = nil
	d.mu.Unlock()
	for _, s := range batch {
		d.prog.Send(StatusMsg(s)) // returns at once if the program has ended
	}
}

// Close hands the last statuses to the program, stops it and waits until
// it has restored the terminal, leaving the last frame on screen. Later
// Updates are dropped. It returns the program's error, if any; it is safe
// to call more than once.
func (d *Dashboard) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		close(d.stop)
		<-d.forwarded
		d.prog.Send(endMsg{})
		d.prog.Quit()
		<-d.done
	})
	if d.err != nil {
		return fmt.Errorf("dashboard: %w", d.err)
	}
	return nil
}
