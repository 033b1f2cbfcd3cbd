package tui

import (
	"fmt"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshsim/meshsim/scenarios/engine/status"
)

// maxPending bounds the statuses waiting for the program, and
// maxPendingEvents the events.
const (
	maxPending       = 64
	maxPendingEvents = 2000
)

// RedrawInterval is how often the dashboard hands what arrived to its
// program, which then draws: a steady rate, whatever the engine's.
const RedrawInterval = 250 * time.Millisecond

// Dashboard runs a Model in a bubbletea program and implements
// engine.Progress and engine.Events: Update and Event only queue (the
// engine never waits on the terminal), and a goroutine hands the queue to
// the program every RedrawInterval. Statuses of the same step (or, outside
// the rollout, the same phase) that the program has not taken yet are
// coalesced, the latest kept. Close stops the program and restores the
// terminal.
type Dashboard struct {
	prog     *tea.Program
	interval time.Duration

	mu      sync.Mutex
	pending []status.Status
	events  []status.Event
	closed  bool

	wake      chan struct{} // something is pending
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
		prog:      tea.NewProgram(m, append([]tea.ProgramOption{tea.WithoutSignalHandler(), tea.WithFPS(int(time.Second / RedrawInterval))}, opts...)...),
		interval:  RedrawInterval,
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
	d.signal()
}

// Event implements engine.Events. It never blocks on the program; beyond
// maxPendingEvents untaken, the oldest are dropped.
func (d *Dashboard) Event(e status.Event) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	if len(d.events) == maxPendingEvents {
		d.events = append(d.events[:0], d.events[maxPendingEvents/2:]...)
	}
	d.events = append(d.events, e)
	d.mu.Unlock()
	d.signal()
}

func (d *Dashboard) signal() {
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
	return a.Phase != status.PhaseRollout || a.Step == b.Step
}

// forward hands what is pending to the program at most once per interval
// until Close, then hands what is left and returns.
func (d *Dashboard) forward() {
	defer close(d.forwarded)
	tick := time.NewTicker(d.interval)
	defer tick.Stop()
	for {
		select {
		case <-d.wake:
			select { // wait for the next tick: a steady rate
			case <-tick.C:
			case <-d.stop:
			}
			d.send()
		case <-d.stop:
			d.send()
			return
		}
	}
}

func (d *Dashboard) send() {
	d.mu.Lock()
	batch, events := d.pending, d.events
	d.pending, d.events = nil, nil
	d.mu.Unlock()
	if len(events) > 0 {
		d.prog.Send(EventsMsg(events)) // returns at once if the program has ended
	}
	for _, s := range batch {
		d.prog.Send(StatusMsg(s))
	}
}

// Close hands the last statuses to the program, stops it and waits until
// it has restored the terminal, leaving the last frame on screen. Later
// Updates are dropped. It returns the program's error, if any; it is safe
// to call more than once.
func (d *Dashboard) Close() error {
	d.closeOnce.Do(func() {
		close(d.stop)
		<-d.forwarded
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		d.send()
		d.prog.Send(endMsg{})
		d.prog.Quit()
		<-d.done
	})
	if d.err != nil {
		return fmt.Errorf("dashboard: %w", d.err)
	}
	return nil
}
