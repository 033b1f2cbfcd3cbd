package tui

import (
	"io"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"github.com/meshsim/meshsim/scenarios/engine/status"
)

// IsTerminal reports whether w is a terminal, where the live dashboard can
// be drawn.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// Controls steer the run from the dashboard's keys; the engine honours
// them at step boundaries (engine.Steer implements it). Its methods must
// not block.
type Controls interface {
	// TogglePause asks the run to hold at the end of the current step, or
	// to go on; it returns whether the run is now paused.
	TogglePause() bool
	// Advance ends the step held now.
	Advance()
	// Rollback returns to the first step's weights (route steps) or stops
	// the ECS deployment with ROLLBACK.
	Rollback()
	// Abort stops the run now; the partial run is reported.
	Abort()
}

// StatusMsg carries one engine status into the dashboard's program.
type StatusMsg status.Status

// EventsMsg carries the run's events recorded since the last, oldest
// first.
type EventsMsg []status.Event

// endMsg tells the model that the run ended: Dashboard.Close sends it
// before stopping the program, so the last frame left on screen offers
// no keys.
type endMsg struct{}

// historyLen is how many ended steps the dashboard shows; maxEvents how
// many events it keeps for its log.
const (
	historyLen = 6
	maxEvents  = 500
)

// Model is the live dashboard as a bubbletea model: the latest status of
// the run, the steps that ended, the event log, and what the user asked
// with the keys. Statuses arrive as StatusMsg and events as EventsMsg.
type Model struct {
	scenario, runID string
	cancel          func()
	controls        Controls
	zone            *time.Location
	width, height   int

	status  status.Status
	history []status.Status // the last status of each ended step, oldest first
	events  []status.Event  // the newest last, at most maxEvents
	// decisions are the gate verdicts, rollbacks and aborts, newest last:
	// they stay on screen when the log scrolls on.
	decisions []status.Event
	scroll    int // events scrolled back from the newest

	help, confirmQuit bool
	notice            string // what the last key did
	stopping          bool
	ended             bool // the run ended and the dashboard is closing
	rows              int  // the tallest the body has been, in lines
}

// NewModel returns the dashboard model for the named scenario. cancel is
// called when the user quits (q, confirmed, or ctrl+c); it must not block.
func NewModel(scenario string, cancel func()) Model {
	return Model{scenario: scenario, cancel: cancel, width: 100, zone: time.Local}
}

// WithControls returns m with the run's controls: p, n, r and a act on
// them.
func (m Model) WithControls(c Controls) Model { m.controls = c; return m }

// WithRunID returns m showing the run's id.
func (m Model) WithRunID(id string) Model { m.runID = id; return m }

// WithZone returns m showing event times in zone.
func (m Model) WithZone(zone *time.Location) Model { m.zone = zone; return m }

// Stopping reports whether the user asked the run to stop.
func (m Model) Stopping() bool { return m.stopping }

// Init implements tea.Model.
func (m Model) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case StatusMsg:
		m.apply(status.Status(msg))
	case EventsMsg:
		m.addEvents(msg)
	case endMsg:
		m.ended, m.confirmQuit, m.help = true, false, false
	case tea.KeyPressMsg:
		m.key(msg.String())
	case tea.WindowSizeMsg:
		if msg.Width > 0 {
			m.width = msg.Width
		}
		m.height = msg.Height
	}
	m.rows = max(m.rows, strings.Count(m.body(), "\n"))
	return m, nil
}

// key handles a key press.
func (m *Model) key(k string) {
	if m.ended {
		return
	}
	if k == "ctrl+c" {
		m.quit()
		return
	}
	if m.confirmQuit {
		switch k {
		case "y", "Y", "q", "enter":
			m.quit()
		default:
			m.confirmQuit = false
			m.notice = "the run goes on"
		}
		return
	}
	switch k {
	case "?":
		m.help = !m.help
	case "q":
		if !m.stopping {
			m.confirmQuit = true
		}
	case "up", "k":
		m.scroll = min(m.scroll+1, max(len(m.events)-1, 0))
	case "down", "j":
		m.scroll = max(m.scroll-1, 0)
	case "end", "G":
		m.scroll = 0
	case "p", "n", "r", "a":
		m.steer(k)
	case "esc":
		m.help = false
	}
}

// steer hands p, n, r or a to the run's controls.
func (m *Model) steer(k string) {
	if m.stopping {
		return
	}
	if m.controls == nil {
		m.notice = "this run has no controls"
		return
	}
	switch k {
	case "p":
		if m.controls.TogglePause() {
			m.notice = "pausing: the run holds at the end of this step (p resumes, n advances)"
		} else {
			m.notice = "resumed"
		}
	case "n":
		m.controls.Advance()
		m.notice = "advancing: this step ends now"
	case "r":
		m.controls.Rollback()
		m.notice = "rolling back"
	case "a":
		m.controls.Abort()
		m.stopping = true
		m.notice = "aborting: the run stops now; the partial run is reported"
	}
}

// quit asks the run to stop, once.
func (m *Model) quit() {
	m.confirmQuit = false
	if m.stopping {
		return
	}
	m.stopping = true
	if m.cancel != nil {
		m.cancel()
	}
}

// apply makes s the current status. A rollout step ends when a status for
// another step or another phase arrives; its last status goes to history.
func (m *Model) apply(s status.Status) {
	cur := m.status
	if cur.Phase == status.PhaseRollout && (s.Phase != status.PhaseRollout || s.Step != cur.Step) {
		if n := len(m.history); n > 0 && m.history[n-1].Step == cur.Step {
			m.history[n-1] = cur
		} else {
			m.history = append(m.history, cur)
		}
		if n := len(m.history); n > historyLen {
			m.history = append([]status.Status(nil), m.history[n-historyLen:]...)
		}
	}
	if s.Phase != status.PhaseRollout {
		// Keep the last figures on screen while the run winds down.
		s.Live = cur.Live
		if len(s.Plan) == 0 {
			s.Plan = cur.Plan
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

// addEvents appends events to the log, keeping the newest maxEvents, and
// the decisions apart.
func (m *Model) addEvents(evs []status.Event) {
	for _, e := range evs {
		if isDecision(e) {
			m.decisions = append(m.decisions, e)
			if n := len(m.decisions); n > 3 {
				m.decisions = m.decisions[n-3:]
			}
		}
	}
	m.events = append(m.events, evs...)
	if n := len(m.events); n > maxEvents {
		m.events = append([]status.Event(nil), m.events[n-maxEvents:]...)
	}
	if m.scroll > 0 { // keep the lines being read in place
		m.scroll = min(m.scroll+len(evs), max(len(m.events)-1, 0))
	}
}
